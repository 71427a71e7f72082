"""Where things live: the repository root and the places a corpus is looked for.

A corpus not named on the command line is looked for first in `data/raw/<corpus>/` (inside the
repository, git-ignored) and then in `../shared/data/<corpus>/` (beside the repository).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_DATA_DIR = REPO_ROOT / "data" / "raw"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def corpus_candidates(corpus: str) -> list[Path]:
    """The folders searched, in order, for a corpus that was not named by the user."""
    return [RAW_DATA_DIR / corpus, SHARED_DATA_DIR / corpus]


def find_corpus_dir(corpus: str) -> Path | None:
    """The first existing folder of `corpus_candidates`, or None."""
    for folder in corpus_candidates(corpus):
        if folder.is_dir():
            return folder
    return None


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
