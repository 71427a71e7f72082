"""What a training run is told (TrainConfig) and what it gives back (TrainResult)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from utils.training.schedules import DEFAULT_BUCKETING

SELECTION_SPLITS = ("dev", "test")


@dataclass
class TrainConfig:
    """Defaults: the original's single-task pruning recipe (train_mtl.py sets its own)."""

    epochs: int
    optim: str = "sgd(lr=0.1, momentum=0.9)"
    batch_size: int = 10
    eval_batch_size: int = 100
    scheduler: str = "decay"          # the lr schedule (lr_schedules): fix | decay | inverse_sqrt(warmup=N)
    clip_type: str = "norm"           # utils.training.optim.clip_gradients: norm | value
    clip: float = 5.0                 # 0 = no clipping
    accumulation_steps: int = 1
    eval_max_positions: int = 0       # cap of an evaluation batch's padded size; 0 = none (eval_batches)
    patience: int = 0                 # epochs without a better selection score before stopping; 0 = never
    batch_schedule: str = "bucketed"  # utils.training.schedules: bucketed | seq-label | re-seq-label | temperature
    bucketing: str = DEFAULT_BUCKETING  # utils.training.schedules.BUCKETINGS
    metric: str = "conlleval"         # span F1 that selects the epoch (utils.training.metrics.SPAN_METRICS)
    select_on: str = "dev"            # the split whose mean score selects the epoch (SELECTION_SPLITS)
    device: str = "cpu"
    progress: bool | None = None      # tqdm bars; None = only when stderr is a terminal
    bucket_chunks: int = 50
    cycles_per_epoch: int = 0         # re-seq-label's epoch (schedules.epoch_cycles); 0 = trained tasks'
    temperature: float = 1.0          # the temperature schedule: tasks drawn by size ** (1 / T)
    steps_per_epoch: int = 0          # the temperature schedule's epoch; 0 = the trained tasks' batches
    loss_weights: dict[int, float] = field(default_factory=dict)   # {task_id: weight}; absent = 1

    def __post_init__(self) -> None:
        if self.select_on not in SELECTION_SPLITS:
            raise ValueError(f"select_on must be one of {SELECTION_SPLITS}, got {self.select_on!r}")


@dataclass
class TrainResult:
    """The selected epoch's scores (dev, and test measured with its weights) and the history."""

    best_epoch: int
    epochs: int                       # epochs trained (fewer than asked after early stopping)
    dev: dict[str, float]
    test: dict[str, float]
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    dev_all: dict[str, dict[str, float]] = field(default_factory=dict)   # every metric's score
    test_all: dict[str, dict[str, float]] = field(default_factory=dict)
