"""Reading a mask file: `{"mask": {param_name: bool tensor}, ...}` (True = kept), as
train_single.py writes them per round and prepare-masks.sh places them per task; the original
code's files (True = pruned, its parameter names) are converted on reading
(utils.sparsity.original_masks)."""
from __future__ import annotations

from pathlib import Path

import torch

from utils.errors import InputError
from utils.sparsity.original_masks import accept_mask_file
from utils.torch_files import load


def load_mask(path: Path) -> dict:
    """A mask file, checked: a non-empty {'mask': {name: bool tensor}} (the original's converted)."""
    loaded = accept_mask_file(load(path, "mask file"), path)
    mask = loaded.get("mask")
    if not (isinstance(mask, dict) and mask and all(isinstance(t, torch.Tensor) and t.dtype == torch.bool
                                                    for t in mask.values())):
        raise InputError("expected {'mask': {name: bool tensor}, ...} with at least one tensor", path)
    return loaded
