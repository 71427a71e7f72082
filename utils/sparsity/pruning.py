"""Iterative Magnitude Pruning: which weights are prunable, one global threshold, rewinding.

Each round follows the original's `prune_global` (its src/prune.py): of the n weights that
survive, it prunes `round(fraction * n)`, fraction = `1 - final_rate ** (1 / pruning_iter)`, so
round k keeps about `final_rate ** (k / pruning_iter)` of the N prunable weights (the rounding of
each round carries over: on the 1,410,700 weights of the conll03 model round 10 keeps 446,102,
where `round(N * 0.1 ** (10 / 20))` would be 446,103). The pruned weights are the smallest in
magnitude among the survivors, compared across all prunable tensors at once (one global
threshold); survivors equal to the threshold all stay, as in the original.
"""
from __future__ import annotations

import sys
from typing import Mapping, Sequence

import torch
from torch import nn

from utils.sparsity.mask_stats import n_kept

DEFAULT_NEED_CUT = ("lstm", "conv")


def prunable_names(model: nn.Module, need_cut: Sequence[str] = DEFAULT_NEED_CUT) -> list[str]:
    """Parameters whose name contains one of `need_cut`; biases are never pruned. An empty
    `need_cut` asks the network: a model with a `prunable_names()` method names its own (a
    transformer encoder's linear weight matrices, models.encoder_tagger), else DEFAULT_NEED_CUT."""
    if not need_cut:
        own = getattr(model, "prunable_names", None)
        if callable(own):
            return own()
        need_cut = DEFAULT_NEED_CUT
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


def round_keep(n_surviving: int, final_rate: float, pruning_iter: int) -> int:
    """How many of `n_surviving` weights one pruning round keeps: the original prunes
    `round(fraction * n)` of them (numpy's round, half to even, as Python's)."""
    fraction = 1.0 - final_rate ** (1.0 / pruning_iter)
    return n_surviving - int(round(fraction * n_surviving))


def target_kept(total: int, final_rate: float, pruning_iter: int, round_k: int) -> int:
    """How many of `total` prunable weights round `round_k` keeps (when no magnitudes tie)."""
    kept = total
    for _ in range(round_k):
        kept = round_keep(kept, final_rate, pruning_iter)
    return kept


def prune_round(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor],
                final_rate: float, pruning_iter: int) -> dict[str, torch.Tensor]:
    """One pruning round: the mask that `mask`'s survivors leave after the original's rule."""
    return magnitude_prune(weights, mask, round_keep(n_kept(mask), final_rate, pruning_iter))


@torch.no_grad()
def magnitude_prune(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor],
                    keep: int) -> dict[str, torch.Tensor]:
    """The new mask keeping the `keep` largest |weights| among those `mask` keeps (global), and
    every survivor equal to the smallest of them (the original's cutoff keeps ties)."""
    names = list(mask)
    if keep > n_kept(mask):
        raise ValueError(f"cannot keep {keep} weights: only {n_kept(mask)} survive")
    scores = torch.cat([
        weights[name].detach().abs().float().cpu().flatten().masked_fill(~mask[name].flatten(), -1.0)
        for name in names])
    if keep > 0:
        threshold = torch.kthvalue(scores, scores.numel() - keep + 1).values   # keep-th largest
        flat = scores >= threshold
    else:
        flat = torch.zeros_like(scores, dtype=torch.bool)
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


def note_uncovered(model: nn.Module, mask: Mapping[str, torch.Tensor], where: object,
                   consequence: str, need_cut: Sequence[str] = DEFAULT_NEED_CUT) -> list[str]:
    """The prunable weights (`prunable_names`) a mask file holds no tensor for; when there are
    any, a note on stderr naming them and their `consequence` (e.g. "they train dense")."""
    missing = [name for name in prunable_names(model, need_cut) if name not in mask]
    if missing:
        listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        print(f"note: {where}: no mask for {len(missing)} prunable weight(s) ({listed}); "
              f"{consequence}", file=sys.stderr)
    return missing
