"""One error type for bad user input, reported as a single line and exit code 2."""
from __future__ import annotations

import sys
from typing import Callable, NoReturn


class InputError(Exception):
    """Bad input from the user: a file, a line and what was expected."""

    def __init__(self, message: str, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


def exit_on_input_error(main: Callable[[], object]) -> NoReturn:
    """Run `main`; an InputError becomes one line on stderr and exit code 2."""
    try:
        main()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0)
