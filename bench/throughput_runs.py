"""The benchmark's runs: every method built once on the same sample, then timed in turns.

Methods are timed in turns (repeat 1 of every method, then repeat 2, ...) after one warm-up of each,
so a load change on a shared machine hits all of them alike. Repeat r draws its batches from the
same seed for every method (same sentences, same shapes).
"""
from __future__ import annotations

import argparse
import math
import time
from contextlib import nullcontext
from typing import Any, Callable

import torch

from lstm_floor import LstmFloor
from models import build_model
from original_masking import OriginalMasking
from throughput_sample import model_config, sample_tasks, task_masks
from utils.data.datafile import PreparedData
from utils.errors import InputError
from utils.training.config import TrainConfig
from utils.training.optim import build_optimizer
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer

FLOORS = ("floor", "floor_padded")
BUCKETED_EPOCH = 2          # seq-label's first epoch has random batches; later ones are bucketed
RANDOM_EPOCH = 1            # random batches, as re-seq-label draws them in every epoch
# Methods that time another method's trainer on its random-batch epoch (the same sentences).
RANDOM_METHODS = {"hard_random": "hard", "sparse_random": "sparse"}
TRAIN_METHODS = ("floor", "floor_padded", "single", "single_masked", "hard", "sparse",
                 *RANDOM_METHODS, "original_masking")
EVAL_METHODS = ("floor", "floor_padded", "single", "sparse")

Timing = tuple[float, float, float | None]   # wall seconds, process CPU seconds, peak MiB


def timed(fn: Callable[[], Any], device: torch.device) -> Timing:
    """Wall and CPU seconds of one call, and the peak device memory in MiB (None on CPU).

    With one thread, CPU seconds are what the call costs on an idle core even when other work
    shares the machine (wall seconds then include the time others held the core)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    fn()
    peak = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    return time.perf_counter() - start, time.process_time() - cpu_start, peak


def autocast(args: argparse.Namespace, device: torch.device):
    if not args.amp:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)



class Bench:
    """Builds every method once; `train(name, seed)` / `evaluate(name)` run one timed repeat."""

    def __init__(self, data: PreparedData, args: argparse.Namespace, device: torch.device) -> None:
        self.args, self.device = args, device
        self.config = model_config(data, args)
        self.tasks = sample_tasks(data, args.steps * args.batch, args.eval_batches * args.eval_batch,
                                  args.seed)
        names = [t.name for t in self.tasks]
        if args.task not in names:
            raise InputError(f"--task must be one of {', '.join(names)}, got {args.task!r}")
        # The task of the single-task runs and floors (--task).
        self.single_tasks = single = [t for t in self.tasks if t.name == args.task]
        masks = task_masks(self.config, len(self.tasks), args.seed)
        self.masks = masks
        self.trainers = {
            "single": self._trainer(data, single, None, "bucketed"),
            "single_masked": self._trainer(data, single, {single[0].task_id: masks[single[0].task_id]},
                                           "bucketed"),
            "hard": self._trainer(data, self.tasks, None, "seq-label"),
            "sparse": self._trainer(data, self.tasks, masks, "seq-label"),
        }
        self.original = OriginalMasking(self._trainer(data, self.tasks, None, "seq-label"), masks)
        self.floors = {"floor": LstmFloor(self.config, device, packed=True),
                       "floor_padded": LstmFloor(self.config, device, packed=False)}

    def _trainer(self, data: PreparedData, tasks: list[TaskData], masks, schedule: str) -> Trainer:
        torch.manual_seed(self.args.seed)
        model = build_model(self.config, data.embedding)
        # Each script's clipping: norm in single-task pruning, value in multi-task training.
        config = TrainConfig(epochs=1, optim=self.args.optim, batch_size=self.args.batch,
                             eval_batch_size=self.args.eval_batch, batch_schedule=schedule,
                             bucketing=self.args.bucketing,
                             clip_type="norm" if schedule == "bucketed" else "value",
                             device=str(self.device), progress=False)
        trainer = Trainer(model, tasks, config, seed=self.args.seed, masks=masks, echo=lambda _: None)
        trainer.optimizer = build_optimizer(config.optim, [p for p in model.parameters()
                                                           if p.requires_grad])
        return trainer

    def train_steps(self, name: str) -> int:
        """Training batches of one epoch of `name` (bucketing makes ceil(sentences / batch))."""
        return sum(math.ceil(t.train.n_sentences / self.args.batch) for t in self._train_tasks(name))

    def train_tokens(self, name: str) -> int:
        return sum(t.train.n_tokens for t in self._train_tasks(name))

    def _train_tasks(self, name: str) -> list[TaskData]:
        if name.startswith("single") or name in FLOORS:
            return self.single_tasks
        return self.tasks

    def eval_tokens(self, name: str) -> int:
        tasks = self.tasks if name == "sparse" else self.single_tasks
        return sum(t.dev.n_tokens for t in tasks)

    def train(self, name: str, seed: int) -> Timing:
        """One epoch over the sample, batches drawn from `seed` (the same shapes for every method;
        the `_random` methods draw random batches of the same sentences)."""
        if name in FLOORS:
            floor = self.floors[name]
            batches = floor.prepare_train(self.trainers["single"], seed, BUCKETED_EPOCH)
            with autocast(self.args, self.device):
                return timed(lambda: floor.train(batches), self.device)
        trainer = self.trainers.get(RANDOM_METHODS.get(name, name))
        runner = self.original if name == "original_masking" else trainer
        epoch = RANDOM_EPOCH if name in RANDOM_METHODS else BUCKETED_EPOCH
        runner.generator.manual_seed(seed)
        with autocast(self.args, self.device):
            if name == "original_masking":
                return timed(lambda: self.original.epoch(epoch), self.device)
            return timed(lambda: runner.train_epoch(runner.optimizer, epoch, name), self.device)

    def evaluate(self, name: str) -> Timing:
        if name in FLOORS:
            floor, trainer = self.floors[name], self.trainers["single"]
            batches = floor.prepare_eval(trainer.evaluator.batches(trainer.tasks[0], "dev"))
            with autocast(self.args, self.device):
                return timed(lambda: floor.forward(batches), self.device)
        trainer = self.trainers[name]
        with autocast(self.args, self.device):
            return timed(lambda: trainer.evaluate("dev"), self.device)



Runs = dict[str, dict[str, list[Timing]]]   # "train" / "eval" -> method -> one Timing per repeat


def measure(bench: Bench, repeats: int, seed: int) -> Runs:
    """One warm-up of every method (allocator, caches, kernels), then `repeats` timed turns."""
    runs: Runs = {"train": {m: [] for m in TRAIN_METHODS}, "eval": {m: [] for m in EVAL_METHODS}}
    for name in TRAIN_METHODS:
        bench.train(name, seed)
    for name in EVAL_METHODS:
        bench.evaluate(name)
    for repeat in range(repeats):
        for name in TRAIN_METHODS:
            runs["train"][name].append(bench.train(name, seed + 1 + repeat))
        for name in EVAL_METHODS:
            runs["eval"][name].append(bench.evaluate(name))
    return runs
