"""How a batch runs through the BiLSTM on the CPU: a small cost model, and the plan it chooses.

A batch (sorted longest first) can run two ways (`models.bilstm.BiLSTMLayer.run`):
- packed: `nn.LSTM` on the packed batch. On the CPU torch runs sentences of different lengths
  through its per-timestep reference kernel: only real tokens are computed, but each step costs
  more;
- padded: oneDNN's fused LSTM over the padded batch, one direction at a time (the backward one on
  every sentence reversed within its length), or both directions in one call where every sentence
  fills the width. Cheaper per step, but every padding position is computed too.
A padded batch may also be cut into groups of consecutive sentences, each run at its own longest
length: a random batch with one long sentence among short ones then wastes far less, at the price
of one more set of kernel calls per group.

`KernelCosts` models each way's time from the batch's shape (steps x rows, plus fixed costs per
call), with and without gradients, and `batch_plan` takes the cheapest: packed, or padded in the
best grouping (a small dynamic program over the points where the length drops). The constants in
use are measured on the machine that runs them (models.lstm_calibration), else the ones fitted by
bench/lstm_kernels.py on batches drawn as the schedules draw them (docs/performance.md). Every plan gives the outputs and gradients of the packed run on real
tokens (tests/test_bilstm.py): the choice changes only the speed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch


class Group(NamedTuple):
    """Rows start..end-1 of the batch, run padded at `width` (the first row's length)."""

    start: int
    end: int
    width: int
    reversal: torch.Tensor | None    # reversal_index of the rows; None: every row is `width` long


Plan = tuple[Group, ...]     # the padded groups; empty: the whole batch packed
PACKED: Plan = ()


def reversal_index(lengths: torch.Tensor, width: int, device: torch.device) -> torch.Tensor:
    """[B, width] positions that reverse each row's first lengths[b] steps and keep the padding."""
    steps = torch.arange(width, device=device).unsqueeze(0)
    ends = lengths.to(device).unsqueeze(1)
    return torch.where(steps < ends, ends - 1 - steps, steps)


@dataclass(frozen=True)
class KernelCosts:
    """Modelled time of one batch through the BiLSTM stack, forward (and backward with gradients),
    in units of one row of one step of a padded group."""

    group: float          # a padded group's fixed cost (its kernel calls: weight reorders, buffers)
    group_step: float     # a padded group's cost per step besides its rows
    packed: float         # the packed run's fixed cost
    packed_step: float    # its cost per step
    packed_token: float   # its cost per real token

    def padded_cost(self, width: int, rows: int) -> float:
        return self.group + width * (self.group_step + rows)

    def packed_cost(self, width: int, tokens: int) -> float:
        return self.packed + width * self.packed_step + tokens * self.packed_token


# Fitted by `bench/lstm_kernels.py --threads 1` (the model's 2 x 200 BiLSTM, 2 layers, input 80) on
# a 2-core AMD EPYC with AVX2, with gradients (training) and without (evaluation). A padded group
# costs about 6 ms besides its rows with gradients; the packed kernel about 10 row-steps per step.
# With 2 threads the same constants chose as well (docs/performance.md, "The BiLSTM kernel").
# The plan uses them where no constants measured on the machine are in use
# (models.lstm_calibration: fitted at a run's start, cached per CPU, threads and torch version).
DEFAULT_COSTS = {
    True: KernelCosts(group=46.9, group_step=0.33, packed=5.8, packed_step=10.3, packed_token=1.12),
    False: KernelCosts(group=31.2, group_step=0.97, packed=17.6, packed_step=4.94, packed_token=1.05),
}
# The constants in use in this process, by gradient mode: the defaults until `use_costs`.
COSTS = dict(DEFAULT_COSTS)


def use_costs(costs: dict[bool, KernelCosts]) -> None:
    """Make `costs` ({True: with gradients, False: without}) the constants every plan uses."""
    COSTS.update(costs)


def costs_in_use() -> dict[bool, KernelCosts]:
    return dict(COSTS)


def batch_plan(lengths: torch.Tensor, device: torch.device) -> Plan:
    """How to run the batch of these lengths (longest first) on `device`: packed on CUDA, where
    cuDNN takes packed batches of varying lengths natively; on the CPU the cheapest plan by the
    cost model, for gradients on or off as torch has them now."""
    if device.type == "cuda":
        return PACKED
    costs = COSTS[torch.is_grad_enabled()]
    sizes = lengths.tolist()
    cost, starts = cheapest_groups(sizes, costs)
    if costs.packed_cost(sizes[0], sum(sizes)) < cost:
        return PACKED
    return padded_plan(lengths, starts, device)


def cheapest_groups(sizes: list[int], costs: KernelCosts) -> tuple[float, list[int]]:
    """The least modelled cost of running rows of lengths `sizes` (longest first) padded in
    consecutive groups, and the first row of each group. A group starts only where the length
    drops: moving rows of one length between neighbouring groups changes no group's width."""
    points = [0] + [i for i in range(1, len(sizes)) if sizes[i] != sizes[i - 1]] + [len(sizes)]
    best = [0.0] + [math.inf] * (len(points) - 1)
    previous = [0] * len(points)
    for j in range(1, len(points)):
        for i in range(j):
            cost = best[i] + costs.padded_cost(sizes[points[i]], points[j] - points[i])
            if cost < best[j]:
                best[j], previous[j] = cost, i
    starts, j = [], len(points) - 1
    while j > 0:
        j = previous[j]
        starts.append(points[j])
    return best[-1], starts[::-1]


def padded_plan(lengths: torch.Tensor, starts: list[int], device: torch.device) -> Plan:
    """Padded groups beginning at the rows `starts` (the first is 0) of the batch `lengths`."""
    ends = starts[1:] + [len(lengths)]
    groups = []
    for start, end in zip(starts, ends):
        rows = lengths[start:end]
        width = int(rows[0])
        uniform = int(rows[-1]) == width
        groups.append(Group(start, end, width, None if uniform else reversal_index(rows, width, device)))
    return tuple(groups)
