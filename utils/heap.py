"""glibc's heap held by the process between training steps instead of handed back to the system.

A training step allocates the same blocks every step (a sparse step's task-masked weights, 0.03
to 1.3 MB each; gradients; activations) and frees them when it ends. glibc serves a block above
its mmap threshold (128 KiB at first, raised as such blocks are freed) from a fresh mapping, and
hands the free top of its heap back to the system once it exceeds its trim threshold (twice the
mmap threshold). Either way the next step gets fresh pages, and each faults on first touch:
freeing and allocating again one sparse step's masked weights (5.6 MB) takes 2.1 ms with
1,282 page faults, against 0.12 ms with none once the memory is held (docs/performance.md).
Whether a step meets them depends on the order of the process's earlier allocations.

`hold_freed_memory()` sets both thresholds at the start to the ceiling glibc's own adjustment can
reach on 64-bit machines (mmap 32 MiB, trim 64 MiB), so a step reuses the heap's freed blocks
every time. Nothing computed changes. The environment variable SPARSE_SHARING_HEAP says whether:
`hold` (the default) or `system` (glibc's own settings, nothing set). Where the C library is not
glibc nothing is set, and the record says so.
"""
from __future__ import annotations

import ctypes
from typing import Any

from utils.env_choice import env_choice

MODE_VARIABLE = "SPARSE_SHARING_HEAP"
MODES = ("hold", "system")                   # the first is the default
# mallopt parameters (glibc's malloc.h) and the values set: glibc's DEFAULT_MMAP_THRESHOLD_MAX
# on 64-bit, and the trim threshold its dynamic adjustment pairs with it (twice as much).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def hold_freed_memory() -> dict[str, Any]:
    """Set glibc's thresholds as the module docstring says (process-wide; setting them again is
    harmless) and return a record of what was done, for the run's results."""
    mode = env_choice(MODE_VARIABLE, MODES)
    if mode == "system":
        return {"mode": mode, "held": False, "why": f"{MODE_VARIABLE}=system"}
    libc = glibc()
    if libc is None:
        return {"mode": mode, "held": False, "why": "the C library is not glibc"}
    if not (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return {"mode": mode, "held": False, "why": "glibc refused the thresholds"}
    return {"mode": mode, "held": True, "mmap_threshold_mib": MMAP_THRESHOLD >> 20,
            "trim_threshold_mib": TRIM_THRESHOLD >> 20}


def glibc() -> ctypes.CDLL | None:
    """The process's C library where it is glibc (it exports gnu_get_libc_version), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version
        libc.mallopt
    except (OSError, TypeError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
