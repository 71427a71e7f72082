"""Atomic writes: a temp file in the target folder, then a rename, so a crash leaves no half file.

A process killed outright (SIGKILL, power loss) can leave its temp file, `.<name>.<random>.tmp`;
`remove_stale_temps` deletes those when a run folder is taken up again. JSON is written strictly:
a NaN or infinite float becomes null, so every strict JSON parser reads the files.
"""
from __future__ import annotations

import glob
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from utils.errors import os_error_in
from utils.owned import check_ours, mark, swap_leftovers


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode(folder: bool = False) -> int:
    # mkstemp/mkdtemp create files and folders for the owner only; give them the umask's mode.
    return (0o777 if folder else 0o666) & ~current_umask()


TEMP_SUFFIX = ".tmp"


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os_error = os_error_in(err)
        if os_error is not None and os_error.filename is None:   # a failed write names no file
            raise OSError(os_error.errno, os_error.strerror, str(path)) from err
        raise


def torch_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to `path` atomically."""
    # Imported here: the light steps of a plan (reuse checks, tables) import this module, and
    # importing torch would be most of their time (about 1.5 s a process).
    import torch

    _atomic_write(Path(path), lambda handle: torch.save(obj, handle))


def text_save_atomic(text: str, path: str | os.PathLike) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    _atomic_write(Path(path), lambda handle: handle.write(text.encode("utf-8")))


@contextmanager
def replacing_folder(target: str | os.PathLike, kind: str,
                     legacy: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Build the new content of the folder `target` in the folder this yields (beside it, named
    `.<name>.new-<random>`, marked as a `kind` folder of the tool, utils/owned.py). When the block
    ends normally the new folder takes the place of `target` and what was there is deleted; when
    it fails, the new folder is deleted and `target` is left as it was. At no moment is `target`
    half old and half new. A `target` that is not empty must carry the marker of `kind` (or pass
    `legacy`, for folders written before the marker was): another is refused, never deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    check_ours(target, kind, f"a {kind} folder", legacy)
    _remove_leftovers(target, kind)
    new = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        os.chmod(new, _default_mode(folder=True))
        mark(new, kind)
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    mark(old, _OLD_HALF)
    os.replace(target, old / target.name)
    os.replace(new, target)
    shutil.rmtree(old)


_OLD_HALF = "swap-old"     # the marker of the folder that holds the replaced one until deleted


def _remove_leftovers(target: Path, kind: str) -> None:
    """The halves of an earlier swap of `target` that was killed: a new folder never swapped in,
    and an old one whose replacement is in place; each found by its exact name and its marker
    (utils/owned.py). An old folder whose replacement is not (killed between the two renames) is
    the only copy of that run: it is kept."""
    for leftover in swap_leftovers(target, "new", kind):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists():
        for leftover in swap_leftovers(target, "old", _OLD_HALF):
            shutil.rmtree(leftover, ignore_errors=True)


def remove_stale_temps(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Delete the temp files of atomic writes that never finished (the writer was killed): all
    of them in `folder`, or those of the file named `target` only. Call it only while holding
    the lock that every writer of those files takes (utils/locks.py). Returns what was deleted."""
    pattern = f".{glob.escape(target)}.*{TEMP_SUFFIX}" if target else f".*{TEMP_SUFFIX}"
    stale = [p for p in Path(folder).glob(pattern) if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {key: _finite_or_none(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(value) for value in obj]
    return obj


def json_text(obj: Any, indent: int | None = None) -> str:
    """Strict JSON (NaN and infinities written as null)."""
    return json.dumps(_finite_or_none(obj), indent=indent, allow_nan=False)


def json_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    text_save_atomic(json_text(obj, indent=2) + "\n", path)


def append_jsonl(obj: Any, path: str | os.PathLike) -> None:
    """Append one JSON line. A partial last line (a write cut short by a kill or a full disk;
    readers skip it) is removed first, so that it never ends up between complete lines."""
    with open(path, "a+b") as handle:
        _drop_partial_line(handle)
        handle.write((json_text(obj) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _drop_partial_line(handle) -> None:
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return
    start = max(0, size - (1 << 20))                 # a line is far shorter than 1 MiB
    handle.seek(start)
    tail = handle.read()
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    handle.truncate(start + cut + 1 if cut >= 0 else start)


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a JSON-lines file, ignoring a truncated last line left by a crash."""
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return rows
