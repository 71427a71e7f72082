"""Where things live: the repository root and the places a corpus is looked for.

A relative corpus path is looked for beside the task-set file that names it, in the working
folder, in `data/raw/` (inside the repository, git-ignored) and in `../shared/data/` (beside the
repository).
"""
from __future__ import annotations

import os
from pathlib import Path

from utils.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_DATA_DIR = REPO_ROOT / "data" / "raw"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def corpus_candidates(given: str, base_dir: Path | None = None) -> list[Path]:
    """Where a relative corpus path is looked for, in order: beside the task-set file
    (`base_dir`), in the working folder, in `data/raw/` and in `../shared/data/`."""
    places = ([base_dir] if base_dir is not None else []) + [Path.cwd(), RAW_DATA_DIR, SHARED_DATA_DIR]
    return list(dict.fromkeys(place / given for place in places))


def display_path(path: str | os.PathLike) -> str:
    """A path as written in messages and provenance: relative to the repository root when it is
    inside the repository or beside it (`../shared/data/...`), else as it is; `-` (standard
    input) is "stdin"."""
    if str(path) == "-":
        return "stdin"
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    resolved = path.resolve()
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "..")):
        try:
            relative = resolved.relative_to(base)
        except ValueError:
            continue
        return str(Path(prefix) / relative) if prefix else str(relative)
    return str(path)


def check_path_kind(path: str | os.PathLike, kind: str, shown: object = None,
                    must_exist: bool = True, noun: str | None = None) -> Path:
    """`path`, when it is the `kind` of thing an option names ("file" or "folder"); else
    InputError, naming `shown` (default the path; e.g. "--output"): "<noun> not found" (when
    `must_exist`), or "expected a <noun>, found a folder" (or file). `noun` says what the thing
    is ("data file"; default `kind`). A file option checked here never reads a whole folder."""
    path = Path(path)
    where = path if shown is None else shown
    noun = noun or kind
    if not path.exists():
        if must_exist:
            raise InputError(f"{noun} not found", where)
        return path
    if (kind == "file") == path.is_dir():
        other = "folder" if kind == "file" else "file"
        raise InputError(f"expected {'an' if noun[0] in 'aeiou' else 'a'} {noun}, found a {other}",
                         where)
    return path
