"""Atomic writes: a temp file in the target folder, then a rename, so a crash leaves no half file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; give them the usual umask-based mode.
    return 0o666 & ~current_umask()


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def torch_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to `path` atomically."""
    _atomic_write(Path(path), lambda handle: torch.save(obj, handle))


def text_save_atomic(text: str, path: str | os.PathLike) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    _atomic_write(Path(path), lambda handle: handle.write(text.encode("utf-8")))


def json_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    text_save_atomic(json.dumps(obj, indent=2, sort_keys=False) + "\n", path)


def append_jsonl(obj: Any, path: str | os.PathLike) -> None:
    """Append one JSON line (a line is small; a partial last line is skipped by readers)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(obj) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


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
