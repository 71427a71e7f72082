"""The numbers behind analyze.py's report, from saved runs only (utils.results.runs finds them):
pruning curves, mask overlap across pruning rounds, overlap of the chosen masks (per tensor, and
for an encoder per layer and matrix kind), the method comparison and the training curves. Every
function returns plain rows (dicts), which the report writes as CSV and Markdown and draws
(utils.results.plots).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

import torch

from utils.errors import InputError
from utils.results.runs import (Experiment, MtlRun, PruningRun, Selection, distinguishing, group_by,
                                group_key)
from utils.sparsity.mask_files import load_mask
from utils.sparsity.mask_stats import overlap_by_place, overlap_by_tensor
from utils.sparsity.places import is_encoder

STANDARD_MODES = ("single", "hard", "soft", "hier", "sparse")


# ---- pruning sets: the pruning runs of one seed, one per task ------------------------------------
@dataclass
class PruningSet:
    label: str
    runs: dict[str, PruningRun]                 # task name -> run, in task id order
    selection: Selection | None = None          # the masks prepare-masks.sh placed from this set


def pruning_sets(exp: Experiment) -> list[PruningSet]:
    """Pruning runs grouped by method and seed; a task run twice keeps its newest run."""
    keyed = group_by(exp.pruning, lambda r: group_key(r.args) + f"|seed={r.seed}")
    details = distinguishing([k.split("|seed=")[0] for k in keyed])
    sets = []
    for runs, method in zip(keyed.values(), details):
        newest = {}
        for run in sorted(runs, key=lambda r: (r.args["task_id"], _mtime(r.path / "results.jsonl"))):
            newest[run.args["task_id"]] = run
        label = f"seed {runs[0].seed}" + (f" ({method})" if method else "")
        sets.append(PruningSet(label, {r.task: r for _, r in sorted(newest.items())}))
    for pset in sets:
        pset.selection = next((s for s in exp.selections if _placed_from(s, pset)), None)
    return sets


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _masks_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def _placed_from(selection: Selection, pset: PruningSet) -> bool:
    """Whether every mask of `selection` is the mask of its round in `pset` (compared by value)."""
    for task, k in selection.rounds.items():
        run = pset.runs.get(task)
        source = run.mask_file(k) if run is not None else None
        if source is None:
            return False
        try:
            if not _masks_equal(load_mask(source)["mask"], load_mask(selection.mask_path(task))["mask"]):
                return False
        except InputError:
            return False
    return bool(selection.rounds)


def pruning_curve_rows(pset: PruningSet) -> list[dict[str, Any]]:
    """One row per task and finished round: percent kept, dev, test, whether it was chosen."""
    chosen = pset.selection.rounds if pset.selection else {}
    return [{"set": pset.label, "task": task, "round": k, "percent_kept": row["percent"],
             "dev": row["dev"], "test": row["test"], "chosen": chosen.get(task) == k}
            for task, run in pset.runs.items() for k, row in sorted(run.rounds.items())]


# ---- mask overlap ---------------------------------------------------------------------------
def independent_iou(kept: Sequence[float]) -> float:
    """Percent IoU two masks of these densities (percent) would have if drawn independently."""
    a, b = (k / 100.0 for k in kept)
    union = a + b - a * b
    return 100.0 * a * b / union if union else 100.0


def independent_subset_iou(kept: Sequence[float]) -> dict[int, float]:
    """{k: the mean percent overlap ratio of the subsets of k tasks} that masks of these
    densities (percent) would have if drawn independently, k = 2..len(kept)."""
    shares = [k / 100.0 for k in kept]
    out = {}
    for size in range(2, len(shares) + 1):
        ratios = []
        for subset in combinations(shares, size):
            by_all, by_any = math.prod(subset), 1.0 - math.prod(1.0 - s for s in subset)
            ratios.append(100.0 * by_all / by_any if by_any else 100.0)
        out[size] = statistics.mean(ratios)
    return out


def overlap_round_rows(pset: PruningSet) -> list[dict[str, Any]]:
    """For every round that all tasks have a mask of: the overall overlap statistics
    (`utils.sparsity.mask_stats.overlap_row`) and what independent masks of the same densities
    would give: per pair, per subset size, and kept by all."""
    if len(pset.runs) < 2:
        return []
    rows = []
    tasks = list(pset.runs)
    rounds = sorted(set.intersection(*(set(run.rounds) for run in pset.runs.values())))
    for k in rounds:
        files = {t: run.mask_file(k) for t, run in pset.runs.items()}
        if any(f is None for f in files.values()):
            continue
        overall = overlap_by_tensor(task_masks(files))[-1]
        row = {"set": pset.label, "round": k,
               "percent_kept": statistics.mean(pset.runs[t].rounds[k]["percent"] for t in tasks)}
        row.update({key: value for key, value in overall.items() if key not in ("tensor", "weights")})
        rows.append({**row, **independent_columns(row, tasks)})
    return rows


def independent_columns(row: dict[str, Any], tasks: Sequence[str]) -> dict[str, float]:
    """What masks of the densities in `row` (`kept:T`) would give if drawn independently: the
    overlap ratio of each pair (`independent_iou:A-B`) and of each subset size
    (`independent_subset_iou:k`), and the share kept by all (`independent_all`)."""
    kept = [row[f"kept:{t}"] for t in tasks]
    out = {f"independent_iou:{a}-{b}": independent_iou([row[f"kept:{a}"], row[f"kept:{b}"]])
           for a, b in combinations(tasks, 2)}
    out.update({f"independent_subset_iou:{k}": v for k, v in independent_subset_iou(kept).items()})
    out["independent_all"] = 100.0 * math.prod(k / 100.0 for k in kept)
    return out


def chosen_overlap_rows(selection: Selection) -> list[dict[str, Any]]:
    """`overlap_by_tensor` of the masks prepare-masks.sh placed, per tensor and overall."""
    return overlap_by_tensor(task_masks({task: selection.mask_path(task) for task in selection.rounds}))


def chosen_place_rows(selection: Selection) -> list[dict[str, Any]]:
    """`overlap_by_place` of the masks prepare-masks.sh placed, with `independent_columns`, when
    they are an encoder's; none for the BiLSTM tagger, whose per-tensor table is already one
    row per layer and kind. InputError naming the first mask file when a name cannot be placed."""
    files = {task: selection.mask_path(task) for task in selection.rounds}
    masks = task_masks(files)
    if not is_encoder(next(iter(masks.values()))):
        return []
    try:
        rows = overlap_by_place(masks)
    except ValueError as err:
        raise InputError(str(err), next(iter(files.values()))) from None
    return [{**row, **independent_columns(row, list(masks))} for row in rows]


def task_masks(files: dict[str, Path]) -> dict[str, dict[str, torch.Tensor]]:
    """{task: mask} from its mask file; InputError naming a file that is not a mask file or
    whose mask covers other parameters or shapes than the first task's."""
    masks = {task: load_mask(path)["mask"] for task, path in files.items()}
    first_task, first = next(iter(masks.items()))
    for task, mask in masks.items():
        if mask.keys() != first.keys() or any(mask[n].shape != first[n].shape for n in first):
            raise InputError(f"its mask covers other parameters or shapes than the mask of "
                             f"{first_task} ({files[first_task]}); the runs differ in size", files[task])
    return masks


# ---- method comparison ------------------------------------------------------------------------
@dataclass
class Method:
    """One way of training (a group of train_mtl.py runs) and its runs per seed."""

    label: str
    mode: str
    by_seed: dict[Any, list[MtlRun]] = field(default_factory=dict)
    unfinished: list[MtlRun] = field(default_factory=list)


def methods(exp: Experiment) -> list[Method]:
    """Finished runs grouped into methods (single-task runs of all tasks form one method);
    per seed and task set the newest finished run counts."""
    def method_key(run: MtlRun) -> str:
        return group_key(run.args, ignore=("tasks",) if run.mode == "single" else ())

    keyed = group_by(exp.mtl, method_key)
    same_mode = group_by(list(keyed), lambda k: keyed[k][0].mode)
    detail = {k: d for keys in same_mode.values() for k, d in zip(keys, distinguishing(keys))}
    out = []
    for key, runs in keyed.items():
        mode = runs[0].mode
        method = Method(mode + (f" ({detail[key]})" if detail[key] else ""), mode)
        newest: dict[tuple, MtlRun] = {}
        for run in sorted((r for r in runs if r.finished), key=lambda r: _mtime(r.path / "results.json")):
            newest[(str(run.seed), tuple(run.tasks))] = run
        for run in newest.values():
            method.by_seed.setdefault(run.seed, []).append(run)
        method.unfinished = [r for r in runs if not r.finished]
        out.append(method)
    order = {m: i for i, m in enumerate(STANDARD_MODES)}
    return sorted(out, key=lambda m: (order.get(m.mode, len(order)), m.label))


def comparison_tasks(found: Sequence[Method]) -> list[str]:
    """The tasks compared: those of the multi-task runs first (their order), then any other."""
    runs = [r for m in found for rs in m.by_seed.values() for r in rs]
    ordered = [t for r in sorted(runs, key=lambda r: -len(r.tasks)) for t in r.tasks]
    return list(dict.fromkeys(ordered))


def seed_rows(method: Method, tasks: Sequence[str]) -> list[dict[str, Any]]:
    """One row per seed: test and dev per task, their averages (when every task is there),
    parameters (summed over the runs of a seed, as the results table does), minutes, runs."""
    rows = []
    for seed, runs in method.by_seed.items():
        row: dict[str, Any] = {"method": method.label, "mode": method.mode, "seed": seed}
        for run in runs:
            for task in run.results["tasks"]:
                row[f"test:{task}"] = float(run.results["test"][task])
                row[f"dev:{task}"] = float(run.results["dev"][task])
        complete = all(f"test:{t}" in row for t in tasks)
        for split in ("test", "dev"):
            row[f"avg:{split}"] = statistics.mean(row[f"{split}:{t}"] for t in tasks) if complete else None
        row["parameters"] = sum(int(r.results["parameters"]["total"]) for r in runs)
        row["minutes"] = sum(float(r.results.get("seconds", 0.0)) for r in runs) / 60.0
        row["complete"] = complete
        row["runs"] = " ".join(str(r.path) for r in runs)
        rows.append(row)
    return rows


def summarize(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, tuple]:
    """Per column over the seeds that have it: (mean, standard deviation or None, number of
    seeds). An average exists only for seeds with every task (`seed_rows`)."""
    out = {}
    for column in columns:
        values = [r[column] for r in rows if r.get(column) is not None]
        if values:
            spread = statistics.stdev(values) if len(values) > 1 else None
            out[column] = (statistics.mean(values), spread, len(values))
    return out


def missing_notes(found: Sequence[Method], tasks: Sequence[str]) -> list[str]:
    """What the comparison lacks: standard modes without a finished run, seeds missing a task."""
    notes = []
    present = {m.mode for m in found if m.by_seed}
    for mode in STANDARD_MODES:
        if mode not in present:
            waiting = [r for m in found if m.mode == mode for r in m.unfinished]
            notes.append(f"{mode}: " + (", ".join(r.status() for r in waiting) if waiting
                                        else "missing (no run found)"))
    for method in found:
        for seed, runs in method.by_seed.items():
            have = {t for r in runs for t in r.tasks}
            lacking = [t for t in tasks if t not in have]
            if lacking:
                notes.append(f"{method.label}, seed {seed}: no finished run of {', '.join(lacking)} "
                             "(left out of the averages)")
    return notes


# ---- training curves --------------------------------------------------------------------------
def training_curve_rows(found: Sequence[Method], exp: Experiment) -> list[dict[str, Any]]:
    """Dev score per epoch of every multi-task run (finished or not), from log.jsonl."""
    rows = []
    for method in found:
        runs = [r for rs in method.by_seed.values() for r in rs] + method.unfinished
        for run in runs:
            best = run.results.get("best_epoch") if run.results else None
            for entry in run.log:
                for task, score in entry.get("dev", {}).items():
                    rows.append({"method": method.label, "seed": run.seed, "run": exp.relative(run.path),
                                 "finished": run.finished, "epoch": entry["epoch"], "task": task,
                                 "dev": score, "selected": entry["epoch"] == best})
    return rows
