"""Dropout whose CPU mask costs a fraction of `nn.Dropout`'s.

On the CPU, `nn.Dropout` draws its mask with `bernoulli_`, about 1 ms for a batch's [10, 20, 400]
activations here, as long as a fifth of the LSTM step. Two cheaper draws of the same
Bernoulli(1 - p) mask are used instead:
- a rate of m / 2^k (k <= 8: the paper's 0.5, 0.25, ...): k random bits per unit, 32 // k units
  from one 32-bit draw, the unit kept when its k bits, read as a number, are at least m; about a
  fifth of the time of one uniform draw per unit (docs/performance.md);
- any other rate: one uniform draw per unit, kept when at least p.
Elsewhere (CUDA's fused kernel) `nn.functional.dropout` is used as is. Kept units are scaled by
1 / (1 - p), as `nn.Dropout` does.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import torch
from torch import nn

MAX_RATE_BITS = 8           # rates m / 2^k with k up to this draw k bits per unit


class Dropout(nn.Module):
    """Drop each unit with probability p in training mode; the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must lie in [0, 1), got {p}")
        self.p = p
        self.rate_bits = dyadic_bits(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, training=True)
        if self.rate_bits is None:
            kept = torch.rand_like(x).ge_(self.p)
        else:
            kept = kept_by_bits(x.shape, self.p, self.rate_bits)
        return x * kept.to(x.dtype).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dyadic_bits(p: float) -> int | None:
    """The k <= MAX_RATE_BITS with p = m / 2^k exactly (the fewest bits), else None."""
    denominator = Fraction(p).denominator
    k = denominator.bit_length() - 1
    return k if 0 < k <= MAX_RATE_BITS and denominator == 1 << k else None


def kept_by_bits(shape: torch.Size, p: float, bits: int) -> torch.Tensor:
    """A boolean mask of `shape`, each unit True with probability 1 - p (p = m / 2^bits): every
    unit reads its own `bits` bits of uniform 32-bit draws and is kept when they are >= m."""
    per_draw = 32 // bits
    n_units = shape.numel()
    # randint's range of exactly 2^32 gives 32 uniform bits; the int32 view keeps them all.
    draws = torch.randint(0, 1 << 32, (-(-n_units // per_draw), 1), dtype=torch.int64).to(torch.int32)
    fields = draws.bitwise_right_shift(_field_shifts(bits)).bitwise_and_((1 << bits) - 1)
    return fields.view(-1)[:n_units].view(shape).ge_(round(p * (1 << bits)))


@lru_cache(maxsize=MAX_RATE_BITS)
def _field_shifts(bits: int) -> torch.Tensor:
    """Where each unit's `bits` bits start in a 32-bit draw (built once per width)."""
    return torch.arange(0, 32 // bits * bits, bits, dtype=torch.int32)
