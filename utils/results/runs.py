"""The saved runs of an experiment folder, found by walking it (never by folder names, so any
layout works, one folder per seed included):

- a single-task pruning run (train_single.py): a folder whose args.json has `pruning_iter` and
  `task_id`; its rounds are the rows of results.jsonl, its masks the files `[k]_[pct].th`;
- a mask selection (prepare-masks.sh): a folder with selection.json and `<task_id>.th`;
- a multi-task run (train_mtl.py): a folder whose args.json has `mode`; finished when it holds
  results.json, otherwise its log.jsonl tells how far it got.

Runs are grouped by everything in args.json that changes results (`group_key`): the seeds of a
group are repeats of one method, and a pruning set is the pruning runs of one seed, one per task.
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from utils.atomic import read_jsonl
from utils.results.file_checks import LOG_ROW, MTL_ARGS, PRUNING_ARGS, ROUND_ROW
from utils.results.file_checks import SELECTION as SELECTION_SPEC
from utils.results.file_checks import Spec, problem, results_problem, rows_problem

ARGS, RESULTS, ROUNDS, LOG, SELECTION = (
    "args.json", "results.json", "results.jsonl", "log.jsonl", "selection.json")
# Arguments that name, place or run a job without changing its results, and those a group holds
# several values of (seeds; one task per single-task run; the start weights and masks folders,
# which move with the seed).
NOT_METHOD = frozenset({"seed", "exp_name", "save_dir", "num_threads", "device", "resume",
                        "overwrite", "tensorboard", "evaluate", "init_weights", "masks_path",
                        "task_id"})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


@dataclass
class PruningRun:
    """One task's Iterative Magnitude Pruning run."""

    path: Path
    args: dict[str, Any]
    rounds: dict[int, dict[str, Any]]          # round -> its results.jsonl row (a later row wins)
    task: str

    @property
    def seed(self) -> Any:
        return self.args.get("seed")

    @property
    def planned(self) -> int:
        return int(self.args.get("pruning_iter", 0)) + 1

    @property
    def finished(self) -> bool:
        return all(k in self.rounds for k in range(self.planned))

    def status(self) -> str:
        if self.finished:
            return "finished"
        return f"unfinished ({len(self.rounds)} of {self.planned} rounds)"

    def mask_file(self, k: int) -> Path | None:
        """The mask of round k (`k_pct.th`), if written."""
        row = self.rounds.get(k, {})
        if row.get("mask_file") and (self.path / row["mask_file"]).is_file():
            return self.path / row["mask_file"]
        found = sorted(self.path.glob(f"{k}_*.th"))
        return found[0] if found else None


@dataclass
class Selection:
    """The masks placed by prepare-masks.sh and its selection.json."""

    path: Path
    summary: dict[str, Any]

    @property
    def rounds(self) -> dict[str, int]:
        """{task name: chosen round}."""
        return {name: int(row["round"]) for name, row in self.summary.get("tasks", {}).items()}

    def mask_path(self, task: str) -> Path:
        return self.path / f"{self.summary['tasks'][task]['task_id']}.th"


@dataclass
class MtlRun:
    """One train_mtl.py run."""

    path: Path
    args: dict[str, Any]
    results: dict[str, Any] | None
    log: list[dict[str, Any]]

    @property
    def mode(self) -> str:
        return str(self.args.get("mode"))

    @property
    def seed(self) -> Any:
        return self.args.get("seed")

    @property
    def finished(self) -> bool:
        return self.results is not None

    @property
    def tasks(self) -> list[str]:
        if self.results is not None:
            return list(self.results["tasks"])
        return list(self.log[-1]["dev"]) if self.log else []

    def status(self) -> str:
        if self.finished:
            return "finished"
        return f"unfinished ({len(self.log)} of {self.args.get('epochs', '?')} epochs)"


@dataclass
class Experiment:
    """Everything found under one folder."""

    root: Path
    pruning: list[PruningRun] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    mtl: list[MtlRun] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.pruning or self.selections or self.mtl)

    def relative(self, path: Path) -> str:
        """A path as shown in the report: relative to the experiment folder."""
        try:
            return str(path.relative_to(self.root)) or "."
        except ValueError:
            return str(path)


def discover(root: Path, skip: Iterable[Path] = ()) -> Experiment:
    """Walk `root` (not the folders in `skip`) for runs, in path order. A file that does not
    fit what the analysis reads (utils.results.file_checks) is set aside and listed in
    `unreadable`; a run whose args.json does not fit is left out."""
    found = Experiment(root)
    skipped = {Path(p).resolve() for p in skip}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if (Path(folder) / d).resolve() not in skipped)
        folder = Path(folder)
        if SELECTION in files:
            summary = _read_json(folder / SELECTION)
            why = problem(summary, SELECTION_SPEC) if summary is not None else "not JSON"
            if why is None:
                found.selections.append(Selection(folder, summary))
            else:
                found.unreadable.append((folder / SELECTION, f"not a selection.json of "
                                                             f"prepare-masks.sh: {why}"))
        if ARGS in files:
            _add_run(found, folder)
    return found


def _add_run(found: Experiment, folder: Path) -> None:
    args = _read_json(folder / ARGS)
    if not isinstance(args, dict):
        found.unreadable.append((folder / ARGS, "not a JSON object"))
    elif "mode" in args:
        if _set_aside(found, folder / ARGS, problem(args, MTL_ARGS), "run left out"):
            return
        results = _read_json(folder / RESULTS) if (folder / RESULTS).is_file() else None
        if (folder / RESULTS).is_file():
            why = results_problem(results) if results is not None else "not JSON"
            if _set_aside(found, folder / RESULTS, why, "run listed as unfinished"):
                results = None
        log = _checked_rows(found, folder / LOG, LOG_ROW)
        found.mtl.append(MtlRun(folder, args, results, log))
    elif "pruning_iter" in args and "task_id" in args:
        if _set_aside(found, folder / ARGS, problem(args, PRUNING_ARGS), "run left out"):
            return
        rows = {r["round"]: r for r in _checked_rows(found, folder / ROUNDS, ROUND_ROW)}
        log = _checked_rows(found, folder / LOG, LOG_ROW)
        names = [r["task"] for r in rows.values() if "task" in r] or [n for r in log[:1] for n in r["dev"]]
        task = names[0] if names else f"task {args['task_id']}"
        found.pruning.append(PruningRun(folder, args, rows, task))


def _set_aside(found: Experiment, path: Path, why: str | None, then: str) -> bool:
    """Record `path` as unreadable when `why` says what is wrong with it; True if so."""
    if why is not None:
        found.unreadable.append((path, f"{why} ({then})"))
    return why is not None


def _checked_rows(found: Experiment, path: Path, spec: Spec) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, or none when a row does not fit `spec` (set aside)."""
    rows = read_jsonl(path)
    return [] if _set_aside(found, path, rows_problem(rows, spec), "not read") else rows


def group_key(args: dict[str, Any], ignore: Iterable[str] = ()) -> str:
    """What makes runs repeats of one method: args.json without NOT_METHOD and `ignore`."""
    left_out = NOT_METHOD | set(ignore)
    return json.dumps({k: v for k, v in sorted(args.items()) if k not in left_out}, sort_keys=True)


def group_by(items: Sequence[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    """Items by key, groups and members in first-seen order."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def distinguishing(keys: Sequence[str], limit: int = 3) -> list[str]:
    """A short label per group key: the arguments in which the groups differ ("" if one)."""
    parsed = [json.loads(k) for k in keys]
    names = sorted({n for p in parsed for n in p if len({json.dumps(q.get(n)) for q in parsed}) > 1})
    return [", ".join(f"{n}={p.get(n)}" for n in names[:limit]) + (", ..." if len(names) > limit else "")
            for p in parsed]


def command_line(script: str, actions: Sequence[Any], args: dict[str, Any]) -> str:
    """The command that repeats a run, from its args.json and its script's argparse actions:
    every argument whose value differs from the parser's default, preset values included."""
    parts = ["python", script]
    for action in actions:
        if not action.option_strings or action.dest not in args:
            continue
        value = args[action.dest]
        if value is None or value == action.default or value is False:
            continue
        option = action.option_strings[-1]
        if value is True:
            parts.append(option)
        elif isinstance(value, list) and action.nargs not in (None, "?"):
            parts += [option, *(shlex.quote(str(v)) for v in value)]
        elif isinstance(value, list):
            parts += [option, shlex.quote(",".join(str(v) for v in value))]
        else:
            parts += [option, shlex.quote(str(value))]
    return " ".join(parts)
