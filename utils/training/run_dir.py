"""An experiment's output directory: never overwritten by accident, resumable, with args.json.

Call `prepare_run_dir` only once every argument and input has been checked: it is the first
write of a run.

- A new run: the folder is created with args.json (the arguments and the fingerprints of the
  input files, utils/training/fingerprint.py).
- `--overwrite`: the new folder is built beside the old one and swapped in whole; only then is
  the old run deleted, so a refused or failed start leaves the old run as it was.
- `--resume`: args.json must agree with the arguments (apart from those that may change, e.g.
  the thread count), paths are compared resolved (`exp/x/` is `exp/x`), and the input files must
  be those the run started with. After a divergence (utils/training/finite.py) `--optim`, `--clip` and
  `--clip_type` may change too: the change is recorded in args.json under "changed_on_resume".
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from utils.atomic import json_save_atomic, json_text, remove_stale_temps, replacing_folder
from utils.errors import InputError, note_run_folder
from utils.training.fingerprint import differences, fingerprints

ARGS_FILE = "args.json"
DIVERGED_FILE = "diverged.json"
INPUTS_KEY = "inputs"
CHANGES_KEY = "changed_on_resume"
# Arguments that may differ on --resume after the run diverged (to continue with a lower lr).
MAY_CHANGE_AFTER_DIVERGENCE = ("optim", "clip", "clip_type")
# Arguments that name the run folder itself: the folder found is the run, however it is spelled.
_FOLDER_ARGS = ("save_dir", "exp_name")


def prepare_run_dir(path: str | Path, args: dict[str, Any], *, resume: bool, overwrite: bool,
                    ignore: Iterable[str] = (),
                    inputs: Mapping[str, str | os.PathLike | None] | None = None) -> bool:
    """Create the directory and write args.json; True when an existing run is being resumed.

    `inputs` maps argument names to the input files (or folders) the run reads; their
    fingerprints are recorded in args.json and checked on resume. An existing, non-empty
    directory is refused unless `resume` or `overwrite` (see the module docstring).
    """
    path = Path(path)
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other", path)
    record = {**args, INPUTS_KEY: fingerprints(inputs or {})}
    exists = path.is_dir() and any(path.iterdir())
    if exists and resume:
        _check_same_run(path, record, set(ignore))
        remove_stale_temps(path)
        note_run_folder(path)
        return True
    if exists and not overwrite:
        raise InputError("output directory exists; pass --resume to continue that run or "
                         "--overwrite to replace it", path)
    if exists and not (path / ARGS_FILE).is_file():
        raise InputError(f"refusing to overwrite a directory without {ARGS_FILE} "
                         "(not an experiment directory); remove it yourself", path)
    if path.exists() and not path.is_dir():
        raise InputError("expected a folder for the run, found a file", path)
    with replacing_folder(path) as new:
        json_save_atomic(record, new / ARGS_FILE)
    note_run_folder(path)
    return False


def read_run_args(path: str | Path, why: str) -> dict[str, Any]:
    """The arguments a run recorded in its args.json; InputError ("cannot <why>: ...") if none."""
    args_file = Path(path) / ARGS_FILE
    if not args_file.is_file():
        raise InputError(f"cannot {why}: no {ARGS_FILE} here", path)
    try:
        return json.loads(args_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"cannot {why}: not valid JSON ({err})", args_file) from None


def _check_same_run(path: Path, record: dict[str, Any], ignore: set[str]) -> None:
    saved = read_run_args(path, "resume")
    args_file = path / ARGS_FILE
    current = json.loads(json_text(record))        # same JSON types as the saved copy
    diverged = (path / DIVERGED_FILE).is_file()
    may_change = ignore | set(_FOLDER_ARGS) | {INPUTS_KEY, CHANGES_KEY}
    saved_inputs = saved.get(INPUTS_KEY)
    if saved_inputs is None:                        # a run from before fingerprints were kept
        print(f"note: {args_file} records no input fingerprints; the inputs are not checked",
              file=sys.stderr)
    else:
        may_change |= set(saved_inputs) | set(current[INPUTS_KEY])
    keys = [k for k in sorted(set(saved) | set(current))
            if k not in may_change and saved.get(k) != current.get(k)]
    changed = [k for k in keys if diverged and k in MAY_CHANGE_AFTER_DIVERGENCE]
    differ = [f"--{k} was {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if k not in changed]
    if saved_inputs is not None:
        differ += differences(saved_inputs, current[INPUTS_KEY])
    if differ:
        allowed = " (after a divergence --optim, --clip and --clip_type may change)" if diverged else ""
        raise InputError("cannot resume with different arguments or inputs: " + "; ".join(differ)
                         + f"{allowed}; give the run's own arguments and inputs, or start a new "
                         "run (another --exp_name, or --overwrite, which deletes this one)",
                         args_file)
    if diverged:
        _accept_changes(path, saved, current, changed)


def _accept_changes(path: Path, saved: dict[str, Any], current: dict[str, Any],
                    changed: list[str]) -> None:
    """Resuming a diverged run: record the changed arguments in args.json, clear the mark."""
    if changed:
        divergence = json.loads((path / DIVERGED_FILE).read_text(encoding="utf-8"))
        updated = {**saved, **{k: current[k] for k in changed}}
        updated[CHANGES_KEY] = saved.get(CHANGES_KEY, []) + [
            {"after": divergence.get("message"),
             "changes": {k: {"was": saved.get(k), "now": current[k]} for k in changed}}]
        json_save_atomic(updated, path / ARGS_FILE)
    (path / DIVERGED_FILE).unlink()


def record_divergence(path: Path, message: str) -> None:
    """Mark the run as diverged, so that `--resume` accepts another `--optim`."""
    if (path / ARGS_FILE).is_file():
        try:
            json_save_atomic({"message": message}, path / DIVERGED_FILE)
        except OSError:              # (a full disk) without the mark, only the same --optim resumes
            pass
