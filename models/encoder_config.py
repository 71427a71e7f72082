"""EncoderConfig: everything needed to rebuild a tagger over a pretrained transformer encoder;
stored in every checkpoint (`arch` = "encoder" tells it from a BiLSTM ModelConfig)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from models.config import checked_task_layers

ENCODER_ARCH = "encoder"
POOLINGS = ("first", "mean")       # a word read from its first subword, or the mean of its subwords
ENCODER_DROPOUT = 0.1              # BERT's classifier dropout (Devlin et al. 2019, and transformers')


@dataclass
class EncoderConfig:
    """The encoder folder (and its fingerprint), the special tokens around a window, the heads."""

    encoder: str                       # the local Hugging Face model folder
    fingerprint: str                   # sha256 of its config, weights and tokenizer files
    model_type: str                    # bert, roberta, distilbert, xlm-roberta, ...
    n_labels: list[int]                # one entry per task, in the data file's task order
    n_layer: int                       # transformer layers
    hidden_size: int
    prefix_ids: list[int]              # special tokens before a window ([CLS] / <s>)
    suffix_ids: list[int]              # and after it ([SEP] / </s>)
    pad_id: int
    max_pieces: int                    # subwords of one window, special tokens not counted
    dropout: float = ENCODER_DROPOUT
    crf: bool = False
    pooling: str = "first"
    task_layers: list[int] = field(default_factory=list)  # 1-based layer each task reads
    arch: str = ENCODER_ARCH

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        self.task_layers = checked_task_layers(self.task_layers, len(self.n_labels), self.n_layer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EncoderConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
