"""Named configurations for train_single.py (and the run scripts): paper, cpu, demo.

Explicit command-line arguments override a preset's values.

- paper: the configuration of the paper (Sun et al., AAAI 2020, and its released code): 100 epochs
  per round, pruning_iter 20 (rounds 0..20), final_rate 0.1, SGD lr 0.1 momentum 0.9, batch 10,
  dropout 0.5, hidden 200, 2 layers, no early stopping. Meant for a GPU: about 2,100 epochs per
  task. (The lr schedule and the clipping are not preset values: each script defaults to the
  original's, lr decay 1/(1+0.05*epoch) with norm clip 5 for train_single.py, a constant lr with
  value clip 5 for train_mtl.py; see utils.cli_args.add_recipe_arguments.)
- cpu: the same network and pipeline sized for 2 CPU cores. Measured on full CoNLL-2003
  (203,621 training tokens): one training epoch of the hidden-200 tagger at batch 10 took about
  60 s on one core (about 3,300 tokens/s) and a dev evaluation about 4 s when the preset was
  sized; with the padded oneDNN LSTM path an epoch with evaluation now takes about 51 s. Three
  per-task prunings run in parallel on 2 cores, and the multi-task runs need the rest of a
  ~30-minute budget, so each pruning gets about 10 epochs of one core: 2 epochs per round on the
  full training set, pruning_iter 4 (rounds 0..4 keep 100, 56.23, 31.62, 17.78, 10.00 % of the
  prunable weights).
  Batch 10 is kept: on one core larger batches are not faster per token, and more updates per
  epoch matter when there are only 2 epochs.
- demo: minutes for the whole pipeline: the first 1,000 training and 200 dev/test sentences,
  3 epochs per round, pruning_iter 2 (about 4 minutes on 2 idle cores for `make demo`; with 500
  sentences and 2 epochs the single-task models stayed near chance, which made the table useless).
"""
from __future__ import annotations

import math
from typing import Any

from utils.errors import InputError

PAPER: dict[str, Any] = {
    "epochs": 100,
    "pruning_iter": 20,
    "final_rate": 0.1,
    "optim": "sgd(lr=0.1, momentum=0.9)",
    "batch_size": 10,
    "dropout": 0.5,
    "hidden_size": 200,
    "n_layer": 2,
    "patience": 0,
    "train_subset": 0,
    "eval_subset": 0,
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": PAPER,
    "cpu": {**PAPER, "epochs": 2, "pruning_iter": 4},
    "demo": {**PAPER, "epochs": 3, "pruning_iter": 2, "train_subset": 1000, "eval_subset": 200},
}

# --debug, as in the original code: 200 sentences per split, 3 epochs, 3 prunings.
DEBUG: dict[str, Any] = {"epochs": 3, "pruning_iter": 3, "train_subset": 200, "eval_subset": 200}


def apply_preset(values: dict[str, Any], preset: str, debug: bool = False) -> dict[str, Any]:
    """Fill every unset (None) value from the preset (then from --debug); set values win."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    defaults = {**PRESETS[preset], **(DEBUG if debug else {})}
    filled = dict(values)
    for key, value in defaults.items():
        if filled.get(key) is None:
            filled[key] = value
    check_ranges(filled)
    return filled


# name: (low, whether low itself is allowed, high, whether high itself is allowed)
RANGES: dict[str, tuple[float, bool, float, bool]] = {
    "epochs": (0, True, math.inf, False),
    "pruning_iter": (0, True, math.inf, False),
    "final_rate": (0, False, 1, True),
    "batch_size": (1, True, math.inf, False),
    "hidden_size": (1, True, math.inf, False),
    "n_layer": (1, True, math.inf, False),
    "dropout": (0, True, 1, False),
    "patience": (0, True, math.inf, False),
    "train_subset": (0, True, math.inf, False),
    "eval_subset": (0, True, math.inf, False),
    "clip": (0, True, math.inf, False),
    "accumulation_steps": (1, True, math.inf, False),
}


def check_ranges(values: dict[str, Any]) -> None:
    """InputError naming the argument when a numeric setting is out of its range."""
    for key, (low, low_ok, high, high_ok) in RANGES.items():
        value = values.get(key)
        if value is None:
            continue
        above_low = value >= low if low_ok else value > low
        below_high = value <= high if high_ok else value < high
        if not (above_low and below_high):
            expected = f"at least {low}" if low_ok else f"above {low}"
            if high != math.inf:
                expected += f" and at most {high}" if high_ok else f" and below {high}"
            raise InputError(f"must be {expected}, got {value}", f"--{key}")


def preset_help(key: str) -> str:
    """'paper: 100, cpu: 2, demo: 2' for an argument's help text."""
    return ", ".join(f"{name}: {values[key]}" for name, values in PRESETS.items())
