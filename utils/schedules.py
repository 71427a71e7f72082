"""Batch schedules: the order in which the tasks' training batches are visited in one epoch.

A schedule takes `{task_id: [batch, ...]}` (one epoch of batches per task, any objects) and a
torch.Generator, and yields `(task_id, batch)`.
- `single`: the tasks one after another (with one task: its batches in order).
- `seq-label`: shuffled round-robin: each cycle visits the tasks that still have batches in a
  fresh random order, one batch each, until every task's batches are used.
- `re-seq-label`: like `seq-label`, but every smaller task is first topped up with batches
  resampled (with replacement) from its own, so all tasks contribute as many batches as the
  largest and unequal task sizes are balanced.
"""
from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence, TypeVar

import torch

B = TypeVar("B")
Schedule = Callable[[Mapping[int, Sequence[B]], torch.Generator], Iterator[tuple[int, B]]]


def single(batches: Mapping[int, Sequence[B]], generator: torch.Generator) -> Iterator[tuple[int, B]]:
    for task_id, task_batches in batches.items():
        for batch in task_batches:
            yield task_id, batch


def seq_label(batches: Mapping[int, Sequence[B]], generator: torch.Generator) -> Iterator[tuple[int, B]]:
    position = {task_id: 0 for task_id in batches}
    while True:
        live = [t for t in batches if position[t] < len(batches[t])]
        if not live:
            return
        for i in torch.randperm(len(live), generator=generator).tolist():
            task_id = live[i]
            yield task_id, batches[task_id][position[task_id]]
            position[task_id] += 1


def re_seq_label(batches: Mapping[int, Sequence[B]], generator: torch.Generator) -> Iterator[tuple[int, B]]:
    largest = max((len(b) for b in batches.values()), default=0)
    balanced = {}
    for task_id, task_batches in batches.items():
        extra = largest - len(task_batches) if task_batches else 0
        picks = torch.randint(len(task_batches), (extra,), generator=generator).tolist() if extra else []
        balanced[task_id] = list(task_batches) + [task_batches[i] for i in picks]
    return seq_label(balanced, generator)


SCHEDULES: dict[str, Schedule] = {"single": single, "seq-label": seq_label, "re-seq-label": re_seq_label}


def get_schedule(name: str) -> Schedule:
    if name not in SCHEDULES:
        raise ValueError(f"unknown batch schedule {name!r}; expected one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name]
