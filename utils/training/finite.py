"""The non-finite guard: a diverged run stops before anything is selected, saved or pruned from it.

The trainer calls `FiniteGuard.loss` on every batch and `FiniteGuard.end_of_epoch` before the
epoch is evaluated, selected or saved. A NaN or infinite loss, or a NaN or infinite weight at the
end of an epoch, raises `TrainingDiverged` naming the epoch and the batch. The resume state on
disk is then still the one of the last good epoch, and `--resume` continues from it (with another
`--optim`, see utils/training/run_dir.py).

On the CPU reading the loss is free, so the run stops at the first bad batch. On a GPU reading it
every step would wait for the device; there the index of the first bad batch is kept on the
device and read once, at the end of the epoch.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from utils.errors import TrainingDiverged


class FiniteGuard:
    """Watches one epoch's losses and the weights after it. `where` prefixes the messages
    (e.g. "round 2 "); `eager` reads every loss at once (default: on the CPU only)."""

    def __init__(self, device: str | torch.device, where: Callable[[], str] = str,
                 eager: bool | None = None) -> None:
        self.device = torch.device(device)
        self.eager = self.device.type == "cpu" if eager is None else eager
        self.where = where
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.device)

    def start_epoch(self) -> None:
        self.first_bad.fill_(-1)

    def loss(self, loss: torch.Tensor, epoch: int, batch: int) -> None:
        """Check one batch's loss (`batch` counts from 1 within the epoch)."""
        if self.eager:
            value = float(loss.detach())
            if not math.isfinite(value):
                self._stop(epoch, f"the loss is {value} at batch {batch}")
            return
        bad = ~torch.isfinite(loss.detach()) & (self.first_bad < 0)
        self.first_bad = torch.where(bad, torch.full_like(self.first_bad, batch), self.first_bad)

    def end_of_epoch(self, model: nn.Module, epoch: int, n_batches: int) -> None:
        """Raise if a loss of the epoch or a weight after its last step is not finite."""
        first_bad = int(self.first_bad)
        if first_bad >= 0:
            self._stop(epoch, f"the loss is not finite from batch {first_bad} on")
        for name, param in model.named_parameters():
            if not bool(torch.isfinite(param.detach()).all()):
                self._stop(epoch, f"weight {name} is not finite after the last batch ({n_batches})")

    def _stop(self, epoch: int, what: str) -> None:
        raise TrainingDiverged(
            f"training diverged: {self.where()}epoch {epoch}: {what}. Nothing from this epoch was "
            "kept; lower the learning rate and continue from the last good epoch with "
            "--resume --optim \"...\" (or start again)")
