"""Bringing a tag column that was read from a corpus into the scheme the data file uses.

The task-set file declares how a column is written (`utils.data.taskset`, key `scheme`):

    plain     one tag per token, checked to be non-empty
    iob1      I-X may start a chunk, B-X only separates two adjacent chunks of one type
    bio       IOB2: every chunk starts with B-X (an I-X starting one is refused: that is IOB1)
    bioes     B-X (I-X)* E-X, or S-X for a one-token chunk
    detect    one of iob1, bio and bioes, recognised from the tags (E-/S- tags mean BIOES, an
              I-X starting a chunk means IOB1); for corpora that come either way
    brackets  OntoNotes named-entity brackets: (TYPE* ... *), (TYPE)
    parse     CoNLL-2012 parse bits: the chunks are derived with the POS tags
              (utils.data.parse_chunks)

Every sentence is checked and converted to the train scheme (plain, bio or bioes); the first tag
that breaks the declared scheme is an InputError at its file and line. Notes say what was
converted.
"""
from __future__ import annotations

from typing import Callable, Sequence

from utils.data.parse_chunks import ParseBitError, chunks_from_parse
from utils.data.readers.ontonotes import BracketError, brackets_to_bioes
from utils.data.readers.sentences import TaggedSentences
from utils.data.tagschemes import (TagSchemeError, bio_to_bioes, bioes_to_bio, check_tags,
                                   iob1_start, iob1_to_bio, looks_like_iob1,
                                   split_tag)
from utils.errors import InputError

Tags = list[list[str]]
NO_PARSE_TAGS = {"XX", "VERB"}  # the only POS tags of OntoNotes v12 sentences without a gold tree


def tags_in_scheme(sentences: TaggedSentences, column: str, scheme: str,
                   tags: Tags | None = None, declared: str = "detect") -> tuple[Tags, list[str]]:
    """The tags of `column` (or the given `tags`, aligned with `sentences`), written in the
    `declared` scheme, converted to `scheme` ("plain", "bio" or "bioes"), and notes saying what
    was converted."""
    tags = sentences.tags[column] if tags is None else tags
    if scheme == "plain":
        check_all(sentences, tags, "plain")
        return tags, []
    source = declared
    if declared == "detect":
        source = "bioes" if any(tag[:2] in ("E-", "S-") for sent in tags for tag in sent) else "bio"
        check_all(sentences, tags, source)
        if source == "bio" and any(map(looks_like_iob1, tags)):
            source = "iob1"
    elif declared == "bio":
        check_all(sentences, tags, "bio")
        check_no_iob1(sentences, tags)
    else:
        check_all(sentences, tags, "bio" if declared == "iob1" else declared)
    notes = []
    if source == "iob1":
        tags = convert_all(sentences, tags, iob1_to_bio)
        notes.append(f"{column}: IOB1 -> BIO2 converted ({', '.join(sentences.files)})")
        source = "bio"
    if source == "bio" and scheme == "bioes":
        tags = convert_all(sentences, tags, bio_to_bioes)
        notes.append(f"{column}: BIO2 -> BIOES")
    elif source == "bioes" and scheme == "bio":
        tags = convert_all(sentences, tags, bioes_to_bio)
        notes.append(f"{column}: BIOES -> BIO2")
    check_all(sentences, tags, scheme)
    return tags, notes


def derived_tags(sentences: TaggedSentences, name: str, declared: str, scheme: str,
                 column: str, pos_column: str | None = None) -> tuple[Tags, list[str]]:
    """Tags of the schemes that are converted, not just checked: `brackets` (named-entity
    brackets -> BIOES) and `parse` (chunks from parse bits and POS tags -> BIO2); then in
    `scheme`. Other schemes: `tags_in_scheme`."""
    if declared == "brackets":
        tags = _per_sentence(sentences, brackets_to_bioes, sentences.tags[column], BracketError)
        converted, notes = tags_in_scheme(sentences, name, scheme, tags, declared="bioes")
        return converted, [f"{name}: OntoNotes brackets -> BIOES"] + notes
    if declared == "parse":
        pos, bits = sentences.tags[pos_column], sentences.tags[column]
        tags = _per_sentence(sentences, chunks_from_parse, pos, ParseBitError, bits)
        converted, notes = tags_in_scheme(sentences, name, scheme, tags, declared="bio")
        return converted, [f"{name}: derived from the parse bits (utils/data/parse_chunks.py), "
                           "BIO2"] + notes
    return tags_in_scheme(sentences, name, scheme, sentences.tags[column], declared)


def unparsed_sentences(sentences: TaggedSentences, pos_column: str) -> int:
    """Sentences whose POS tags are all XX/VERB: OntoNotes v12 sentences without a gold tree."""
    return sum(all(tag in NO_PARSE_TAGS for tag in tags) for tags in sentences.tags[pos_column])


def _per_sentence(sentences: TaggedSentences, convert: Callable, cells: Tags,
                  error: type[Exception], *more: Tags) -> Tags:
    out = []
    for index, row in enumerate(cells):
        try:
            out.append(convert(row, *(column[index] for column in more)))
        except error as err:
            raise_at(sentences, index, err.index, str(err))
    return out


def check_all(sentences: TaggedSentences, tags: Tags, scheme: str) -> None:
    """check_tags on every sentence; the first violation becomes an InputError at its line."""
    for index, sentence_tags in enumerate(tags):
        try:
            check_tags(sentence_tags, scheme)
        except TagSchemeError as err:
            raise_at(sentences, index, err.index, f"{err.message} ({scheme} scheme)")


def check_no_iob1(sentences: TaggedSentences, tags: Tags) -> None:
    """IOB2 (declared "bio"): an I-X may not start a chunk."""
    for index, sentence_tags in enumerate(tags):
        position = iob1_start(sentence_tags)
        if position is not None:
            _, chunk = split_tag(sentence_tags[position])
            raise_at(sentences, index, position,
                     f"tag {sentence_tags[position]!r} starts a chunk, which IOB2 (bio) writes "
                     f"B-{chunk}; declare scheme = \"iob1\" if the corpus is written that way")


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
