"""Tag schemes: checking, converting and decoding chunk tags.

Schemes:
    plain   one tag per token, no chunks (POS)
    bio     IOB2: every chunk starts with B-X, continues with I-X; O outside chunks
    bioes   IOBES: B-X (I-X)* E-X for chunks of two or more tokens, S-X for one token

IOB1 (an I-X may start a chunk; B-X only separates two adjacent chunks of one type) is accepted
as "bio" input by `check_tags`; `looks_like_iob1` detects it and `iob1_to_bio` converts it.
Tags are case-sensitive here: prefixes are upper case, "O" is the outside tag.
"""
from __future__ import annotations

from typing import Sequence

SCHEMES = ("plain", "bio", "bioes")
OUTSIDE = "O"
_PREFIXES = {"bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}


class TagSchemeError(ValueError):
    """A tag that breaks its scheme; `index` is the token's position in the sentence (0-based)."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def _require_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def split_tag(tag: str) -> tuple[str, str]:
    """"B-PER" -> ("B", "PER"); "O" -> ("O", ""). No validation (see `check_tags`)."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, _, chunk_type = tag.partition("-")
    return prefix, chunk_type


def _check_tag_form(tag: str, index: int, scheme: str) -> tuple[str, str]:
    """Validate one tag's spelling for `scheme` ("bio" or "bioes"); return (prefix, type)."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefixes = _PREFIXES[scheme]
    if "-" not in tag:
        raise TagSchemeError(f"tag {tag!r} is neither O nor PREFIX-TYPE ({scheme})", index)
    prefix, chunk_type = split_tag(tag)
    if prefix not in prefixes:
        allowed = "/".join(p + "-" for p in prefixes)
        raise TagSchemeError(f"tag {tag!r} has prefix {prefix!r}; {scheme} allows {allowed} and O", index)
    if not chunk_type:
        raise TagSchemeError(f"tag {tag!r} has no chunk type after {prefix}-", index)
    return prefix, chunk_type


def check_tags(tags: Sequence[str], scheme: str) -> None:
    """Raise TagSchemeError at the first tag of one sentence that breaks `scheme`.

    plain: every tag must be a non-empty string.
    bio:   tags are O, B-X or I-X; an I-X after O or after another type is accepted (IOB1 input).
    bioes: additionally every I-X/E-X continues a B-X/I-X of type X, and every B-X/I-X is
           followed by I-X/E-X of type X (a chunk left open is reported at the breaking tag,
           or at the last token when the sentence ends inside a chunk).
    """
    _require_scheme(scheme)
    if scheme == "plain":
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not tag:
                raise TagSchemeError(f"empty tag {tag!r}", index)
        return
    if scheme == "bio":
        for index, tag in enumerate(tags):
            _check_tag_form(tag, index, scheme)
        return
    _check_bioes(tags)


def _check_bioes(tags: Sequence[str]) -> None:
    open_type = None  # type of the chunk begun by the previous B-/I-, else None
    for index, tag in enumerate(tags):
        prefix, chunk_type = _check_tag_form(tag, index, "bioes")
        if open_type is not None and (prefix not in ("I", "E") or chunk_type != open_type):
            raise TagSchemeError(
                f"tag {tag!r} follows an open {open_type} chunk; expected I-{open_type} or E-{open_type}",
                index)
        if open_type is None and prefix in ("I", "E"):
            raise TagSchemeError(f"tag {tag!r} does not continue a B-{chunk_type} or I-{chunk_type}", index)
        open_type = chunk_type if prefix in ("B", "I") else None
    if open_type is not None:
        raise TagSchemeError(f"sentence ends inside a {open_type} chunk; expected E-{open_type}",
                             len(tags) - 1)


def _starts_chunk_iob(tags: Sequence[str], index: int) -> bool:
    """Whether the I-X at `index` begins a chunk (IOB1 style): no B-X/I-X right before it."""
    _, chunk_type = split_tag(tags[index])
    return index == 0 or tags[index - 1] not in (f"B-{chunk_type}", f"I-{chunk_type}")


def iob1_start(tags: Sequence[str]) -> int | None:
    """The position of the first I-X that starts a chunk (after O, at the start, or after another
    type), as only IOB1 writes it; None if there is none."""
    return next((i for i, tag in enumerate(tags) if tag.startswith("I-") and _starts_chunk_iob(tags, i)),
                None)


def looks_like_iob1(tags: Sequence[str]) -> bool:
    """True when some I-X starts a chunk (see `iob1_start`)."""
    return iob1_start(tags) is not None


def iob1_to_bio(tags: Sequence[str]) -> list[str]:
    """IOB1 -> IOB2: an I-X that starts a chunk becomes B-X; everything else is kept."""
    check_tags(tags, "bio")
    return [f"B-{tag[2:]}" if tag.startswith("I-") and _starts_chunk_iob(tags, i) else tag
            for i, tag in enumerate(tags)]


def bio_to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB2 -> IOBES. Raises TagSchemeError on IOB1 input (convert it with iob1_to_bio first)."""
    check_tags(tags, "bio")
    out = []
    for i, tag in enumerate(tags):
        prefix, chunk_type = split_tag(tag)
        if prefix == "I" and _starts_chunk_iob(tags, i):
            raise TagSchemeError(f"tag {tag!r} starts a chunk (IOB1); convert with iob1_to_bio first", i)
        if prefix == OUTSIDE:
            out.append(tag)
            continue
        continues = i + 1 < len(tags) and tags[i + 1] == f"I-{chunk_type}"
        if prefix == "B":
            out.append(tag if continues else f"S-{chunk_type}")
        else:
            out.append(tag if continues else f"E-{chunk_type}")
    return out


def bioes_to_bio(tags: Sequence[str]) -> list[str]:
    """IOBES -> IOB2: S-X becomes B-X, E-X becomes I-X. The input must be valid IOBES."""
    check_tags(tags, "bioes")
    renamed = {"S": "B", "E": "I"}
    out = []
    for tag in tags:
        prefix, chunk_type = split_tag(tag)
        out.append(f"{renamed[prefix]}-{chunk_type}" if prefix in renamed else tag)
    return out


def get_spans(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    """Chunks of one sentence as (type, start, end_exclusive), in order.

    plain: every token is its own span (tag, i, i + 1).
    bio/bioes: decoded the way fastNLP's SpanFPreRecMetric decodes them (also for ill-formed
    predictions): a tag continues the current chunk only when it is I-X (bio) or I-X/E-X
    (bioes) and the previous tag is B-X or I-X of the same type; O is outside; any other tag
    (B-X, S-X, an I-X/E-X that does not continue, an unknown prefix) starts a new chunk. So an
    E-X closes nothing by itself and a B-X followed by O is a one-token chunk.
    """
    _require_scheme(scheme)
    if scheme == "plain":
        return [(tag, i, i + 1) for i, tag in enumerate(tags)]
    continuing = ("I",) if scheme == "bio" else ("I", "E")
    spans: list[list] = []
    prev_prefix, prev_type = None, None
    for i, tag in enumerate(tags):
        prefix, chunk_type = split_tag(tag)
        if prefix in continuing and prev_prefix in ("B", "I") and chunk_type == prev_type:
            spans[-1][2] = i + 1
        elif prefix != OUTSIDE:
            spans.append([chunk_type, i, i + 1])
        prev_prefix, prev_type = prefix, chunk_type
    return [(t, s, e) for t, s, e in spans]
