"""Optional TensorBoard events (`--tensorboard DIR`), checked before a run starts: the package
must be installed and DIR must be a folder this process can create or write in. The writer
itself is opened when training starts, so that a refused start writes nothing there."""
from __future__ import annotations

import os
from pathlib import Path

from utils.errors import InputError


def summary_writer_class() -> type:
    """torch's SummaryWriter; InputError naming --tensorboard when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("TensorBoard logging needs the `tensorboard` package (pip install "
                         "tensorboard)", "--tensorboard") from None
    return SummaryWriter


def check_tensorboard(log_dir: str | os.PathLike) -> None:
    """InputError naming --tensorboard unless events can be written to `log_dir`."""
    summary_writer_class()
    path = Path(log_dir)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{existing} is a file, not a folder", "--tensorboard")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {existing} (permission denied)", "--tensorboard")


def open_writer(log_dir: str | os.PathLike | None):
    """A SummaryWriter on `log_dir`, or None without one."""
    return None if log_dir is None else summary_writer_class()(str(log_dir))
