"""The padded BiLSTM paths (whole batch or in groups) give exactly what the packed nn.LSTM gives,
outputs and gradients; the cost model picks the cheapest plan it knows."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.func import functional_call

from models.bilstm import BiLSTMLayer, reorder_steps
from models.lstm_plan import (COSTS, PACKED, KernelCosts, batch_plan, cheapest_groups, padded_plan,
                              reversal_index)

LENGTHS = torch.tensor([7, 5, 5, 2, 1])
CPU = torch.device("cpu")
# Plans of LENGTHS: one padded group; groups of one length each (one fused call each); a group
# with padding after a group without; every row alone.
PLANS = {"padded": [0], "by-length": [0, 1, 3, 4], "mixed": [0, 3], "rows": [0, 1, 2, 3, 4]}


def _inputs(seed: int = 0) -> tuple[BiLSTMLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    layer = BiLSTMLayer(6, 4)
    x = torch.randn(len(LENGTHS), int(LENGTHS[0]), 6, requires_grad=True)
    mask = torch.arange(x.size(1)).unsqueeze(0) < LENGTHS.unsqueeze(1)
    return layer, x, mask


def _outputs_and_grads(layer, x, mask, plan, params=None):
    layer.zero_grad(set_to_none=True)
    x.grad = None
    out = layer.run(x, LENGTHS, plan) if params is None else _run_with(layer, params, x, plan)
    out = out * mask.unsqueeze(2)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (out * weights).sum().backward()
    return out.detach(), x.grad.clone(), {n: p.grad.clone() for n, p in layer.named_parameters()}


class _Run(torch.nn.Module):
    """`layer.run` as a module's forward, so functional_call can swap the layer's weights."""

    def __init__(self, layer: BiLSTMLayer, plan) -> None:
        super().__init__()
        self.layer, self.plan = layer, plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer.run(x, LENGTHS, self.plan)


def _run_with(layer, params, x, plan):
    return functional_call(_Run(layer, plan), {f"layer.{n}": p for n, p in params.items()}, (x,))


def test_reorder_steps_is_torch_gather_bit_for_bit():
    """Rows picked from the flattened batch give torch.gather's values and gradients exactly,
    on a slice of a wider batch (not contiguous), as the groups of a plan are."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([7, 7, 5, 2, 1])
    index = reversal_index(lengths, 7, torch.device("cpu"))
    wide = torch.randn(6, 9, 13, generator=generator)
    ours, theirs = (wide.clone().requires_grad_() for _ in range(2))
    picked = reorder_steps(ours[1:, :7], index)
    gathered = theirs[1:, :7].gather(1, index.unsqueeze(2).expand(-1, -1, 13))
    assert picked.equal(gathered)
    weights = torch.randn(picked.shape, generator=generator)
    (picked * weights).sum().backward()
    (gathered * weights).sum().backward()
    assert ours.grad.equal(theirs.grad)


def test_reversal_index_reverses_within_each_length():
    index = reversal_index(torch.tensor([3, 1]), 4, torch.device("cpu"))
    assert index.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3]]
    x = torch.arange(8.0).view(2, 4, 1)
    assert reorder_steps(reorder_steps(x, index), index).equal(x)


@pytest.mark.parametrize("starts", PLANS.values(), ids=PLANS.keys())
@pytest.mark.parametrize("training", [True, False])
def test_padded_path_equals_packed_path(training, starts):
    layer, x, mask = _inputs()
    layer.train(training)
    packed = _outputs_and_grads(layer, x, mask, PACKED)
    padded = _outputs_and_grads(layer, x, mask, padded_plan(LENGTHS, starts, CPU))
    torch.testing.assert_close(padded[0], packed[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(padded[1], packed[1], rtol=0, atol=1e-6)
    assert padded[2].keys() == packed[2].keys() and len(packed[2]) == 8
    for name in packed[2]:    # weight gradients are sums over steps: float32 order, 1e-6 relative
        torch.testing.assert_close(padded[2][name], packed[2][name], rtol=1e-6, atol=1e-6)
    assert all(g.abs().sum() > 0 for g in packed[2].values())


@pytest.mark.parametrize("starts", PLANS.values(), ids=PLANS.keys())
def test_padded_path_sees_masked_weights_through_functional_call(starts):
    layer, x, mask = _inputs(1)
    keep = {n: (torch.rand(p.shape) > 0.5).float() for n, p in layer.named_parameters()
            if n.startswith("weight")}
    masked = {n: p * keep[n] for n, p in layer.named_parameters() if n in keep}
    out_masked, _, grads = _outputs_and_grads(layer, x, mask, padded_plan(LENGTHS, starts, CPU), masked)
    with torch.no_grad():
        for n, p in layer.named_parameters():
            if n in keep:
                p.mul_(keep[n])
    out_zeroed = _outputs_and_grads(layer, x, mask, PACKED)[0]
    torch.testing.assert_close(out_masked, out_zeroed, rtol=0, atol=1e-6)
    for n, k in keep.items():       # a masked-out weight gets exactly no gradient
        assert grads[n][k == 0].abs().max() == 0


def test_a_wider_batch_comes_back_as_wide_with_the_same_outputs():
    layer, x, _ = _inputs(2)
    wide = torch.cat([x.detach(), torch.randn(len(LENGTHS), 3, x.size(2))], dim=1)
    mask = torch.arange(wide.size(1)).unsqueeze(0) < LENGTHS.unsqueeze(1)
    expected = layer.run(wide, LENGTHS, PACKED) * mask.unsqueeze(2)
    for starts in PLANS.values():
        out = layer.run(wide, LENGTHS, padded_plan(LENGTHS, starts, CPU))
        assert out.shape == expected.shape
        torch.testing.assert_close(out * mask.unsqueeze(2), expected, rtol=0, atol=1e-6)


def test_groups_of_one_length_run_without_reversal():
    plan = padded_plan(LENGTHS, [0, 1, 3], CPU)
    assert [(g.start, g.end, g.width) for g in plan] == [(0, 1, 7), (1, 3, 5), (3, 5, 2)]
    assert plan[0].reversal is None and plan[1].reversal is None
    assert plan[2].reversal.tolist() == [[1, 0], [0, 1]]


# Costs in padded row-steps, easy to work by hand: a group costs 10 plus its rows x width, the
# packed run 5 per step plus its tokens.
FLAT = KernelCosts(group=10, group_step=0, packed=0, packed_step=5, packed_token=1)


@pytest.mark.parametrize("sizes, cost, starts", [
    ([4], 14, [0]),                       # 10 + 4 x 1
    ([4, 4, 4], 22, [0]),                 # 10 + 4 x 3
    ([10, 2, 2, 2], 36, [0, 1]),          # (10 + 10) + (10 + 2 x 3), not 10 + 10 x 4 = 50
    ([10, 9, 2, 2, 2], 46, [0, 2]),       # (10 + 10 x 2) + (10 + 2 x 3); one group: 60
    ([3, 2, 1], 19, [0]),                 # 10 + 3 x 3; [3] [2, 1]: 13 + 14
])
def test_cheapest_groups_worked_by_hand(sizes, cost, starts):
    assert cheapest_groups(sizes, FLAT) == (cost, starts)


def test_cheapest_groups_is_the_best_of_every_grouping():
    generator = torch.Generator().manual_seed(0)
    costs = COSTS[True]
    for _ in range(30):
        sizes = sorted(torch.randint(1, 40, (int(torch.randint(1, 9, (1,), generator=generator)),),
                                     generator=generator).tolist(), reverse=True)
        best = min(_grouping_cost(sizes, [0, *cuts], costs)
                   for k in range(len(sizes)) for cuts in itertools.combinations(range(1, len(sizes)), k))
        cost, starts = cheapest_groups(sizes, costs)
        assert cost == pytest.approx(best) == pytest.approx(_grouping_cost(sizes, starts, costs))


def _grouping_cost(sizes, starts, costs):
    ends = starts[1:] + [len(sizes)]
    return sum(costs.padded_cost(sizes[a], b - a) for a, b in zip(starts, ends))


def test_plan_packed_on_cuda_and_where_the_model_prefers_it(monkeypatch):
    assert batch_plan(torch.tensor([4, 4]), torch.device("cuda", 0)) == PACKED
    monkeypatch.setitem(COSTS, True, FLAT)
    plan = batch_plan(torch.tensor([4, 4, 3]), CPU)                          # 10 + 12 < 20 + 11
    assert [(g.start, g.end, g.width) for g in plan] == [(0, 3, 4)]
    plan = batch_plan(torch.tensor([10, 2, 2, 2]), CPU)                      # 20 + 16 < 50 + 16
    assert [(g.start, g.end, g.width) for g in plan] == [(0, 1, 10), (1, 4, 2)]
    assert batch_plan(torch.tensor([2, 1, 1, 1, 1, 1, 1, 1]), CPU) == PACKED  # 10 + 9 < 10 + 16


def test_plan_follows_the_gradient_mode(monkeypatch):
    monkeypatch.setitem(COSTS, True, FLAT)
    monkeypatch.setitem(COSTS, False, KernelCosts(group=10, group_step=0, packed=0, packed_step=0,
                                                  packed_token=1))
    lengths = torch.tensor([4, 4, 3])
    assert batch_plan(lengths, CPU) != PACKED                                 # 10 + 12 < 20 + 11
    with torch.no_grad():
        assert batch_plan(lengths, CPU) == PACKED                             # 11 < 10 + 12
