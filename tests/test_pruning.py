"""Pruning arithmetic: exact counts per round, one global threshold, rewinding."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model import tiny_config  # noqa: E402

from models import build_model  # noqa: E402
from utils.sparsity.pruning import (full_mask, magnitude_prune, mask_filename, n_kept,  # noqa: E402
                                    n_total, percent_kept, prunable_names, rewind_, target_kept)

PRUNABLE = ["char_cnn.conv.weight"] + [f"lstm.{i}.weight_{k}_l0{r}" for i in range(2)
                                        for r in ("", "_reverse") for k in ("ih", "hh")]


def test_default_prunable_weights_exclude_biases_embeddings_heads():
    model = build_model(tiny_config(crf=True))
    assert sorted(prunable_names(model)) == sorted(PRUNABLE)
    assert prunable_names(model, ["conv"]) == ["char_cnn.conv.weight"]
    assert "heads.0.weight" in prunable_names(model, ["lstm", "heads"])


def test_exact_number_kept_every_round():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    names = prunable_names(model)
    mask = full_mask(model, names)
    total = n_total(mask)
    weights = dict(model.named_parameters())
    final_rate, rounds = 0.1, 5
    for k in range(1, rounds + 1):
        new = magnitude_prune(weights, mask, target_kept(total, final_rate, rounds, k))
        assert n_kept(new) == round(total * final_rate ** (k / rounds))
        # each round removes 1 - final_rate ** (1 / rounds) of the remaining weights (up to rounding)
        assert abs(n_kept(new) - n_kept(mask) * final_rate ** (1 / rounds)) <= 1
        for name in names:                       # pruned weights stay pruned
            assert not (new[name] & ~mask[name]).any()
        mask = new
    assert n_kept(mask) == round(total * final_rate)
    assert percent_kept(mask) == round(100 * n_kept(mask) / total, 2)
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


def test_ties_are_cut_to_the_exact_count():
    weights = {"a": torch.ones(10)}
    mask = {"a": torch.ones(10, dtype=torch.bool)}
    assert n_kept(magnitude_prune(weights, mask, 3)) == 3


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
