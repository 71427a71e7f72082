"""Finding the split files of a task's corpus.

A corpus is a folder holding one file per split, or the split files themselves separated by commas
(`train,dev,test`, or `train,test` when there is no dev file). In a folder, a file belongs to the
split one of whose names is a part of its file name between dots, dashes or underscores, case
ignored (so Universal Dependencies' `en_ewt-ud-train.conllu` is a train file):

    train   train, training                       (train.txt, eng.train, train.gold_conll.gz)
    dev     dev, devel, development, valid, validation, testa   (dev.pos, eng.testa)
    test    test, testb                           (test.txt, eng.testb)

Hidden files and backups (`~`) are ignored; two files for one split are an error. A relative path is
looked for beside the task-set file, in the working folder, in `data/raw/` and in `../shared/data/`
(utils.paths.corpus_candidates). For the `conll2012` format a split may also be a folder tree of
per-document `*gold_conll` files (the CoNLL-2012 release layout `.../data/<split>/data/english/...`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from utils.errors import InputError
from utils.paths import corpus_candidates, display_path

SPLIT_NAMES = {"train": ("train", "training"),
               "dev": ("dev", "devel", "development", "valid", "validation", "testa"),
               "test": ("test", "testb")}
TREE_DEPTH = 3  # how deep below the given folder a split folder of the CoNLL-2012 tree may sit


@dataclass
class CorpusFiles:
    """The files of each split (a split absent: the corpus has none) and where they were found."""

    files: dict[str, list[Path]]
    origin: str                   # the folder as shown, or "given" for files named one by one


def locate(corpus: str | None, files: Mapping[str, str], base_dir: Path,
           conll2012: bool = False) -> CorpusFiles:
    """The split files of a corpus (`corpus`: a folder or comma-separated files) with the splits
    named in `files` ({split: file}) in place of the corpus's own. Train and test must be found."""
    found: dict[str, list[Path]] = {}
    origin = "given"
    if corpus is not None:
        if "," in corpus and not Path(corpus).exists():
            found = _from_list(corpus, base_dir)
        else:
            folder = find_path(corpus, base_dir)
            if not folder.is_dir():
                raise InputError("a corpus is a folder or split files separated by commas "
                                 "(train,dev,test or train,test), not one file", display_path(folder))
            found = _from_folder(folder, conll2012, skip=set(files))
            origin = display_path(folder)
    for split, name in files.items():
        found[split] = _expand(find_path(name, base_dir), conll2012)
    for split in ("train", "test"):
        if split not in found:
            where = display_path(find_path(corpus, base_dir)) if corpus else "files"
            raise InputError(f"missing the {split} split: no file named {_names(split)} "
                             f"(name it one by one with files.{split}, or --train TASK=FILE for "
                             "the train file)", where)
    return CorpusFiles({split: found[split] for split in SPLIT_NAMES if split in found}, origin)


def find_path(given: str, base_dir: Path) -> Path:
    """An existing file or folder: `given` itself when absolute, else the first of
    `corpus_candidates` that exists."""
    path = Path(given)
    if path.is_absolute():
        if not path.exists():
            raise InputError("no such file or folder", given)
        return path
    candidates = corpus_candidates(given, base_dir)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = ", ".join(display_path(c) for c in candidates)
    raise InputError(f"no such file or folder (looked for {looked})", given)


def _names(split: str) -> str:
    return "/".join(f"{name}*" for name in SPLIT_NAMES[split])


def _from_list(given: str, base_dir: Path) -> dict[str, list[Path]]:
    parts = [part for part in given.split(",") if part]
    if len(parts) not in (2, 3):
        raise InputError(f"expected 3 comma-separated files (train,dev,test) or 2 (train,test), "
                         f"found {len(parts)}", given)
    splits = ("train", "dev", "test") if len(parts) == 3 else ("train", "test")
    return {split: [_file(find_path(part, base_dir))] for split, part in zip(splits, parts)}


def _file(path: Path) -> Path:
    if not path.is_file():
        raise InputError("expected a file, found a folder", display_path(path))
    return path


def split_of(name: str) -> str | None:
    """The split a file name belongs to (see the module docstring), or None."""
    parts = set(re.split(r"[._-]", name.lower()))
    splits = [split for split, names in SPLIT_NAMES.items() if parts & set(names)]
    return splits[0] if len(splits) == 1 else None


def _from_folder(folder: Path, conll2012: bool, skip: set[str]) -> dict[str, list[Path]]:
    entries = sorted(p for p in folder.iterdir()
                     if not p.name.startswith(".") and not p.name.endswith("~"))
    found = {}
    for split in SPLIT_NAMES:
        if split in skip:
            continue
        files = [p for p in entries if p.is_file() and split_of(p.name) == split]
        if len(files) > 1:
            raise InputError(f"two files for the {split} split ({', '.join(p.name for p in files)}); "
                             "name them one by one with `files`", display_path(folder))
        if files:
            found[split] = files
        elif conll2012:
            tree = _tree_split(folder, split)
            if tree is not None:
                found[split] = _expand(tree, conll2012)
    return found


def _tree_split(folder: Path, split: str) -> Path | None:
    """The CoNLL-2012 tree: a folder named after the split a few levels down."""
    level = [folder]
    for _ in range(TREE_DEPTH + 1):
        for parent in level:
            for name in SPLIT_NAMES[split]:
                if (parent / name).is_dir():
                    return parent / name
        level = sorted(child for parent in level for child in parent.iterdir() if child.is_dir())
    return None


def _expand(path: Path, conll2012: bool) -> list[Path]:
    """A split file as a one-element list; a split folder as its files (conll2012: its
    *gold_conll files, English ones when there are any)."""
    if path.is_file():
        return [path]
    if not conll2012:
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        files = sorted(p for p in path.rglob("*gold_conll*") if p.is_file()
                       and (p.name.endswith("gold_conll") or p.name.endswith("gold_conll.gz")))
        files = [p for p in files if "english" in p.parts] or files
    if not files:
        kind = "*gold_conll files" if conll2012 else "files"
        raise InputError(f"no {kind} in this folder", display_path(path))
    return files
