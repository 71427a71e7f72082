"""Per-tensor overlap statistics of task masks (utils/sparsity/mask_stats.py, the numbers of analyze.py's
overlap figures) on hand-made masks whose answers are counted by hand."""
from __future__ import annotations

import pytest
import torch

from utils.results.analysis import independent_iou, independent_subset_iou
from utils.sparsity.mask_stats import membership_histogram, overlap_by_tensor, pair_overlap

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
