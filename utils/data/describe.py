"""What the run scripts need to know of a setting, printed for the shell:

    python -m utils.data.describe tasks DATA.pt     the data file's task names, one per line
    python -m utils.data.describe setting FILE.toml  the task set's name and trainer, on one line

Reading the task list from the data file is what lets the run scripts, prepare-masks.sh and the
tables run any number of tasks.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from utils.data.taskset import load_task_set
from utils.errors import InputError, run_main


def data_file_tasks(path: str | os.PathLike) -> list[str]:
    """The task names of a data file, read without loading its tensors (memory-mapped)."""
    tasks = _mapped(path).get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise InputError("not a prepared data file (no task list); run prepare-data.py again", path)
    return tasks


def data_file_chance(path: str | os.PathLike) -> dict[str, float]:
    """{task: dev score (%) at chance} as prepare-data.py recorded it (utils.data.checks); empty
    for a file prepared before it did."""
    provenance = _mapped(path).get("provenance")
    chance = provenance.get("chance_dev") if isinstance(provenance, dict) else None
    return {str(t): float(v) for t, v in chance.items()} if isinstance(chance, dict) else {}


def _mapped(path: str | os.PathLike) -> dict:
    """The data file's dict, its tensors memory-mapped."""
    import torch  # here: `describe setting` answers without loading torch

    if not os.path.isfile(path):
        raise InputError("data file not found; run prepare-data.py first", path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # corrupt or foreign file
        raise InputError(f"not a prepared data file ({type(err).__name__})", path) from None
    if not isinstance(raw, dict):
        raise InputError("not a prepared data file (no task list); run prepare-data.py again", path)
    return raw


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("tasks", "setting"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.what == "tasks":
        print("\n".join(data_file_tasks(args.path)))
    else:
        task_set = load_task_set(args.path)
        print(task_set.name, task_set.trainer)


if __name__ == "__main__":
    run_main(main)
