"""Span decoding of the original code's single-task pruning metric (`--metric yangjie`).

The original's src/metric.py (`YangJieSpanMetric`, after the span decoder of Jie Yang's NCRF++)
keeps fastNLP's SpanFPreRecMetric counting (micro F1; a predicted span is correct when the gold
sentence has the same type and boundaries) but decodes tags into spans by other rules. Tags are
compared upper-cased; a tag's kind is its "B-" / "I-" / "E-" / "S-" prefix.

bio:
- B-X closes the open span (ending before it) and opens an X span;
- I-X continues an open X span; after O, after nothing or after another type it closes the open
  span and opens NOTHING (conlleval would start a chunk there);
- any other tag (O) closes the open span.
bioes:
- B-X closes the open span and opens an X span; S-X closes the open span and adds a one-token X
  span; E-X closes the open span including itself, whatever the span's type (without an open
  span it is ignored);
- I-X and O are skipped: they neither continue nor close anything, so "B-X O E-X" is one span.
Both: a span still open at the end of the sentence is recorded as ONE token long (its start
only), in gold as in prediction; so a gold chunk that reaches the sentence end matches any
predicted span of its type that starts where it starts and also reaches the end or is one token.

On well-formed bioes tags the spans are conlleval's. On well-formed bio tags they differ only for
chunks that reach the sentence end (shortened in gold and prediction alike).
"""
from __future__ import annotations

from typing import Sequence

Span = tuple[str, int, int]               # (type, start, exclusive end)
Part = tuple[str, str]                    # a tag read as (kind "B" / "I" / "E" / "S" / "O", type)


def tag_parts(tag: str) -> Part:
    """("B", "NP") from "b-np"; ("O", "") for O and any tag without one of the four prefixes."""
    upper = tag.upper()
    for kind in ("B-", "I-", "E-", "S-"):
        if upper.startswith(kind):
            return kind[0], upper[2:]
    return "O", ""


def bio_spans_of_parts(parts: Sequence[Part]) -> list[Span]:
    spans: list[Span] = []
    open_type, start = "", -1
    for i, (kind, kind_type) in enumerate(parts):
        if kind == "I" and open_type and kind_type == open_type:
            continue
        if open_type:
            spans.append((open_type, start, i))
        open_type, start = (kind_type, i) if kind == "B" else ("", -1)
    if open_type:
        spans.append((open_type, start, start + 1))
    return spans


def bioes_spans_of_parts(parts: Sequence[Part]) -> list[Span]:
    spans: list[Span] = []
    open_type, start = "", -1
    for i, (kind, kind_type) in enumerate(parts):
        if kind not in ("B", "S", "E"):
            continue
        if open_type:
            spans.append((open_type, start, i + 1 if kind == "E" else i))
        open_type, start = (kind_type, i) if kind == "B" else ("", -1)
        if kind == "S":
            spans.append((kind_type, i, i + 1))
    if open_type:
        spans.append((open_type, start, start + 1))
    return spans


# decoders of parts, by scheme (the metric reads every label's parts once)
DECODERS = {"bio": bio_spans_of_parts, "bioes": bioes_spans_of_parts}
