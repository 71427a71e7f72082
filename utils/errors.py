"""How a command ends when something goes wrong: one line on stderr and an exit code.

| what | exit code |
|---|---|
| bad input (`InputError`: a file, a line and what was expected) | 2 |
| training diverged (`TrainingDiverged`: a non-finite loss or weight) | 3 |
| the operating system refused (permission, disk full, missing folder, memory; `OSError`) | 1 |
| Ctrl-C (SIGINT) / SIGTERM | 130 / 143 |

When the command had prepared a run folder (`note_run_folder`), the line says that `--resume`
continues the run; atomic writes (utils/atomic.py) guarantee that nothing there is half-written.
"""
from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, NoReturn


# The longest message an error prints (a bad value is shown shortened, never whole: a column
# number of a billion or a megabyte-long argument must not make a message of that size).
MAX_MESSAGE = 2000
SHOWN_VALUE = 80


def shorten(text: str, limit: int = SHOWN_VALUE) -> str:
    """`text` itself when it is at most `limit` characters, else its start and end around
    "...[N characters]..." (N: the length of the whole)."""
    if len(text) <= limit:
        return text
    keep = max(limit - 30, 10)
    return f"{text[:keep * 2 // 3]}...[{len(text):,} characters]...{text[len(text) - keep // 3:]}"


def shown(value: object, limit: int = SHOWN_VALUE) -> str:
    """repr(value) shortened for a message (see `shorten`); a string too long for a message is
    cut before repr is taken, so a huge value costs no huge copy."""
    if isinstance(value, str) and len(value) > limit * 4:
        return shorten(repr(value[:limit * 2]) + f"... ({len(value):,} characters)", limit)
    return shorten(repr(value), limit)


class InputError(Exception):
    """Bad input from the user: a file, a line and what was expected. The message is kept to
    MAX_MESSAGE characters, whatever it quotes."""

    def __init__(self, message: str, path: object = None, line: int | None = None) -> None:
        message = shorten(str(message), MAX_MESSAGE)
        where = ""
        if path is not None:
            where = f"{shorten(str(path), 300)}:{line}: " if line is not None else f"{shorten(str(path), 300)}: "
        super().__init__(where + message)
        self.message, self.path, self.line = message, path, line


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad command line answered like every other bad input: one line
    (`error: argument --arch: invalid choice: ...; see train_single.py -h`) and exit code 2,
    instead of the usage text followed by the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {shorten(' '.join(message.split()), MAX_MESSAGE)}; see {self.prog} -h\n")


class TrainingDiverged(Exception):
    """A non-finite loss or weight; raised by utils.training.finite before anything is kept from it."""


class Terminated(Exception):
    """SIGTERM (e.g. a cluster's time limit), raised so that the run stops like on Ctrl-C."""


# The run folder this process writes to, once it is prepared (for the "--resume" hints), and
# what to do there when training diverged (the run folder's own business: utils.training.run_dir).
_RUN_FOLDER: list[Path] = []
_ON_DIVERGENCE: list[Callable[[Path, str], None]] = []


def note_run_folder(path: str | Path, on_divergence: Callable[[Path, str], None] | None = None) -> None:
    """Remember the run folder: errors from here on say that `--resume` continues it, and a
    divergence is handed to `on_divergence(folder, message)`."""
    _RUN_FOLDER[:] = [Path(path)]
    _ON_DIVERGENCE[:] = [on_divergence] if on_divergence is not None else []


def run_folder() -> Path | None:
    return _RUN_FOLDER[0] if _RUN_FOLDER else None


def os_error_in(err: BaseException) -> OSError | None:
    """The OSError behind `err`: itself, or one it was raised from (torch wraps a failed write
    as a RuntimeError whose context is the OSError, e.g. 'No space left on device')."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def describe_os_error(err: OSError) -> str:
    """'<path>: No space left on device' (the file first, as for every other error)."""
    reason = err.strerror or str(err)
    where = err.filename
    if where is not None and err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    return f"{where}: {reason}" if where is not None else reason


# torch's words for an allocation the allocator refused (CPU: DefaultCPUAllocator; CUDA: OOM).
_ALLOCATION_REFUSED = re.compile(r"not enough memory|can't allocate memory|out of memory", re.I)


def out_of_memory(err: BaseException) -> str | None:
    """The allocator's words when `err` is a refused allocation (Python's MemoryError, or torch's,
    e.g. for a --hidden_size too large), else None."""
    if isinstance(err, MemoryError):
        return str(err) or "MemoryError"
    if isinstance(err, RuntimeError):
        first = (str(err).strip().splitlines() or [""])[0]
        if _ALLOCATION_REFUSED.search(first):
            return first
    return None


def _resume_hint() -> str:
    folder = run_folder()
    if folder is None or not folder.is_dir():
        return ""
    return f"; continue with --resume (run folder {folder})"


def failure_line(err: BaseException) -> tuple[str, int] | None:
    """The one line and the exit code for an exception that ended a command; None for a bug."""
    if isinstance(err, InputError):
        return f"error: {err}", 2
    if isinstance(err, TrainingDiverged):
        return f"error: {err}", 3
    if isinstance(err, KeyboardInterrupt):
        return "interrupted" + _resume_hint(), 130
    if isinstance(err, Terminated):
        return "terminated (SIGTERM)" + _resume_hint(), 143
    os_error = os_error_in(err)
    if os_error is not None:
        return f"error: {describe_os_error(os_error)}{_resume_hint()}", 1
    memory = out_of_memory(err)
    if memory is not None:
        return f"error: not enough memory: {memory[:300]}{_resume_hint()}", 1
    return None


def _raise_terminated(signum, frame) -> NoReturn:
    raise Terminated()


def run_main(main: Callable[[], object]) -> NoReturn:
    """Run `main` and exit: 0 on success, else one line on stderr and the code in the table of
    the module docstring. Unexpected exceptions (bugs) keep their traceback."""
    _RUN_FOLDER.clear()
    _ON_DIVERGENCE.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        main()
    except BaseException as err:                     # noqa: B902 (SystemExit passes through)
        if isinstance(err, SystemExit):
            raise
        described = failure_line(err)
        if described is None:
            raise                                    # a bug: keep the traceback
        line, code = described
        if isinstance(err, TrainingDiverged) and run_folder() is not None:
            for record in _ON_DIVERGENCE:
                record(run_folder(), str(err))
        print(line, file=sys.stderr)
        sys.exit(code)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(0)

