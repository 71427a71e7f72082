"""What the run scripts need to know of a setting, printed for the shell:

    python -m utils.data.describe tasks DATA.pt     the data file's task names, one per line
        [--task-set FILE.toml]                      ... once the data file is known to be prepared
                                                    from FILE.toml and corpora as they are now
    python -m utils.data.describe setting FILE.toml  the task set's name and trainer, on one line

Reading the task list from the data file is what lets the run scripts, prepare-masks.sh and the
tables run any number of tasks.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Sequence

from utils.built_from import ACCEPT_ENV, accepted_by_environment, check_built_from
from utils.data.readers.text import sha256_of
from utils.data.taskset import load_task_set
from utils.errors import InputError, run_main
from utils.paths import REPO_ROOT, check_path_kind


def _data_file_header(path: str | os.PathLike) -> dict:
    """A data file's dict, read without loading its tensors (memory-mapped)."""
    import torch  # here: `describe setting` answers without loading torch

    check_path_kind(path, "file", must_exist=False, noun="data file")
    if not os.path.isfile(path):
        raise InputError("data file not found; run prepare-data.py first", path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # corrupt or foreign file
        raise InputError(f"not a prepared data file ({type(err).__name__})", path) from None
    return raw if isinstance(raw, dict) else {}


def data_file_tasks(path: str | os.PathLike) -> list[str]:
    """The task names of a data file, read without loading its tensors (memory-mapped)."""
    raw = _data_file_header(path)
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise InputError("not a prepared data file (no task list); run prepare-data.py again", path)
    return tasks


def data_file_chance(path: str | os.PathLike) -> dict[str, float]:
    """{task: dev score (%) at chance} as prepare-data.py recorded it (utils.data.checks); empty
    for a file prepared before it did."""
    provenance = _data_file_header(path).get("provenance")
    chance = provenance.get("chance_dev") if isinstance(provenance, dict) else None
    return {str(t): float(v) for t, v in chance.items()} if isinstance(chance, dict) else {}


def task_set_changes(data_path: str | os.PathLike, task_set_path: str | os.PathLike) -> list[str]:
    """What changed in the task-set file since the data file was prepared from it (the data file
    keeps the file's table in its provenance): tasks added, gone or changed, other keys changed.
    Data files that kept no table are not compared."""
    provenance = _data_file_header(data_path).get("provenance")
    recorded = provenance.get("task_set", {}).get("table") if isinstance(provenance, dict) else None
    if not isinstance(recorded, dict):
        return []
    current = load_task_set(task_set_path).table
    if _plain(recorded) == _plain(current):
        return []
    old, new = _tasks_by_name(recorded), _tasks_by_name(current)
    found = [f"task {name} added" for name in new if name not in old]
    found += [f"task {name} gone" for name in old if name not in new]
    found += [f"task {name} changed" for name in new if name in old and _plain(old[name]) != _plain(new[name])]
    found += [f"{key} changed" for key in sorted(set(recorded) | set(current))
              if key != "tasks" and _plain(recorded.get(key)) != _plain(current.get(key))]
    if not found:
        found = ["the order of its tasks changed"]
    return [f"{task_set_path}: {', '.join(found)} since {data_path} was prepared from it"]


def corpus_changes(data_path: str | os.PathLike) -> list[str]:
    """The corpus and vector files a data file was prepared from (its provenance keeps their
    sha256, by the path it showed) whose bytes differ now. A file no longer where it was (moved, or
    named relative to another folder) is not compared."""
    provenance = _data_file_header(data_path).get("provenance")
    recorded = provenance.get("sha256") if isinstance(provenance, dict) else None
    if not isinstance(recorded, dict):
        return []
    changed = [str(name) for name, digest in recorded.items() if _differs(str(name), digest)]
    return [f"{', '.join(changed)} changed since {data_path} was prepared from it"] if changed else []


def _differs(shown_path: str, digest: object) -> bool:
    path = Path(shown_path) if Path(shown_path).is_absolute() else REPO_ROOT / shown_path
    return isinstance(digest, str) and path.is_file() and sha256_of(path) != digest


def _plain(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _tasks_by_name(table: dict) -> dict[str, object]:
    tasks = table.get("tasks")
    if not isinstance(tasks, list):
        return {}
    return {str(t.get("name")) if isinstance(t, dict) else str(i): t for i, t in enumerate(tasks)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("tasks", "setting"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--task-set", type=Path, default=None,
                        help="tasks: check that the data file was prepared from this file (and its "
                             "corpora) as they are now")
    args = parser.parse_args(argv)
    if args.what == "tasks":
        tasks = data_file_tasks(args.path)
        if args.task_set is not None:
            changes = task_set_changes(args.path, args.task_set) + corpus_changes(args.path)
            check_built_from(args.path, changes,
                             rebuild="prepare it again (prepare-data.py with --overwrite)",
                             accept=f"{ACCEPT_ENV}=1", accepted=accepted_by_environment())
        print("\n".join(tasks))
    else:
        task_set = load_task_set(args.path)
        print(task_set.name, task_set.trainer)


if __name__ == "__main__":
    run_main(main)
