"""Presets fill unset values; out-of-range settings are one-line input errors."""
from __future__ import annotations

import pytest

from utils.errors import InputError
from utils.training.presets import PRESETS, apply_preset, check_ranges


def test_set_values_win_and_unset_ones_come_from_the_preset():
    values = apply_preset({"epochs": 7, "dropout": None}, "cpu")
    assert values["epochs"] == 7 and values["dropout"] == PRESETS["cpu"]["dropout"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_in_range(preset):
    check_ranges(PRESETS[preset])


@pytest.mark.parametrize("key, value, expected", [
    ("dropout", 1.0, "--dropout: must be at least 0 and below 1, got 1.0"),
    ("dropout", -0.1, "--dropout: must be at least 0 and below 1"),
    ("final_rate", 0.0, "--final_rate: must be above 0 and at most 1"),
    ("final_rate", 1.5, "--final_rate: must be above 0 and at most 1"),
    ("batch_size", 0, "--batch_size: must be at least 1, got 0"),
    ("n_layer", 0, "--n_layer: must be at least 1"),
    ("epochs", -1, "--epochs: must be at least 0"),
])
def test_out_of_range_values_name_the_argument(key, value, expected):
    with pytest.raises(InputError, match=expected.replace(".", r"\.")):
        apply_preset({key: value}, "paper")


@pytest.mark.parametrize("key, value", [("dropout", 0.0), ("final_rate", 1.0), ("epochs", 0),
                                        ("train_subset", 0)])
def test_boundary_values_that_are_allowed(key, value):
    assert apply_preset({key: value}, "paper")[key] == value
