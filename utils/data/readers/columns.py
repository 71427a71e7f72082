"""One reader for the whitespace-separated column formats (CoNLL-2003, CoNLL-2000, WSJ `.pos`, and
any corpus a task-set file describes as `columns`).

A sentence is a run of non-blank lines; blank lines separate sentences. `-DOCSTART-` lines (document
boundaries in CoNLL-2003 and the WSJ files) are dropped. Every token line must have exactly the
expected number of columns (or as many as the file's first token line); the word is in column 0
unless told otherwise. With a `comment_prefix`, a line that starts with it before a sentence's first
token is a comment and skipped (inside a sentence it is a token: PTB has the word `#`); without
one, a `#` line that breaks the column count is named as an undeclared comment.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

from utils.data.readers.sentences import TaggedSentences
from utils.data.readers.text import iter_lines
from utils.errors import InputError
from utils.paths import display_path

DOCSTART = "-DOCSTART-"

class UndeclaredComment(InputError):
    """A `#` line where the task declares no comments (the task's `comment_prefix` or `format`)."""


_UNDECLARED_COMMENT = ("a comment line, which the task does not declare: set comment_prefix = \"#\" "
                       "for a column file with comments, or format = \"conllu\" for CoNLL-U")

# The column layouts of the corpora: names of the tag columns -> their 0-based index.
CONLL03_COLUMNS = {"pos": 1, "chunk": 2, "ner": 3}
CONLL2000_COLUMNS = {"pos": 1, "chunk": 2}
WSJ_POS_COLUMNS = {"pos": 1}


def read_column_file(path: str | os.PathLike, columns: Mapping[str, int], n_columns: int | None,
                     into: TaggedSentences | None = None, word_column: int = 0,
                     encoding: str = "utf-8",
                     comment_prefix: str | None = None) -> TaggedSentences:
    """Read one column file; append to `into` when given (to join several files)."""
    return read_columns(iter_lines(path, encoding=encoding), display_path(path), columns,
                        n_columns, into, word_column, comment_prefix)


def read_columns(lines: Iterable[tuple[int, str]], shown: str, columns: Mapping[str, int],
                 n_columns: int | None, into: TaggedSentences | None = None,
                 word_column: int = 0, comment_prefix: str | None = None) -> TaggedSentences:
    """`read_column_file` on numbered lines already read (`iter_lines`) from the file `shown`.
    `n_columns` None: every token line has as many columns as the first one."""
    out = into if into is not None else TaggedSentences(tags={name: [] for name in columns})
    out.files.append(shown)
    file_index = len(out.files) - 1
    already = len(out.words)
    named = {word_column: "word", **{index: name for name, index in columns.items()}}
    layout = column_layout(named)
    needed = max(named) + 1
    words: list[str] = []
    tags: dict[str, list[str]] = {name: [] for name in columns}
    first_line = 0

    def close_sentence() -> None:
        nonlocal words, tags
        if words:
            out.words.append(words)
            for name, values in tags.items():
                out.tags[name].append(values)
            out.first_lines.append(first_line)
            out.file_of.append(file_index)
        words, tags = [], {name: [] for name in columns}

    for number, line in lines:
        fields = line.split()
        if not fields:
            close_sentence()
            continue
        if fields[0] == DOCSTART:
            close_sentence()
            continue
        if comment_prefix and not words and line.lstrip().startswith(comment_prefix):
            continue
        if fields[0].startswith("#") and not words and len(fields) != (n_columns or 0):
            raise UndeclaredComment(_UNDECLARED_COMMENT, shown, number)
        n_columns = n_columns or len(fields)
        if needed > n_columns:
            raise InputError(f"expected at least {needed} columns ({layout}), found "
                             f"{n_columns}", shown, number)
        if len(fields) != n_columns:
            raise InputError(f"expected {n_columns} columns ({layout}), found {len(fields)}",
                             shown, number)
        if not words:
            first_line = number
        words.append(fields[word_column])
        for name, index in columns.items():
            tags[name].append(fields[index])
    close_sentence()
    if len(out.words) == already:
        raise InputError("no sentences found; expected tagged sentences", shown, 1)
    return out


def column_layout(named: dict[int, str]) -> str:
    """The columns a reader expects, for messages: "word - pos" (one word per column, "-" for
    a column not read), or "word in column 0, ner in column 40" when that would be long (its
    length never grows with a column number)."""
    if max(named) < 12:
        return " ".join(named.get(i, "-") for i in range(max(named) + 1))
    return ", ".join(f"{name} in column {i}" for i, name in sorted(named.items()))
