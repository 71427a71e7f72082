"""What the models read: the input contract between the data layer and the networks.

A batch is any object with these tensors (utils.data.batching.Batch is the one the data layer
makes); the word and character ids reserve two rows, padding and unknown, at these positions.
The data layer writes its files with the same ids (tests/test_model.py checks that they agree).
"""
from __future__ import annotations

from typing import Protocol

import torch

PAD_ID, UNK_ID = 0, 1          # the padding and unknown rows of the word and char embeddings


class TaggerInput(Protocol):
    """B sentences, longest first; T = longest sentence, C = longest word."""

    words: torch.Tensor        # int64 [B, T], PAD_ID at padding
    labels: torch.Tensor       # int64 [B, T] (read by the loss only)
    mask: torch.Tensor         # bool  [B, T], True at real tokens
    lengths: torch.Tensor      # int64 [B], on the CPU
    chars: torch.Tensor        # int64 [N, C] for the N real tokens, in row-major order of mask
    char_mask: torch.Tensor    # bool  [N, C]
