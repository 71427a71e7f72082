"""ModelConfig: everything needed to rebuild a tagger; stored in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

ARCHS = ("lstm", "hier-lstm")


@dataclass
class ModelConfig:
    """Sizes and switches of the CNN-BiLSTM tagger (defaults: the paper's values)."""

    n_words: int
    n_chars: int
    n_labels: list[int]               # one entry per task, in the data file's task order
    word_dim: int = 100
    char_dim: int = 30
    char_filters: int = 30
    char_kernel: int = 3
    hidden_size: int = 200            # per direction
    n_layer: int = 2
    dropout: float = 0.5
    crf: bool = False
    arch: str = "lstm"
    task_layers: list[int] = field(default_factory=list)  # 1-based LSTM layer each task reads

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if not self.task_layers:
            self.task_layers = [self.n_layer] * len(self.n_labels)
        if len(self.task_layers) != len(self.n_labels):
            raise ValueError("task_layers needs one entry per task")
        if any(not 1 <= layer <= self.n_layer for layer in self.task_layers):
            raise ValueError(f"task_layers must lie in 1..{self.n_layer}: {self.task_layers}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def task_layers_for(arch: str, tasks: Sequence[str], n_layer: int) -> list[int]:
    """Which LSTM layer each task reads: the top one, except POS at layer 1 in `hier-lstm`."""
    if arch == "hier-lstm":
        return [1 if task == "pos" else n_layer for task in tasks]
    return [n_layer] * len(tasks)
