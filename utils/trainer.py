"""The one training loop, for one task or many.

Each epoch: every task's training sentences are length-bucketed into batches, a batch schedule
(utils.schedules) orders them, and every batch runs through the model with its task's mask
(utils.masking.masked_call). After the epoch every task is evaluated on dev; the epoch with the
best mean dev score is kept; at the end the kept weights are tested. A resume state (weights,
optimizer, lr schedule, RNG states, best so far) is written atomically after every epoch, so a
killed run continues exactly where its last epoch ended.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from tqdm import tqdm

from utils.atomic import append_jsonl, read_jsonl, torch_save_atomic
from utils.batching import SplitIndex, bucket_batches, eval_batches, in_split_order
from utils.checkpoint import cpu_state, rng_states, seed_everything, set_rng_states
from utils.checkpoint import load as load_checkpoint
from utils.datafile import Split
from utils.errors import InputError
from utils.masking import check_mask, float_mask, masked_call, union_masks, zero_pruned_
from utils.metrics import make_metric
from utils.optim import build_optimizer, clip_grad_norm, lr_decay
from utils.schedules import get_schedule


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


@dataclass
class TrainConfig:
    epochs: int
    optim: str = "sgd(lr=0.1, momentum=0.9)"
    batch_size: int = 10
    eval_batch_size: int = 100
    eval_max_positions: int = 0       # cap of an evaluation batch's padded size; 0 = none (eval_batches)
    clip: float = 5.0
    lr_decay: float = 0.05
    patience: int = 0                 # epochs without dev improvement before stopping; 0 = never
    schedule: str = "single"
    device: str = "cpu"
    progress: bool | None = None      # tqdm bars; None = only when stderr is a terminal
    bucket_chunks: int = 50


@dataclass
class TrainResult:
    best_epoch: int
    epochs: int                       # epochs trained (fewer than asked after early stopping)
    dev: dict[str, float]
    test: dict[str, float]
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dev_mean(self) -> float:
        return sum(self.dev.values()) / len(self.dev)

    @property
    def test_mean(self) -> float:
        return sum(self.test.values()) / len(self.test)


class Trainer:
    """Trains `model` on `tasks`; `masks[task_id]` (bool, True = kept) restricts a task's weights."""

    def __init__(self, model: nn.Module, tasks: Sequence[TaskData], config: TrainConfig, *,
                 seed: int, masks: Mapping[int, Mapping[str, torch.Tensor]] | None = None,
                 state_path: str | os.PathLike | None = None,
                 log_path: str | os.PathLike | None = None,
                 log_fields: Mapping[str, Any] | None = None,
                 tensorboard_dir: str | os.PathLike | None = None,
                 metric_factory: Callable[[str, list[str]], Any] = make_metric,
                 echo: Callable[[str], None] = print) -> None:
        self.model = model.to(config.device)
        self.tasks = list(tasks)
        self.config = config
        self.seed = seed
        self.state_path = state_path
        self.log_path = log_path
        self.log_fields = dict(log_fields or {})
        self.metric_factory = metric_factory
        self.echo = echo
        self.schedule = get_schedule(config.schedule)
        self.generator = torch.Generator()
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
        self._eval_cache: dict[tuple[int, str], list] = {}
        self.writer = _tensorboard(tensorboard_dir)

    # ---- one epoch -------------------------------------------------------------------------
    def train_epoch(self, optimizer: torch.optim.Optimizer, desc: str) -> float:
        """One pass over every task's training batches in schedule order; the mean batch loss.

        Batches are drawn from `self.generator`; `fit` calls this once per epoch, and the
        benchmark times it directly."""
        self.model.train()
        batches = {t: bucket_batches(index.lengths, self.config.batch_size, self.generator,
                                     self.config.bucket_chunks)
                   for t, index in self.train_index.items()}
        total_batches = sum(len(b) for b in batches.values())
        if self.config.schedule == "re-seq-label":
            total_batches = max(len(b) for b in batches.values()) * len(batches)
        params = [p for p in self.model.parameters() if p.requires_grad]
        # Summed on the device: reading a GPU loss every step would sync host and device.
        loss_sum, n_steps = torch.zeros((), device=self.config.device), 0
        self._zero_pruned()
        with tqdm(total=total_batches, desc=desc, leave=False, disable=not self._progress()) as bar:
            for task_id, ids in self.schedule(batches, self.generator):
                batch = self.train_index[task_id].batch(ids).to(self.config.device)
                emissions = masked_call(self.model, self.masks.get(task_id), batch, task_id)
                loss = self.model.loss(emissions, batch, task_id)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.config.clip:
                    clip_grad_norm(params, self.config.clip)
                optimizer.step()
                loss_sum += loss.detach()
                n_steps += 1
                bar.update(1)
        return float(loss_sum) / max(n_steps, 1)

    def _zero_pruned(self) -> None:
        """Zero the weights no task keeps. Once per epoch is enough, not after every step: their
        gradient is exactly zero, and a zero weight with a zero gradient stays zero under every
        optimizer offered (momentum, Adam's moments and weight decay all start from zero and keep
        it). Per epoch rather than once, so resumed and rewound weights are covered too."""
        if self.pruned:
            zero_pruned_(self.model, self.pruned)

    # ---- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str, predictions: dict[str, list] | None = None) -> dict[str, float]:
        """Score (percent) of every task on `split` ("dev" or "test") with its mask. A dict given
        as `predictions` receives each task's predicted label ids per sentence, in split order."""
        self.model.eval()
        scores = {}
        for task in self.tasks:
            metric = self.metric_factory(task.scheme, task.labels)
            decoded = []
            for batch in self.evaluation_batches(task, split):
                batch = batch.to(self.config.device)
                emissions = masked_call(self.model, self.masks.get(task.task_id), batch, task.task_id)
                pred = self.model.decode(emissions, batch, task.task_id)
                gold = [row[:n] for row, n in zip(batch.labels.tolist(), batch.lengths.tolist())]
                metric.update(gold, pred)
                decoded.extend(pred)
            scores[task.name] = float(metric.result()["score"])
            if predictions is not None:
                predictions[task.name] = in_split_order(decoded, getattr(task, split).sent_lengths)
        return scores

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
        optimizer = build_optimizer(cfg.optim, [p for p in self.model.parameters() if p.requires_grad])
        scheduler = lr_decay(optimizer, cfg.lr_decay)
        state = self._load_state(optimizer, scheduler)
        started = time.monotonic() - state["elapsed"]
        epoch = state["epoch"]
        while epoch < cfg.epochs and not (cfg.patience and state["bad_epochs"] >= cfg.patience):
            epoch += 1
            epoch_start = time.monotonic()
            lr = optimizer.param_groups[0]["lr"]
            loss = self.train_epoch(optimizer, self._desc(epoch))
            scheduler.step()
            dev = self.evaluate("dev")
            dev_mean = sum(dev.values()) / len(dev)
            if state["best"] is None or dev_mean > state["best"]["dev_mean"]:
                state["best"] = {"epoch": epoch, "dev": dev, "dev_mean": dev_mean,
                                 "state": cpu_state(self.model)}
                state["bad_epochs"] = 0
            else:
                state["bad_epochs"] += 1
            row = {**self.log_fields, "epoch": epoch, "loss": loss, "lr": lr, "dev": dev,
                   "dev_mean": dev_mean, "best_epoch": state["best"]["epoch"],
                   "epoch_seconds": time.monotonic() - epoch_start}
            state["history"].append(row)
            state.update(epoch=epoch, elapsed=time.monotonic() - started)
            self._log(row)
            self._save_state(state, optimizer, scheduler)
        return self._finish(state, started)

    def _finish(self, state: dict[str, Any], started: float) -> TrainResult:
        if state["best"] is None:           # no epoch trained: the weights as they are
            state["best"] = {"epoch": 0, "dev": self.evaluate("dev"), "state": cpu_state(self.model)}
        self.model.load_state_dict(state["best"]["state"])
        test = self.evaluate("test")
        if self.writer is not None:
            self.writer.close()
        return TrainResult(best_epoch=state["best"]["epoch"], epochs=state["epoch"],
                           dev=state["best"]["dev"], test=test,
                           seconds=time.monotonic() - started, history=state["history"])

    # ---- resume state ----------------------------------------------------------------------
    def _load_state(self, optimizer, scheduler) -> dict[str, Any]:
        if self.state_path is None or not os.path.isfile(self.state_path):
            self._trim_log(0)                # rows of a start that died before its first state
            seed_everything(self.seed)
            self.generator.manual_seed(self.seed)
            return {"epoch": 0, "elapsed": 0.0, "best": None, "bad_epochs": 0, "history": []}
        saved = load_checkpoint(self.state_path, "resume state")
        self.model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        set_rng_states(saved["rng"], self.generator)
        self._trim_log(saved["epoch"])
        self.echo(f"{self._prefix()}resumed after epoch {saved['epoch']}")
        return {k: saved[k] for k in ("epoch", "elapsed", "best", "bad_epochs", "history")}

    def _save_state(self, state, optimizer, scheduler) -> None:
        if self.state_path is None:
            return
        torch_save_atomic({**state, "model": cpu_state(self.model),
                           "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                           "rng": rng_states(self.generator)}, self.state_path)

    def _trim_log(self, last_epoch: int) -> None:
        """Drop log rows of epochs after the resume point (written just before a crash)."""
        if self.log_path is None or not os.path.isfile(self.log_path):
            return
        rows = read_jsonl(self.log_path)
        mine = lambda r: all(r.get(k) == v for k, v in self.log_fields.items())
        kept = [r for r in rows if not (mine(r) and r.get("epoch", 0) > last_epoch)]
        if len(kept) != len(rows):
            text = "".join(_json_line(r) for r in kept)
            tmp = f"{self.log_path}.trim"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.log_path)

    # ---- output ----------------------------------------------------------------------------
    def _log(self, row: dict[str, Any]) -> None:
        dev = " ".join(f"{name} {score:.2f}" for name, score in row["dev"].items())
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

    def _prefix(self) -> str:
        return "".join(f"{k} {v} " for k, v in self.log_fields.items())

    def _desc(self, epoch: int) -> str:
        return f"{self._prefix()}epoch {epoch}"

    def _progress(self) -> bool:
        if self.config.progress is None:
            return sys.stderr.isatty()
        return self.config.progress


def _json_line(row: Any) -> str:
    return json.dumps(row) + "\n"


def _tensorboard(log_dir: str | os.PathLike | None):
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("TensorBoard logging needs the `tensorboard` package (pip install tensorboard)",
                         "--tensorboard") from None
    return SummaryWriter(str(log_dir))
