"""The one training loop, for one task or many.

Each epoch: a batch schedule (utils.training.schedules) draws every task's batches and orders them, and
every batch runs through the model with its task's mask (utils.sparsity.masking.masked_call); its loss is
multiplied by the task's weight where TrainConfig.loss_weights gives one. Steps follow the original code: the loss divided by `accumulation_steps` and a step every that many batches
(counted across epochs; gradients reset at every epoch start), a parameter that once had a
gradient stepped with a zero one when its task did not run (utils.training.optim.keep_zero_grads), the
gradients clipped before the step (utils.training.optim.clip_gradients), the lr schedule
(utils.training.lr_schedules) stepped once per epoch. After the epoch every task is scored on dev
(and on test when the epoch is selected on test) by the evaluator (utils.training.evaluator); the
epoch with the best mean selection score is kept; at the end the kept weights are tested. The
resume state (utils.training.run_state) is written after every epoch and the epoch reported
(utils.training.log_sink).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from tqdm import tqdm

from models.lstm_costs_cache import fit_plan_to_model
from utils.data.subword_batching import index_for
from utils.heap import hold_freed_memory
from utils.sparsity.masking import check_mask, float_mask, masked_call, union_masks, zero_pruned_
from utils.training.checkpoint import check_seed, cpu_state, seed_everything
from utils.training.config import TrainConfig, TrainResult
from utils.training.evaluator import Evaluator, Scores
from utils.training.finite import FiniteGuard
from utils.training.log_sink import LogSink
from utils.training.lr_schedules import build_scheduler, per_step
from utils.training.optim import build_optimizer, clip_gradients, keep_zero_grads, parameter_groups
from utils.training.run_state import RunState, TrainingParts, load_state, save_state
from utils.training.schedules import make_schedule
from utils.training.tasks import TaskData


class Trainer:
    """Trains `model` on `tasks`; `masks[task_id]` (bool, True = kept) restricts a task's weights.

    Everything training needs is built here (the model on its device, the masks, the batch
    schedule, the optimizer and its lr schedule, the seed checked), and nothing is written: a
    script builds its Trainer before it creates or replaces the run folder, so that a value
    that cannot work fails before anything is replaced. `fit` writes (log, state, TensorBoard).
    """

    def __init__(self, model: nn.Module, tasks: Sequence[TaskData], config: TrainConfig, *,
                 seed: int, masks: Mapping[int, Mapping[str, torch.Tensor]] | None = None,
                 state_path: str | os.PathLike | None = None,
                 log_path: str | os.PathLike | None = None,
                 log_fields: Mapping[str, Any] | None = None,
                 tensorboard_dir: str | os.PathLike | None = None,
                 after_epoch: Callable[[int], None] | None = None,
                 echo: Callable[[str], None] = print) -> None:
        self.model = model.to(config.device)
        self.tasks = list(tasks)
        self.config = config
        self.seed = check_seed(seed)
        self.state_path = state_path
        self.after_epoch = after_epoch
        self.generator = torch.Generator()
        self.state = RunState()
        self.epoch_batches: dict[int, int] = {}   # batches per task in the last train_epoch
        masks = dict(masks or {})
        for mask in masks.values():
            check_mask(model, mask)
        self.masks = {t.task_id: float_mask(masks[t.task_id], config.device)
                      for t in self.tasks if masks.get(t.task_id)}
        # A weight stays at zero only if no trained task keeps it.
        all_masked = all(masks.get(t.task_id) for t in self.tasks)
        union = union_masks([masks[t.task_id] for t in self.tasks]) if all_masked else {}
        self.pruned = float_mask(union, config.device)
        self.train_index = {t.task_id: index_for(t.train) for t in self.tasks}
        self.schedule = make_schedule(config.batch_schedule,
                                      {t: i.lengths for t, i in self.train_index.items()},
                                      config.batch_size, self.generator, config.bucketing,
                                      config.bucket_chunks, config.cycles_per_epoch,
                                      config.temperature, config.steps_per_epoch)
        self.optimizer = build_optimizer(config.optim, parameter_groups(model))
        self.step_lr = per_step(config.scheduler)       # linear warm-up/decay: once per step
        steps = config.epochs * -(-self.schedule.n_batches() // config.accumulation_steps)
        self.scheduler = build_scheduler(config.scheduler, self.optimizer, steps)
        self.evaluator = Evaluator(self.model, self.tasks, self.masks, config)
        self.log = LogSink(echo, log_path, log_fields, tensorboard_dir)
        # The BiLSTM plan's constants for this machine (measured once, cached): what runs record.
        self.lstm_costs = fit_plan_to_model(self.model, config.device, self.log.note)
        # Each step's freed blocks held for the next (utils/heap.py): what runs record too.
        self.heap = hold_freed_memory()
        self.guard = FiniteGuard(config.device, where=lambda: self.log.prefix)
        self.epoch_peak_lr = 0.0             # the largest lr of the epoch being trained (fit logs it)

    # ---- the loop --------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train, select by the mean score on the selection split, test the selected weights;
        resumes from state_path."""
        cfg, state = self.config, self.resume_or_start()
        self.log.open()
        started = time.monotonic() - state.elapsed
        while state.epoch < cfg.epochs and not (cfg.patience and state.bad_epochs >= cfg.patience):
            epoch, epoch_start = state.epoch + 1, time.monotonic()
            self.epoch_peak_lr = self.optimizer.param_groups[0]["lr"]
            loss = self.train_epoch(self.optimizer, epoch, f"{self.log.prefix}epoch {epoch}")
            # the epoch's largest lr (a per-step warm-up starts each run at lr 0)
            lr = self.epoch_peak_lr
            if not self.step_lr:
                self.scheduler.step()
            dev_all, selection = self.score_epoch()
            state.keep_if_best(epoch, self.evaluator.selection_scores(dev_all), dev_all,
                               _mean(selection), self.model)
            row = self.epoch_row(epoch, loss, lr, dev_all, selection, time.monotonic() - epoch_start)
            state.history.append(row)
            state.epoch, state.elapsed = epoch, time.monotonic() - started
            self.log.epoch(row, cfg.epochs, {t: self.evaluator.other_scores(s) for t, s in dev_all.items()})
            if self.after_epoch is not None:
                self.after_epoch(epoch)
            if self.state_path is not None:
                save_state(self.state_path, state, self.parts())
        return self.finish(started)

    def train_epoch(self, optimizer: torch.optim.Optimizer, epoch: int, desc: str = "") -> float:
        """Epoch `epoch` (from 1) of the batch schedule, drawn from `self.generator`; the mean batch
        loss. `fit` calls this once per epoch, and the benchmark times it directly."""
        self.model.train()
        cfg, state = self.config, self.state
        named = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        params = list(named.values())
        # Summed on the device: reading a GPU loss every step would sync host and device.
        loss_sum, n_batches = torch.zeros((), device=cfg.device), 0
        self.epoch_batches = {t.task_id: 0 for t in self.tasks}
        self.zero_pruned()
        optimizer.zero_grad()               # a partial accumulation is dropped, as the original
        self.guard.start_epoch()
        with tqdm(total=self.schedule.n_batches(), desc=desc, leave=False,
                  disable=not self.show_progress()) as bar:
            for task_id, ids in self.schedule.epoch(epoch):
                batch = self.train_index[task_id].batch(ids).to(cfg.device)
                emissions = masked_call(self.model, self.masks.get(task_id), batch, task_id)
                loss = self.model.loss(emissions, batch, task_id)
                if cfg.loss_weights.get(task_id, 1.0) != 1.0:     # the task's `loss_weight`
                    loss = loss * cfg.loss_weights[task_id]
                self.guard.loss(loss, epoch, n_batches + 1)
                (loss / cfg.accumulation_steps if cfg.accumulation_steps > 1 else loss).backward()
                state.steps += 1
                if state.steps % cfg.accumulation_steps == 0:
                    keep_zero_grads(named, state.had_grad)
                    clip_gradients(params, cfg.clip_type, cfg.clip)
                    self.epoch_peak_lr = max(self.epoch_peak_lr, optimizer.param_groups[0]["lr"])
                    optimizer.step()
                    optimizer.zero_grad()
                    if self.step_lr and optimizer is self.optimizer:
                        self.scheduler.step()
                loss_sum += loss.detach()
                n_batches += 1
                self.epoch_batches[task_id] += 1
                bar.update(1)
        self.guard.end_of_epoch(self.model, epoch, n_batches)
        return float(loss_sum) / max(n_batches, 1)

    # ---- the steps of the loop -------------------------------------------------------------
    def resume_or_start(self) -> RunState:
        """The run's state: from the resume state when there is one, else fresh and seeded."""
        if self.state_path is None or not os.path.isfile(self.state_path):
            self.log.trim(0)                 # rows of a start that died before its first state
            seed_everything(self.seed)
            self.generator.manual_seed(self.seed)
            self.state = RunState()
        else:
            self.state = load_state(self.state_path, self.parts(), self.log.note)
            self.log.trim(self.state.epoch)
            self.log.note(f"resumed after epoch {self.state.epoch}")
        return self.state

    def score_epoch(self) -> tuple[Scores, dict[str, float]]:
        """Every metric on dev, and the selection scores on the selection split."""
        dev_all = self.evaluator.all_scores("dev")
        on = dev_all if self.config.select_on == "dev" else self.evaluator.all_scores("test")
        return dev_all, self.evaluator.selection_scores(on)

    def epoch_row(self, epoch: int, loss: float, lr: float, dev_all: Scores,
                  selection: dict[str, float], seconds: float) -> dict[str, Any]:
        """The epoch's row of log.jsonl (and of the history)."""
        dev = self.evaluator.selection_scores(dev_all)
        row = {**self.log.fields, "epoch": epoch, "loss": loss, "lr": lr,
               "batches": {t.name: self.epoch_batches[t.task_id] for t in self.tasks},
               "dev": dev, "dev_all": dev_all, "dev_mean": _mean(dev),
               "best_epoch": self.state.best["epoch"], "epoch_seconds": seconds}
        if self.config.select_on != "dev":
            row[f"{self.config.select_on}_selection"] = selection
        return row

    def finish(self, started: float) -> TrainResult:
        """The selected epoch's weights back in the model, tested."""
        state = self.state
        if state.best is None:              # no epoch trained: the weights as they are
            dev_all = self.evaluator.all_scores("dev")
            state.best = {"epoch": 0, "dev": self.evaluator.selection_scores(dev_all),
                          "dev_all": dev_all, "state": cpu_state(self.model)}
        self.model.load_state_dict(state.best["state"])
        test_all = self.evaluator.all_scores("test")
        self.log.close()
        return TrainResult(best_epoch=state.best["epoch"], epochs=state.epoch,
                           dev=state.best["dev"], test=self.evaluator.selection_scores(test_all),
                           seconds=time.monotonic() - started, history=state.history,
                           dev_all=state.best["dev_all"], test_all=test_all)

    def zero_pruned(self) -> None:
        """Zero the weights no task keeps. Once per epoch is enough, not after every step: their
        gradient is exactly zero, and a zero weight with a zero gradient stays zero under every
        optimizer offered (momentum, Adam's moments and weight decay all start from zero and keep
        it). Per epoch rather than once, so resumed and rewound weights are covered too."""
        if self.pruned:
            zero_pruned_(self.model, self.pruned)

    def parts(self) -> TrainingParts:
        return TrainingParts(self.model, self.optimizer, self.scheduler, self.schedule,
                             self.generator, self.config.optim)

    def show_progress(self) -> bool:
        if self.config.progress is None:
            return sys.stderr.isatty()
        return self.config.progress

    # ---- scoring, for the callers that score without training ------------------------------
    def evaluate(self, split: str, predictions: dict[str, list] | None = None) -> dict[str, float]:
        """Score (percent) of every task on `split` in the selection metric (predictions: see
        Evaluator.all_scores)."""
        return self.evaluator.selection_scores(self.evaluator.all_scores(split, predictions))


def _mean(scores: Mapping[str, float]) -> float:
    return sum(scores.values()) / len(scores)
