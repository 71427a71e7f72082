"""Strings of the form NAME(key=value, ...), as --optim and --scheduler take them.

Read with `ast` (never `eval`): a known name, then keyword arguments whose values are plain
literals (numbers, booleans, tuples of numbers). A bare NAME means no arguments.
"""
from __future__ import annotations

import ast
from typing import Any, Mapping

from utils.errors import InputError


def parse_call(spec: str, allowed: Mapping[str, set[str]], where: str, what: str) -> tuple[str, dict[str, Any]]:
    """(name, kwargs) from "name(key=value, ...)"; `allowed` maps each known (lower-case) name to
    the keywords it takes. InputError naming `where` (the argument) when the string is bad."""
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
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
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise InputError(f"argument {keyword.arg!r} must be a literal in {spec!r}", where) from None
    return name, kwargs
