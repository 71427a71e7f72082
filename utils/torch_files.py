"""Reading the project's `.th`/`.pt` files safely: `torch.load(..., weights_only=True)`, so only
tensors and plain values are read, and every failure one InputError naming the file."""
from __future__ import annotations

import os
import pickle
import re
from typing import Any

import torch

from utils.errors import InputError


def load(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, Any]:
    """Load a file this project writes (checkpoint, mask file, resume state); InputError when it
    is missing, unreadable, holds Python objects or is not a dict."""
    if os.path.isdir(path):        # (utils.paths.check_path_kind's words; this layer cannot import it)
        raise InputError(f"expected a {what} file, found a folder", path)
    if not os.path.isfile(path):
        raise InputError(f"{what} not found", path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported operand" in str(err):           # not a pickle at all: bytes of something else
            raise InputError(f"cannot read {what}: not a file torch.save writes", path) from None
        raise InputError(refused_pickle(what, err), path) from None
    except Exception as err:
        raise InputError(f"cannot read {what} ({type(err).__name__}: {err})", path) from None
    if not isinstance(loaded, dict):
        raise InputError(f"{what} must hold a dict", path)
    return loaded


def refused_pickle(what: str, err: Exception) -> str:
    """The message for a file that holds pickled Python objects. torch's own message advises
    loading with weights_only=False, which would run whatever code the file names: not repeated."""
    named = re.search(r"GLOBAL ([\w.]+)", str(err))
    found = f" ({named.group(1)})" if named else ""
    return (f"refused to read {what}: it holds Python objects{found}, and only tensors and plain "
            "values are loaded (a file from this project never holds others)")
