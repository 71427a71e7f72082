"""Only what the tool made is ever deleted or replaced.

Every folder the tool builds to be replaced later (a run folder, the placed masks, analyze.py's
report, the halves of a folder swap) carries a marker file, `.sparse-sharing`, holding what kind
of folder it is ("run", "masks", "report", ...). Before the tool deletes or replaces a folder it
checks the marker (`check_ours`); a folder without it (a user's own, or one written by a version
from before the marker) is refused, never deleted. Leftovers of a killed swap are found by their
exact names (`.NAME.new-XXXXXXXX`, `.NAME.old-XXXXXXXX`, the name escaped) and their marker, so a
run called `lr[0.1]` never takes `.lr1.old-...`, another run's only copy, for its own.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from utils.errors import InputError

MARKER = ".sparse-sharing"
# tempfile.mkdtemp's names: its prefix, then 8 characters of this alphabet.
_RANDOM = r"[a-z0-9_]{8}"


def mark(folder: str | os.PathLike, kind: str) -> None:
    """Write the marker that says `folder` is a folder of this `kind` that the tool made."""
    (Path(folder) / MARKER).write_text(kind + "\n", encoding="utf-8")


def is_ours(folder: str | os.PathLike, kind: str) -> bool:
    """Whether `folder` is a real folder (not a link) carrying the marker of `kind`."""
    folder, marker = Path(folder), Path(folder) / MARKER
    if folder.is_symlink() or not folder.is_dir() or marker.is_symlink() or not marker.is_file():
        return False
    try:
        return marker.read_text(encoding="utf-8", errors="replace")[:100].strip() == kind
    except OSError:
        return False


def check_ours(folder: str | os.PathLike, kind: str, what: str,
               legacy: Callable[[Path], bool] | None = None) -> None:
    """Nothing, when `folder` is absent, empty, or ours (its marker, or `legacy(folder)` for a
    folder written before the marker was); else InputError: it is not deleted."""
    folder = Path(folder)
    if not os.path.lexists(folder):
        return
    if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
        return
    if is_ours(folder, kind) or (legacy is not None and folder.is_dir() and legacy(folder)):
        return
    raise InputError(f"refusing to replace it: not {what} made by this tool (no {MARKER} marker "
                     f"of a {kind} folder); remove it yourself or choose another", folder)


def swap_leftovers(target: str | os.PathLike, half: str, kind: str) -> list[Path]:
    """The leftovers of a killed swap of `target` beside it: the folders named exactly
    `.<name>.<half>-XXXXXXXX` (`half`: "new" or "old") that carry the marker of `kind`."""
    target = Path(target)
    name = re.compile(re.escape(f".{target.name}.{half}-") + _RANDOM)
    if not target.parent.is_dir():
        return []
    return [entry for entry in sorted(target.parent.iterdir())
            if name.fullmatch(entry.name) and is_ours(entry, kind)]
