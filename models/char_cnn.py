"""Character CNN: char embeddings, one convolution, max-pooled over the characters of a token."""
from __future__ import annotations

import torch
from torch import nn


class CharCNN(nn.Module):
    """Maps each token's characters [n_tokens, max_chars] to one vector [n_tokens, n_filters]."""

    def __init__(self, n_chars: int, char_dim: int, n_filters: int, kernel: int) -> None:
        super().__init__()
        self.char_embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, n_filters, kernel, padding=kernel // 2)

    def forward(self, chars: torch.Tensor, char_mask: torch.Tensor) -> torch.Tensor:
        x = self.char_embed(chars).transpose(1, 2)          # [N, char_dim, C]
        x = self.conv(x)                                    # [N, filters, C]
        # Padding positions must not win the max.
        x = x.masked_fill(~char_mask.unsqueeze(1), float("-inf"))
        return x.max(dim=2).values
