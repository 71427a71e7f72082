"""How predict.py reads its input: the format and the word column, as the task set read the
model's corpora unless the user says otherwise.

    text     one sentence per line, whitespace-tokenised
    conll    whitespace-separated columns (the task set's `columns` format), blank lines between
             sentences; the words in the task set's word column (`--word_column N` otherwise)
    conllu   CoNLL-U: comments skipped, the syntactic words (utils.data.readers.conllu); the words
             in the task set's word column, by name (`form` by default)

`auto` recognises CoNLL-U (`# sent_id`/`# text` comments or ten tab-separated fields with a word
ID) and columns; a file that looks like either, read as text, gets a warning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from utils.data.readers import conllu
from utils.data.readers.columns import DOCSTART, read_columns
from utils.data.readers.sentences import TaggedSentences
from utils.data.taskset import MAX_COLUMN
from utils.errors import InputError, shown

FORMATS = ("auto", "text", "conll", "conllu")
TAG_SCHEMES = ("plain", "iob1", "bio", "bioes", "detect")   # the file schemes --eval reads as tags
_CONLLU_COMMENT = re.compile(r"^#\s*(sent_id|text|newdoc|newpar)\b")
_CONLLU_ID = re.compile(r"^[1-9][0-9]*([-.][0-9]+)?$")


def detect_format(lines: Sequence[tuple[int, str]]) -> str:
    """"conllu" when the lines look like CoNLL-U, "conll" when they look like columns (a
    -DOCSTART- line, or more than two token lines all with the same number of fields, which is at
    least 2 or comes with blank separator lines), else "text" (one sentence per line)."""
    if looks_like_conllu(lines):
        return "conllu"
    rows = [line.split() for _, line in lines]
    filled = [r for r in rows if r]
    if any(r[0] == DOCSTART for r in filled):
        return "conll"
    widths = {len(r) for r in filled}
    blank = len(filled) < len(rows)
    return "conll" if len(filled) > 2 and len(widths) == 1 and (widths.pop() >= 2 or blank) else "text"


def looks_like_conllu(lines: Sequence[tuple[int, str]]) -> bool:
    """CoNLL-U's own comments, or a first word line of ten tab-separated fields with a word ID."""
    for _, line in lines:
        if not line.strip():
            continue
        if _CONLLU_COMMENT.match(line):
            return True
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        return len(fields) == len(conllu.COLUMNS) and bool(_CONLLU_ID.match(fields[0]))
    return False


def text_warning(lines: Sequence[tuple[int, str]], shown: str) -> str | None:
    """A warning when a file read as text looks like CoNLL-U or columns (each line would be read
    as one sentence, its tags as words)."""
    found = detect_format(lines)
    if found == "text":
        return None
    name = "CoNLL-U" if found == "conllu" else "columns (CoNLL)"
    return (f"warning: {shown} looks like {name} but is read as text, one sentence per line (its "
            f"tags read as words); --format {found} reads it as {name}")


@dataclass(frozen=True)
class Layout:
    """How to read the input: its format and the column of its words."""

    format: str
    word_column: int | str


def input_layout(fmt: str, word_column: str | None, lines: Sequence[tuple[int, str]],
                 described: Mapping[str, Mapping[str, Any]], task_names: Sequence[str],
                 evaluating: bool) -> Layout:
    """The format (`fmt`, or recognised for "auto"; columns for --eval unless it is CoNLL-U) and
    the word column (`word_column` as given, else the one the task set's tasks of that format
    share: `described` is the data file's task_set.tasks)."""
    if fmt == "auto":
        fmt = detect_format(lines)
        fmt = "conll" if evaluating and fmt == "text" else fmt
    if fmt == "text":
        if word_column is not None:
            raise InputError("text input has no columns; use --format conll or conllu",
                             "--word_column")
        return Layout("text", 0)
    if word_column is not None:
        return Layout(fmt, _given_column(fmt, word_column))
    task_format = "conllu" if fmt == "conllu" else "columns"
    shared = {described[t]["word_column"] for t in task_names
              if t in described and described[t].get("format") == task_format}
    if len(shared) == 1:
        return Layout(fmt, shared.pop())
    return Layout(fmt, "form" if fmt == "conllu" else 0)


def _given_column(fmt: str, given: str) -> int | str:
    if fmt == "conllu":
        if conllu.column_error(given):
            raise InputError(conllu.column_error(given), "--word_column")
        return given
    if not _column_number(given):
        raise InputError(f"expected a 0-based column number (0 to {MAX_COLUMN}) for --format "
                         f"conll, got {shown(given)}", "--word_column")
    return int(given)


def _column_number(text: str) -> bool:
    return text.isdigit() and len(text) <= 6 and int(text) <= MAX_COLUMN


def gold_columns(spec: str | None, task_names: Sequence[str],
                 described: Mapping[str, Mapping[str, Any]], fmt: str) -> dict[str, int | str]:
    """{task: column} of the gold tags, from "pos=1,ner=3" (CoNLL-U: "pos=xpos"); by default each
    task's tag column in its own corpus, for the tasks the task set read from files of this
    format with tags in one of TAG_SCHEMES."""
    task_format = "conllu" if fmt == "conllu" else "columns"
    if spec is None:
        columns = {}
        for name in task_names:
            task = described.get(name)
            if task is None or task.get("format") != task_format or task.get("scheme") not in TAG_SCHEMES:
                kind = "CoNLL-U" if fmt == "conllu" else "column"
                raise InputError(f"the gold column of {name} is not a plain tag column of a {kind} "
                                 "file in its task set; name it", "--gold_columns")
            columns[name] = task["tag_column"]
        return columns
    columns = {}
    for part in spec.split(","):
        name, _, column = part.partition("=")
        column = column.strip()
        if fmt == "conllu" and not conllu.column_error(column):
            columns[name.strip()] = column
        elif fmt != "conllu" and _column_number(column):
            columns[name.strip()] = int(column)
        elif fmt == "conllu":
            raise InputError(f"expected TASK=COLUMN with {conllu.EXPECTED} (e.g. xpos=xpos), got "
                             f"{shown(part)}", "--gold_columns")
        else:
            raise InputError(f"expected TASK=COLUMN with a column of 0 to {MAX_COLUMN} (e.g. "
                             f"ner=3), got {shown(part)}", "--gold_columns")
    missing = [t for t in task_names if t not in columns]
    if missing:
        raise InputError(f"no column given for {', '.join(missing)}", "--gold_columns")
    return {t: columns[t] for t in task_names}


def read_input(lines: Sequence[tuple[int, str]], shown: str, layout: Layout,
               gold: Mapping[str, int | str] | None = None) -> TaggedSentences:
    """The sentences of the input; with `gold` ({task: column}) their gold tags."""
    if layout.format == "text":
        return read_text(lines, shown)
    if layout.format == "conllu":
        return conllu.read_conllu(lines, shown, dict(gold or {}), layout.word_column)
    return read_columns(lines, shown, dict(gold or {}), None, word_column=layout.word_column)


def read_text(lines: Iterable[tuple[int, str]], shown: str) -> TaggedSentences:
    """One sentence per non-blank line, tokens split at whitespace."""
    out = TaggedSentences(files=[shown])
    for number, line in lines:
        tokens = line.split()
        if tokens:
            out.words.append(tokens)
            out.first_lines.append(number)
            out.file_of.append(0)
    return out
