"""Batch schedules: in which order the tasks' batches come, and how each task's batches are drawn.

They follow the original code's trainers (its src/trainer.py and src/task.py, with fastNLP 0.5.0's
samplers):
- `bucketed` (train_single.py; the original's fastNLP Trainer with a BucketSampler): the tasks one
  after another (one task in practice), bucketed batches every epoch.
- `seq-label` (its SeqLabelTrainer): each epoch draws one random order of the tasks and cycles
  through it, one batch per task per cycle, skipping the tasks whose batches are used up, until
  every task's are. Epoch 1 draws random batches (the loaders the original builds before training
  use a RandomSampler); every later epoch draws bucketed ones (the original replaces each used-up
  loader with a BucketSampler loader).
- `re-seq-label` (its ReSampleSeqLabelTrainer): an epoch is sum_t ceil(N_t / batch) cycles through
  the epoch's random task order, one batch per task per cycle, the sum running over every task of
  the data file whichever are trained (`cycles_per_epoch`; the trained tasks' sum when not given).
  Each task draws from its own stream of random batches, which carries over from epoch to epoch;
  a draw that finds the stream used up starts a fresh one and gives the task no batch in that
  cycle (the original's `continue`). So every task takes about as many steps as all tasks of the
  data file have batches together.
- `temperature` (not the original's; for task sets of very different sizes): a fixed number of
  steps per epoch (`steps_per_epoch`; 0 = the trained tasks' batches together, as many as one
  seq-label epoch), each step's task drawn with probability proportional to N_t ** (1 / T), N_t
  its train sentences: T = 1 samples in proportion to size, a large T near uniformly. Each task
  draws from its own stream of random batches, which carries over from epoch to epoch and starts
  afresh when used up (no step is lost).
Bucketed batches are fastNLP's own (`fastnlp_bucket_batches`, the default) or `bucket_batches`
("tight"), as TrainConfig.bucketing says; see utils.data.batching.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import torch

from utils.data.batching import bucket_batches, fastnlp_bucket_batches, random_batches

BUCKETINGS = ("fastnlp", "tight")
DEFAULT_BUCKETING = "fastnlp"   # as the original drew its bucketed batches


class BatchSchedule:
    """`epoch(e)` yields (task_id, sentence ids) for epoch e (from 1); draws from `generator`."""

    def __init__(self, lengths: Mapping[int, torch.Tensor], batch_size: int,
                 generator: torch.Generator, bucketing: str = DEFAULT_BUCKETING, bucket_chunks: int = 50,
                 cycles_per_epoch: int = 0) -> None:
        if bucketing not in BUCKETINGS:
            raise ValueError(f"unknown bucketing {bucketing!r}; expected one of {', '.join(BUCKETINGS)}")
        self.lengths = dict(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.bucketing = bucketing
        self.bucket_chunks = bucket_chunks
        self.cycles_per_epoch = cycles_per_epoch

    def epoch(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        raise NotImplementedError

    def n_batches(self) -> int:
        """Batches in one epoch (an upper bound for re-seq-label, whose used-up draws skip)."""
        return sum(self._n_task_batches(t) for t in self.lengths)

    def state_dict(self) -> dict[str, Any]:
        """What must survive a resume besides the generator's state (nothing, unless a stream)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass

    def _n_task_batches(self, task_id: int) -> int:
        return math.ceil(int(self.lengths[task_id].numel()) / self.batch_size)

    def bucketed(self, task_id: int) -> list[torch.Tensor]:
        """One pass over the task's sentences in length-bucketed batches."""
        lengths = self.lengths[task_id]
        if self.bucketing == "fastnlp":
            seed = int(torch.randint(2 ** 31 - 1, (1,), generator=self.generator))
            return fastnlp_bucket_batches(lengths, self.batch_size, np.random.RandomState(seed))
        return bucket_batches(lengths, self.batch_size, self.generator, self.bucket_chunks)

    def random(self, task_id: int) -> list[torch.Tensor]:
        """One pass over the task's sentences in random batches."""
        return random_batches(int(self.lengths[task_id].numel()), self.batch_size, self.generator)

    def task_order(self) -> list[int]:
        """This epoch's random order of the tasks."""
        ids = list(self.lengths)
        return [ids[i] for i in torch.randperm(len(ids), generator=self.generator).tolist()]


class Bucketed(BatchSchedule):
    def epoch(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        for task_id in self.lengths:
            for batch in self.bucketed(task_id):
                yield task_id, batch


class SeqLabel(BatchSchedule):
    def epoch(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        order = self.task_order()
        draw = self.random if epoch == 1 else self.bucketed
        batches = {t: draw(t) for t in self.lengths}
        for cycle in range(max((len(b) for b in batches.values()), default=0)):
            for task_id in order:
                if cycle < len(batches[task_id]):
                    yield task_id, batches[task_id][cycle]


class ReSeqLabel(BatchSchedule):
    """Keeps each task's stream of random batches: (one pass of batches, how many were drawn)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams: dict[int, tuple[list[torch.Tensor], int]] = {}

    def epoch(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        for task_id in self.lengths:
            if task_id not in self.streams:
                self.streams[task_id] = (self.random(task_id), 0)
        order = self.task_order()
        for _ in range(self.cycles()):
            for task_id in order:
                batches, drawn = self.streams[task_id]
                if drawn == len(batches):              # used up: restart, lose this slot
                    self.streams[task_id] = (self.random(task_id), 0)
                    continue
                self.streams[task_id] = (batches, drawn + 1)
                yield task_id, batches[drawn]

    def cycles(self) -> int:
        """Cycles per epoch: `cycles_per_epoch`, else the trained tasks' batches together."""
        return self.cycles_per_epoch or sum(self._n_task_batches(t) for t in self.lengths)

    def n_batches(self) -> int:
        return self.cycles() * len(self.lengths)

    def state_dict(self) -> dict[str, Any]:
        """Each stream as its batches' ids joined, their sizes and how many were drawn: tensors
        and ints only, so a resume state keeps loading with weights_only=True."""
        return {"streams": {t: {"ids": torch.cat(batches) if batches else torch.zeros(0, dtype=torch.long),
                                "sizes": [int(b.numel()) for b in batches], "drawn": drawn}
                            for t, (batches, drawn) in self.streams.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.streams = {int(t): (list(s["ids"].split(s["sizes"])), int(s["drawn"]))
                        for t, s in state.get("streams", {}).items()}


class Temperature(ReSeqLabel):
    """Steps whose task is drawn by size ** (1 / temperature); streams as re-seq-label's."""

    def __init__(self, *args: Any, temperature: float = 1.0, steps_per_epoch: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not temperature > 0:
            raise ValueError(f"the temperature must be above 0, got {temperature}")
        self.temperature = temperature
        self.steps_per_epoch = steps_per_epoch

    def probabilities(self) -> dict[int, float]:
        """{task_id: N_t ** (1/T) / sum_s N_s ** (1/T)} over the trained tasks."""
        weights = {t: float(lengths.numel()) ** (1.0 / self.temperature)
                   for t, lengths in self.lengths.items()}
        total = sum(weights.values())
        return {t: w / total for t, w in weights.items()}

    def epoch(self, epoch: int) -> Iterator[tuple[int, torch.Tensor]]:
        ids = [t for t, lengths in self.lengths.items() if lengths.numel()]
        if not ids or not self.n_batches():          # no sentences: no batch
            return
        chances = torch.tensor([self.probabilities()[t] for t in ids], dtype=torch.float64)
        for index in torch.multinomial(chances, self.n_batches(), replacement=True,
                                       generator=self.generator).tolist():
            yield ids[index], self.next_batch(ids[index])

    def next_batch(self, task_id: int) -> torch.Tensor:
        """The task's next batch of its stream, a fresh stream when it is used up."""
        batches, drawn = self.streams.get(task_id, ([], 0))
        if drawn == len(batches):
            batches, drawn = self.random(task_id), 0
        self.streams[task_id] = (batches, drawn + 1)
        return batches[drawn]

    def n_batches(self) -> int:
        return self.steps_per_epoch or sum(self._n_task_batches(t) for t in self.lengths)


SCHEDULES: dict[str, type[BatchSchedule]] = {"bucketed": Bucketed, "seq-label": SeqLabel,
                                             "re-seq-label": ReSeqLabel, "temperature": Temperature}


def make_schedule(name: str, lengths: Mapping[int, torch.Tensor], batch_size: int,
                  generator: torch.Generator, bucketing: str = DEFAULT_BUCKETING,
                  bucket_chunks: int = 50, cycles_per_epoch: int = 0, temperature: float = 1.0,
                  steps_per_epoch: int = 0) -> BatchSchedule:
    """The schedule `name` ("bucketed", "seq-label", "re-seq-label" or "temperature") over the
    tasks' sentence lengths ({task_id: lengths}, in task order). `cycles_per_epoch`: re-seq-label's
    epoch length (see `epoch_cycles`); 0 = the trained tasks' batches together. `temperature`,
    `steps_per_epoch`: the temperature schedule's."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown batch schedule {name!r}; expected one of {', '.join(SCHEDULES)}")
    if name == "temperature":
        return Temperature(lengths, batch_size, generator, bucketing, bucket_chunks,
                           temperature=temperature, steps_per_epoch=steps_per_epoch)
    return SCHEDULES[name](lengths, batch_size, generator, bucketing, bucket_chunks,
                           cycles_per_epoch)


def epoch_cycles(train_sentences: Iterable[int], batch_size: int) -> int:
    """re-seq-label's cycles per epoch, sum_t ceil(N_t / batch_size), given N_t for every task of
    the data file: the original sums over all its tasks, the ones `--tasks` leaves out too."""
    return sum(math.ceil(n / batch_size) for n in train_sentences)
