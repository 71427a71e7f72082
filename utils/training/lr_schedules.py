"""Learning-rate schedules: the original code's three (`--scheduler`, its src/utils.py), stepped
once per EPOCH, as the original steps every one of them.

- `fix`: constant lr (the original's multi-task runs: its run scripts pass `--scheduler fix`).
- `decay`: lr0 / (1 + 0.05 * e) in epoch e + 1 (the original's single-task pruning: a fastNLP
  LRScheduler callback that steps at every epoch end; its multi-task trainer steps its
  `--scheduler` at the end of `_train_epoch`).
- `inverse_sqrt(warmup=4000)`: lr0 * e / warmup while e < warmup, then lr0 * sqrt(warmup / e),
  e = epochs finished (so the first epoch runs at lr 0, as in the original). The original builds the
  same shape but multiplies its LambdaLR factor by lr0 once more (lr0**2 * e / warmup at the
  peak side); here the factor is the shape alone, so the peak lr is lr0 (docs/differences.md).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from utils.errors import InputError
from utils.training.spec import parse_call

DECAY_RATE = 0.05                       # the original's fixed rate, train_single.py and src/utils.py
SCHEDULER_ARGS: dict[str, set[str]] = {"fix": set(), "decay": set(), "inverse_sqrt": {"warmup"},
                                       "linear": {"warmup"}}
LINEAR_WARMUP = 0.1                     # BERT's 10% of the steps (transformers' examples too)


def parse_scheduler(spec: str) -> tuple[str, dict[str, Any]]:
    """("inverse_sqrt", {"warmup": 4000}) from "inverse_sqrt(warmup=4000)"; InputError if bad."""
    name, kwargs = parse_call(spec, SCHEDULER_ARGS, "--scheduler", "scheduler")
    warmup = kwargs.get("warmup", 4000)
    if name == "inverse_sqrt" and not (isinstance(warmup, int) and warmup > 0):
        raise InputError(f"warmup must be a positive whole number of epochs, got {warmup!r}",
                         "--scheduler")
    share = kwargs.get("warmup", LINEAR_WARMUP)
    if name == "linear" and not (isinstance(share, (int, float)) and 0 <= share < 1):
        raise InputError(f"warmup must be the share of the steps spent warming up, 0 <= warmup < 1, "
                         f"got {share!r}", "--scheduler")
    return name, kwargs


def per_step(spec: str) -> bool:
    """Whether the schedule is stepped after every optimizer step (else after every epoch)."""
    return parse_scheduler(spec)[0] == "linear"


def lr_factor(spec: str, total_steps: int = 0) -> Callable[[int], float]:
    """The factor on lr0 in the epoch after `e` finished epochs (for `linear`: after `e` finished
    steps of `total_steps`)."""
    name, kwargs = parse_scheduler(spec)
    if name == "linear":
        total = max(total_steps, 1)
        warm = round(kwargs.get("warmup", LINEAR_WARMUP) * total)
        return lambda s: s / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1))
    if name == "fix":
        return lambda e: 1.0
    if name == "decay":
        return lambda e: 1.0 / (1.0 + DECAY_RATE * e)
    warmup = kwargs.get("warmup", 4000)
    return lambda e: e / warmup if e < warmup else math.sqrt(warmup / e)


def build_scheduler(spec: str, optimizer: torch.optim.Optimizer,
                    total_steps: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule `spec` names on `optimizer`; call its step() once after every epoch, or after
    every optimizer step when `per_step(spec)` (`total_steps`: the run's optimizer steps)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(spec, total_steps))
