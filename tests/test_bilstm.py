"""The padded BiLSTM path gives exactly what the packed nn.LSTM gives, outputs and gradients."""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from models.bilstm import BiLSTMLayer, padded_path_index, reorder_steps, reversal_index

LENGTHS = torch.tensor([7, 5, 5, 2, 1])


def _inputs(seed: int = 0) -> tuple[BiLSTMLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    layer = BiLSTMLayer(6, 4)
    x = torch.randn(len(LENGTHS), int(LENGTHS[0]), 6, requires_grad=True)
    mask = torch.arange(x.size(1)).unsqueeze(0) < LENGTHS.unsqueeze(1)
    return layer, x, mask


def _outputs_and_grads(layer, x, mask, reversal, params=None):
    layer.zero_grad(set_to_none=True)
    x.grad = None
    out = layer.run(x, LENGTHS, reversal) if params is None else _run_with(layer, params, x, reversal)
    out = out * mask.unsqueeze(2)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (out * weights).sum().backward()
    return out.detach(), x.grad.clone(), {n: p.grad.clone() for n, p in layer.named_parameters()}


class _Run(torch.nn.Module):
    """`layer.run` as a module's forward, so functional_call can swap the layer's weights."""

    def __init__(self, layer: BiLSTMLayer, reversal: torch.Tensor) -> None:
        super().__init__()
        self.layer, self.reversal = layer, reversal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer.run(x, LENGTHS, self.reversal)


def _run_with(layer, params, x, reversal):
    return functional_call(_Run(layer, reversal), {f"layer.{n}": p for n, p in params.items()}, (x,))


def test_reversal_index_reverses_within_each_length():
    index = reversal_index(torch.tensor([3, 1]), 4, torch.device("cpu"))
    assert index.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3]]
    x = torch.arange(8.0).view(2, 4, 1)
    assert reorder_steps(reorder_steps(x, index), index).equal(x)


@pytest.mark.parametrize("training", [True, False])
def test_padded_path_equals_packed_path(training):
    layer, x, mask = _inputs()
    layer.train(training)
    reversal = reversal_index(LENGTHS, x.size(1), x.device)
    packed = _outputs_and_grads(layer, x, mask, None)
    padded = _outputs_and_grads(layer, x, mask, reversal)
    torch.testing.assert_close(padded[0], packed[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(padded[1], packed[1], rtol=0, atol=1e-6)
    assert padded[2].keys() == packed[2].keys() and len(packed[2]) == 8
    for name in packed[2]:    # weight gradients are sums over steps: float32 order, 1e-6 relative
        torch.testing.assert_close(padded[2][name], packed[2][name], rtol=1e-6, atol=1e-6)
    assert all(g.abs().sum() > 0 for g in packed[2].values())


def test_padded_path_sees_masked_weights_through_functional_call():
    layer, x, mask = _inputs(1)
    reversal = reversal_index(LENGTHS, x.size(1), x.device)
    keep = {n: (torch.rand(p.shape) > 0.5).float() for n, p in layer.named_parameters()
            if n.startswith("weight")}
    masked = {n: p * keep[n] for n, p in layer.named_parameters() if n in keep}
    out_masked, _, grads = _outputs_and_grads(layer, x, mask, reversal, masked)
    with torch.no_grad():
        for n, p in layer.named_parameters():
            if n in keep:
                p.mul_(keep[n])
    out_zeroed = _outputs_and_grads(layer, x, mask, None)[0]
    torch.testing.assert_close(out_masked, out_zeroed, rtol=0, atol=1e-6)
    for n, k in keep.items():       # a masked-out weight gets exactly no gradient
        assert grads[n][k == 0].abs().max() == 0


def test_padded_path_on_the_cpu_unless_mostly_padding():
    cpu = torch.device("cpu")
    index = padded_path_index(torch.tensor([4, 4, 3]), 4, cpu)          # 1/12 padding
    assert index is not None and index.tolist()[2] == [2, 1, 0, 3]
    assert padded_path_index(torch.tensor([8, 2, 2, 2]), 8, cpu) is None  # 18/32 padding
    assert padded_path_index(torch.tensor([4, 4]), 4, torch.device("cuda", 0)) is None
