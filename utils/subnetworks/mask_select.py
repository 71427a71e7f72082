"""Choose one pruning round per task and place its mask for multi-task training.

Input: the single-task pruning runs `<exp>/single/cp/<task_id>/`, each with the mask files
`[round]_[percent].th`, `init_weights.th` and `results.jsonl` (one row per round with its dev
score and task name). The tasks are every task of the data file the runs were trained on (named
in their args.json), or the runs found when that file is not at hand. Output, in `<exp>/mtl/mask/`: `<task_id>.th` (the chosen mask), `init_weights.th` (the
rewind point the masks were found from) and `selection.json` (what was chosen, and why).

Everything is read and checked first (the masks must cover the same parameters with the same
shapes, and fit the rewind point); the new folder is then written beside the old one and swapped
in whole, so a failure never leaves a mix of old and new masks.

Rule of `--auto`: among the rounds that have both a mask file and a dev score, take the best dev
score; choose the SPARSEST round whose dev score is at least (best - margin). A sparser subnetwork
leaves more room for private weights, and within the margin the dev scores are not told apart.

A task whose dev score stayed at its chance level (recorded in the data file by prepare-data.py:
always the most frequent label for accuracy, 0 for span F1; within CHANCE_MARGIN points) in every
round learned nothing in any: it is named in the report and in selection.json (`at_chance`), as
its mask was chosen without a signal.

Run as `python -m utils.subnetworks.mask_select` (prepare-masks.sh does); `-h` lists the arguments.
"""
from __future__ import annotations

import argparse
import json
import math
import re
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch

from utils.atomic import json_save_atomic, read_jsonl, replacing_folder, torch_save_atomic
from utils.locks import locked_folder, take_lock
from utils.owned import MARKER
from utils.data.describe import data_file_chance, data_file_tasks
from utils.errors import ArgumentParser, InputError, run_main
from utils.paths import REPO_ROOT
from utils.sparsity.mask_stats import kept_by_histogram, overlaps, percent_kept
from utils.sparsity.mask_files import load_mask
from utils.subnetworks.chance_report import chance_lines
from utils.training.checkpoint import checked_state
from utils.training.fingerprint import fingerprint
from utils.training.reuse import check_run_current
from utils.training.run_dir import LOCK_FILE
from utils.torch_files import load as load_checkpoint

DEFAULT_MARGIN = 0.5
CHANCE_MARGIN = 1.0     # dev points above chance still counted as chance
_MASK_FILE = re.compile(r"^(\d+)_(\d+(?:\.\d+)?)\.th$")
_TASK_MASK = re.compile(r"^\d+\.th$")
_PLACED = ("init_weights.th", "selection.json")         # what place() writes besides <task_id>.th
INPUTS_KEY = "inputs"           # selection.json: fingerprints of the files the masks came from


@dataclass
class Round:
    """One pruning round of one task."""

    round: int
    mask_file: Path
    percent: float
    dev: float | None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _dev_score(value: object) -> float | None:
    """A results.jsonl dev entry: a number, or {task: score} (mean); None for no score."""
    if _number(value):
        return float(value)
    if isinstance(value, dict) and value and all(_number(v) for v in value.values()):
        return sum(float(v) for v in value.values()) / len(value)
    return None


def task_dirs(single_cp: Path) -> dict[int, Path]:
    """{task_id: folder} of the pruning runs (folders named by task id)."""
    if not single_cp.is_dir():
        raise InputError("no single-task pruning runs here; run `run_<setting>.sh single` first",
                         single_cp)
    return {int(p.name): p for p in sorted(single_cp.iterdir()) if p.is_dir() and p.name.isdigit()}


def discover_tasks(exp: Path) -> dict[int, str]:
    """{task_id: name} of the setting: every task of the data file the pruning runs name in their
    args.json (when it is at hand), else the runs found; names from the runs' results.jsonl."""
    found = task_dirs(exp / "single" / "cp")
    names = {task_id: _run_task_name(folder) for task_id, folder in found.items()}
    data_tasks = _data_file_tasks(found.values())
    if data_tasks is not None:
        names = {i: names.get(i) or name for i, name in enumerate(data_tasks)}
    return {task_id: name or str(task_id) for task_id, name in sorted(names.items())}


def _run_task_name(task_dir: Path) -> str | None:
    rows = [row for row in read_jsonl(task_dir / "results.jsonl")
            if isinstance(row, dict) and isinstance(row.get("task"), str)]
    return str(rows[-1]["task"]) if rows else None


def _data_file_tasks(task_dirs: Iterable[Path]) -> list[str] | None:
    """The task names of the data file the runs were trained on, or None when it is not here."""
    path = _data_file(task_dirs)
    return None if path is None else data_file_tasks(path)


def _data_file(task_dirs: Iterable[Path]) -> Path | None:
    """The data file the runs were trained on (as started from the repository root, or as
    given), or None when no run names one that is here."""
    for task_dir in task_dirs:
        try:
            named = json.loads((task_dir / "args.json").read_text(encoding="utf-8"))["data_path"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for candidate in (Path(named), REPO_ROOT / named):
            if candidate.is_file():
                return candidate
    return None


def at_chance(exp: Path, task_ids: Sequence[int], names: dict[int, str]) -> dict[str, dict]:
    """{task: {"chance": level, "best_dev": best round's dev}} of the tasks whose every scored
    round stayed within CHANCE_MARGIN of the chance level the data file records."""
    found = task_dirs(exp / "single" / "cp")
    path = _data_file(found[t] for t in task_ids if t in found)
    chance = data_file_chance(path) if path is not None else {}
    flagged = {}
    for task_id in task_ids:
        name = names.get(task_id, str(task_id))
        scores = [r.dev for r in list_rounds(found[task_id]).values() if r.dev is not None]
        if name in chance and scores and max(scores) <= chance[name] + CHANCE_MARGIN:
            flagged[name] = {"chance": round(chance[name], 2), "best_dev": round(max(scores), 2)}
    return flagged


def list_rounds(task_dir: Path) -> dict[int, Round]:
    """Every round with a mask file in `task_dir`, with its dev score when results.jsonl has it."""
    dev = {}
    for number, row in enumerate(read_jsonl(task_dir / "results.jsonl"), start=1):
        if not (isinstance(row, dict) and isinstance(row.get("round"), int) and row["round"] >= 0):
            raise InputError("expected a row of train_single.py: a JSON object with a whole "
                             "'round' number", task_dir / "results.jsonl", number)
        if row.get("dev") is not None and _dev_score(row["dev"]) is None:
            raise InputError(f"'dev' must be a finite number, got {row['dev']!r}",
                             task_dir / "results.jsonl", number)
        dev[row["round"]] = _dev_score(row.get("dev"))     # a later row wins (resume)
    rounds = {}
    for path in sorted(task_dir.glob("*.th")):
        match = _MASK_FILE.match(path.name)
        if match:
            k = int(match.group(1))
            rounds[k] = Round(k, path, float(match.group(2)), dev.get(k))
    return rounds


def choose_auto(rounds: dict[int, Round], margin: float, where: Path) -> Round:
    """The sparsest round within `margin` dev points of the best one (see module docstring)."""
    scored = [r for r in rounds.values() if r.dev is not None]
    if not scored:
        raise InputError("no round has a dev score in results.jsonl; cannot choose automatically "
                         f"(rounds with masks: {_list(rounds)})", where)
    best = max(r.dev for r in scored)
    good = [r for r in scored if r.dev >= best - margin]
    return min(good, key=lambda r: (r.percent, -r.dev))


def _list(rounds: dict) -> str:
    return ", ".join(str(k) for k in sorted(rounds)) or "none"


def select(exp: Path, task_ids: Sequence[int], rounds: Sequence[int] | None,
           margin: float) -> dict[int, Round]:
    """The chosen round of every task: `rounds[i]` for task_ids[i], or automatic if None."""
    single_cp = exp / "single" / "cp"
    found = task_dirs(single_cp)
    missing = [t for t in task_ids if t not in found]
    if missing:
        raise InputError(f"no pruning run for task(s) {', '.join(map(str, missing))}; "
                         f"tasks found: {_list(found)}", single_cp)
    chosen = {}
    for i, task_id in enumerate(task_ids):
        available = list_rounds(found[task_id])
        if rounds is None:
            chosen[task_id] = choose_auto(available, margin, found[task_id])
        elif rounds[i] not in available:
            raise InputError(f"task {task_id} has no mask of round {rounds[i]}; "
                             f"rounds found: {_list(available)}", found[task_id])
        else:
            chosen[task_id] = available[rounds[i]]
    return chosen


@contextmanager
def pruning_run_read(task_dir: Path) -> Iterator[None]:
    """Hold the lock of a pruning run while its masks are read (one still being written is
    refused, naming its process), after checking that its inputs (the data file, start weights)
    are those it was trained from."""
    if not (task_dir / "args.json").is_file():
        yield                    # not a run of train_single.py: select() says what is missing
        return
    lock = take_lock(task_dir / LOCK_FILE, task_dir)
    try:
        check_run_current(task_dir, rebuild="prune again (the run script's `single` with "
                                            "OVERWRITE=1)")
        yield
    finally:
        lock.release()


def _same_weights(a: dict, b: dict) -> bool:
    sa, sb = a.get("state_dict", a), b.get("state_dict", b)
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _check_fit(masks: dict[int, dict], chosen: dict[int, Round], init: dict, init_path: Path) -> None:
    """Every mask covers the same parameters, with the shapes of the rewind point's weights."""
    weights = checked_state(init.get("state_dict", init), init_path)
    first = next(iter(masks))
    for task_id, loaded in masks.items():
        where = chosen[task_id].mask_file
        names = set(loaded["mask"])
        if names != set(masks[first]["mask"]):
            raise InputError(f"the masks cover different parameters ({where.name} vs "
                             f"{chosen[first].mask_file}: {sorted(names ^ set(masks[first]['mask']))[:3]})",
                             where)
        for name, kept in loaded["mask"].items():
            shape = tuple(weights[name].shape) if name in weights else None
            if shape != tuple(kept.shape):
                raise InputError(f"mask of {name!r} has shape {tuple(kept.shape)}, but the weights "
                                 f"in {init_path} have {shape}: the runs differ in size", where)


def _check_out(out: Path) -> None:
    """`out` is replaced whole: refuse a folder holding files this script did not write."""
    if not out.is_dir():
        return
    foreign = _foreign(out)
    if foreign:
        raise InputError(f"refusing to replace a folder that holds other files ({', '.join(sorted(foreign)[:3])}); "
                         "choose another --out or remove them", out)


def _foreign(out: Path) -> list[str]:
    """The files in `out` that placing masks does not write."""
    return [p.name for p in out.iterdir()
            if not (_TASK_MASK.match(p.name) or p.name in _PLACED or p.name == MARKER)]


def place(chosen: dict[int, Round], out: Path, rule: str,
          task_names: dict[int, str], chance: dict[str, dict] | None = None) -> dict:
    """Write the chosen masks, the rewind point and selection.json as the new folder `out`."""
    masks = {t: load_mask(r.mask_file) for t, r in chosen.items()}
    init_paths = {t: r.mask_file.parent / "init_weights.th" for t, r in chosen.items()}
    for task_id, path in init_paths.items():
        if not path.is_file():
            raise InputError("init_weights.th is missing beside the masks", path.parent)
    first = next(iter(chosen))
    init = load_checkpoint(init_paths[first], "init_weights.th")
    _check_fit(masks, chosen, init, init_paths[first])
    differ = [t for t in chosen
              if t != first and not _same_weights(init, load_checkpoint(init_paths[t], "init_weights.th"))]
    named = {task_names[t]: m["mask"] for t, m in masks.items()}
    summary = {
        "rule": rule,
        "tasks": {task_names[t]: {"task_id": t, **_round_json(r),
                                  "percent_kept": round(percent_kept(masks[t]["mask"]), 2)}
                  for t, r in chosen.items()},
        "overlap": overlaps(named) if len(named) > 1 else {},
        "kept_by": kept_by_histogram(list(named.values())),
        "init_weights_from": first,
        "init_weights_differ": differ,
        "at_chance": dict(chance or {}),
        # what the masks were built from, checked by train_mtl.py before it uses them
        INPUTS_KEY: {**{f"{task_names[t]} mask": fingerprint(r.mask_file) for t, r in chosen.items()},
                     "init_weights": fingerprint(init_paths[first])},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    # One placement in this folder at a time: a second would take the first's half-built folder
    # for a killed run's leftover and delete it.
    with locked_folder(out.parent):
        _check_out(out)
        with replacing_folder(out, "masks", legacy=lambda folder: not _foreign(folder)) as new:
            for task_id, loaded in masks.items():
                torch_save_atomic({**loaded, "task_id": task_id,
                                   "source": chosen[task_id].mask_file.name}, new / f"{task_id}.th")
            torch_save_atomic(init, new / "init_weights.th")
            json_save_atomic(summary, new / "selection.json")
    return summary


def _round_json(r: Round) -> dict:
    row = asdict(r)
    row["mask_file"] = r.mask_file.name
    return row


def report(summary: dict, exp: Path, out: Path) -> str:
    """The lines prepare-masks.sh prints."""
    lines = [f"masks for {exp} ({summary['rule']}):"]
    for name, row in summary["tasks"].items():
        dev = f"dev {row['dev']:.2f}" if row["dev"] is not None else "dev -"
        lines.append(f"  task {row['task_id']} {name:6s} round {row['round']:3d}  "
                     f"kept {row['percent_kept']:6.2f}%  {dev}  ({row['mask_file']})")
    if summary["overlap"]:
        lines.append("pairwise overlap (kept by both, % of prunable weights; IoU %):")
        for pair, value in summary["overlap"].items():
            lines.append(f"  {pair:14s} {value['both_percent']:6.2f}%   IoU {value['iou_percent']:6.2f}%")
    kept_by = ", ".join(f"{k} task{'s' if k != 1 else ''} {v:.2f}%" for k, v in summary["kept_by"].items())
    lines.append(f"prunable weights kept by exactly: {kept_by}")
    if summary["init_weights_differ"]:
        lines.append(f"warning: init_weights.th of task(s) {summary['init_weights_differ']} differ from "
                     f"task {summary['init_weights_from']}'s; using task {summary['init_weights_from']}'s")
    lines += chance_lines(summary.get("at_chance", {}), "warning: ")
    if all(row["percent_kept"] >= 100.0 for row in summary["tasks"].values()):
        lines.append("note: every mask keeps every weight (no round pruned): sparse sharing through "
                     "them is hard sharing (every task sees every weight); to prune, give the rounds by hand "
                     "(prepare-masks.sh SETTING K1 K2 ...)")
    files = [f"{row['task_id']}.th" for row in summary["tasks"].values()]
    lines.append(f"wrote {out}/: {', '.join(files)}, init_weights.th, selection.json")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(
        description="Choose one pruning round per task and place the masks for train_mtl.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--exp", required=True, type=Path,
                        help="experiment folder of the setting, e.g. exp/conll03")
    parser.add_argument("--tasks", type=int, nargs="+", default=None,
                        help="task ids (folders under EXP/single/cp/); default every task of the "
                             "data file the pruning runs were trained on")
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--rounds", type=int, nargs="+",
                        help="the pruning round chosen for each task, in the order of --tasks")
    choice.add_argument("--auto", action="store_true",
                        help="choose the sparsest round whose dev score is within --margin of the best")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="dev score points (percent) below the best that --auto accepts")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default EXP/mtl/mask)")
    args = parser.parse_args(argv)
    if args.tasks is not None and len(set(args.tasks)) != len(args.tasks):
        parser.error(f"argument --tasks: a task is named twice: {args.tasks}")
    if not (math.isfinite(args.margin) and args.margin >= 0):
        parser.error(f"argument --margin: expected dev points of 0 or more, got {args.margin}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    out = args.out or args.exp / "mtl" / "mask"
    names = discover_tasks(args.exp)
    task_ids = args.tasks if args.tasks is not None else list(names)
    if args.rounds is not None and len(args.rounds) != len(task_ids):
        listed = ", ".join(f"{t} {names.get(t, '?')}" for t in task_ids)
        raise InputError(f"expected one round per task ({len(task_ids)}: {listed}), got "
                         f"{len(args.rounds)}: {' '.join(map(str, args.rounds))}", "rounds")
    with ExitStack() as held:
        for task_id in task_ids:
            held.enter_context(pruning_run_read(args.exp / "single" / "cp" / str(task_id)))
        chosen = select(args.exp, task_ids, None if args.auto else args.rounds, args.margin)
        rule = (f"auto: sparsest round with dev >= best dev - {args.margin:g}" if args.auto
                else "rounds given: " + " ".join(str(r) for r in args.rounds))
        summary = place(chosen, out, rule, {t: names.get(t, str(t)) for t in task_ids},
                        at_chance(args.exp, task_ids, names))
    print(report(summary, args.exp, out))


if __name__ == "__main__":
    run_main(main)
