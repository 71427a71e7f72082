"""Iterative Magnitude Pruning for one task: train, prune, rewind, repeat; resumable.

Files in the run directory:
  init_weights.th      the rewind point: {"state_dict", "model_config"} (or the warm-up weights)
  [k]_[pct].th         the mask of round k: {"mask", "pruning_time": k, "percent": pct}
  best_[k]_[pct].th    the selected weights of round k (with model_config, dev and test scores)
  results.jsonl        one row per finished round
  log.jsonl            one row per epoch (with its round)
  resume_[k].th        round k's training state while it runs (deleted when the round ends)
Round 0 trains the dense network (or the --init_masks subnetwork); round k > 0 prunes the
selected weights of round k-1 and rewinds the survivors to init_weights.th.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from models import ModelConfig, Tagger, build_model
from utils.atomic import append_jsonl, read_jsonl, torch_save_atomic
from utils.data.datafile import PreparedData
from utils.errors import InputError
from utils.sparsity.mask_files import load_mask
from utils.sparsity.mask_stats import percent_kept
from utils.sparsity.masking import check_mask
from utils.sparsity.pruning import (full_mask, mask_filename, note_uncovered, prunable_names, prune_round,
                                    rewind_)
from utils.torch_files import load
from utils.training.checkpoint import (check_seed, load_into, load_model, load_weights,
                                       save_weights, seed_everything)
from utils.training.config import TrainConfig
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer

RESULTS, LOG, INIT = "results.jsonl", "log.jsonl", "init_weights.th"


def state_file(k: int) -> str:
    """Round k's resume state (one name per round, so a stale state never meets another round)."""
    return f"resume_{k}.th"


@dataclass
class ImpPlan:
    """What to prune and how long to train (filled from the command line)."""

    task_id: int
    seed: int
    pruning_iter: int
    final_rate: float
    need_cut: list[str]
    train: TrainConfig
    init_weights: str | None = None
    init_masks: str | None = None
    tensorboard: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def round_seed(seed: int, k: int) -> int:
    """The seed round k trains with (its shuffling, dropout and batch order)."""
    return seed * 1000 + k


@dataclass
class Pruning:
    """Everything a pruning run needs, built by `build_pruning` before its folder is written."""

    config: ModelConfig
    plan: ImpPlan
    task: TaskData
    model: Tagger                          # at the rewind point of a fresh run
    first: dict[str, torch.Tensor]         # round 0's mask


def build_pruning(config: ModelConfig, data: PreparedData, plan: ImpPlan) -> Pruning:
    """Build what the run needs before the run folder is created or replaced, so that a value
    that cannot work fails before anything is written: the task's data, every round's seed, the
    model at its rewind point (seeded, with --init_weights loaded), round 0's mask (--need_cut or
    --init_masks), and a round's trainer (the device, the optimizer and its lr schedule, the
    batch schedule, the TensorBoard folder)."""
    task = TaskData.of(data, plan.task_id)
    for k in (0, plan.pruning_iter):
        check_seed(round_seed(plan.seed, k), f"round {k}'s seed, seed * 1000 + {k} = ")
    seed_everything(plan.seed)
    model = build_model(config, data.embedding)
    if plan.init_weights:
        load_into(model, load_weights(plan.init_weights)[0], plan.init_weights)
    first = base_mask(model, plan)
    round_trainer(model, task, plan, 0, first, None, echo=lambda line: None)
    return Pruning(config, plan, task, model, first)


def round_trainer(model: Tagger, task: TaskData, plan: ImpPlan, k: int,
                  mask: dict[str, torch.Tensor], run_dir: Path | None,
                  echo: Callable[[str], None]) -> Trainer:
    """The trainer of round k (writing its state and log rows into `run_dir`, if given)."""
    return Trainer(model, [task], plan.train, seed=round_seed(plan.seed, k),
                   masks={task.task_id: mask},
                   state_path=None if run_dir is None else run_dir / state_file(k),
                   log_path=None if run_dir is None else run_dir / LOG, log_fields={"round": k},
                   tensorboard_dir=_tb_dir(plan.tensorboard, k), echo=echo)


def rewind_point(pruning: Pruning, run_dir: Path) -> Tagger:
    """The model at the rewind point: written to init_weights.th on a fresh run, read from it
    when the run is taken up again."""
    path = run_dir / INIT
    if path.is_file():
        load_into(pruning.model, load_weights(path)[0], path)
    else:
        save_weights(path, pruning.model, pruning.config, seed=pruning.plan.seed)
    return pruning.model


def base_mask(model: Tagger, plan: ImpPlan) -> dict[str, torch.Tensor]:
    """Round 0's mask: every prunable weight, or the --init_masks subnetwork."""
    if plan.init_masks is None:
        names = prunable_names(model, plan.need_cut)
        if not names:
            raise InputError(f"no parameter name contains any of {plan.need_cut}", "--need_cut")
        return full_mask(model, names)
    mask = load_mask(plan.init_masks)["mask"]
    try:
        check_mask(model, mask)
    except ValueError as err:
        raise InputError(str(err), plan.init_masks) from None
    note_uncovered(model, mask, plan.init_masks, "they are not pruned", plan.need_cut)
    return {name: kept.bool() for name, kept in mask.items()}


def round_mask(k: int, run_dir: Path, model: Tagger, plan: ImpPlan,
               first: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Round k's mask: from its file if written already, else pruned from round k-1's best."""
    existing = sorted(p for p in run_dir.glob(f"{k}_*.th"))
    if existing:
        return load(existing[0], "mask file")["mask"], existing[0].name
    if k == 0:
        mask = first
    else:
        previous = _find(run_dir, f"{k - 1}_*.th")
        best = _find(run_dir, f"best_{k - 1}_*.th")
        prev_mask = load(previous, "mask file")["mask"]
        weights, _ = load_weights(best)
        mask = prune_round(weights, prev_mask, plan.final_rate, plan.pruning_iter)
    pct = round(percent_kept(mask), 2)
    name = mask_filename(k, pct)
    # An encoder's mask file also says what was prunable and which encoder (models.encoder_tagger).
    record = getattr(model, "mask_record", dict)()
    torch_save_atomic({"mask": mask, "pruning_time": k, "percent": pct, **record}, run_dir / name)
    return mask, name


def _find(run_dir: Path, pattern: str) -> Path:
    found = sorted(run_dir.glob(pattern))
    if not found:
        raise InputError(f"missing {pattern} needed to continue pruning", run_dir)
    return found[0]


def run_imp(pruning: Pruning, run_dir: Path,
            echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Rounds 0..pruning_iter (skipping finished ones); returns all rows of results.jsonl."""
    plan, task, first, config = pruning.plan, pruning.task, pruning.first, pruning.config
    model = rewind_point(pruning, run_dir)
    init_state = {name: value.clone() for name, value in model.state_dict().items()}
    done = {row["round"] for row in read_jsonl(run_dir / RESULTS)}
    for k in range(plan.pruning_iter + 1):
        if k in done:
            (run_dir / state_file(k)).unlink(missing_ok=True)   # left by a crash after the row
            continue
        mask, mask_name = round_mask(k, run_dir, model, plan, first)
        pct = round(percent_kept(mask), 2)
        echo(f"round {k}/{plan.pruning_iter}: task {task.name}, {pct:.2f}% of "
             f"{sum(m.numel() for m in first.values())} prunable weights kept")
        started = time.time()
        rewind_(model, init_state, mask)
        trainer = round_trainer(model, task, plan, k, mask, run_dir, echo)
        result = trainer.fit()
        best_name = f"best_{mask_name}"
        row = {"round": k, "percent": pct, "mask_file": mask_name, "weights_file": best_name,
               "task": task.name, "dev": result.dev[task.name], "test": result.test[task.name],
               "metric": metric_label(task.metric, plan.train.metric),
               "scores": {"dev": result.dev_all[task.name], "test": result.test_all[task.name]},
               "epochs": result.epochs,
               "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
               "epoch_seconds": _mean([h["epoch_seconds"] for h in result.history]),
               "lstm_costs": trainer.lstm_costs, "heap": trainer.heap}
        save_weights(run_dir / best_name, model, config, round=k, percent=pct,
                     labels={task.name: task.labels}, dev=row["dev"], test=row["test"])
        append_jsonl(row, run_dir / RESULTS)
        (run_dir / state_file(k)).unlink(missing_ok=True)
        echo(f"round {k}: {pct:.2f}% kept, dev {row['dev']:.2f} test {row['test']:.2f} "
             f"(best epoch {row['best_epoch']}/{row['epochs']}, {row['seconds']:.0f}s; "
             f"started {time.strftime('%H:%M:%S', time.localtime(started))})")
    return read_jsonl(run_dir / RESULTS)


def metric_label(metric: str, span_metric: str) -> str:
    """"acc", or "f1" with the span metric that selected the epoch ("f1-yangjie")."""
    return "acc" if metric == "accuracy" else f"f1-{span_metric}"


def _tb_dir(root: str | None, k: int) -> str | None:
    return None if root is None else str(Path(root) / f"round_{k}")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def results_table(rows: list[dict[str, Any]]) -> str:
    """Score against percent kept, one line per round; dev and test in the selection metric, then
    in the other span metric when the rows have it."""
    rows = sorted(rows, key=lambda r: r["round"])
    other = _other_metric(rows[0]) if rows else None
    extra = f" {other + ' dev':>14} {other + ' test':>15}" if other else ""
    lines = [f"{'round':>5} {'% kept':>7} {'dev':>7} {'test':>7}{extra} {'epochs':>6} {'s/epoch':>7} "
             f"{'s/round':>7}"]
    for row in rows:
        per_epoch = row.get("epoch_seconds")
        scores = row.get("scores", {})
        extra = (f" {scores['dev'][other]:>14.2f} {scores['test'][other]:>15.2f}"
                 if other and other in scores.get("dev", {}) else "")
        lines.append(f"{row['round']:>5} {row['percent']:>7.2f} {row['dev']:>7.2f} {row['test']:>7.2f}"
                     f"{extra} {row['epochs']:>6} {per_epoch if per_epoch is not None else '-':>7} "
                     f"{row['seconds']:>7.0f}")
    return "\n".join(lines)


def _other_metric(row: dict[str, Any]) -> str | None:
    """The span metric a results row has besides the one that selected ("conlleval"), or None."""
    selected = str(row.get("metric", "")).removeprefix("f1-")
    others = [name for name in row.get("scores", {}).get("dev", {}) if name not in ("acc", selected)]
    return others[0] if others else None


def evaluate_run(run_dir: Path, data: PreparedData, task_id: int, train: TrainConfig,
                 echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Dev and test scores of every best_[k]_[pct].th of a finished (or partial) run."""
    task = TaskData.of(data, task_id)
    rows = []
    for path in sorted(run_dir.glob("best_*.th"), key=lambda p: int(p.name.split("_")[1])):
        model, _ = load_model(path)
        mask = load(run_dir / path.name[len("best_"):], "mask file")["mask"]
        trainer = Trainer(model, [task], train, seed=0, masks={task_id: mask}, echo=echo)
        k, pct = path.stem.split("_")[1:3]
        scores = {split: trainer.evaluator.all_scores(split)[task.name] for split in ("dev", "test")}
        selected = {split: trainer.evaluator.selection_scores({task.name: scores[split]})[task.name]
                    for split in scores}
        rows.append({"round": int(k), "percent": float(pct), **selected,
                     "metric": metric_label(task.metric, train.metric), "scores": scores,
                     "epochs": 0, "seconds": 0.0})
    if not rows:
        raise InputError("no best_*.th weights to evaluate", run_dir)
    return rows
