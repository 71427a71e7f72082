"""An experiment's output directory: never overwritten by accident, resumable, with args.json."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterable

from utils.atomic import json_save_atomic
from utils.errors import InputError

ARGS_FILE = "args.json"


def prepare_run_dir(path: str | Path, args: dict[str, Any], *, resume: bool, overwrite: bool,
                    ignore: Iterable[str] = ()) -> bool:
    """Create the directory and write args.json; True when an existing run is being resumed.

    An existing, non-empty directory is refused unless `resume` (its args.json must agree with
    `args`, apart from the `ignore` keys) or `overwrite` (it is deleted first).
    """
    path = Path(path)
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other", path)
    exists = path.is_dir() and any(path.iterdir())
    if exists and resume:
        _check_same_args(path, args, set(ignore))
        return True
    if exists and not overwrite:
        raise InputError("output directory exists; pass --resume to continue that run or "
                         "--overwrite to replace it", path)
    if exists:
        if not (path / ARGS_FILE).is_file():
            raise InputError(f"refusing to overwrite a directory without {ARGS_FILE} "
                             "(not an experiment directory); remove it yourself", path)
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    json_save_atomic(args, path / ARGS_FILE)
    return False


def read_run_args(path: str | Path, why: str) -> dict[str, Any]:
    """The arguments a run recorded in its args.json; InputError ("cannot <why>: ...") if none."""
    args_file = Path(path) / ARGS_FILE
    if not args_file.is_file():
        raise InputError(f"cannot {why}: no {ARGS_FILE} here", path)
    return json.loads(args_file.read_text(encoding="utf-8"))


def _check_same_args(path: Path, args: dict[str, Any], ignore: set[str]) -> None:
    saved = read_run_args(path, "resume")
    args_file = path / ARGS_FILE
    current = json.loads(json.dumps(args))          # same JSON types as the saved copy
    differ = [f"--{k} was {saved.get(k)!r}, now {current.get(k)!r}"
              for k in sorted(set(saved) | set(current))
              if k not in ignore and saved.get(k) != current.get(k)]
    if differ:
        raise InputError("cannot resume with different arguments: " + "; ".join(differ)
                         + " (use --overwrite to start again)", args_file)
