"""The BiLSTM plan's cost constants measured on the machine that runs them.

The constants of `models.lstm_plan.KernelCosts` depend on the CPU: oneDNN's padded kernel and
torch's packed one do not speed up alike from one instruction set to the next (docs/performance.md).
`calibrate` times a fixed design of batches through a bare BiLSTM stack of the model's shape,
packed and padded in one group, with and without gradients (best of `repeats` turns), and fits the
cost model to them (`fit_costs`, relative least squares, the fit bench/lstm_kernels.py reports
too). It takes a few seconds; models.lstm_costs_cache keeps the result per machine.
"""
from __future__ import annotations

import math
import time
from dataclasses import fields
from typing import Callable, Sequence

import torch

from models.bilstm import BiLSTMLayer
from models.lstm_plan import PACKED, KernelCosts, Plan, padded_plan

# Padded groups (rows, width) and packed batches (lengths, longest first) the calibration times:
# widths and rows spread over what training (batch 10) and evaluation batches hold, and packed
# batches whose widths and token counts vary apart (one long sentence, two, a slope), the shapes
# of the batches where packed can win.
PADDED_DESIGN = tuple((rows, width) for rows in (1, 3, 10, 24) for width in (6, 20, 50))
PACKED_DESIGN = tuple(
    lengths for width in (8, 25, 60) for lengths in (
        [width] + [3] * 9,
        [width, width - 1] + [4] * 8,
        [max(1, round(width * (10 - i) / 10)) for i in range(10)],
    ))

# time_batch(lengths, packed, grad) -> seconds of one forward (and backward, with gradients).
BatchTimer = Callable[[list[int], bool, bool], float]


class BareStack:
    """A bare BiLSTM stack of the model's shape; `seconds` times one batch in one plan."""

    def __init__(self, input_size: int, hidden: int, layers: int, clock: Callable[[], float]) -> None:
        sizes = [input_size] + [2 * hidden] * layers
        self.layers = torch.nn.ModuleList(BiLSTMLayer(sizes[i], hidden) for i in range(layers))
        self.input_size, self.clock = input_size, clock

    def seconds(self, lengths: torch.Tensor, plan: Plan, grad: bool) -> float:
        x = torch.randn(len(lengths), int(lengths[0]), self.input_size, requires_grad=grad)
        self.layers.train(grad)
        start = self.clock()
        with torch.set_grad_enabled(grad):
            for layer in self.layers:
                x = layer.run(x, lengths, plan)
            if grad:
                x.sum().backward()
        return self.clock() - start


def stack_timer(input_size: int, hidden: int, layers: int, repeats: int = 3) -> BatchTimer:
    """Times batches through a bare stack of this shape, best of `repeats` after one warm-up; by
    process CPU time with one torch thread (steady on a shared machine), else by wall time."""
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    stack = BareStack(input_size, hidden, layers, clock)
    cpu = torch.device("cpu")

    def time_batch(lengths: list[int], packed: bool, grad: bool) -> float:
        tensor = torch.tensor(lengths)
        plan = PACKED if packed else padded_plan(tensor, [0], cpu)
        stack.seconds(tensor, plan, grad)
        return min(stack.seconds(tensor, plan, grad) for _ in range(repeats))
    return time_batch


def calibrate(time_batch: BatchTimer) -> dict[bool, KernelCosts]:
    """The constants fitted to the design's timings, for each gradient mode; ValueError where
    the timings do not give a usable fit."""
    costs = {}
    for grad in (True, False):
        padded = [([(rows, width)], time_batch([width] * rows, False, grad))
                  for rows, width in PADDED_DESIGN]
        packed = [(lengths, time_batch(lengths, True, grad)) for lengths in PACKED_DESIGN]
        costs[grad] = fit_costs(padded, packed)[0]
    return costs


def fit_costs(padded: Sequence[tuple[Sequence[tuple[int, int]], float]],
              packed: Sequence[tuple[Sequence[int], float]]) -> tuple[KernelCosts, float]:
    """KernelCosts fitted to timed runs (relative least squares), in units of the fitted cost of
    one padded row-step, and that cost in seconds.

    `padded`: (the groups as (rows, width) pairs, seconds) per run; `packed`: (the lengths,
    longest first, seconds). A term fitted below zero (noise on a term that weighs little) is
    taken as zero; ValueError if the row-step itself does not come out positive."""
    padded_x = [[len(groups), sum(w for _, w in groups), sum(r * w for r, w in groups)]
                for groups, _ in padded]
    group, group_step, row_step = _relative_lstsq(padded_x, [t for _, t in padded])
    if not (math.isfinite(row_step) and row_step > 0):
        raise ValueError(f"the padded runs' cost per row-step came out {row_step:.3g} s")
    packed_x = [[1, lengths[0], sum(lengths)] for lengths, _ in packed]
    fitted = (group, group_step, *_relative_lstsq(packed_x, [t for _, t in packed]))
    values = [max(0.0, v / row_step) for v in fitted]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("the fit gave a constant that is not finite")
    return KernelCosts(**dict(zip((f.name for f in fields(KernelCosts)), values))), row_step


def _relative_lstsq(x: list[list[float]], t: list[float]) -> list[float]:
    """Coefficients c minimising sum((x @ c - t) / t)^2: each run weighs by its relative error."""
    a = torch.tensor(x, dtype=torch.float64)
    b = torch.tensor(t, dtype=torch.float64)
    if not bool((b > 0).all()):
        raise ValueError("a timed run took no time")
    solution = torch.linalg.lstsq(a / b[:, None], torch.ones_like(b).unsqueeze(1)).solution
    return solution.squeeze(1).tolist()
