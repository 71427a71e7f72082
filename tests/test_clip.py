"""Gradient clipping gives what torch's clip_grad_norm_ gives, above and below the limit."""
import pytest
import torch

from utils.training.optim import clip_grad_norm


def two_param_sets(scale: float):
    torch.manual_seed(0)
    grads = [torch.randn(5, 3) * scale, torch.randn(7) * scale]
    ours = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    ref = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for a, b, g in zip(ours, ref, grads):
        a.grad, b.grad = g.clone(), g.clone()
    return ours, ref


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_same_gradients_as_torch(scale):
    ours, ref = two_param_sets(scale)
    clip_grad_norm(ours, 5.0)
    torch.nn.utils.clip_grad_norm_(ref, 5.0)
    for a, b in zip(ours, ref):
        assert torch.equal(a.grad, b.grad)


def test_large_gradients_end_at_the_limit():
    ours, _ = two_param_sets(100.0)
    clip_grad_norm(ours, 5.0)
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in ours))
    assert norm == pytest.approx(5.0, rel=1e-4)


def test_parameters_without_gradients_are_skipped():
    p = torch.nn.Parameter(torch.ones(3))
    clip_grad_norm([p], 5.0)
    assert p.grad is None
