"""Masks through functional_call: exact zero gradient for pruned weights, no change to the rest."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model import a_batch, tiny_config  # noqa: E402

from models import build_model  # noqa: E402
from utils.sparsity.masking import (check_mask, float_mask, masked_call, union_masks,  # noqa: E402
                                    zero_pruned_)
from utils.sparsity.pruning import prunable_names  # noqa: E402


# Tiny models: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def random_mask(model, names, keep=0.5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    return {n: torch.rand(params[n].shape, generator=gen) < keep for n in names}


def test_masked_call_equals_the_model_with_pruned_weights_zeroed():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    mask = random_mask(model, prunable_names(model))
    batch = a_batch()
    with torch.no_grad():
        masked = masked_call(model, float_mask(mask, "cpu"), batch, 1)
        before = {n: p.clone() for n, p in model.named_parameters()}
        zero_pruned_(model, mask)
        assert torch.equal(masked, model(batch, 1))
        for name, p in model.named_parameters():
            expected = before[name] * mask[name] if name in mask else before[name]
            assert torch.equal(p, expected)


def test_pruned_weights_get_exactly_zero_gradient():
    torch.manual_seed(0)
    model = build_model(tiny_config()).train()
    names = prunable_names(model)
    mask = random_mask(model, names)
    batch = a_batch()
    emissions = masked_call(model, float_mask(mask, "cpu"), batch, 0)
    model.loss(emissions, batch, 0).backward()
    params = dict(model.named_parameters())
    for name in names:
        grad = params[name].grad
        assert grad is not None
        assert torch.count_nonzero(grad[~mask[name]]) == 0
        assert torch.count_nonzero(grad[mask[name]]) > 0
    assert params["heads.0.weight"].grad.abs().sum() > 0
    assert params["heads.1.weight"].grad is None   # the other task's head is not used


def test_union_keeps_what_any_task_keeps():
    a = {"w": torch.tensor([True, False, False]), "v": torch.tensor([False])}
    b = {"w": torch.tensor([False, False, True]), "v": torch.tensor([True])}
    union = union_masks([a, b])
    assert union["w"].tolist() == [True, False, True] and union["v"].tolist() == [True]
    # a name one task does not mask is fully kept for it, so it is never zeroed
    assert union_masks([a, {"w": b["w"]}]).keys() == {"w"}


def test_check_mask_rejects_unknown_names_and_shapes():
    model = build_model(tiny_config())
    with pytest.raises(ValueError, match="unknown parameter"):
        check_mask(model, {"lstm.9.weight": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        check_mask(model, {"lstm.0.weight_ih_l0": torch.ones(2, dtype=torch.bool)})
