"""Optimizers from strings such as "sgd(lr=0.1, momentum=0.9)" (parsed safely: utils.training.spec) and
gradient clipping.

`check_optim` also builds the optimizer once on a dummy parameter and takes a step, so values
torch refuses (a negative lr, betas of the wrong length) are found before a run starts.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch

from utils.errors import InputError, shown
from utils.training.fused_sgd import SGD
from utils.training.spec import parse_call

OPTIMIZERS = {
    "sgd": SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop,
}
_ALLOWED_KEYS = {"lr", "momentum", "weight_decay", "nesterov", "dampening", "betas", "eps",
                 "alpha", "rho", "lr_decay", "amsgrad", "centered", "initial_accumulator_value"}
_FLAG_KEYS = {"nesterov", "amsgrad", "centered"}             # the others are numbers (betas two)


def parse_optim(spec: str) -> tuple[str, dict[str, Any]]:
    """("sgd", {"lr": 0.1, "momentum": 0.9}) from "sgd(lr=0.1, momentum=0.9)"; InputError if bad."""
    name, kwargs = parse_call(spec, {name: _ALLOWED_KEYS for name in OPTIMIZERS}, "--optim", "optimizer")
    for key, value in kwargs.items():
        flag = isinstance(value, bool)
        if key in _FLAG_KEYS and not flag:
            raise InputError(f"argument {key!r} must be True or False, got {shown(value)}", "--optim")
        if key not in _FLAG_KEYS and key != "betas" and (flag or not isinstance(value, (int, float))):
            raise InputError(f"argument {key!r} must be a number, got {shown(value)}", "--optim")
    betas = kwargs.get("betas", (0.9, 0.999))
    if not (isinstance(betas, tuple) and len(betas) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in betas)):
        raise InputError(f"argument 'betas' must be two numbers, e.g. betas=(0.9, 0.999), got {shown(betas)}",
                         "--optim")
    return name, kwargs


# Optimizers with a fused kernel on the CPU and CUDA alike: one pass over each tensor per step.
FUSED = {"sgd", "adam", "adamw"}


def _construct(name: str, kwargs: dict[str, Any],
               params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    try:
        # fused: each tensor's whole update in one pass (SGD with momentum: one read of the
        # gradient, buffer and weight instead of three passes); the per-tensor arithmetic, the
        # last bit aside (a fused multiply-add). The others: foreach, one call per update over
        # all tensors, which torch chooses on CUDA only (on the CPU it saves per-tensor calls).
        fused = name in FUSED and not (name == "sgd" and kwargs.get("dampening", 0))
        mode = {"fused": True} if fused else {"foreach": True}
        return OPTIMIZERS[name](params, **kwargs, **mode)
    except (TypeError, ValueError, IndexError) as err:
        raise InputError(f"bad arguments for {name}: {err}", "--optim") from None


def check_optim(spec: str) -> None:
    """InputError unless `spec` parses and the optimizer it names builds and takes a step."""
    name, kwargs = parse_optim(spec)
    dummy = torch.nn.Parameter(torch.ones(2))
    optimizer = _construct(name, kwargs, [dummy])
    dummy.grad = torch.ones(2)
    try:
        optimizer.step()
    except (TypeError, ValueError, IndexError, RuntimeError) as err:
        raise InputError(f"bad arguments for {name}: {err}", "--optim") from None


def build_optimizer(spec: str, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer the string names, over `params`."""
    name, kwargs = parse_optim(spec)
    return _construct(name, kwargs, params)


def parameter_groups(model: torch.nn.Module) -> list:
    """The trainable parameters for the optimizer: one group, or, for a model that names the
    parameters weight decay must spare (`no_decay_names()`: a transformer encoder's biases and
    LayerNorms, as BERT and transformers' Trainer do), two groups, the second without decay."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    spared = getattr(model, "no_decay_names", None)
    if not callable(spared):
        return [p for _, p in named]
    names = spared()
    return [{"params": [p for n, p in named if n not in names]},
            {"params": [p for n, p in named if n in names], "weight_decay": 0.0}]


def clip_grad_norm(params: list[torch.nn.Parameter], max_norm: float) -> None:
    """Gradient-norm clipping with the result of `torch.nn.utils.clip_grad_norm_`.

    On the CPU the rescaling is skipped when it would not change anything (reading the norm is
    free there), which saves a pass over every gradient on most steps; on a GPU the check would
    force a host sync, so the gradients are always rescaled as torch does.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norm = torch.nn.utils.get_total_norm(grads)
    # torch scales by min(1, max_norm / (norm + 1e-6)): a no-op unless norm + 1e-6 > max_norm.
    if norm.device.type == "cpu" and float(norm) + 1e-6 <= max_norm:
        return
    torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)


def clip_grad_value(params: list[torch.nn.Parameter], threshold: float) -> None:
    """Clamp every gradient element to [-threshold, threshold], the result of
    `torch.nn.utils.clip_grad_value_`. On the CPU each gradient is clamped in one pass: torch's
    foreach version clamps below, then above, two passes over every gradient (the embedding's
    dense one among them); on a GPU its fused kernels are kept."""
    if params and params[0].grad.device.type == "cpu":
        for param in params:
            param.grad.clamp_(-threshold, threshold)
    else:
        torch.nn.utils.clip_grad_value_(params, threshold)


def keep_zero_grads(named_params: Mapping[str, torch.nn.Parameter], had_grad: set[str]) -> None:
    """Before a step: a zero gradient for every parameter in `had_grad` that got none since the
    last step, then add to `had_grad` every parameter that has one. Gradients are freed after each
    step (cheap), so this gives the optimizer what the original's zero_grad left (zeros, not
    None): SGD momentum and weight decay keep acting on a parameter once it had a gradient, on
    the steps of tasks that do not use it (other tasks' heads, a layer POS skips)."""
    for name in had_grad:
        param = named_params[name]
        if param.grad is None:
            param.grad = torch.zeros_like(param)
    had_grad.update(name for name, param in named_params.items() if param.grad is not None)


CLIP_TYPES = ("norm", "value")


def clip_gradients(params: list[torch.nn.Parameter], clip_type: str, threshold: float) -> None:
    """Clip before the optimizer step, as the original does: "norm" rescales all gradients to a
    total 2-norm of at most `threshold` (its single-task pruning, fastNLP's GradientClipCallback);
    "value" clamps every gradient element to [-threshold, threshold] (its multi-task trainer,
    `clip_grad_value_(model.parameters(), 5)`). threshold 0 = no clipping."""
    if not threshold:
        return
    if clip_type == "norm":
        clip_grad_norm(params, threshold)
    elif clip_type == "value":
        clip_grad_value([p for p in params if p.grad is not None], threshold)
    else:
        raise ValueError(f"unknown clip type {clip_type!r}; expected one of {', '.join(CLIP_TYPES)}")
