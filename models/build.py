"""build_model: the network a ModelConfig (or an EncoderConfig) describes, with the data file's
pretrained rows; config_from_dict: the config a checkpoint stored."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.config import ModelConfig
from models.encoder_config import ENCODER_ARCH, EncoderConfig
from models.soft import SoftSharingTagger
from models.tagger import Tagger


def config_from_dict(values: dict[str, Any]) -> ModelConfig | EncoderConfig:
    """The config of a checkpoint's `model_config`: an encoder's or the BiLSTM tagger's."""
    if values.get("arch") == ENCODER_ARCH:
        return EncoderConfig.from_dict(values)
    return ModelConfig.from_dict(values)


def build_model(config: ModelConfig | EncoderConfig,
                embedding: torch.Tensor | None = None) -> nn.Module:
    """A tagger (soft sharing for `arch="soft"`, models.encoder_tagger for an EncoderConfig,
    which is the only path that imports transformers); the word embedding's first rows start from
    `embedding` (the data file's pretrained rows) when given, except in random-lstm, which starts
    every row at random as the original's did."""
    if isinstance(config, EncoderConfig):
        from models.encoder_tagger import EncoderTagger    # imports transformers: only when asked
        return EncoderTagger(config)
    model = SoftSharingTagger(config) if config.arch == "soft" else Tagger(config)
    if embedding is not None and config.arch != "random-lstm":
        model.word_embed.load_pretrained_(embedding)
    return model
