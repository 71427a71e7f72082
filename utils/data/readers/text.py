"""Reading a corpus file line by line: plain or gzip, strict decoding (UTF-8 unless told
otherwise), errors with file and line."""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
from typing import BinaryIO, Iterator

from utils.errors import InputError
from utils.paths import check_path_kind, display_path

BOM = "\ufeff"


def iter_lines(path: str | os.PathLike, expected: str = "tagged sentences",
               encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) of a text file (`.gz` is unpacked;
    `-` is standard input), decoded with `encoding`.

    A missing file, bytes that are not text in `encoding` and a file without any text raise
    InputError (the last one saying what was `expected`).
    """
    shown = display_path(path)
    if str(path) == "-":
        yield from _decoded(sys.stdin.buffer, shown, expected, encoding)
        return
    check_path_kind(path, "file", shown)
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        handle = opener(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read ({err})", shown) from None
    with handle:
        yield from _decoded(handle, shown, expected, encoding)


def _decoded(handle: BinaryIO, shown: str, expected: str,
             encoding: str) -> Iterator[tuple[int, str]]:
    number = 0
    has_text = False
    try:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                byte = raw[err.start]
                name = "UTF-8" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
                raise InputError(f"byte 0x{byte:02x} is not {name} text", shown, number) from None
            line = line.rstrip("\r\n")
            if number == 1:
                line = line.removeprefix(BOM)         # a byte-order mark is no part of the text
            has_text = has_text or bool(line.strip())
            yield number, line
    except (OSError, EOFError) as err:  # e.g. a truncated or fake .gz file
        raise InputError(f"cannot read ({err})", shown, number + 1) from None
    if not has_text:
        raise InputError(f"file is empty; expected {expected}", shown, 1)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (as stored, so of the compressed bytes for `.gz`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
