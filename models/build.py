"""build_model: the network a ModelConfig describes, with the data file's pretrained rows."""
from __future__ import annotations

import torch

from models.config import ModelConfig
from models.soft import SoftSharingTagger
from models.tagger import Tagger


def build_model(config: ModelConfig, embedding: torch.Tensor | None = None) -> Tagger:
    """A tagger (soft sharing for `arch="soft"`); the word embedding's first rows start from
    `embedding` (the data file's pretrained rows) when given, except in random-lstm, which starts
    every row at random as the original's did."""
    model = SoftSharingTagger(config) if config.arch == "soft" else Tagger(config)
    if embedding is not None and config.arch != "random-lstm":
        model.word_embed.load_pretrained_(embedding)
    return model
