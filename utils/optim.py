"""Optimizers from strings such as "sgd(lr=0.1, momentum=0.9)", parsed safely, and the lr decay.

The string is read with `ast` (never `eval`): a known optimizer name, then keyword arguments
whose values are plain literals (numbers, booleans, tuples of numbers), every number finite.
`check_optim` also builds the optimizer once on a dummy parameter and takes a step, so values
torch refuses (a negative lr, betas of the wrong length) are found before a run starts.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Iterable

import torch

from utils.errors import InputError

OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop,
}
_MAX_LENGTH = 500                                # longer strings are not optimizer settings
_ALLOWED_KEYS = {"lr", "momentum", "weight_decay", "nesterov", "dampening", "betas", "eps",
                 "alpha", "rho", "lr_decay", "amsgrad", "centered", "initial_accumulator_value"}


def parse_optim(spec: str) -> tuple[str, dict[str, Any]]:
    """("sgd", {"lr": 0.1, "momentum": 0.9}) from "sgd(lr=0.1, momentum=0.9)"; InputError if bad."""
    where = "--optim"
    if len(spec) > _MAX_LENGTH:
        raise InputError(f"expected NAME(key=value, ...) of at most {_MAX_LENGTH} characters, "
                         f"got {len(spec)} characters", where)
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise InputError(f"expected NAME(key=value, ...), got {spec!r}", where) from None
    if isinstance(node, ast.Name):                   # "adam" alone: the defaults
        node = ast.Call(func=node, args=[], keywords=[])
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise InputError(f"expected NAME(key=value, ...), got {spec!r}", where)
    name = node.func.id.lower()
    if name not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}", where)
    if node.args:
        raise InputError(f"give optimizer arguments by name (lr=0.1), got {spec!r}", where)
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg not in _ALLOWED_KEYS:
            raise InputError(f"unknown optimizer argument {keyword.arg!r} in {spec!r}", where)
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise InputError(f"argument {keyword.arg!r} must be a literal in {spec!r}", where) from None
        if keyword.arg == "betas" and not (isinstance(kwargs["betas"], tuple)
                                           and len(kwargs["betas"]) == 2):
            raise InputError(f"argument 'betas' must be two numbers, e.g. betas=(0.9, 0.999), "
                             f"got {kwargs['betas']!r}", where)
        if not _all_finite(kwargs[keyword.arg]):
            raise InputError(f"argument {keyword.arg!r} must be finite, got {kwargs[keyword.arg]!r}",
                             where)
    return name, kwargs


def _all_finite(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_all_finite(v) for v in value)
    return not isinstance(value, (float, complex)) or math.isfinite(abs(value))


def _construct(name: str, kwargs: dict[str, Any],
               params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    try:
        return OPTIMIZERS[name](params, **kwargs)
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


def lr_decay(optimizer: torch.optim.Optimizer, rate: float = 0.05) -> torch.optim.lr_scheduler.LambdaLR:
    """lr at epoch e = lr0 / (1 + rate * e); step it once per epoch."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + rate * epoch))


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
