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

With `--encoder` (a pretrained transformer, docs/encoders.md) the presets are ENCODER_PRESETS:
the transformer fine-tuning recipe of BERT (Devlin et al. 2019, appendix A.3) and transformers'
defaults: AdamW (lr 5e-5, weight decay 0.01, none on biases and LayerNorms), linear warm-up over
10% of the steps then linear decay to 0, gradient-norm clipping at 1.0, batches of 32 sentences,
dropout 0.1 before the heads, 3 epochs. IMP follows Chen et al. (2020, lottery tickets in BERT):
rewind to the pretrained weights after every round.
- paper: that recipe on the full data, pruning_iter 10 to final_rate 0.1 (21% of the remaining
  weights per round, 11 rounds of 3 epochs). For a GPU.
- cpu: meant for 2 CPU cores and a 6-layer 384-wide encoder (MiniLM): MiniLM's prunings, hard
  and sparse runs of three seeds took 84 min on 2 cores (docs/encoders.md): the first 2,000
  training and 500 dev/test sentences, 2 epochs per round, pruning_iter 2 (100, 31.62, 10 %
  kept), lr 1e-4 (fewer steps than BERT's recipe assumes).
- demo: the steps in minutes, not a result: 300 training and 100 dev/test sentences, 3 epochs
  per round of batches of 16, pruning_iter 2, lr 2e-4 (so few steps need a larger one).
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

ENCODER_PAPER: dict[str, Any] = {
    "epochs": 3,
    "pruning_iter": 10,
    "final_rate": 0.1,
    "optim": "adamw(lr=5e-5, weight_decay=0.01)",
    "batch_size": 32,
    "dropout": 0.1,
    "patience": 0,
    "train_subset": 0,
    "eval_subset": 0,
}
ENCODER_PRESETS: dict[str, dict[str, Any]] = {
    "paper": ENCODER_PAPER,
    "cpu": {**ENCODER_PAPER, "epochs": 2, "pruning_iter": 2,
            "optim": "adamw(lr=1e-4, weight_decay=0.01)", "train_subset": 2000, "eval_subset": 500},
    "demo": {**ENCODER_PAPER, "epochs": 3, "pruning_iter": 2, "batch_size": 16,
             "optim": "adamw(lr=2e-4, weight_decay=0.01)", "train_subset": 300, "eval_subset": 100},
}
# The recipe arguments (utils.cli_args.add_recipe_arguments) an encoder run takes unless given.
ENCODER_RECIPE: dict[str, Any] = {"scheduler": "linear(warmup=0.1)", "clip_type": "norm", "clip": 1.0}

# --debug, as in the original code: 200 sentences per split, 3 epochs, 3 prunings.
DEBUG: dict[str, Any] = {"epochs": 3, "pruning_iter": 3, "train_subset": 200, "eval_subset": 200}


def apply_preset(values: dict[str, Any], preset: str, debug: bool = False,
                 encoder: bool = False) -> dict[str, Any]:
    """Fill every unset (None) value from the preset (an encoder's, with `encoder`; then from
    --debug); set values win."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    defaults = {**(ENCODER_PRESETS if encoder else PRESETS)[preset], **(DEBUG if debug else {})}
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


def apply_encoder_recipe(values: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """With an encoder: the recipe arguments not given on the command line take ENCODER_RECIPE."""
    if values.get("encoder"):
        values.update({k: v for k, v in ENCODER_RECIPE.items() if k not in given})
    return values


def preset_help(key: str) -> str:
    """'paper: 100, cpu: 2, demo: 2' for an argument's help text (and the encoder presets')."""
    text = ", ".join(f"{name}: {values[key]}" for name, values in PRESETS.items())
    if key in ENCODER_PAPER and any(ENCODER_PRESETS[n][key] != PRESETS[n].get(key) for n in PRESETS):
        text += "; with --encoder " + ", ".join(f"{name}: {values[key]}"
                                                for name, values in ENCODER_PRESETS.items())
    return text
