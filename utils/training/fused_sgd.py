"""torch's SGD with its fused kernel usable when tensors get their first gradient at different steps.

torch's fused SGD treats a step as every tensor's first only when no tensor has a momentum buffer
yet, and fails when one tensor lacks a buffer while others have one: in multi-task training a
task's head gets its first gradient at its task's first batch, after other tensors' steps. A
tensor about to take its first step gets a zero buffer here, which gives exactly the buffer of
torch's first step (0 x momentum + gradient = the gradient), as long as dampening is 0 (with
dampening torch's first step skips it; `build_optimizer` uses the foreach version then).
"""
from __future__ import annotations

from typing import Any

import torch


class SGD(torch.optim.SGD):
    """`torch.optim.SGD`; with `fused=True`, tensors may start their momentum at any step."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A pre-hook, not an override of step: torch wraps `step` with its hooks per class, and
        # calling the parent's wrapped step from ours would run every global hook twice.
        self.register_step_pre_hook(zero_buffers_for_first_steps)


def zero_buffers_for_first_steps(optimizer: torch.optim.SGD, args: Any, kwargs: Any) -> None:
    """A zero momentum buffer for every tensor about to take its first fused step."""
    for group in optimizer.param_groups:
        if group.get("fused") and group["momentum"]:
            for param in group["params"]:
                if param.grad is not None and "momentum_buffer" not in optimizer.state[param]:
                    optimizer.state[param]["momentum_buffer"] = torch.zeros_like(param.grad)
