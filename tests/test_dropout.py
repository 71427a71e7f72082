"""The CPU dropout: the rate, the scaling, eval mode, gradients through kept units only, and the
random bits of dyadic rates."""
from __future__ import annotations

import pytest
import torch

from models.dropout import Dropout, dyadic_bits


@pytest.mark.parametrize("rate", [0.3, 0.1, 0.5, 0.25, 0.75, 0.375])
def test_drops_at_the_rate_and_scales_the_kept_units(rate):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = Dropout(rate).train()(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - rate)) < 0.005
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - rate)))


@pytest.mark.parametrize("rate, bits", [
    (0.5, 1), (0.25, 2), (0.75, 2), (0.125, 3), (0.375, 3), (1 / 256, 8), (255 / 256, 8),
    (1 / 512, None), (0.3, None), (0.1, None), (0.2, None), (0.0, None),
])
def test_dyadic_rates_draw_the_fewest_bits_that_hold_them(rate, bits):
    assert dyadic_bits(rate) == bits


@pytest.mark.parametrize("rate", [0.5, 0.25, 0.375])
def test_units_drawn_from_one_word_are_independent(rate):
    """Units that share a 32-bit draw (32 // bits of them in a row): each position within a
    draw is kept at the rate, and so is each neighbour pair at the rate squared."""
    per_draw = 32 // dyadic_bits(rate)
    torch.manual_seed(3)
    kept = (Dropout(rate).train()(torch.ones(per_draw * 40_000)) != 0).float().view(-1, per_draw)
    keep = 1 - rate
    assert (kept.mean(0) - keep).abs().max() < 0.015
    both = (kept[:, :-1] * kept[:, 1:]).mean(0)
    assert (both - keep ** 2).abs().max() < 0.015
    across = (kept[:-1, -1] * kept[1:, 0]).mean()       # the last unit of a draw, the next's first
    assert abs(across - keep ** 2) < 0.015


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
