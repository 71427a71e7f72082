"""One writer at a time: operating-system locks (`fcntl.flock`) on what a command writes.

- `take_lock(file)`: a run folder's lock (`<run>/.lock`, utils/training/run_dir.py), taken
  without waiting: a second writer is refused at once, in one line naming the PID that holds
  it (the holder writes its PID into the file).
- `locked_folder(folder)`: waits for the folder's lock (prepare-data.py writing data/).

The kernel releases a flock when the process holding it ends, however it ends (a SIGKILL or a
power cut too), so a lock is never stale: no lock file has to be removed by hand.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from utils.errors import InputError

_PID_WAIT = 1.0        # seconds to wait for a new holder to write its PID


class Lock:
    """A held lock: the open lock file; `release()` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)                      # closing the file releases the flock
            self.fd = -1


def take_lock(path: str | os.PathLike, owner: str | os.PathLike) -> Lock:
    """Lock the file `path` (created if missing) for this process, or raise InputError naming
    `owner` (what the lock guards, e.g. the run folder) and the PID of the process holding it."""
    path = Path(path)
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)    # (the umask applies)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InputError(f"another process ({holder}) is writing to this run; wait for it to "
                             "end, or stop it and continue with --resume", owner) from None
        except BaseException:
            os.close(fd)
            raise
        if _still_at(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return Lock(path, fd)
        os.close(fd)        # the file was replaced after it was opened (a folder swapped in): again
    raise InputError("the lock file keeps being replaced; is another process replacing this run?",
                     owner)


def _still_at(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is still the file at `path` (not moved away or replaced)."""
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _holder(fd: int) -> str:
    """"PID 1234": the PID the holder wrote into the lock file. A holder that has just taken the
    lock may not have written it yet (the file still names a process that has ended): wait a
    little for it."""
    deadline = time.monotonic() + _PID_WAIT
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() and _alive(int(text)):
            return f"PID {text}"
        if time.monotonic() > deadline:
            return "PID unknown"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                        # alive, another user's
        return True
    return True


@contextmanager
def locked_folder(folder: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of the existing folder `folder` for the block, waiting while another
    process holds it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
