"""The pieces of a multi-task run that are not the training loop: which tasks, which masks, which
starting weights, and the results.json record.

A masks folder (written by prepare-masks.sh) holds `<task_id>.th` per task
(`{"mask": {name: bool tensor}, ...}`) and `init_weights.th`, the rewind point the masks were
found from, where multi-task training starts by default.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from models.config import canonical_arch, task_layers_for
from utils.data.datafile import PreparedData
from utils.built_from import ACCEPT_ENV, accepted_by_environment, check_built_from
from utils.errors import InputError
from utils.sparsity.mask_files import load_mask
from utils.sparsity.mask_stats import percent_kept
from utils.training.config import TrainResult
from utils.training.fingerprint import content_changes
from utils.training.tasks import TaskData


def mode_of(masks_path: Path | None, arch: str, n_tasks: int) -> str:
    """"soft" (cross-stitch), "single" (one task), "hier", "sparse" (masks) or "hard" (no masks)."""
    if arch == "soft":
        if masks_path is not None:
            raise InputError("soft sharing has one BiLSTM per task and takes no masks; leave out "
                             "--masks_path", "--arch soft")
        return "soft"
    if n_tasks == 1:
        return "single"
    if arch == "hier-lstm":
        return "hier"
    return "sparse" if masks_path is not None else "hard"


def check_encoder_arch(encoder: str | None, arch: str) -> None:
    """InputError for an architecture an encoder cannot take: over an encoder, cnn-lstm means
    every task reads the top layer and hier-lstm each task its task set's layer; random-lstm
    has no meaning and soft sharing (one network per task) is left out."""
    if encoder and canonical_arch(arch) in ("random-lstm", "soft"):
        raise InputError(f"--arch {arch} is not offered with an encoder (soft sharing would need "
                         "one encoder per task; see docs/encoders.md)", "--encoder")


def task_layers(data: PreparedData, arch: str, n_layer: int) -> list[int]:
    """The BiLSTM layer each task of the data file reads (models.task_layers_for): in
    hierarchical sharing the layer its task set names, which must exist."""
    layers = [data.layers[task] for task in data.tasks]
    if canonical_arch(arch) == "hier-lstm":
        beyond = [f"{task} reads layer {layer}" for task, layer in zip(data.tasks, layers)
                  if layer is not None and layer > n_layer]
        if beyond:
            raise InputError(f"in hierarchical sharing {', '.join(beyond)} (the task set's "
                             f"`layer`), but the BiLSTM has {n_layer} layer(s)", "--n_layer")
    return task_layers_for(arch, layers, n_layer)


def subset_data(data: PreparedData, train_subset: int, eval_subset: int) -> PreparedData:
    """The first `train_subset` training and `eval_subset` dev/test sentences; 0 = all."""
    if not (train_subset or eval_subset):
        return data
    return data.subset(train_subset or None, eval_subset or None)


def task_id_of(given: int | str, data: PreparedData, option: str) -> int:
    """A task of the data file by id (its position, as int or digits) or by name."""
    if isinstance(given, int) or str(given).isdigit():
        task_id = int(given)
        if 0 <= task_id < len(data.tasks):
            return task_id
    elif given in data.tasks:
        return data.tasks.index(given)
    known = ", ".join(f"{i} ({t})" for i, t in enumerate(data.tasks))
    raise InputError(f"no task {given!r} in the data file; its tasks: {known}", option)


def check_task_ids(tasks: Sequence[int | str], data: PreparedData) -> list[int]:
    """The ids of the tasks given by id or name, checked against the data file (default: all
    its tasks), in task order."""
    if not tasks:
        return list(range(len(data.tasks)))
    task_ids = [task_id_of(task, data, "--tasks") for task in tasks]
    if len(set(task_ids)) != len(task_ids):
        raise InputError(f"a task is named twice: {list(tasks)}", "--tasks")
    return sorted(task_ids)


def make_tasks(data: PreparedData, task_ids: Sequence[int]) -> list[TaskData]:
    """TaskData of every task (the selection split is TrainConfig.select_on's business)."""
    return [TaskData.of(data, task_id) for task_id in task_ids]


def load_task_masks(masks_path: Path, task_ids: Sequence[int]) -> dict[int, dict[str, torch.Tensor]]:
    """{task_id: bool mask} from `<masks_path>/<task_id>.th`."""
    if not masks_path.is_dir():
        raise InputError("masks folder not found; run prepare-masks.sh first", masks_path)
    present = sorted(p.stem for p in masks_path.glob("*.th") if p.stem.isdigit())
    masks = {}
    for task_id in task_ids:
        path = masks_path / f"{task_id}.th"
        if not path.is_file():
            raise InputError(f"no mask for task {task_id}; masks present for tasks: "
                             f"{', '.join(present) or 'none'}", masks_path)
        masks[task_id] = load_mask(path)["mask"]
    check_masks_current(masks_path)
    return masks


def check_masks_current(masks_path: Path) -> None:
    """The masks placed by prepare-masks.sh must still be those of the pruning runs they were
    chosen from (selection.json records those files): a pruning run trained again since gives
    other masks. Masks placed before the record was kept are not checked."""
    try:
        recorded = json.loads((masks_path / "selection.json").read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if isinstance(recorded, dict):
        check_built_from(masks_path, content_changes(recorded, gone_ok=True),
                         rebuild="place them again with prepare-masks.sh",
                         accept=f"{ACCEPT_ENV}=1", accepted=accepted_by_environment())


def init_weights_path(init_weights: Path | None, masks_path: Path | None) -> Path | None:
    """--init_weights, else the masks' rewind point, else None (fresh seeded weights)."""
    if init_weights is not None:
        return init_weights
    if masks_path is not None:
        path = masks_path / "init_weights.th"
        if not path.is_file():
            raise InputError("init_weights.th missing in the masks folder; run prepare-masks.sh "
                             "again or pass --init_weights", masks_path)
        return path
    return None


def results_record(*, setting: str, mode: str, tasks: Sequence[TaskData], result: TrainResult,
                   dev: Mapping[str, float], select_on: str, parameters: dict[str, Any],
                   masks: Mapping[int, Mapping[str, torch.Tensor]] | None,
                   extra: Mapping[str, Any]) -> dict[str, Any]:
    """The results.json of a run: per task dev and test (percent) at the selected epoch, their
    averages, parameter counts, density (percent of prunable weights each task keeps)."""
    names = [t.name for t in tasks]
    mean = lambda scores: sum(scores[n] for n in names) / len(names)
    return {
        "setting": setting,
        "mode": mode,
        "tasks": names,
        "metric": {t.name: t.metric for t in tasks},
        "selected_on": select_on,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "dev": {n: dev[n] for n in names},
        "test": {n: result.test[n] for n in names},
        "avg": {"dev": mean(dev), "test": mean(result.test)},
        "parameters": parameters,
        "density": {t.name: round(percent_kept(masks[t.task_id]), 2) if masks else 100.0 for t in tasks},
        "seconds": result.seconds,
        **extra,
    }


def loss_weights(data: PreparedData) -> dict[int, float]:
    """{task_id: weight} of the tasks whose task set gives a `loss_weight` other than 1 (data
    files prepared before the key existed give none)."""
    described = data.provenance.get("task_set", {}).get("tasks", {})
    weights = {task_id: float(described.get(name, {}).get("loss_weight", 1.0))
               for task_id, name in enumerate(data.tasks)}
    return {task_id: weight for task_id, weight in weights.items() if weight != 1.0}


def check_schedule_values(temperature: float, steps_per_epoch: int) -> None:
    """The temperature schedule's arguments: a temperature above 0, steps 0 or more."""
    if not 0 < temperature < float("inf"):
        raise InputError(f"expected a number above 0, got {temperature}", "--temperature")
    if steps_per_epoch < 0:
        raise InputError(f"must be 0 or more, got {steps_per_epoch}", "--steps_per_epoch")
