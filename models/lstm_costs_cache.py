"""Which BiLSTM plan constants a run uses: measured on this machine once, then read from a cache.

`fit_plan_to_machine(input_size, hidden, layers, device)` makes the constants of
models.lstm_plan the ones measured for this machine and returns a record of what it used (runs
write it into their results). The environment variable SPARSE_SHARING_LSTM_COSTS says how:
- `auto` (the default): the cached fit for this machine, else a calibration now (a few seconds,
  models.lstm_calibration), cached for the next run;
- `calibrate`: measure again (once per process) and replace the cached fit;
- `default`: the constants fitted on the development machine (models.lstm_plan.DEFAULT_COSTS);
  nothing is measured, read or written.
A fit is kept per CPU model, torch's CPU capability, oneDNN's instruction-set limit
(ONEDNN_MAX_CPU_ISA), torch version, number of torch threads and BiLSTM shape (`machine_key`),
one JSON file per key in the user's cache folder (SPARSE_SHARING_CACHE, else
$XDG_CACHE_HOME/sparse-sharing, else ~/.cache/sparse-sharing), written atomically. A file that
cannot be read, or that was written for another key, is ignored with a note, and the machine
measured again. On CUDA the plan is always packed: nothing is fitted.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch

from models.bilstm import BiLSTMLayer
from models.lstm_calibration import BatchTimer, calibrate, stack_timer
from models.lstm_plan import DEFAULT_COSTS, KernelCosts, use_costs
from utils.atomic import json_save_atomic
from utils.env_choice import env_choice

MODE_VARIABLE = "SPARSE_SHARING_LSTM_COSTS"
CACHE_VARIABLE = "SPARSE_SHARING_CACHE"
MODES = ("auto", "calibrate", "default")     # the first is the default
_fitted: dict[str, dict[str, Any]] = {}     # this process's records by key: one calibration each


def fit_plan_to_machine(input_size: int, hidden: int, layers: int, device: torch.device | str,
                        note: Callable[[str], None] = print,
                        time_batch: BatchTimer | None = None) -> dict[str, Any]:
    """Put the constants for this machine in use (see the module docstring) and return the
    record of what is in use: `source` (`default`, `cache` or `calibrated`), the constants with
    (`grad`) and without (`no grad`) gradients, the `key`, and the calibration's `seconds`.
    `time_batch` replaces the bare stack's clock (tests)."""
    mode = env_choice(MODE_VARIABLE, MODES)
    key = machine_key(input_size, hidden, layers)
    if torch.device(device).type != "cpu" or mode == "default":
        return _use(DEFAULT_COSTS, "default", key)
    name = json.dumps(key, sort_keys=True)
    if name in _fitted:                     # measured or read once per process
        record = _fitted[name]
        return _use(_costs_of(record), record["source"], key, record.get("seconds"))
    path = cache_dir() / f"lstm-costs-{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"
    record = read_cached(path, key, note) if mode == "auto" else None
    if record is None:
        started = time.perf_counter()
        try:
            costs = calibrate(time_batch or stack_timer(input_size, hidden, layers))
        except ValueError as err:
            note(f"BiLSTM plan: the calibration gave no usable constants ({err}); using the defaults")
            return _use(DEFAULT_COSTS, "default", key)
        record = _record(costs, "calibrated", key, seconds=round(time.perf_counter() - started, 2))
        try:
            json_save_atomic(record, path)
        except OSError as err:
            note(f"could not cache the BiLSTM plan's constants in {path}: {err.strerror}")
        note(f"BiLSTM plan: cost constants measured on this machine in {record['seconds']} s "
             f"(cached in {path}; {MODE_VARIABLE}=default turns this off)")
    else:
        record = {**record, "source": "cache"}
    _fitted[name] = record
    return _use(_costs_of(record), record["source"], key, record.get("seconds"))


def fit_plan_to_model(model: torch.nn.Module, device: torch.device | str,
                      note: Callable[[str], None] = print) -> dict[str, Any] | None:
    """`fit_plan_to_machine` for the shape of the model's BiLSTM; None for a model without one."""
    layers = [m for m in model.modules() if isinstance(m, BiLSTMLayer)]
    if not layers:
        return None
    depth = getattr(getattr(model, "config", None), "n_layer", len(layers))
    return fit_plan_to_machine(layers[0].input_size, layers[0].hidden_size, depth, device, note)


def machine_key(input_size: int, hidden: int, layers: int) -> dict[str, Any]:
    """What the constants depend on: the CPU, torch's kernels for it, the threads, the shape."""
    return {"cpu": cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_max_cpu_isa": onednn_isa_limit(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "lstm": {"input": input_size, "hidden": hidden, "layers": layers}}


ONEDNN_ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")   # oneDNN reads the first set


def onednn_isa_limit() -> str:
    """The instruction set oneDNN's LSTM kernels are limited to by the environment ("ALL": none).
    torch's CPU capability does not show it, and the kernels' speed changes with it (on an
    AVX-512 machine limited to AVX2 a BiLSTM layer took 1.5 to 1.7 times as long)."""
    for variable in ONEDNN_ISA_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value:
            return value.upper()
    return "ALL"


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what the platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cache_dir() -> Path:
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sparse-sharing"


def read_cached(path: Path, key: dict[str, Any], note: Callable[[str], None]) -> dict[str, Any] | None:
    """The cached record at `path` if it holds usable constants for `key`; None (with a note
    when the file exists) otherwise."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("key") != key:
            raise ValueError("it was written for another machine or shape")
        _costs_of(record)
        return record
    except (OSError, ValueError, TypeError, KeyError) as err:
        note(f"ignored the cached BiLSTM plan constants {path}: {err}; measuring again")
        return None


def _costs_of(record: dict[str, Any]) -> dict[bool, KernelCosts]:
    costs = {True: KernelCosts(**record["grad"]), False: KernelCosts(**record["no grad"])}
    for cost in costs.values():
        if not all(isinstance(v, (int, float)) and 0 <= v < float("inf") for v in asdict(cost).values()):
            raise ValueError(f"a constant is not a finite number >= 0: {asdict(cost)}")
    return costs


def _record(costs: dict[bool, KernelCosts], source: str, key: dict[str, Any],
            seconds: float | None = None) -> dict[str, Any]:
    record = {"source": source, "grad": asdict(costs[True]), "no grad": asdict(costs[False]),
              "key": key}
    if seconds is not None:
        record["seconds"] = seconds
    return record


def _use(costs: dict[bool, KernelCosts], source: str, key: dict[str, Any],
         seconds: float | None = None) -> dict[str, Any]:
    use_costs(costs)
    return _record(costs, source, key, seconds)
