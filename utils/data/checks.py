"""Checks that catch a wasted run before it starts, on the words and tags prepare-data.py read.

Errors, where a task cannot be meant as it is read (InputError, nothing written):
- a task whose train split has one label: there is nothing to learn;
- a word column holding only `_`, or the word IDs 1, 2, ... of every sentence (CoNLL-U's ID
  column: columns counted from 1 instead of 0).
Warnings, where it can be meant but rarely is (printed by prepare-data.py, kept in the data
file's provenance under `warnings`):
- a word column where most values are numbers or `_`, or with a tiny vocabulary;
- a tag column where most values are `_`, or the label `_` at all (CoNLL-U's empty value: the
  multiword-token lines of a CoNLL-U file read as columns carry it);
- dev or test labels never seen in train (the model cannot predict them);
- a task with under a tenth of the train tokens of the largest (the original's schedules give
  it that share of the batches: see `--trainer temperature` and `loss_weight`).

`chance_levels` gives each task's dev score at chance (kept in the provenance as `chance_dev`):
token accuracy of always predicting train's most frequent label, and 0 for span F1; the mask
choice names a task that never rose above it (utils.subnetworks.mask_select).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Sequence

from utils.errors import InputError

EMPTY = "_"                 # CoNLL-U's empty value
MOSTLY = 0.5                # "most values"
TINY_VOCABULARY = 20        # distinct words of a train split of at least MIN_TOKENS tokens
MIN_TOKENS = 1000
SMALL_SHARE = 0.1           # a task under this share of the largest task's train tokens
_NUMBER = re.compile(r"^[0-9]+([.,-][0-9]+)*$")


def check_tasks(words: Mapping[str, Mapping[str, list[list[str]]]],
                tags: Mapping[str, Mapping[str, list[list[str]]]],
                where: Mapping[str, str]) -> list[str]:
    """The warnings of every task ({task: {split: sentences}}); InputError for the first error.
    `where[task]` says how the task is written (e.g. "tasks[1] in my.toml"), for the messages."""
    warnings = []
    for task in words:
        warnings += _word_column(task, words[task]["train"], where[task])
        warnings += _tag_column(task, tags[task], where[task])
    warnings += _small_tasks({t: sum(map(len, words[t]["train"])) for t in words})
    return warnings


def _word_column(task: str, sentences: Sequence[Sequence[str]], where: str) -> list[str]:
    flat = [w for sentence in sentences for w in sentence]
    if not flat:
        return []
    if all(w == EMPTY for w in flat):
        raise InputError(f"every word of task {task!r} is '_' (an empty CoNLL-U column): "
                         "word_column names the wrong column", where)
    if all(list(s) == [str(i) for i in range(1, len(s) + 1)] for s in sentences):
        raise InputError(f"the words of task {task!r} are 1, 2, 3, ... in every sentence (CoNLL-U's "
                         "ID column): columns are counted from 0, or use format = \"conllu\"", where)
    warnings = []
    numbers = sum(1 for w in flat if _NUMBER.match(w)) / len(flat)
    empty = flat.count(EMPTY) / len(flat)
    for share, what in ((numbers, "numbers"), (empty, "'_'")):
        if share >= MOSTLY:
            warnings.append(f"{task}: {100 * share:.0f}% of its train words are {what}: is "
                            f"word_column right (0-based)? ({where})")
    types = len({w.lower() for w in flat})
    if len(flat) >= MIN_TOKENS and types < TINY_VOCABULARY:
        warnings.append(f"{task}: its {len(flat):,} train words have {types} distinct forms: is "
                        f"word_column right (0-based)? ({where})")
    return warnings


def _tag_column(task: str, splits: Mapping[str, list[list[str]]], where: str) -> list[str]:
    train = Counter(tag for sentence in splits["train"] for tag in sentence)
    if len(train) == 1:
        raise InputError(f"task {task!r} has one label in its train split ({next(iter(train))!r}): "
                         "nothing to learn; is tag_column right (0-based)?", where)
    warnings = []
    total = sum(train.values())
    if train[EMPTY]:
        share = train[EMPTY] / total
        most = "most of its train tags are" if share >= MOSTLY else \
            f"{train[EMPTY]:,} train tags ({100 * share:.1f}%) are"
        warnings.append(f"{task}: {most} '_' (CoNLL-U's empty value; a CoNLL-U file read as "
                        f"columns gives it to its multiword-token lines) ({where})")
    for split in ("dev", "test"):
        unseen = Counter(tag for sentence in splits.get(split, []) for tag in sentence
                         if tag not in train)
        if unseen:
            names = ", ".join(f"{tag!r}" for tag, _ in unseen.most_common(5))
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            warnings.append(f"{task}: {sum(unseen.values()):,} {split} tokens have labels never seen "
                            f"in train, which the model cannot predict: {names}{more}")
    return warnings


def _small_tasks(train_tokens: Mapping[str, int]) -> list[str]:
    largest = max(train_tokens, key=train_tokens.get, default=None)
    if largest is None or len(train_tokens) < 2:
        return []
    return [f"{task}: {tokens:,} train tokens, {100 * tokens / train_tokens[largest]:.1f}% of "
            f"{largest}'s {train_tokens[largest]:,}: the original's schedules give it about that "
            "share of the batches (see --trainer temperature and loss_weight in docs/own-tasks.md)"
            for task, tokens in train_tokens.items()
            if tokens < SMALL_SHARE * train_tokens[largest]]


def chance_levels(tags: Mapping[str, Mapping[str, list[list[str]]]],
                  metrics: Mapping[str, str]) -> dict[str, float]:
    """{task: dev score (%) at chance}: for accuracy, always predicting train's most frequent
    label; for span F1, 0."""
    levels = {}
    for task, splits in tags.items():
        if metrics[task] != "accuracy":
            levels[task] = 0.0
            continue
        majority = Counter(t for s in splits["train"] for t in s).most_common(1)[0][0]
        dev = [t for s in splits["dev"] for t in s]
        levels[task] = 100.0 * dev.count(majority) / len(dev) if dev else 0.0
    return levels
