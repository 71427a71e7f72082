"""Vocabularies: the word embedding's rows, the characters and the labels, as the original built them.

The original code built its vocabularies with fastNLP 0.5.0 (`Conll2003Pipe` and its own
`prepare-data.py`, `StaticEmbedding(lower=True)`, `CNNCharEmbedding`); the same input gives the
same lists here, in the same order: tests/test_parity_conll03.py checks the rows, characters and
labels against fastNLP and the original's own data preparation on the whole of CoNLL-2003, and
tests/test_vocab.py works small cases by hand. Index 0 is PAD and 1 is UNK for rows and
characters.

- Word types: every token of every split, most frequent first, ties in order of first occurrence
  (train, then dev, then test). "Entry" types are those that may get a row of their own without a
  pretrained vector: the train words (all words in `ptb`, whose original vocabulary had no
  dev/test distinction).
- Embedding rows, one per lower-cased form: PAD, UNK, then every form found in the vectors (in the
  vectors' order), then the forms of entry types without a vector (in word-type order). A
  dev/test-only form without a vector has no row: it maps to UNK. Without vectors, the forms of
  the entry types. `utils.data.datafile.word_row` maps a token to its row.
- Characters: counted over the distinct entry types, each type once however often it occurs in
  the text (the strings `<pad>` and `<unk>` count as types, as in fastNLP); those counted at
  least `MIN_CHAR_FREQ` times, most frequent first. The others map to UNK.
- Labels, one list per task (no PAD or UNK): fastNLP's `Vocabulary` over every split of the task,
  as the original built them (`Vocabulary(padding=None, unknown=None)` fed train, then dev and
  test): most frequent over all splits first, ties in order of first occurrence in that scan.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from utils.data.datafile import PAD, UNK

Sentences = Sequence[Sequence[str]]
MIN_CHAR_FREQ = 2          # fastNLP CNNCharEmbedding's min_char_freq, as the original calls it


def count_tokens(*sentence_sets: Sentences) -> Counter:
    """How often each token occurs in all the given sentence sets (insertion = first occurrence)."""
    counts: Counter = Counter()
    for sentences in sentence_sets:
        for sentence in sentences:
            counts.update(sentence)
    return counts


def word_types(counts: Counter) -> list[str]:
    """Types most frequent first, ties in order of first occurrence (fastNLP's Vocabulary order);
    PAD and UNK left out (they head every list)."""
    return [w for w, _ in counts.most_common() if w not in (PAD, UNK)]


def lower_forms(types: Iterable[str]) -> list[str]:
    """PAD, UNK, then the lower-cased forms of `types`, each once: the forms with more cased
    variants first, ties in order of first occurrence (fastNLP builds a Vocabulary of the forms,
    counting one per variant)."""
    variants = Counter(w.lower() for w in types if w.lower() not in (PAD, UNK))
    return [PAD, UNK] + [form for form, _ in variants.most_common()]


def embedding_rows(types: Sequence[str], entry: set[str],
                   found: Iterable[str] | None) -> list[str]:
    """The form of every embedding row (see the module docstring). `found`: the forms that have a
    pretrained vector, in the vectors' order; None without vectors."""
    forms = lower_forms(types)
    own_row = {PAD, UNK} | {w.lower() for w in entry}
    if found is None:
        return [form for form in forms if form in own_row]
    known = set(forms)
    with_vector = [form for form in found if form in known and form not in (PAD, UNK)]
    has_vector = set(with_vector)
    without = [form for form in forms[2:] if form in own_row and form not in has_vector]
    return [PAD, UNK] + with_vector + without


def build_chars(types: Sequence[str], entry: set[str]) -> list[str]:
    """PAD, UNK, then the characters counted at least MIN_CHAR_FREQ times over the distinct entry
    types (see the module docstring), most frequent first, ties in order of first occurrence."""
    counts: Counter = Counter()
    for word in [PAD, UNK, *types]:
        if word in entry or word in (PAD, UNK):
            counts.update(word)
    return [PAD, UNK] + [c for c, n in counts.most_common() if n >= MIN_CHAR_FREQ]


def build_labels(*splits: Sentences) -> list[str]:
    """One task's labels from its tag sequences of every split, in the order fastNLP's Vocabulary
    read them (train first): most frequent first, ties in order of first occurrence."""
    return [label for label, _ in count_tokens(*splits).most_common()]
