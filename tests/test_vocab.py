"""Vocabularies: the embedding rows (one per lower-cased form), characters, labels, word_row.

Hand-made cases with the answers worked out from fastNLP 0.5.0's rules (Vocabulary,
StaticEmbedding(lower=True), CNNCharEmbedding); tests/test_parity_conll03.py checks the same
functions against fastNLP and the original's data preparation on the whole of CoNLL-2003.
"""
from __future__ import annotations

from collections import Counter

from utils.data.datafile import PAD, PAD_ID, UNK, UNK_ID, index_of, word_row
from utils.data.vocab import (build_chars, build_labels, count_tokens, embedding_rows,
                              lower_forms, word_types)


def test_count_and_order():
    counts = count_tokens([["b", "a", "b"]], [["c", "a", "b"]])
    assert counts == Counter({"b": 3, "a": 2, "c": 1})
    # fastNLP's order: most frequent first, ties in order of first occurrence (not by name)
    assert word_types(count_tokens([["y", "x", "<unk>", "z", "z"]])) == ["z", "y", "x"]


def test_forms_with_more_cased_variants_come_first():
    # "cat" has one variant, "the" three: fastNLP counts one per variant when it lowers
    assert lower_forms(["cat", "The", "the", "THE", "Dog"]) == [PAD, UNK, "the", "cat", "dog"]


def test_rows_without_vectors_are_the_train_forms():
    types = word_types(count_tokens([["The", "cat", "the", "cat", "cat"]], [["Dog", "cat"]]))
    rows = embedding_rows(types, entry={"The", "cat", "the"}, found=None)
    assert rows == [PAD, UNK, "the", "cat"]            # "dog" is only in dev/test: UNK


def test_rows_with_vectors():
    train = [["The", "cat", "Emu"]]
    dev = [["dog", "Dog", "yak", "the"]]
    types = word_types(count_tokens(train, dev))
    found = ["yak", "the", "dog", "zebra"]             # the vectors' order; zebra is not a form
    rows = embedding_rows(types, entry={"The", "cat", "Emu"}, found=found)
    # PAD, UNK, every form with a vector in the vectors' order (dev/test forms too), then the
    # train forms without one; "yak" and "dog" come from dev only, yet have vectors
    assert rows == [PAD, UNK, "yak", "the", "dog", "cat", "emu"]


def test_word_row_is_the_lower_cased_form_or_unk():
    rows = index_of([PAD, UNK, "the", "cat"])
    assert [word_row(w, rows) for w in ["The", "THE", "cat", "Cat", "emu", "<PAD>"]] == \
        [2, 2, 3, 3, UNK_ID, PAD_ID]


def test_chars_count_each_entry_type_once_and_need_two():
    # Types: "aa" (a twice), "ab", "b" as train words, "zz" only in dev. The strings <pad> and
    # <unk> count as types too, as in fastNLP: "<", ">" (2 each), "p", "a", "d", "u", "n", "k".
    types = word_types(count_tokens([["aa", "ab", "b", "b", "b"]], [["zz"]]))
    chars = build_chars(types, entry={"aa", "ab", "b"})
    # a: 1 (<pad>) + 2 (aa) + 1 (ab) = 4; b: 2; <: 2; >: 2; every other char once -> UNK
    assert chars == [PAD, UNK, "a", "<", ">", "b"]


def test_labels_counted_over_every_split_ties_by_first_occurrence():
    """fastNLP's Vocabulary as the original fed it (train, then dev, then test): frequency over
    all three, ties in order of first occurrence, not by name and not by train frequency alone."""
    train = [["O", "B-PER", "O"], ["B-LOC", "O"]]
    dev = [["B-ORG", "O", "B-LOC"]]
    test = [["B-MISC", "B-ORG"]]
    # O 4; B-LOC 2 and B-ORG 2 (B-LOC seen first); B-PER 1 and B-MISC 1 (B-PER seen first)
    assert build_labels(train, dev, test) == ["O", "B-LOC", "B-ORG", "B-PER", "B-MISC"]
    assert build_labels(train) == ["O", "B-PER", "B-LOC"]          # a tie: first seen first
    assert build_labels(test, dev, train)[:3] == ["O", "B-ORG", "B-LOC"]  # the scan order decides
