"""Iterative Magnitude Pruning: which weights are prunable, one global threshold, rewinding.

Round k keeps `round(N * final_rate ** (k / pruning_iter))` of the N prunable weights, i.e. each
round removes the fraction `1 - final_rate ** (1 / pruning_iter)` of the weights that remain
(written in closed form so rounding never drifts: round `pruning_iter` keeps exactly
`final_rate` of them). The kept weights are the largest in magnitude among the survivors,
compared across all prunable tensors at once (one global threshold); ties are broken by position,
so the count is exact and the result deterministic.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

DEFAULT_NEED_CUT = ("lstm", "conv")


def prunable_names(model: nn.Module, need_cut: Sequence[str] = DEFAULT_NEED_CUT) -> list[str]:
    """Parameters whose name contains one of `need_cut`; biases are never pruned."""
    names = []
    for name, _ in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("bias"):
            continue
        if any(part in name for part in need_cut):
            names.append(name)
    return names


def full_mask(model: nn.Module, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """A mask keeping every weight of `names` (round 0)."""
    params = dict(model.named_parameters())
    return {name: torch.ones_like(params[name], dtype=torch.bool, device="cpu") for name in names}


def n_kept(mask: Mapping[str, torch.Tensor]) -> int:
    return sum(int(kept.sum()) for kept in mask.values())


def n_total(mask: Mapping[str, torch.Tensor]) -> int:
    return sum(kept.numel() for kept in mask.values())


def percent_kept(mask: Mapping[str, torch.Tensor]) -> float:
    """Percent of the masked (prunable) weights kept, rounded to two decimals."""
    return round(100.0 * n_kept(mask) / max(n_total(mask), 1), 2)


def target_kept(total: int, final_rate: float, pruning_iter: int, round_k: int) -> int:
    """How many of `total` prunable weights round `round_k` keeps."""
    return int(round(total * final_rate ** (round_k / pruning_iter)))


@torch.no_grad()
def magnitude_prune(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor],
                    keep: int) -> dict[str, torch.Tensor]:
    """The new mask keeping the `keep` largest |weights| among those `mask` keeps (global)."""
    names = list(mask)
    if keep > n_kept(mask):
        raise ValueError(f"cannot keep {keep} weights: only {n_kept(mask)} survive")
    scores = torch.cat([
        weights[name].detach().abs().float().cpu().flatten().masked_fill(~mask[name].flatten(), -1.0)
        for name in names])
    order = torch.argsort(scores, descending=True, stable=True)
    flat = torch.zeros_like(scores, dtype=torch.bool)
    flat[order[:keep]] = True
    new_mask, start = {}, 0
    for name in names:
        size = mask[name].numel()
        new_mask[name] = flat[start:start + size].view_as(mask[name]).clone()
        start += size
    return new_mask


@torch.no_grad()
def rewind_(model: nn.Module, init_state: Mapping[str, torch.Tensor],
            mask: Mapping[str, torch.Tensor]) -> None:
    """Every parameter back to `init_state`; the weights outside `mask` set to zero."""
    params = dict(model.named_parameters())
    missing = [name for name in params if name not in init_state]
    if missing:
        raise ValueError(f"rewind point lacks parameters: {missing[:5]}")
    for name, param in params.items():
        param.copy_(init_state[name])
        if name in mask:
            param.mul_(mask[name].to(param.device, param.dtype))


def mask_filename(round_k: int, percent: float) -> str:
    """`[round]_[percent kept, two decimals].th`, e.g. `10_31.62.th`."""
    return f"{round_k}_{percent:.2f}.th"
