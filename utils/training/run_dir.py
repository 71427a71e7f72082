"""An experiment's output directory: never overwritten by accident, resumable, with args.json,
one writer at a time.

Enter `open_run_dir` only once everything the run needs has been built (data, model, optimizer,
device, masks, start weights, ...): it is the first write of a run, and with `--overwrite` the
moment the old run is replaced. Its block holds the folder's lock (`<run>/.lock`, an OS lock,
utils/locks.py): a second process writing the same run is refused, naming the PID of the first.

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

import errno
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from utils.atomic import json_save_atomic, json_text, remove_stale_temps, replacing_folder
from utils.errors import InputError, note_run_folder
from utils.locks import Lock, take_lock
from utils.training.fingerprint import differences, fingerprints

ARGS_FILE = "args.json"
LOCK_FILE = ".lock"
DIVERGED_FILE = "diverged.json"
INPUTS_KEY = "inputs"
CHANGES_KEY = "changed_on_resume"
FOLDER_INPUTS = ("masks_path", "encoder")   # the inputs that are folders; every other one is a file
RUN_KIND = "run"            # the marker of a run folder (utils/owned.py): --overwrite replaces only those
# Arguments that may differ on --resume after the run diverged (to continue with a lower lr).
MAY_CHANGE_AFTER_DIVERGENCE = ("optim", "clip", "clip_type")
# Arguments that name the run folder itself: the folder found is the run, however it is spelled.
_FOLDER_ARGS = ("save_dir", "exp_name")


def check_run_name(name: str, where: str = "--exp_name") -> str:
    """A run's name is one folder name: not empty, not `.` or `..`, no path separator (any of
    these would put the run outside `<save_dir>/cp/`, or let --overwrite replace another)."""
    if name in ("", ".", "..") or any(sep and sep in name for sep in (os.sep, os.altsep)):
        raise InputError(f"a run name must be one folder name (not empty, not '.' or '..', no "
                         f"'/'), got {name!r}", where)
    return name


@contextmanager
def open_run_dir(path: str | Path, args: dict[str, Any], *, resume: bool, overwrite: bool,
                 ignore: Iterable[str] = (),
                 inputs: Mapping[str, str | os.PathLike | None] | None = None) -> Iterator[bool]:
    """Create (or replace, or take up again) the run folder and write args.json; the block runs
    the training, holding the folder's lock. Yields True when an existing run is being resumed.

    `inputs` maps argument names to the input files (or folders) the run reads; their
    fingerprints are recorded in args.json and checked on resume. An existing, non-empty
    directory is refused unless `resume` or `overwrite` (see the module docstring).
    """
    lock, resumed = _prepare(Path(path), args, resume=resume, overwrite=overwrite,
                             ignore=set(ignore), inputs=inputs or {})
    try:
        yield resumed
    finally:
        lock.release()


def _prepare(path: Path, args: dict[str, Any], *, resume: bool, overwrite: bool, ignore: set[str],
             inputs: Mapping[str, str | os.PathLike | None]) -> tuple[Lock, bool]:
    if resume and overwrite:
        raise InputError("--resume (continue the run) and --overwrite (replace it) exclude "
                         "each other", "--resume")
    if path.exists() and not path.is_dir():
        raise InputError("expected a folder for the run, found a file", path)
    record = {**args, INPUTS_KEY: fingerprints(inputs, folders=FOLDER_INPUTS)}
    exists = path.is_dir() and any(path.iterdir())
    if exists and resume:
        lock = take_lock(path / LOCK_FILE, path)
        try:
            _check_same_run(path, record, ignore)
            remove_stale_temps(path)
        except BaseException:
            lock.release()
            raise
        note_run_folder(path, on_divergence=record_divergence)
        return lock, True
    if exists and not overwrite:
        raise InputError("output directory exists; pass --resume to continue that run or "
                         "--overwrite to replace it", path)
    if exists and not (path / ARGS_FILE).is_file():
        raise InputError(f"refusing to overwrite a directory without {ARGS_FILE} "
                         "(not an experiment directory); remove it yourself", path)
    old_lock = take_lock(path / LOCK_FILE, path) if exists else None   # its writer has ended
    try:
        lock = _new_folder(path, record)
    finally:
        if old_lock is not None:
            old_lock.release()
    note_run_folder(path, on_divergence=record_divergence)
    return lock, False


def _new_folder(path: Path, record: dict[str, Any]) -> Lock:
    """The new run folder with args.json, swapped in whole, its lock taken before it appears."""
    lock = None
    try:
        with replacing_folder(path, RUN_KIND, legacy=_recorded_run) as new:
            json_save_atomic(record, new / ARGS_FILE)
            lock = take_lock(new / LOCK_FILE, path)
    except BaseException as err:
        if lock is not None:
            lock.release()
        if isinstance(err, OSError) and err.errno in (errno.ENOTEMPTY, errno.EEXIST) and path.is_dir():
            raise InputError("another process created this run folder at the same moment",
                             path) from None                  # (its rename came first)
        raise
    return lock


def _recorded_run(path: Path) -> bool:
    """A run folder written before the marker (utils/owned.py) was: its args.json, a JSON object
    with the input fingerprints the tool records."""
    try:
        return INPUTS_KEY in json.loads((path / ARGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def read_run_args(path: str | Path, why: str) -> dict[str, Any]:
    """The arguments a run recorded in its args.json; InputError ("cannot <why>: ...") if none."""
    args_file = Path(path) / ARGS_FILE
    if not args_file.is_file():
        raise InputError(f"cannot {why}: no {ARGS_FILE} here", path)
    try:
        saved = json.loads(args_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"cannot {why}: not valid JSON ({err})", args_file) from None
    if not isinstance(saved, dict):
        raise InputError(f"cannot {why}: expected a JSON object of arguments", args_file)
    return saved


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
