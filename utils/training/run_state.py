"""How far a run has got, and the resume state that carries it over an interruption.

After every epoch the trainer writes the resume state atomically: the run's progress (RunState:
epochs done, time spent, the best epoch so far with its weights, epochs without improvement, the
per-epoch history, batches trained, which parameters have had a gradient) with the states of the
model, optimizer, lr schedule, batch schedule and every random generator. A killed run then
continues exactly where its last epoch ended. An optimizer changed after a divergence (`--resume
--optim ...`, utils/training/run_dir.py) starts fresh, its lr schedule stepped to the epoch.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from utils.atomic import torch_save_atomic
from utils.errors import InputError
from utils.torch_files import load
from utils.training.checkpoint import cpu_state, rng_states, set_rng_states
from utils.training.schedules import BatchSchedule

# What a resume state holds besides the optional parts (optim, schedule, steps, had_grad).
_REQUIRED = ("epoch", "elapsed", "best", "bad_epochs", "history", "model", "optimizer",
             "scheduler", "rng")


@dataclass
class RunState:
    """A run's progress. `best`: {"epoch", "dev", "dev_all", "dev_mean" (the mean score that
    selects: on dev, or on test with select_on test), "state" (its weights)}."""

    epoch: int = 0
    elapsed: float = 0.0
    best: dict[str, Any] | None = None
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0                    # batches trained over all epochs (for gradient accumulation)
    had_grad: set[str] = field(default_factory=set)   # parameters that have had a gradient

    def keep_if_best(self, epoch: int, dev: dict[str, float], dev_all: dict, mean: float,
                     model: nn.Module) -> None:
        """Epoch `epoch` scored `mean` on the selection split: kept if it is the best so far."""
        if self.best is None or mean > self.best["dev_mean"]:
            self.best = {"epoch": epoch, "dev": dev, "dev_all": dev_all, "dev_mean": mean,
                         "state": cpu_state(model)}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1


@dataclass
class TrainingParts:
    """The objects whose states a resume state holds."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    schedule: BatchSchedule
    generator: torch.Generator
    optim: str                        # the optimizer's spec, e.g. "sgd(lr=0.1, momentum=0.9)"


def save_state(path: str | os.PathLike, state: RunState, parts: TrainingParts) -> None:
    """Write the resume state atomically."""
    torch_save_atomic({"epoch": state.epoch, "elapsed": state.elapsed, "best": state.best,
                       "bad_epochs": state.bad_epochs, "history": state.history,
                       "model": cpu_state(parts.model), "optim": parts.optim,
                       "optimizer": parts.optimizer.state_dict(),
                       "scheduler": parts.scheduler.state_dict(),
                       "schedule": parts.schedule.state_dict(), "steps": state.steps,
                       "had_grad": sorted(state.had_grad), "rng": rng_states(parts.generator)}, path)


def load_state(path: str | os.PathLike, parts: TrainingParts,
               note: Callable[[str], None]) -> RunState:
    """Put every part back as the resume state at `path` left it; the run's progress."""
    saved = load(path, "resume state")
    missing = [key for key in _REQUIRED if key not in saved]
    if missing:
        raise InputError(f"not a resume state written by this project (no {', '.join(missing)}); "
                         "delete it to start this training from its beginning", path)
    parts.model.load_state_dict(saved["model"])
    if saved.get("optim", parts.optim) == parts.optim:
        parts.optimizer.load_state_dict(saved["optimizer"])
        parts.scheduler.load_state_dict(saved["scheduler"])
    else:                                  # --optim changed after a divergence
        # the steps the old schedule took: epochs, or optimizer steps for a per-step schedule
        _fast_forward(parts.scheduler, int(saved["scheduler"].get("last_epoch", saved["epoch"])))
        note(f"new optimizer {parts.optim} (was {saved['optim']}), its lr schedule at epoch "
             f"{saved['epoch']}")
    parts.schedule.load_state_dict(saved.get("schedule", {}))
    set_rng_states(saved["rng"], parts.generator)
    return RunState(epoch=saved["epoch"], elapsed=saved["elapsed"], best=saved["best"],
                    bad_epochs=saved["bad_epochs"], history=saved["history"],
                    steps=saved.get("steps", 0), had_grad=set(saved.get("had_grad", [])))


def _fast_forward(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    """Step a fresh lr schedule to where the old one stood after `steps` of its steps."""
    with warnings.catch_warnings():                  # "scheduler.step() before optimizer.step()"
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            scheduler.step()
