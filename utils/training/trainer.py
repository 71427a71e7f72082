"""The one training loop, for one task or many.

Each epoch: a batch schedule (utils.training.schedules) draws every task's batches and orders them, and
every batch runs through the model with its task's mask (utils.sparsity.masking.masked_call). Steps follow
the original code: the loss divided by `accumulation_steps` and a step every that many batches
(counted across epochs; gradients reset at every epoch start), a parameter that once had a
gradient stepped with a zero one when its task did not run (utils.training.optim.keep_zero_grads), the
gradients clipped before the step (utils.training.optim.clip_gradients), the lr schedule
(utils.training.lr_schedules) stepped once per epoch. After the epoch every task is evaluated on dev with
every metric (utils.training.metrics.make_metrics); the epoch with the best mean dev score in the selection
metric is kept; at the end the kept weights are tested. A resume state (weights, optimizer, lr
schedule, batch schedule, step count, which parameters had gradients, RNG states, best so far) is
written atomically after every
epoch, so a killed run continues exactly where its last epoch ended.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from tqdm import tqdm

from utils.atomic import append_jsonl, json_text, read_jsonl, text_save_atomic, torch_save_atomic
from utils.data.batching import SplitIndex, eval_batches, in_split_order
from utils.data.datafile import PreparedData, Split, default_metric
from utils.errors import InputError
from utils.sparsity.masking import check_mask, float_mask, masked_call, union_masks, zero_pruned_
from utils.training.checkpoint import (check_seed, cpu_state, rng_states, seed_everything,
                                       set_rng_states)
from utils.training.finite import FiniteGuard
from utils.training.lr_schedules import build_scheduler
from utils.training.metrics import make_metrics
from utils.training.optim import build_optimizer, clip_gradients, keep_zero_grads
from utils.training.schedules import make_schedule
from utils.training.tensorboard import check_tensorboard, open_writer
from utils.torch_files import load as load_checkpoint


# What a resume state holds (Trainer._save_state) and _load_state reads.
_STATE_KEYS = ("epoch", "elapsed", "best", "bad_epochs", "history", "model", "optimizer",
               "scheduler", "rng")


@dataclass
class TaskData:
    """One task: its id (position in the data file, = model head), metric and splits."""

    task_id: int
    name: str
    scheme: str
    labels: list[str]
    train: Split
    dev: Split
    test: Split
    metric: str = ""                  # "accuracy" or "f1"; default: by scheme

    def __post_init__(self) -> None:
        self.metric = self.metric or default_metric(self.scheme)

    @classmethod
    def of(cls, data: PreparedData, task_id: int, **splits: Split) -> "TaskData":
        """Task `task_id` of a data file, with its own splits unless others are given."""
        name = data.tasks[task_id]
        parts = {**data.data[name], **splits}
        return cls(task_id, name, data.schemes[name], data.labels[name], parts["train"],
                   parts["dev"], parts["test"], data.metrics[name])


@dataclass
class TrainConfig:
    """Defaults: the original's single-task pruning recipe (train_mtl.py sets its own)."""

    epochs: int
    optim: str = "sgd(lr=0.1, momentum=0.9)"
    batch_size: int = 10
    eval_batch_size: int = 100
    scheduler: str = "decay"          # utils.training.lr_schedules: fix | decay | inverse_sqrt(warmup=N)
    clip_type: str = "norm"           # utils.training.optim.clip_gradients: norm | value
    clip: float = 5.0                 # 0 = no clipping
    accumulation_steps: int = 1
    eval_max_positions: int = 0       # cap of an evaluation batch's padded size; 0 = none (eval_batches)
    patience: int = 0                 # epochs without dev improvement before stopping; 0 = never
    schedule: str = "single"          # utils.training.schedules: single | seq-label | re-seq-label
    bucketing: str = "tight"          # utils.training.schedules.BUCKETINGS
    metric: str = "conlleval"         # span F1 that selects the epoch (utils.training.metrics.SPAN_METRICS)
    device: str = "cpu"
    progress: bool | None = None      # tqdm bars; None = only when stderr is a terminal
    bucket_chunks: int = 50
    cycles_per_epoch: int = 0         # re-seq-label's epoch (schedules.epoch_cycles); 0 = trained tasks'


@dataclass
class TrainResult:
    best_epoch: int
    epochs: int                       # epochs trained (fewer than asked after early stopping)
    dev: dict[str, float]
    test: dict[str, float]
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    dev_all: dict[str, dict[str, float]] = field(default_factory=dict)   # every metric's score
    test_all: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def dev_mean(self) -> float:
        return sum(self.dev.values()) / len(self.dev)

    @property
    def test_mean(self) -> float:
        return sum(self.test.values()) / len(self.test)


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
        self.log_path = log_path
        self.log_fields = dict(log_fields or {})
        self.after_epoch = after_epoch
        self.echo = echo
        self.generator = torch.Generator()
        self.steps = 0                    # batches trained, over all epochs (for accumulation)
        self.epoch_batches: dict[int, int] = {}   # batches per task in the last train_epoch
        self.had_grad: set[str] = set()   # parameters that have had a gradient (keep_zero_grads)
        masks = dict(masks or {})
        for mask in masks.values():
            check_mask(model, mask)
        self.masks = {t.task_id: float_mask(masks[t.task_id], config.device)
                      for t in self.tasks if masks.get(t.task_id)}
        # A weight stays at zero only if no trained task keeps it.
        all_masked = all(masks.get(t.task_id) for t in self.tasks)
        union = union_masks([masks[t.task_id] for t in self.tasks]) if all_masked else {}
        self.pruned = float_mask(union, config.device)
        self.train_index = {t.task_id: SplitIndex(t.train) for t in self.tasks}
        self.schedule = make_schedule(config.schedule, {t: i.lengths for t, i in self.train_index.items()},
                                      config.batch_size, self.generator, config.bucketing,
                                      config.bucket_chunks, config.cycles_per_epoch)
        self._eval_cache: dict[tuple[int, str], list] = {}
        self.optimizer = build_optimizer(config.optim, [p for p in model.parameters() if p.requires_grad])
        self.scheduler = build_scheduler(config.scheduler, self.optimizer)
        if tensorboard_dir is not None:
            check_tensorboard(tensorboard_dir)
        self.tensorboard_dir = tensorboard_dir
        self.writer = None                  # opened by fit
        self.guard = FiniteGuard(config.device, where=self._prefix)

    # ---- one epoch -------------------------------------------------------------------------
    def train_epoch(self, optimizer: torch.optim.Optimizer, epoch: int, desc: str = "") -> float:
        """Epoch `epoch` (from 1) of the batch schedule, drawn from `self.generator`; the mean batch
        loss. `fit` calls this once per epoch, and the benchmark times it directly."""
        self.model.train()
        cfg = self.config
        named = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        params = list(named.values())
        # Summed on the device: reading a GPU loss every step would sync host and device.
        loss_sum, n_batches = torch.zeros((), device=cfg.device), 0
        self.epoch_batches = {t.task_id: 0 for t in self.tasks}
        self._zero_pruned()
        optimizer.zero_grad()               # a partial accumulation is dropped, as the original
        self.guard.start_epoch()
        with tqdm(total=self.schedule.n_batches(), desc=desc, leave=False,
                  disable=not self._progress()) as bar:
            for task_id, ids in self.schedule.epoch(epoch):
                batch = self.train_index[task_id].batch(ids).to(cfg.device)
                emissions = masked_call(self.model, self.masks.get(task_id), batch, task_id)
                loss = self.model.loss(emissions, batch, task_id)
                self.guard.loss(loss, epoch, n_batches + 1)
                (loss / cfg.accumulation_steps if cfg.accumulation_steps > 1 else loss).backward()
                self.steps += 1
                if self.steps % cfg.accumulation_steps == 0:
                    keep_zero_grads(named, self.had_grad)
                    clip_gradients(params, cfg.clip_type, cfg.clip)
                    optimizer.step()
                    optimizer.zero_grad()
                loss_sum += loss.detach()
                n_batches += 1
                self.epoch_batches[task_id] += 1
                bar.update(1)
        self.guard.end_of_epoch(self.model, epoch, n_batches)
        return float(loss_sum) / max(n_batches, 1)

    def _zero_pruned(self) -> None:
        """Zero the weights no task keeps. Once per epoch is enough, not after every step: their
        gradient is exactly zero, and a zero weight with a zero gradient stays zero under every
        optimizer offered (momentum, Adam's moments and weight decay all start from zero and keep
        it). Per epoch rather than once, so resumed and rewound weights are covered too."""
        if self.pruned:
            zero_pruned_(self.model, self.pruned)

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self, split: str, predictions: dict[str, list] | None = None) -> dict[str, float]:
        """Score (percent) of every task on `split` ("dev" or "test") in the selection metric. A
        dict given as `predictions` receives each task's predicted label ids per sentence, in
        split order."""
        return self.selected(self.evaluate_all(split, predictions))

    @torch.no_grad()
    def evaluate_all(self, split: str,
                     predictions: dict[str, list] | None = None) -> dict[str, dict[str, float]]:
        """{task: {metric: percent}} on `split` with every metric of the task's scheme."""
        self.model.eval()
        scores = {}
        for task in self.tasks:
            metrics = make_metrics(task.scheme, task.labels, task.metric)
            decoded = []
            for batch in self.evaluation_batches(task, split):
                batch = batch.to(self.config.device)
                emissions = masked_call(self.model, self.masks.get(task.task_id), batch, task.task_id)
                pred = self.model.decode(emissions, batch, task.task_id)
                gold = [row[:n] for row, n in zip(batch.labels.tolist(), batch.lengths.tolist())]
                for metric in metrics.values():
                    metric.update(gold, pred)
                decoded.extend(pred)
            scores[task.name] = {name: float(m.result()["score"]) for name, m in metrics.items()}
            if predictions is not None:
                predictions[task.name] = in_split_order(decoded, getattr(task, split).sent_lengths)
        return scores

    def selected(self, scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Each task's score in the selection metric: accuracy, or the configured span F1."""
        return {name: task_scores.get("acc", task_scores.get(self.config.metric))
                for name, task_scores in scores.items()}

    def evaluation_batches(self, task: TaskData, split: str) -> list:
        """The length-sorted batches of one task's split, built on first use and kept."""
        key = (task.task_id, split)
        if key not in self._eval_cache:
            self._eval_cache[key] = eval_batches(SplitIndex(getattr(task, split)),
                                                 self.config.eval_batch_size,
                                                 self.config.eval_max_positions)
        return self._eval_cache[key]

    # ---- the loop --------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train, select by mean dev score, test the selected weights; resumes from state_path."""
        cfg = self.config
        optimizer, scheduler = self.optimizer, self.scheduler
        state = self._load_state(optimizer, scheduler)
        self.writer = open_writer(self.tensorboard_dir)
        started = time.monotonic() - state["elapsed"]
        epoch = state["epoch"]
        while epoch < cfg.epochs and not (cfg.patience and state["bad_epochs"] >= cfg.patience):
            epoch += 1
            epoch_start = time.monotonic()
            lr = optimizer.param_groups[0]["lr"]
            loss = self.train_epoch(optimizer, epoch, self._desc(epoch))
            scheduler.step()
            dev_all = self.evaluate_all("dev")
            dev = self.selected(dev_all)
            dev_mean = sum(dev.values()) / len(dev)
            if state["best"] is None or dev_mean > state["best"]["dev_mean"]:
                state["best"] = {"epoch": epoch, "dev": dev, "dev_all": dev_all, "dev_mean": dev_mean,
                                 "state": cpu_state(self.model)}
                state["bad_epochs"] = 0
            else:
                state["bad_epochs"] += 1
            batches = {t.name: self.epoch_batches[t.task_id] for t in self.tasks}
            row = {**self.log_fields, "epoch": epoch, "loss": loss, "lr": lr, "batches": batches,
                   "dev": dev, "dev_all": dev_all, "dev_mean": dev_mean,
                   "best_epoch": state["best"]["epoch"],
                   "epoch_seconds": time.monotonic() - epoch_start}
            state["history"].append(row)
            state.update(epoch=epoch, elapsed=time.monotonic() - started)
            self._log(row)
            if self.after_epoch is not None:
                self.after_epoch(epoch)
            self._save_state(state, optimizer, scheduler)
        return self._finish(state, started)

    def _finish(self, state: dict[str, Any], started: float) -> TrainResult:
        if state["best"] is None:           # no epoch trained: the weights as they are
            dev_all = self.evaluate_all("dev")
            state["best"] = {"epoch": 0, "dev": self.selected(dev_all), "dev_all": dev_all,
                             "state": cpu_state(self.model)}
        self.model.load_state_dict(state["best"]["state"])
        test_all = self.evaluate_all("test")
        if self.writer is not None:
            self.writer.close()
        return TrainResult(best_epoch=state["best"]["epoch"], epochs=state["epoch"],
                           dev=state["best"]["dev"], test=self.selected(test_all),
                           seconds=time.monotonic() - started, history=state["history"],
                           dev_all=state["best"]["dev_all"], test_all=test_all)

    # ---- resume state ----------------------------------------------------------------------
    def _load_state(self, optimizer, scheduler) -> dict[str, Any]:
        if self.state_path is None or not os.path.isfile(self.state_path):
            self._trim_log(0)                # rows of a start that died before its first state
            seed_everything(self.seed)
            self.generator.manual_seed(self.seed)
            return {"epoch": 0, "elapsed": 0.0, "best": None, "bad_epochs": 0, "history": []}
        saved = load_checkpoint(self.state_path, "resume state")
        missing = [key for key in _STATE_KEYS if key not in saved]
        if missing:
            raise InputError(f"not a resume state written by this project (no {', '.join(missing)}); "
                             "delete it to start this training from its beginning", self.state_path)
        self.model.load_state_dict(saved["model"])
        if saved.get("optim", self.config.optim) == self.config.optim:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        else:                                # --optim changed after a divergence (utils/training/run_dir.py)
            _fast_forward(scheduler, saved["epoch"])
            self.echo(f"{self._prefix()}new optimizer {self.config.optim} (was {saved['optim']}), "
                      f"its lr schedule at epoch {saved['epoch']}")
        self.schedule.load_state_dict(saved.get("schedule", {}))
        self.steps = saved.get("steps", 0)
        self.had_grad = set(saved.get("had_grad", []))
        set_rng_states(saved["rng"], self.generator)
        self._trim_log(saved["epoch"])
        self.echo(f"{self._prefix()}resumed after epoch {saved['epoch']}")
        return {k: saved[k] for k in ("epoch", "elapsed", "best", "bad_epochs", "history")}

    def _save_state(self, state, optimizer, scheduler) -> None:
        if self.state_path is None:
            return
        torch_save_atomic({**state, "model": cpu_state(self.model), "optim": self.config.optim,
                           "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                           "schedule": self.schedule.state_dict(), "steps": self.steps,
                           "had_grad": sorted(self.had_grad),
                           "rng": rng_states(self.generator)}, self.state_path)

    def _trim_log(self, last_epoch: int) -> None:
        """Drop log rows of epochs after the resume point (written just before a crash)."""
        if self.log_path is None or not os.path.isfile(self.log_path):
            return
        rows = read_jsonl(self.log_path)
        mine = lambda r: all(r.get(k) == v for k, v in self.log_fields.items())
        kept = [r for r in rows if not (mine(r) and r.get("epoch", 0) > last_epoch)]
        if len(kept) != len(rows):
            text_save_atomic("".join(json_text(r) + "\n" for r in kept), self.log_path)

    # ---- output ----------------------------------------------------------------------------
    def _log(self, row: dict[str, Any]) -> None:
        dev = " ".join(f"{name} {score:.2f}{self._other_scores(row['dev_all'][name])}"
                       for name, score in row["dev"].items())
        self.echo(f"{self._prefix()}epoch {row['epoch']}/{self.config.epochs} loss {row['loss']:.4f} "
                  f"lr {row['lr']:.4g} dev {dev} (best epoch {row['best_epoch']}) "
                  f"{row['epoch_seconds']:.1f}s")
        if self.log_path is not None:
            append_jsonl(row, self.log_path)
        if self.writer is not None:
            step = row["epoch"] + 1000 * int(self.log_fields.get("round", 0))
            self.writer.add_scalar("train/loss", row["loss"], step)
            for name, score in row["dev"].items():
                self.writer.add_scalar(f"dev/{name}", score, step)

    def _other_scores(self, scores: Mapping[str, float]) -> str:
        """" (conlleval 84.30)": the scores of the metrics that do not select, for the log line."""
        others = [f"{name} {score:.2f}" for name, score in scores.items()
                  if name not in ("acc", self.config.metric)]
        return f" ({', '.join(others)})" if others else ""

    def _prefix(self) -> str:
        return "".join(f"{k} {v} " for k, v in self.log_fields.items())

    def _desc(self, epoch: int) -> str:
        return f"{self._prefix()}epoch {epoch}"

    def _progress(self) -> bool:
        if self.config.progress is None:
            return sys.stderr.isatty()
        return self.config.progress


def _fast_forward(scheduler: torch.optim.lr_scheduler.LRScheduler, epochs: int) -> None:
    """Step a fresh per-epoch lr schedule to where it stood after `epochs` epochs."""
    with warnings.catch_warnings():                  # "scheduler.step() before optimizer.step()"
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(epochs):
            scheduler.step()

