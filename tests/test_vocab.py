"""Vocabularies: order, PAD/UNK, dev/test words only with a vector, labels from all splits."""
from __future__ import annotations

from collections import Counter

from utils.datafile import PAD, PAD_ID, UNK, UNK_ID
from utils.vocab import build_chars, build_labels, build_words, by_frequency, count_tokens


def test_count_and_order():
    counts = count_tokens([["b", "a", "b"]], [["c", "a", "b"]])
    assert counts == Counter({"b": 3, "a": 2, "c": 1})
    assert by_frequency(Counter({"y": 2, "x": 2, "z": 5})) == ["z", "x", "y"]


def test_words_from_train_only_without_vectors():
    train = count_tokens([["The", "cat", "the", "cat", "cat"]])
    others = count_tokens([["Dog", "cat"]])
    words = build_words(train, others)
    assert words[PAD_ID] == PAD and words[UNK_ID] == UNK
    assert words == [PAD, UNK, "cat", "The", "the"]


def test_dev_test_words_join_only_with_a_vector():
    train = count_tokens([["The", "cat"]])
    others = count_tokens([["Dog", "dog", "Emu", "cat", "Dog"]])
    has_vector = lambda word: word.lower() in {"dog", "the"}
    words = build_words(train, others, has_vector)
    assert words == [PAD, UNK, "The", "cat", "Dog", "dog"]


def test_special_strings_in_the_text_are_not_repeated():
    words = build_words(Counter({"<unk>": 3, "a": 1}))
    assert words == [PAD, UNK, "a"]


def test_chars_from_train_words_weighted_by_frequency():
    chars = build_chars(Counter({"ab": 1, "b": 5, "é": 1}))
    assert chars == [PAD, UNK, "b", "a", "é"]


def test_labels_train_frequency_then_unseen_by_name():
    train = [["O", "B-PER", "O"], ["B-LOC", "O"]]
    dev = [["B-ORG", "O"]]
    test = [["B-MISC"]]
    assert build_labels(train, [dev, test]) == ["O", "B-LOC", "B-PER", "B-MISC", "B-ORG"]
    assert build_labels(train) == ["O", "B-LOC", "B-PER"]
