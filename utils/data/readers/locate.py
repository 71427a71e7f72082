"""Finding the split files of a corpus from what the user gave (or did not give).

A corpus path is either a folder holding the split files under their usual names, or the split
files themselves separated by commas, in split order (e.g. `train.txt,dev.txt,test.txt`). With no
path, the corpus folder is looked for in `data/raw/<corpus>/` and then `../shared/data/<corpus>/`.
For OntoNotes a split may also be a folder tree of per-document `*gold_conll` files (the CoNLL-2012
release layout `.../data/<split>/data/english/annotations/...`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.errors import InputError
from utils.paths import corpus_candidates, display_path, find_corpus_dir

# Usual file names of each split, by corpus folder name; the first one found is used.
SPLIT_FILES = {
    "conll03": {"train": ("train.txt", "eng.train", "train"),
                "dev": ("dev.txt", "valid.txt", "eng.testa", "testa.txt", "dev"),
                "test": ("test.txt", "eng.testb", "testb.txt", "test")},
    "wsj_ptb": {"train": ("train.pos", "train.txt"), "dev": ("dev.pos", "dev.txt"),
                "test": ("test.pos", "test.txt")},
    "conll2000": {"train": ("train.txt", "train"), "test": ("test.txt", "test")},
    "ontonotes": {"train": ("train.gold_conll.gz", "train.gold_conll", "train"),
                  "dev": ("development.gold_conll.gz", "development.gold_conll",
                          "dev.gold_conll.gz", "dev.gold_conll", "development", "dev"),
                  "test": ("test.gold_conll.gz", "test.gold_conll", "test")},
}
TREE_DEPTH = 3  # how deep below the given folder a split folder of the OntoNotes tree may sit


@dataclass
class CorpusFiles:
    """The files of each split and where they were found ("given" or the default folder)."""

    files: dict[str, list[Path]]
    origin: str


def locate(corpus: str, given: str | None, splits: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> CorpusFiles:
    """Files per split of `corpus` (a key of SPLIT_FILES). Splits in `optional` may be missing."""
    if given is None:
        folder = find_corpus_dir(corpus)
        if folder is None:
            looked = " and ".join(display_path(p) + "/" for p in corpus_candidates(corpus))
            raise InputError(f"no {corpus} corpus given and none found in {looked}; pass its path")
        return CorpusFiles(_from_folder(corpus, folder, splits, optional), display_path(folder))
    path = Path(given)
    if "," in given and not path.exists():
        return CorpusFiles(_from_list(corpus, given, splits), "given")
    if path.is_dir():
        return CorpusFiles(_from_folder(corpus, path, splits, optional), "given")
    if path.is_file():
        raise InputError(f"a {corpus} path is a folder or {len(splits)} comma-separated files "
                         f"({','.join(splits)}), not one file", given)
    raise InputError("no such file or folder", given)


def _from_list(corpus: str, given: str, splits: tuple[str, ...]) -> dict[str, list[Path]]:
    parts = [part for part in given.split(",") if part]
    if len(parts) != len(splits):
        raise InputError(f"expected {len(splits)} comma-separated {corpus} files "
                         f"({','.join(splits)}), found {len(parts)}", given)
    files = {}
    for split, part in zip(splits, parts):
        path = Path(part)
        if not path.exists():
            raise InputError(f"{split} file not found", part)
        files[split] = _expand(corpus, path)
    return files


def _from_folder(corpus: str, folder: Path, splits: tuple[str, ...],
                 optional: tuple[str, ...]) -> dict[str, list[Path]]:
    files = {}
    for split in splits:
        found = _find_split(corpus, folder, split)
        if found is not None:
            files[split] = _expand(corpus, found)
        elif split not in optional:
            names = ", ".join(SPLIT_FILES[corpus][split])
            raise InputError(f"missing the {split} split: none of {names} is there",
                             display_path(folder))
    return files


def _find_split(corpus: str, folder: Path, split: str) -> Path | None:
    names = SPLIT_FILES[corpus][split]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    if corpus != "ontonotes":
        return None
    # The CoNLL-2012 tree: look a few levels down for a folder named after the split.
    level = [folder]
    for _ in range(TREE_DEPTH + 1):
        for parent in level:
            for name in names:
                if (parent / name).is_dir():
                    return parent / name
        level = sorted(child for parent in level for child in parent.iterdir() if child.is_dir())
    return None


def _expand(corpus: str, path: Path) -> list[Path]:
    """A split file as a one-element list; an OntoNotes split folder as its gold_conll files."""
    if path.is_file():
        return [path]
    if corpus != "ontonotes":
        raise InputError("expected a file, found a folder", display_path(path))
    files = sorted(p for p in path.rglob("*gold_conll*") if p.is_file()
                   and (p.name.endswith("gold_conll") or p.name.endswith("gold_conll.gz")))
    english = [p for p in files if "english" in p.parts]
    files = english or files
    if not files:
        raise InputError("no *gold_conll files in this folder", display_path(path))
    return files
