"""CoNLL-U (the Universal Dependencies format): ten tab-separated columns, `#` comment lines before
each sentence, a blank line after it.

The token sequence is the sentence's syntactic words, the units UD annotates and scores: a
multiword-token range line (`3-4  don't  _ ...`) gives only the surface form of words 3 and 4,
which follow on their own lines, and an empty node (`8.1`, enhanced dependencies only) is not in
the basic tree; both are left out. Columns are named as the format names them (`form`, `upos`,
`xpos`, `deprel`, ...); `feats:Case` is one feature of the `feats` column (`_` where a word has
none). The `# sent_id = ...` of every sentence is kept (None where a sentence has none).
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Mapping

from utils.data.readers.sentences import TaggedSentences
from utils.data.readers.text import iter_lines
from utils.errors import InputError
from utils.paths import display_path

COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
FEATURE_PREFIX = "feats:"
EXPECTED = f"a CoNLL-U column name ({', '.join(COLUMNS[1:])}, or one feature as \"feats:Case\")"
_WORD_ID = re.compile(r"^[1-9][0-9]*$")
_RANGE_ID = re.compile(r"^[1-9][0-9]*-[1-9][0-9]*$")
_EMPTY_ID = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_SENT_ID = re.compile(r"^#\s*sent_id\s*=\s*(.*?)\s*$")


def column_error(name: str) -> str | None:
    """Why `name` is not a CoNLL-U column for words or tags (None: it is one)."""
    if name.startswith(FEATURE_PREFIX) and len(name) > len(FEATURE_PREFIX):
        return None
    if name in COLUMNS[1:]:
        return None
    return f"expected {EXPECTED}, got {name!r}"


def read_conllu_file(path: str | os.PathLike, columns: Mapping[str, str], word_column: str = "form",
                     into: TaggedSentences | None = None,
                     encoding: str = "utf-8") -> TaggedSentences:
    """Read one CoNLL-U file: the words of `word_column` and, for every {name: column} of
    `columns`, that column's values; append to `into` when given (to join several files)."""
    return read_conllu(iter_lines(path, encoding=encoding), display_path(path), columns,
                       word_column, into)


def read_conllu(lines: Iterable[tuple[int, str]], shown: str, columns: Mapping[str, str],
                word_column: str = "form", into: TaggedSentences | None = None) -> TaggedSentences:
    """`read_conllu_file` on numbered lines already read (`iter_lines`) from the file `shown`."""
    for column in (word_column, *columns.values()):
        if column_error(column):
            raise InputError(column_error(column), shown)
    out = into if into is not None else TaggedSentences(tags={name: [] for name in columns})
    out.files.append(shown)
    file_index, already = len(out.files) - 1, len(out.words)
    sentence = _Sentence()
    for number, line in lines:
        if not line.strip():
            sentence.close(out, file_index)
            sentence = _Sentence()
        elif line.startswith("#"):
            if sentence.lines:
                raise InputError("a comment line inside a sentence; CoNLL-U puts comments before "
                                 "a sentence's first word line", shown, number)
            found = _SENT_ID.match(line)
            sentence.sent_id = found.group(1) if found else sentence.sent_id
        else:
            sentence.add(_fields(line, shown, number), number, word_column, columns, shown)
    sentence.close(out, file_index)
    if len(out.words) == already:
        raise InputError("no sentences found; expected CoNLL-U word lines", shown, 1)
    return out


def _fields(line: str, shown: str, number: int) -> list[str]:
    fields = line.split("\t")
    if len(fields) != len(COLUMNS):
        raise InputError(f"expected {len(COLUMNS)} tab-separated CoNLL-U columns "
                         f"({' '.join(COLUMNS)}), found {len(fields)}", shown, number)
    return fields


class _Sentence:
    """The word lines of one sentence as they are read."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.tags: dict[str, list[str]] = {}
        self.lines: list[int] = []
        self.sent_id: str | None = None
        self.expected = 1

    def add(self, fields: list[str], number: int, word_column: str, columns: Mapping[str, str],
            shown: str) -> None:
        word_id = fields[0]
        if _RANGE_ID.match(word_id) or _EMPTY_ID.match(word_id):
            return                      # not a syntactic word (see the module docstring)
        if not _WORD_ID.match(word_id):
            raise InputError(f"expected a word ID (1, 2, ...), a range (3-4) or an empty node "
                             f"(8.1) in column 1, got {word_id!r}", shown, number)
        if int(word_id) != self.expected:
            raise InputError(f"word ID {word_id} where {self.expected} was expected (a sentence's "
                             "words are numbered 1, 2, ...; is a blank line missing?)", shown, number)
        self.expected += 1
        self.words.append(_value(fields, word_column))
        for name, column in columns.items():
            self.tags.setdefault(name, []).append(_value(fields, column))
        self.lines.append(number)

    def close(self, out: TaggedSentences, file_index: int) -> None:
        if not self.words:
            return
        out.words.append(self.words)
        for name in out.tags:
            out.tags[name].append(self.tags[name])
        out.first_lines.append(self.lines[0])
        out.token_lines.append(self.lines)
        out.sentence_ids.append(self.sent_id)
        out.file_of.append(file_index)


def _value(fields: list[str], column: str) -> str:
    if column.startswith(FEATURE_PREFIX):
        wanted = column[len(FEATURE_PREFIX):]
        for feature in fields[COLUMNS.index("feats")].split("|"):
            name, _, value = feature.partition("=")
            if name == wanted:
                return value
        return "_"
    return fields[COLUMNS.index(column)]
