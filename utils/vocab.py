"""Vocabularies: word, character and label lists in a deterministic order.

Order everywhere: most frequent first, ties by name; index 0 is PAD and 1 is UNK for words and
characters (labels have neither). The same input always gives the same lists.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Sequence

from utils.datafile import PAD, UNK

Sentences = Sequence[Sequence[str]]


def count_tokens(*sentence_sets: Sentences) -> Counter:
    """How often each token occurs in all the given sentence sets."""
    counts: Counter = Counter()
    for sentences in sentence_sets:
        for sentence in sentences:
            counts.update(sentence)
    return counts


def by_frequency(counts: Counter) -> list[str]:
    """Keys of `counts`, most frequent first, ties by name."""
    return sorted(counts, key=lambda item: (-counts[item], item))


def build_words(train: Counter, others: Counter | None = None,
                has_vector: Callable[[str], bool] | None = None) -> list[str]:
    """PAD, UNK, then the train words; then, only when `has_vector` is given, the words of
    `others` (dev/test) that are not train words but have a pretrained vector, so that their
    vector is used at test time."""
    words = [PAD, UNK] + [w for w in by_frequency(train) if w not in (PAD, UNK)]
    if others and has_vector is not None:
        extra = Counter({w: n for w, n in others.items() if w not in train and has_vector(w)})
        words += [w for w in by_frequency(extra) if w not in (PAD, UNK)]
    return words


def build_chars(train: Counter) -> list[str]:
    """PAD, UNK, then the characters of the train words (weighted by word frequency)."""
    chars: Counter = Counter()
    for word, count in train.items():
        for char in word:
            chars[char] += count
    return [PAD, UNK] + [c for c in by_frequency(chars) if c not in (PAD, UNK)]


def build_labels(train: Sentences, others: Iterable[Sentences] = ()) -> list[str]:
    """Labels of the train split by frequency, then labels seen only in `others`, by name."""
    counts = count_tokens(train)
    unseen = sorted(set().union(*[count_tokens(s) for s in others]) - set(counts))
    return by_frequency(counts) + unseen
