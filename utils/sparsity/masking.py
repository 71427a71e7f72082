"""Task masks applied ONE way everywhere: `functional_call(model, {name: param * mask})`.

A mask is `{param_name: bool tensor}` (True = kept). For the forward pass it becomes a float mask
built once on the device; the product `param * mask` is what the network sees, so the gradient of
a masked-out weight is exactly zero and nothing is copied per batch.

Raw weights: at the start of every epoch the trainer sets weights that NO task keeps to zero
(`zero_pruned_` with `union_masks`); in between their gradient is exactly zero, so they stay
zero. In single-task training that is the task's own mask. In multi-task training a weight kept
by task s but not by task t stays untouched by t's gradient (zero), yet may still move on t's
steps through optimizer momentum accumulated from s's batches; t never sees it, because t's
forward multiplies it by zero.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

BoolMask = dict[str, torch.Tensor]
FloatMask = dict[str, torch.Tensor]


def float_mask(mask: Mapping[str, torch.Tensor], device: torch.device | str,
               dtype: torch.dtype = torch.float32) -> FloatMask:
    """The float version of a bool mask, on `device`; build once, reuse for every batch."""
    return {name: kept.to(device=device, dtype=dtype) for name, kept in mask.items()}


def masked_call(model: nn.Module, mask: FloatMask | None, *args: Any) -> Any:
    """`model(*args)` with every masked parameter replaced by `param * mask`."""
    return call_with_weights(model, masked_weights(model, mask) if mask else {}, *args)


def masked_weights(model: nn.Module, mask: FloatMask) -> dict[str, torch.Tensor]:
    """`param * mask` for every masked parameter: the weights the network sees through `mask`.
    Without gradients (evaluation) they hold as long as the parameters do: make them once."""
    params = dict(model.named_parameters())
    return {name: params[name] * weight_mask for name, weight_mask in mask.items()}


def call_with_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], *args: Any) -> Any:
    """`model(*args)` with the parameters named in `weights` replaced by them (none: as it is)."""
    return functional_call(model, dict(weights), args) if weights else model(*args)


def union_masks(masks: Sequence[Mapping[str, torch.Tensor]]) -> BoolMask:
    """Weights kept by at least one mask (a name missing from a mask counts as fully kept)."""
    names = set().union(*(m.keys() for m in masks)) if masks else set()
    union = {}
    for name in names:
        if any(name not in m for m in masks):
            continue
        kept = masks[0][name].clone()
        for m in masks[1:]:
            kept |= m[name]
        union[name] = kept
    return union


@torch.no_grad()
def zero_pruned_(model: nn.Module, mask: Mapping[str, torch.Tensor]) -> None:
    """Set the raw weights outside `mask` to zero, in place."""
    params = dict(model.named_parameters())
    for name, kept in mask.items():
        params[name].mul_(kept.to(params[name].device, params[name].dtype))


def check_mask(model: nn.Module, mask: Mapping[str, torch.Tensor]) -> None:
    """Raise ValueError unless every masked name is a parameter of the same shape."""
    check_mask_fits(dict(model.named_parameters()), mask)


def check_mask_fits(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> None:
    """Raise ValueError unless every masked name is one of `weights`, of the same shape."""
    for name, kept in mask.items():
        if name not in weights:
            raise ValueError(f"mask names unknown parameter {name!r}")
        if tuple(kept.shape) != tuple(weights[name].shape):
            raise ValueError(f"mask for {name!r} has shape {tuple(kept.shape)}, "
                             f"parameter has {tuple(weights[name].shape)}")
