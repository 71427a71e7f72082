"""The task sets the tests use: the built-in settings with the corpora a test wrote, and small
task-set files written by a test."""
from __future__ import annotations

from pathlib import Path

from utils.data.taskset import (TaskSet, builtin_path, load_task_set, with_chunk_check,
                                with_corpus, with_seed, with_train_file)


def builtin_task_set(name: str, corpus: dict[str, str] | None = None,
                     train: dict[str, str] | None = None, seed: int | None = None,
                     chunk_check: str | None = None) -> TaskSet:
    """settings/<name>.toml with the command line's changes (prepare-data.py's --corpus, --train,
    --seed, --chunk-check)."""
    task_set = with_train_file(with_corpus(load_task_set(builtin_path(name)), corpus or {}),
                               train or {})
    if chunk_check is not None:
        task_set = with_chunk_check(task_set, chunk_check)
    return with_seed(task_set, seed)


def write_task_set(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
