"""Per-tensor and per-place (layer, matrix kind) overlap statistics of task masks
(utils/sparsity/mask_stats.py, the numbers of analyze.py's overlap figures) on hand-made masks
whose answers are counted by hand."""
from __future__ import annotations

import pytest
import torch

from utils.results.analysis import independent_iou, independent_subset_iou
from utils.sparsity.mask_stats import (membership_histogram, overlap_by_place, overlap_by_tensor,
                                       pair_overlap)

B = lambda *bits: torch.tensor(bits, dtype=torch.bool)  # noqa: E731
# Tensor "a": its 8 weights cover each of the 8 subsets of {pos, chunk, ner} exactly once.
# Tensor "b": 4 weights, all kept by all three tasks.
MASKS = {
    "pos":   {"a": B(1, 1, 1, 1, 0, 0, 0, 0), "b": B(1, 1, 1, 1)},
    "chunk": {"a": B(1, 1, 0, 0, 1, 1, 0, 0), "b": B(1, 1, 1, 1)},
    "ner":   {"a": B(1, 0, 1, 0, 1, 0, 1, 0), "b": B(1, 1, 1, 1)},
}


def test_membership_histogram_counts_each_subset():
    masks = list(MASKS.values())
    assert membership_histogram(masks, "a").tolist() == [1] * 8
    assert membership_histogram(masks, "b").tolist() == [0] * 7 + [4]


def test_every_statistic_of_one_tensor():
    a, b, overall = overlap_by_tensor(MASKS)
    assert (a["tensor"], a["weights"], b["tensor"], overall["tensor"], overall["weights"]) == (
        "a", 8, "b", "overall", 12)
    for task in MASKS:
        assert a[f"kept:{task}"] == 50.0 and a[f"private:{task}"] == 12.5
    for pair in ("pos-chunk", "pos-ner", "chunk-ner"):
        assert a[f"both:{pair}"] == 25.0
        assert a[f"iou:{pair}"] == pytest.approx(100 * 2 / 6)       # 2 kept by both of 6 kept by either
    assert a["all"] == 12.5 and a["pruned"] == 12.5
    assert b["all"] == 100.0 and b["pruned"] == 0.0 and b["private:ner"] == 0.0
    assert b["iou:pos-ner"] == 100.0


def test_overall_pools_the_weights_of_every_tensor():
    overall = overlap_by_tensor(MASKS)[-1]
    assert overall["kept:pos"] == pytest.approx(100 * 8 / 12)
    assert overall["both:pos-chunk"] == pytest.approx(100 * 6 / 12)
    assert overall["iou:pos-chunk"] == pytest.approx(100 * 6 / 10)
    assert overall["all"] == pytest.approx(100 * 5 / 12)
    assert overall["private:chunk"] == pytest.approx(100 * 1 / 12)
    assert overall["pruned"] == pytest.approx(100 * 1 / 12)
    # the whole-mask IoU agrees with the pairwise statistic prepare-masks.sh prints
    assert overall["iou:pos-chunk"] == pytest.approx(pair_overlap(MASKS["pos"], MASKS["chunk"])["iou_percent"])


def test_shares_add_up_for_two_tasks_and_nothing_kept():
    masks = {"x": {"t": B(0, 0, 1)}, "y": {"t": B(0, 0, 0)}}
    row = overlap_by_tensor(masks)[0]
    assert row["kept:x"] + row["private:y"] + row["pruned"] == pytest.approx(100.0)
    assert row["iou:x-y"] == 0.0 and row["all"] == 0.0
    assert overlap_by_tensor({"x": {"t": B(0)}, "y": {"t": B(0)}})[0]["iou:x-y"] == 100.0  # 0/0: same


def test_masks_of_different_tensors_are_refused():
    with pytest.raises(ValueError, match="different parameters"):
        overlap_by_tensor({"x": {"t": B(1)}, "y": {"u": B(1)}})


def test_independent_masks_reference():
    assert independent_iou([50.0, 50.0]) == pytest.approx(100 / 3)
    assert independent_iou([100.0, 10.0]) == pytest.approx(10.0)
    assert independent_iou([0.0, 0.0]) == 100.0


def test_every_subset_size_for_four_tasks():
    """16 weights, one for each subset of four tasks: a pair keeps 4 together of the 12 either
    keeps; three tasks keep 2 together of the 14 any keeps; all four 1 of 15."""
    codes = range(16)
    masks = {t: {"w": torch.tensor([bool(c >> i & 1) for c in codes])} for i, t in enumerate("abcd")}
    overall = overlap_by_tensor(masks)[-1]
    assert overall["subset_iou:2"] == pytest.approx(100 * 4 / 12)
    assert overall["subset_iou:3"] == pytest.approx(100 * 2 / 14)
    assert overall["subset_iou:4"] == pytest.approx(100 * 1 / 15)
    assert overall["iou:a-d"] == pytest.approx(100 * 4 / 12) and len([k for k in overall if k.startswith("iou:")]) == 6
    # masks of density 1/2 drawn independently have, on average, the same ratios
    assert independent_subset_iou([50.0] * 4) == pytest.approx({2: 100 / 3, 3: 100 / 7, 4: 100 / 15})


def test_subset_sizes_average_over_their_subsets():
    """Three tasks: a and b keep the same 2 weights, c keeps one of them and a third weight."""
    masks = {"a": {"w": B(1, 1, 0)}, "b": {"w": B(1, 1, 0)}, "c": {"w": B(1, 0, 1)}}
    row = overlap_by_tensor(masks)[0]
    # pairs: a-b 2/2, a-c 1/3, b-c 1/3 -> mean 5/9; all three: 1 of 3
    assert row["subset_iou:2"] == pytest.approx(100 * 5 / 9)
    assert row["subset_iou:3"] == pytest.approx(100 / 3)
    assert independent_subset_iou([100.0, 10.0, 0.0]) == pytest.approx({2: (10.0 + 0 + 0) / 3, 3: 0.0})


# ---- per layer and matrix kind (overlap_by_place) ---------------------------------------------
L = "encoder.encoder.layer."
MATRICES = (L + "0.attention.self.query.weight", L + "0.intermediate.dense.weight",
            L + "1.output.dense.weight", L + "1.attention.output.dense.weight")
PLACED = {task: {name: B(*bits) for name, bits in zip(MATRICES, patterns)}   # a 2-layer BERT
          for task, patterns in (("a", ((1, 1, 1, 1), (0, 0, 0, 0), (1, 0, 1, 0), (1, 1, 1, 1, 0, 0, 0, 0))),
                                 ("b", ((1, 1, 0, 0), (0, 0, 1, 1), (1, 0, 1, 0), (1, 1, 0, 0, 0, 0, 0, 0))),
                                 ("c", ((1, 0, 0, 0), (0, 0, 1, 1), (0, 1, 0, 1), (1, 0, 0, 0, 0, 0, 0, 0))))}


def test_overlap_per_layer_and_kind_counted_by_hand():
    rows = {(r["layer"], r["part"]): r for r in overlap_by_place(PLACED)}
    # a block with one kind in a layer is that kind's row, so only layer "all" has block rows
    assert list(rows) == [(0, "attention-q"), (0, "feed-forward-in"), (0, "all"),
                          (1, "attention-output"), (1, "feed-forward-out"), (1, "all"),
                          ("all", "attention-q"), ("all", "attention-output"), ("all", "feed-forward-in"),
                          ("all", "feed-forward-out"), ("all", "attention"), ("all", "feed-forward"),
                          ("all", "all")]
    query = rows[0, "attention-q"]      # a 1111, b 1100, c 1000
    assert (query["weights"], query["kept:a"], query["kept:b"], query["kept:c"]) == (4, 100.0, 50.0, 25.0)
    assert (query["both:a-b"], query["both:b-c"], query["all"]) == (50.0, 25.0, 25.0)
    layer0 = rows[0, "all"]             # 8 weights: a keeps 4, b 4, c 3; b and c 1 + 2; all three 1
    assert (layer0["kept:a"], layer0["kept:c"], layer0["both:b-c"], layer0["all"]) == (50.0, 37.5, 37.5, 12.5)
    layer1 = rows[1, "all"]             # 12 weights: a 4 + 2, b 2 + 2, both 2 + 2, all 1 + 0
    assert layer1["weights"] == 12
    assert (layer1["kept:a"], layer1["kept:b"]) == (50.0, pytest.approx(100 / 3))
    assert (layer1["both:a-b"], layer1["all"]) == (pytest.approx(100 / 3), pytest.approx(100 / 12))
    attention, ffn = rows["all", "attention"], rows["all", "feed-forward"]   # 12 and 8 weights
    assert (attention["kept:a"], attention["kept:c"], attention["all"]) == (
        pytest.approx(200 / 3), pytest.approx(100 / 6), pytest.approx(100 / 6))
    assert (ffn["weights"], ffn["kept:a"], ffn["kept:b"], ffn["both:b-c"], ffn["all"]) == (8, 25.0, 50.0, 25.0, 0.0)
    overall = rows["all", "all"]       # a keeps 4 + 0 + 2 + 4 of 20, c 1 + 2 + 2 + 1, all 1 + 1
    assert (overall["weights"], overall["kept:a"], overall["kept:c"], overall["all"]) == (20, 50.0, 30.0, 10.0)
    by_tensor = overlap_by_tensor(PLACED)[-1]
    assert {k: v for k, v in overall.items() if k not in ("layer", "part")} == {
        k: v for k, v in by_tensor.items() if k != "tensor"}


def test_the_bilstm_pools_directions_and_puts_the_char_cnn_below_the_layers():
    names = ["char_cnn.conv.weight"] + [f"lstm.{k}.weight_{m}_l0{d}" for k in (0, 1)
                                        for m in ("ih", "hh") for d in ("", "_reverse")]
    masks = {t: {n: B(*bits) for n in names} for t, bits in (("x", (1, 0)), ("y", (1, 1)))}
    masks["x"]["lstm.1.weight_hh_l0_reverse"] = B(0, 0)
    rows = {(r["layer"], r["part"]): r for r in overlap_by_place(masks)}
    assert list(rows)[:3] == [(None, "char-conv"), (None, "all"), (0, "input-hidden")]
    assert rows[1, "hidden-hidden"]["weights"] == 4 and rows[1, "hidden-hidden"]["kept:x"] == 25.0
    assert (1, "BiLSTM") not in rows and rows["all", "BiLSTM"]["weights"] == 16
    assert rows["all", "BiLSTM"]["both:x-y"] == pytest.approx(100 * 7 / 16)


def test_a_mask_of_a_name_that_cannot_be_placed_is_refused_naming_it():
    masks = {"a": {"lstm.0.weight_ih_l0": B(1), "word_embed.weight": B(1)},
             "b": {"lstm.0.weight_ih_l0": B(1), "word_embed.weight": B(0)}}
    with pytest.raises(ValueError, match="cannot place parameter 'word_embed.weight'"):
        overlap_by_place(masks)
