"""Pruning arithmetic: exact counts per round, one global threshold, rewinding."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model import tiny_config  # noqa: E402

from models import build_model  # noqa: E402
from utils.sparsity.mask_stats import n_kept, n_total, percent_kept  # noqa: E402
from utils.sparsity.pruning import (full_mask, magnitude_prune, mask_filename,  # noqa: E402
                                    prunable_names, prune_round, rewind_, target_kept)

PRUNABLE = ["char_cnn.conv.weight"] + [f"lstm.{i}.weight_{k}_l0{r}" for i in range(2)
                                        for r in ("", "_reverse") for k in ("ih", "hh")]


def test_default_prunable_weights_exclude_biases_embeddings_heads():
    model = build_model(tiny_config(crf=True))
    assert sorted(prunable_names(model)) == sorted(PRUNABLE)
    assert prunable_names(model, ["conv"]) == ["char_cnn.conv.weight"]
    assert "heads.0.weight" in prunable_names(model, ["lstm", "heads"])


def test_number_kept_every_round_by_hand():
    """1,000 weights, final rate 0.1 in 5 rounds: each round prunes round(0.36904 * n) of the n
    that remain (1 - 0.1 ** (1 / 5) = 0.369043): 369.04 -> 369, leaving 631; 232.87 -> 233, 398;
    146.88 -> 147, 251; 92.63 -> 93, 158; 58.31 -> 58, 100."""
    weights = {"a": torch.randn(40, 25, generator=torch.Generator().manual_seed(0))}
    mask = {"a": torch.ones(40, 25, dtype=torch.bool)}
    kept = []
    for _ in range(5):
        new = prune_round(weights, mask, 0.1, 5)
        assert not (new["a"] & ~mask["a"]).any()  # pruned weights stay pruned
        mask = new
        kept.append(n_kept(mask))
    assert kept == [631, 398, 251, 158, 100]
    assert [target_kept(1000, 0.1, 5, k) for k in range(6)] == [1000] + kept
    # the rounding carries over: 446,102 of the conll03 model's 1,410,700 at round 10 of 20,
    # where round(1,410,700 * 0.1 ** 0.5) would keep 446,103
    assert target_kept(1_410_700, 0.1, 20, 10) == 446_102
    assert percent_kept(mask) == 10.0
    assert mask_filename(10, 31.6227) == "10_31.62.th"


def test_one_global_threshold_across_tensors():
    weights = {"a": torch.tensor([[5.0, -0.1], [0.2, 7.0]]), "b": torch.tensor([3.0, -4.0, 0.3, 6.0])}
    mask = {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    new = magnitude_prune(weights, mask, 4)
    assert new["a"].tolist() == [[True, False], [False, True]]
    assert new["b"].tolist() == [False, True, False, True]
    # every kept magnitude is at least every pruned one
    kept = torch.cat([weights[n][new[n]].abs() for n in weights])
    pruned = torch.cat([weights[n][~new[n]].abs() for n in weights])
    assert kept.min() >= pruned.max()


def test_pruned_weights_never_come_back_even_if_large():
    weights = {"a": torch.tensor([100.0, 1.0, 2.0, 3.0])}
    mask = {"a": torch.tensor([False, True, True, True])}
    assert magnitude_prune(weights, mask, 2)["a"].tolist() == [False, False, True, True]
    with pytest.raises(ValueError):
        magnitude_prune(weights, mask, 4)


def test_weights_equal_to_the_threshold_all_stay():
    """The original prunes only the survivors strictly below its cutoff."""
    weights = {"a": torch.tensor([0.5, -2.0, 2.0, 1.0, 2.0, 3.0])}
    mask = {"a": torch.ones(6, dtype=torch.bool)}
    assert magnitude_prune(weights, mask, 3)["a"].tolist() == [False, True, True, False, True, True]
    assert n_kept(magnitude_prune({"a": torch.ones(10)}, {"a": torch.ones(10, dtype=torch.bool)}, 3)) == 10
    assert n_kept(magnitude_prune(weights, mask, 0)) == 0


def test_rewind_restores_initial_values_of_survivors_and_zeroes_the_rest():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    init = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    names = prunable_names(model)
    mask = magnitude_prune(dict(model.named_parameters()), full_mask(model, names),
                           n_total(full_mask(model, names)) // 3)
    rewind_(model, init, mask)
    for name, p in model.named_parameters():
        if name in mask:
            assert torch.equal(p[mask[name]], init[name][mask[name]])
            assert torch.count_nonzero(p[~mask[name]]) == 0
        else:                                    # biases, embeddings, heads: back to init
            assert torch.equal(p, init[name])
