"""OntoNotes 5.0 in the CoNLL-2012 `*gold_conll` format.

Rows: document id, part, word index, word, POS, parse bit, lemma, frameset, sense, speaker, named
entities, predicate arguments (one column per predicate), coreference; so at least 12 columns, and
the same number on every row of a sentence. Documents start with `#begin document (ID); part N`
and end with `#end document`; the genre is the first part of ID (bc, bn, mz, nw, pt, tc, wb).

One known defect of the v12 data is handled here: a row whose parse bit has no `*` has lost a
column (nw/p2.5_c2e_0034 in train holds a one-token sentence `XX * - ...`). Such a sentence cannot
be read reliably, so it is dropped and reported in `ReadReport.malformed`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from utils.data.readers.sentences import TaggedSentences
from utils.data.readers.text import iter_lines
from utils.errors import InputError
from utils.paths import display_path

MIN_COLUMNS = 12
WORD, POS, PARSE, NER = 3, 4, 5, 10
DEFAULT_COLUMNS = {"pos": POS, "parse": PARSE, "ner": NER}
LAYOUT = ("document part index word POS parse lemma frameset sense speaker NER "
          "[predicate arguments...] coreference")


@dataclass
class ReadReport:
    """What was left out while reading: sentences per dropped genre and malformed sentences."""

    dropped_genres: dict[str, int] = field(default_factory=dict)
    malformed: list[str] = field(default_factory=list)  # "file:line" of each dropped sentence


def read_ontonotes(paths: Iterable[str | os.PathLike], drop_genres: Sequence[str] = ("pt",),
                   report: ReadReport | None = None,
                   columns: Mapping[str, int] = DEFAULT_COLUMNS, word_column: int = WORD,
                   encoding: str = "utf-8") -> TaggedSentences:
    """Read `*gold_conll` files (plain or .gz) into words and the named tag `columns` (0-based;
    default the POS, parse and named-entity columns)."""
    out = TaggedSentences(tags={name: [] for name in columns})
    report = report if report is not None else ReadReport()
    drop = set(drop_genres)
    for path in paths:
        _read_one(path, out, drop, report, columns, word_column, encoding)
    return out


def _read_one(path: str | os.PathLike, out: TaggedSentences, drop: set[str], report: ReadReport,
              columns: Mapping[str, int], word_column: int, encoding: str) -> None:
    shown = display_path(path)
    out.files.append(shown)
    file_index = len(out.files) - 1
    rows = 0
    words: list[str] = []
    tags: dict[str, list[str]] = {name: [] for name in columns}
    genre = None
    skip = False        # in a dropped genre
    malformed = False   # the current sentence has a row with a lost column
    first_line = n_columns = 0

    def close() -> None:
        nonlocal words, tags, malformed
        if words and malformed:
            report.malformed.append(f"{shown}:{first_line}")
        elif words and skip:
            report.dropped_genres[genre] = report.dropped_genres.get(genre, 0) + 1
        elif words:
            out.words.append(words)
            for name, values in tags.items():
                out.tags[name].append(values)
            out.first_lines.append(first_line)
            out.file_of.append(file_index)
        words, tags, malformed = [], {name: [] for name in columns}, False

    needed = max([MIN_COLUMNS - 1, word_column, *columns.values()]) + 1
    for number, line in iter_lines(path, encoding=encoding):
        if not line or line.isspace():
            close()
            continue
        if line.startswith("#"):
            close()
            if line.startswith("#begin document"):
                genre = _genre(line, shown, number)
                skip = genre in drop
            continue
        fields = line.split()
        if len(fields) < needed:
            raise InputError(f"expected at least {needed} columns ({LAYOUT}), found "
                             f"{len(fields)}", shown, number)
        if genre is None:
            raise InputError("token row before any '#begin document' line", shown, number)
        if not words:
            first_line, n_columns = number, len(fields)
        elif len(fields) != n_columns:
            raise InputError(f"expected {n_columns} columns like the sentence's first row "
                             f"(line {first_line}), found {len(fields)}", shown, number)
        if "*" not in fields[PARSE]:
            malformed = True
        rows += 1
        words.append(fields[word_column])
        for name, index in columns.items():
            tags[name].append(fields[index])
    close()
    if not rows:
        raise InputError("no sentences found; expected CoNLL-2012 gold_conll rows", shown, 1)


def _genre(line: str, shown: str, number: int) -> str:
    """'#begin document (bc/cctv/00/cctv_0001); part 000' -> 'bc'."""
    start, end = line.find("("), line.find(")")
    if start < 0 or end < start + 2:
        raise InputError("expected '#begin document (GENRE/SOURCE/NN/NAME); part N'", shown, number)
    return line[start + 1:end].split("/", 1)[0]


class BracketError(ValueError):
    """A named-entity column that does not nest properly; `index` is the token."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def brackets_to_bioes(cells: Sequence[str]) -> list[str]:
    """OntoNotes NER cells of one sentence -> BIOES tags.

    `(TYPE*` opens an entity, `*)` closes it, `(TYPE)` is a one-token entity, `*` is inside or
    outside. Entities do not nest in OntoNotes; an opening inside an open entity, a close
    without an opening, or an entity left open at the end is an error.
    """
    tags = []
    open_type = None
    start = 0
    for index, cell in enumerate(cells):
        if cell == "*":
            tags.append(f"I-{open_type}" if open_type else "O")
            continue
        if cell.startswith("("):
            if open_type:
                raise BracketError(f"entity {cell!r} opens inside the open {open_type} entity",
                                   index)
            entity, closes = _opening(cell, index)
            if closes:
                tags.append(f"S-{entity}")
            else:
                tags.append(f"B-{entity}")
                open_type, start = entity, index
            continue
        if cell != "*)":
            raise BracketError(f"expected '(TYPE*', '(TYPE)', '*' or '*)', found {cell!r}", index)
        if not open_type:
            raise BracketError("'*)' closes no open entity", index)
        tags.append(f"E-{open_type}")
        open_type = None
    if open_type:
        raise BracketError(f"the {open_type} entity opened at token {start} is not closed", start)
    return tags


def _opening(cell: str, index: int) -> tuple[str, bool]:
    """'(ORG*' -> ('ORG', False); '(ORG)' and '(ORG*)' -> ('ORG', True)."""
    for suffix, closes in (("*)", True), (")", True), ("*", False)):
        entity = cell[1:-len(suffix)] if cell.endswith(suffix) else ""
        if entity and not any(mark in entity for mark in "()*"):
            return entity, closes
    raise BracketError(f"expected '(TYPE*', '(TYPE)' or '*)', found {cell!r}", index)
