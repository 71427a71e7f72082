"""Settings chosen by an environment variable from a fixed list (SPARSE_SHARING_LSTM_COSTS,
SPARSE_SHARING_HEAP)."""
from __future__ import annotations

import os

from utils.errors import InputError


def env_choice(variable: str, choices: tuple[str, ...]) -> str:
    """The variable's value, spaces stripped; the first choice where it is unset or empty;
    InputError naming the variable and the choices for any other value."""
    value = os.environ.get(variable, "").strip() or choices[0]
    if value not in choices:
        raise InputError(f"{variable} must be one of {', '.join(choices)}, got {value!r}")
    return value
