"""Character CNN: fastNLP's `CNNCharEmbedding` as the original code calls it.

char embedding -> dropout -> convolution (kernel 3, same padding) -> ReLU -> max over the
characters of the token -> Linear -> dropout (the ReLU computed after the max, which gives the
same values and gradients). The convolution is computed as one matrix product over each
character's window (`convolve`), with the Conv1d's own parameters. The char embedding has no
padding row: fastNLP looks the padding character up like any other, so a token's last character
sees the (trained) padding vector as its right neighbour whenever a longer token shares the
batch. Init as fastNLP's: char vectors uniform in +-sqrt(3 / char_dim); convolution and Linear
torch's defaults.

`word_markers` brackets every token with the unknown character, which is what the original's
hierarchical model got: its `CNNCharEmbedding` adds `<bow>`/`<eow>` markers that fastNLP's
`min_char_freq=2` leaves out of the character vocabulary, so both are looked up as UNK.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from models.dropout import Dropout
from models.inputs import UNK_ID


class CharCNN(nn.Module):
    """Maps each token's characters [n_tokens, max_chars] to one vector [n_tokens, n_filters]."""

    def __init__(self, n_chars: int, char_dim: int, n_filters: int, kernel: int, dropout: float,
                 word_markers: bool = False) -> None:
        super().__init__()
        self.char_embed = nn.Embedding(n_chars, char_dim)
        bound = math.sqrt(3.0 / char_dim)
        nn.init.uniform_(self.char_embed.weight, -bound, bound)
        self.conv = nn.Conv1d(char_dim, n_filters, kernel, padding=kernel // 2)
        self.fc = nn.Linear(n_filters, n_filters)
        self.dropout = Dropout(dropout)
        self.word_markers = word_markers

    def forward(self, chars: torch.Tensor, char_mask: torch.Tensor) -> torch.Tensor:
        if self.word_markers:
            chars, char_mask = bracket_with_unknown(chars, char_mask)
        x = convolve(self.dropout(self.char_embed(chars)), self.conv)   # [N, C, filters]
        # Padding positions must not win the max.
        x = x.masked_fill(~char_mask.unsqueeze(2), float("-inf"))
        # ReLU after the max, on [N, filters] rather than [N, C, filters]: ReLU is monotone, so
        # max(relu(x)) = relu(max(x)) with the same gradient (zero unless the max is positive).
        return self.dropout(self.fc(torch.relu(x.max(dim=1).values)))


def convolve(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """`conv` (zero-padded, stride 1) over x [N, C, channels], as [N, C, filters]: one matrix
    product of every position's window with the flattened kernel, the same sums as conv1d.
    On the CPU oneDNN builds a convolution kernel for every new [tokens, chars] shape, and
    nearly every batch has a new one: the build cost twice the convolution (docs/performance.md).
    The windows are the kernel's shifted slices side by side (their backward: slices added back,
    about a third of the time of `unfold`'s), so the kernel is flattened offset-major."""
    kernel, pad = conv.kernel_size[0], conv.padding[0]
    width = x.size(1)
    padded = nn.functional.pad(x, (0, 0, pad, pad))
    windows = torch.cat([padded[:, k:k + width] for k in range(kernel)], dim=2)  # [N, C, kernel * channels]
    return nn.functional.linear(windows, conv.weight.transpose(1, 2).flatten(1), conv.bias)


def bracket_with_unknown(chars: torch.Tensor,
                         char_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every token's characters with UNK before the first and after the last ([N, C + 2])."""
    n_tokens, width = chars.shape
    lengths = char_mask.sum(1)
    out = chars.new_zeros(n_tokens, width + 2)
    out[:, 1:width + 1] = chars
    out[:, 0] = UNK_ID
    out.scatter_(1, (lengths + 1).unsqueeze(1), UNK_ID)
    steps = torch.arange(width + 2, device=chars.device).unsqueeze(0)
    return out, steps < (lengths + 2).unsqueeze(1)
