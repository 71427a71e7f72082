"""Re-scoring the per-epoch weights of a multi-task run (`train_mtl.py --save_ep`, then
`--evaluate`), as the original's evaluate mode did, without training and without writing.

A run trained with --save_ep keeps `<run>/epochs/<epoch>.th` (weights and model config) after
every epoch. Re-scoring loads each with the run's own arguments (its args.json: data file, tasks,
masks, subsets, metric), scores it on dev and test, and prints one line per epoch, the epoch the
mean dev score selects and, for comparison, the epoch with the best mean test score (the one the
original's evaluate mode reported).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from models import build_model, config_from_dict
from utils.data.datafile import load_data_file
from utils.errors import InputError
from utils.training.checkpoint import load_weights
from utils.training.config import TrainConfig
from utils.training.encoder_setup import encoder_data
from utils.training.mtl_setup import load_task_masks, make_tasks, subset_data
from utils.training.trainer import Trainer

EPOCHS_DIR = "epochs"


def epoch_files(run_dir: Path) -> list[Path]:
    """`<run_dir>/epochs/<epoch>.th`, in epoch order; InputError when there are none."""
    files = sorted((p for p in (run_dir / EPOCHS_DIR).glob("*.th") if p.stem.isdigit()),
                   key=lambda p: int(p.stem))
    if not files:
        raise InputError(f"no per-epoch weights in {EPOCHS_DIR}/ (train with --save_ep to keep them)",
                         run_dir)
    return files


def rescore_epochs(run_dir: Path, values: dict[str, Any], train: TrainConfig) -> list[dict[str, Any]]:
    """One row per saved epoch: {"epoch", "dev": {task: score}, "test": {...}} in percent.
    `values` are the run's arguments (args.json)."""
    files = epoch_files(run_dir)
    data = load_data_file(values["data_path"])
    if values.get("encoder"):                       # a run over an encoder reads subwords
        data = encoder_data(data, values["data_path"], values["encoder"])
    data = subset_data(data, values["train_subset"], values["eval_subset"])
    masks = load_task_masks(Path(values["masks_path"]), values["tasks"]) if values["masks_path"] else None
    tasks = make_tasks(data, values["tasks"])
    rows = []
    for path in files:
        state, config = load_weights(path)
        if config is None:
            raise InputError("weights file lacks its model_config", path)
        model = build_model(config_from_dict(config))
        model.load_state_dict(state)
        trainer = Trainer(model, tasks, train, seed=0, masks=masks, echo=lambda line: None)
        rows.append({"epoch": int(path.stem), "dev": trainer.evaluate("dev"),
                     "test": trainer.evaluate("test")})
    return rows


def epochs_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a table, then the epoch selected on dev and the one best on test."""
    names = list(rows[0]["dev"])
    mean = lambda scores: sum(scores.values()) / len(scores)
    head = " ".join(f"{'dev ' + n:>10}" for n in names) + f" {'dev avg':>8} " + \
        " ".join(f"{'test ' + n:>10}" for n in names) + f" {'test avg':>8}"
    lines = [f"{'epoch':>5} {head}"]
    for row in rows:
        lines.append(f"{row['epoch']:>5} " + " ".join(f"{row['dev'][n]:>10.2f}" for n in names)
                     + f" {mean(row['dev']):>8.2f} "
                     + " ".join(f"{row['test'][n]:>10.2f}" for n in names) + f" {mean(row['test']):>8.2f}")
    on_dev = max(rows, key=lambda r: mean(r["dev"]))          # the first of equal ones, as training
    on_test = max(rows, key=lambda r: mean(r["test"]))
    lines.append(f"selected on dev: epoch {on_dev['epoch']} (dev avg {mean(on_dev['dev']):.2f}, "
                 f"test avg {mean(on_dev['test']):.2f})")
    lines.append(f"best on test (what the original's evaluate mode reported; not a fair score): "
                 f"epoch {on_test['epoch']} (test avg {mean(on_test['test']):.2f})")
    return "\n".join(lines)
