"""What the benchmarks record of the machine they ran on: CPU (model and torch's capability),
cores, threads, torch, load, and the GPU where one is used."""
from __future__ import annotations

import os
import platform
from typing import Any

import torch

from models.lstm_costs_cache import cpu_name


def machine_info(device: torch.device, load_before: tuple[float, ...]) -> dict[str, Any]:
    """The machine, with the load average before the run (`load_before`) and now."""
    info = {"cpu": cpu_name(), "cores": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "python": platform.python_version(), "device": str(device),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    return info
