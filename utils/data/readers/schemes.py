"""Bringing a tag column that was read from a corpus into the scheme the data file uses.

Chunk and NER columns may come as IOB1 (an I-X may start a chunk, as in the original CoNLL-2003
release), IOB2/BIO or BIOES; the input scheme is recognised per column (E-/S- tags mean BIOES,
an I-X starting a chunk means IOB1), every sentence is checked, and the tags are converted.
A tag that breaks the scheme is reported with its file and line.
"""
from __future__ import annotations

from typing import Callable, Sequence

from utils.data.readers.sentences import TaggedSentences
from utils.data.tagschemes import (TagSchemeError, bio_to_bioes, bioes_to_bio, check_tags,
                                   iob1_to_bio, looks_like_iob1)
from utils.errors import InputError

Tags = list[list[str]]


def tags_in_scheme(sentences: TaggedSentences, column: str, scheme: str,
                   tags: Tags | None = None) -> tuple[Tags, list[str]]:
    """The tags of `column` (or the given `tags`, aligned with `sentences`) in `scheme`
    ("plain", "bio" or "bioes"), and notes saying what was converted."""
    tags = sentences.tags[column] if tags is None else tags
    if scheme == "plain":
        check_all(sentences, tags, "plain")
        return tags, []
    source = "bioes" if any(tag[:2] in ("E-", "S-") for sent in tags for tag in sent) else "bio"
    check_all(sentences, tags, source)
    files = ", ".join(sentences.files)
    notes = []
    if source == "bio" and any(map(looks_like_iob1, tags)):
        tags = convert_all(sentences, tags, iob1_to_bio)
        notes.append(f"{column}: IOB1 -> BIO2 converted ({files})")
    if source == "bio" and scheme == "bioes":
        tags = convert_all(sentences, tags, bio_to_bioes)
        notes.append(f"{column}: BIO2 -> BIOES")
    elif source == "bioes" and scheme == "bio":
        tags = convert_all(sentences, tags, bioes_to_bio)
        notes.append(f"{column}: BIOES -> BIO2")
    check_all(sentences, tags, scheme)
    return tags, notes


def check_all(sentences: TaggedSentences, tags: Tags, scheme: str) -> None:
    """check_tags on every sentence; the first violation becomes an InputError at its line."""
    for index, sentence_tags in enumerate(tags):
        try:
            check_tags(sentence_tags, scheme)
        except TagSchemeError as err:
            raise_at(sentences, index, err.index, f"{err.message} ({scheme} scheme)")


def convert_all(sentences: TaggedSentences, tags: Tags,
                convert: Callable[[Sequence[str]], list[str]]) -> Tags:
    out = []
    for index, sentence_tags in enumerate(tags):
        try:
            out.append(convert(sentence_tags))
        except TagSchemeError as err:
            raise_at(sentences, index, err.index, err.message)
    return out


def raise_at(sentences: TaggedSentences, sentence: int, token: int, message: str) -> None:
    """Raise an InputError at the line of `token` in `sentence`."""
    path, line = sentences.where(sentence, token)
    raise InputError(message, path, line)
