"""Checkpoints: model weights with their config, and resume states with every RNG state.

Everything is written atomically (temp file + rename) and holds only tensors and plain values,
so `torch.load(path, weights_only=True)` reads it.
"""
from __future__ import annotations

import os
import random
from typing import Any, Mapping

import torch
from torch import nn

from models import ModelConfig, Tagger, build_model, config_from_dict
from utils.atomic import torch_save_atomic
from utils.errors import InputError
from utils.sparsity.original_masks import accept_state
from utils.torch_files import load


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict."""
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}


def save_weights(path: str | os.PathLike, model: nn.Module, config: ModelConfig,
                 **extra: Any) -> None:
    """`{"state_dict", "model_config", **extra}` (the form init_weights.th and best_*.th take)."""
    torch_save_atomic({"state_dict": cpu_state(model), "model_config": config.to_dict(), **extra}, path)


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """(state dict, model config dict or None) from a weights file or a bare state dict (the
    original code's too, see utils.sparsity.original_masks); every tensor checked finite."""
    loaded = load(path, "weights file")
    if "state_dict" in loaded:
        config = loaded.get("model_config")
        if config is not None and not isinstance(config, dict):
            raise InputError("'model_config' is not a dict", path)
        return checked_state(loaded["state_dict"], path), config
    if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return checked_state(accept_state(loaded, path), path), None   # the original's: renamed
    raise InputError("expected a weights file with a 'state_dict'", path)


def checked_state(state: Any, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """`state` if it is a {name: tensor} dict of finite values; else InputError naming the
    first tensor that is not (weights with NaN or inf would train as a divergence)."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("'state_dict' is not a dict of tensors", path)
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise InputError(f"tensor {name!r} holds {bad} NaN or infinite value(s); weights must "
                             "be finite", path)
    return state


def load_into(model: Tagger, state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Load start weights `state` (read from `path`) into `model`; InputError when they do not
    fit it (another data file or size, or a checkpoint of an earlier model version)."""
    try:
        model.load_state_dict(model.accept_state(state))
    except RuntimeError as err:
        # torch's first line only names the class; the second says what is missing or differs
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise InputError(f"weights do not fit this model: {detail[:300]}", path) from None


def load_model(path: str | os.PathLike) -> tuple[Tagger, dict[str, Any]]:
    """The model a weights file holds (best.th, best_[k]_[pct].th, init_weights.th), rebuilt from
    its model_config, and the file's other entries."""
    loaded = load(path, "model file")
    if "state_dict" not in loaded or not isinstance(loaded.get("model_config"), dict):
        raise InputError("expected a model file with 'state_dict' and 'model_config' (best.th of "
                         "train_mtl.py or best_[k]_[pct].th of train_single.py)", path)
    state = checked_state(loaded["state_dict"], path)
    try:
        model = build_model(config_from_dict(loaded["model_config"]))
    except (ValueError, TypeError, RuntimeError, AssertionError) as err:   # sizes torch refuses too
        raise InputError(f"bad model_config: {(str(err).splitlines() or [''])[0][:200]}",
                         path) from None
    load_into(model, state, path)
    return model, loaded


def rng_states(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a training run draws from (torch, python, the shuffling generator)."""
    states = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        states["generator"] = generator.get_state()
    return states


def set_rng_states(states: Mapping[str, Any], generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if generator is not None and "generator" in states:
        generator.set_state(states["generator"])


# The seeds torch's generators accept (torch.manual_seed: a 64-bit seed, negative ones wrapped).
SEED_RANGE = (-2 ** 63, 2 ** 64 - 1)


def check_seed(seed: int, what: str = "") -> int:
    """`seed`, if torch's generators accept it; else InputError naming --seed (`what` says how
    the seed was derived from it, e.g. "round 3's seed, seed * 1000 + 3, ")."""
    low, high = SEED_RANGE
    if not (isinstance(seed, int) and low <= seed <= high):
        raise InputError(f"{what}{seed} is outside the seeds torch accepts ({low} to {high})",
                         "--seed")
    return seed


def seed_everything(seed: int) -> None:
    random.seed(check_seed(seed))
    torch.manual_seed(seed)
