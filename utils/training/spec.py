"""Strings of the form NAME(key=value, ...), as --optim and --scheduler take them.

Read with `ast` (never `eval`): a known name, then keyword arguments whose values are plain
literals (numbers, booleans, tuples of numbers), every number finite. A bare NAME means no
arguments. Strings too long or too deeply nested to be settings are refused, not parsed.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Mapping

from utils.errors import InputError

MAX_LENGTH = 500                                 # longer strings are not settings


def parse_call(spec: str, allowed: Mapping[str, set[str]], where: str, what: str) -> tuple[str, dict[str, Any]]:
    """(name, kwargs) from "name(key=value, ...)"; `allowed` maps each known (lower-case) name to
    the keywords it takes. InputError naming `where` (the argument) when the string is bad."""
    if len(spec) > MAX_LENGTH:
        raise InputError(f"expected NAME(key=value, ...) of at most {MAX_LENGTH} characters, "
                         f"got {len(spec)} characters", where)
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise InputError(f"expected NAME(key=value, ...), got {spec!r}", where) from None
    if isinstance(node, ast.Name):                   # "adam" alone: the defaults
        node = ast.Call(func=node, args=[], keywords=[])
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise InputError(f"expected NAME(key=value, ...), got {spec!r}", where)
    name = node.func.id.lower()
    if name not in allowed:
        raise InputError(f"unknown {what} {name!r}; expected one of {', '.join(allowed)}", where)
    if node.args:
        raise InputError(f"give {what} arguments by name (key=value), got {spec!r}", where)
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg not in allowed[name]:
            raise InputError(f"unknown {what} argument {keyword.arg!r} in {spec!r}", where)
        if keyword.arg in kwargs:
            raise InputError(f"argument {keyword.arg!r} is given twice in {spec!r}", where)
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise InputError(f"argument {keyword.arg!r} must be a literal in {spec!r}", where) from None
        if not _all_finite(kwargs[keyword.arg]):
            raise InputError(f"argument {keyword.arg!r} must be finite, got {kwargs[keyword.arg]!r}",
                             where)
    return name, kwargs


def _all_finite(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_all_finite(v) for v in value)
    return not isinstance(value, (float, complex)) or math.isfinite(abs(value))
