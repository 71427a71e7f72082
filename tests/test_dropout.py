"""The CPU dropout: the rate, the scaling, eval mode, and gradients through kept units only."""
from __future__ import annotations

import pytest
import torch

from models.dropout import Dropout


def test_drops_at_the_rate_and_scales_the_kept_units():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = Dropout(0.3).train()(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))


def test_eval_mode_and_rate_zero_are_the_identity():
    x = torch.randn(5, 4)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x


def test_gradient_flows_through_kept_units_only():
    torch.manual_seed(1)
    x = torch.randn(50, 8, requires_grad=True)
    y = Dropout(0.5).train()(x)
    y.sum().backward()
    kept = y.detach() != 0
    torch.testing.assert_close(x.grad, kept.float() * 2.0)


def test_same_seed_same_mask():
    x = torch.randn(30, 30)
    torch.manual_seed(7)
    a = Dropout(0.5).train()(x)
    torch.manual_seed(7)
    assert torch.equal(a, Dropout(0.5).train()(x))


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_rejects_rates_outside_zero_one(rate):
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(rate)
