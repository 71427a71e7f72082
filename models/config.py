"""ModelConfig: everything needed to rebuild a tagger; stored in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

# The original's `--arch` names (`src/models.py`), plus `soft` (cross-stitch soft sharing).
ARCHS = ("cnn-lstm", "hier-lstm", "random-lstm", "soft")
ARCH_ALIASES = {"lstm": "cnn-lstm"}       # this project's earlier name
ARCH_CHOICES = ARCHS + tuple(ARCH_ALIASES)
WORD_DROPOUT = 0.01                        # the original's StaticEmbedding(word_dropout=0.01)
RANDOM_WORD_DIM = 50                       # the original's random-lstm: 50-d random embeddings
DEFAULT_WORD_DIM = 100                     # without pretrained vectors (the paper's GloVe size)


def canonical_arch(arch: str) -> str:
    """The architecture's name, aliases resolved; ValueError for an unknown one."""
    arch = ARCH_ALIASES.get(arch, arch)
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCH_CHOICES}, got {arch!r}")
    return arch


@dataclass
class ModelConfig:
    """Sizes and switches of the CNN-BiLSTM tagger (defaults: the paper's and the original's)."""

    n_words: int                      # embedding rows
    n_chars: int
    n_labels: list[int]               # one entry per task, in the data file's task order
    word_dim: int = DEFAULT_WORD_DIM
    char_dim: int = 30
    char_filters: int = 30
    char_kernel: int = 3
    hidden_size: int = 200            # per direction
    n_layer: int = 2
    dropout: float = 0.5
    crf: bool = False
    arch: str = "cnn-lstm"
    task_layers: list[int] = field(default_factory=list)  # 1-based LSTM layer each task reads
    word_dropout: float | None = None  # None: the original's (0 for random-lstm, else 0.01)

    def __post_init__(self) -> None:
        self.arch = canonical_arch(self.arch)
        if self.word_dropout is None:
            self.word_dropout = 0.0 if self.arch == "random-lstm" else WORD_DROPOUT
        self.task_layers = checked_task_layers(self.task_layers, len(self.n_labels), self.n_layer)

    @property
    def uses_chars(self) -> bool:
        """Whether the model has a char CNN (the original's random-lstm has none)."""
        return self.arch != "random-lstm"

    @property
    def char_word_markers(self) -> bool:
        """The original's hierarchical model brackets each word (see models.char_cnn)."""
        return self.arch == "hier-lstm"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def checked_task_layers(task_layers: list[int], n_tasks: int, n_layer: int) -> list[int]:
    """The 1-based layer each task reads (every task the top one when none are given); ValueError
    for a wrong count or a layer the network does not have."""
    if not task_layers:
        return [n_layer] * n_tasks
    if len(task_layers) != n_tasks:
        raise ValueError("task_layers needs one entry per task")
    if any(not 1 <= layer <= n_layer for layer in task_layers):
        raise ValueError(f"task_layers must lie in 1..{n_layer}: {task_layers}")
    return task_layers


def data_sizes(data: Any, arch: str) -> dict[str, Any]:
    """The ModelConfig fields a data file fixes (rows, characters, labels per task, word vector
    size) for `arch`; `data` is a utils.data.datafile.PreparedData."""
    if canonical_arch(arch) == "random-lstm":
        word_dim = RANDOM_WORD_DIM
    else:
        word_dim = data.embedding.size(1) if data.embedding is not None else DEFAULT_WORD_DIM
    return {"n_words": len(data.words), "n_chars": len(data.chars),
            "n_labels": [len(data.labels[t]) for t in data.tasks], "word_dim": word_dim}


def task_layers_for(arch: str, layers: Sequence[int | None], n_layer: int) -> list[int]:
    """Which LSTM layer each task reads: the top one, except in `hier-lstm`, where each task reads
    its own layer (`layers`, one per task from the data file: 1 = the lowest, None = the top)."""
    if canonical_arch(arch) == "hier-lstm":
        return [n_layer if layer is None else layer for layer in layers]
    return [n_layer] * len(layers)
