"""utils/heap.py: glibc's heap held between training steps.

The oracle for the effect is the kernel's count of minor page faults (getrusage) over what a
sparse step does with its masked weights: blocks of the eight BiLSTM weights' sizes (0.25 to 1.3
MB) allocated from the C library, written, and freed, round after round, in a process that does
nothing else (torch's own allocations would move the heap's contents between rounds). By glibc's
settings the freed blocks go back to the system (after the first round's mappings the mmap
threshold has risen to the largest block, and the free heap top exceeds the trim threshold,
twice that), so every round faults its 1,380-odd pages in again; with the heap held, later rounds
reuse the same memory. docs/performance.md has the same with torch tensors and in training.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import heap
from utils.errors import InputError
from utils.heap import MODE_VARIABLE, hold_freed_memory

ROOT = Path(__file__).resolve().parents[1]
# What a run on glibc records (the thresholds: glibc's 64-bit ceiling and twice it, by hand).
HELD = {"mode": "hold", "held": True, "mmap_threshold_mib": 32, "trim_threshold_mib": 64}
BLOCKS = [4 * 800 * n for n in (80, 200, 400, 200)] * 2        # bytes of the eight weights
PAGES_PER_ROUND = sum(BLOCKS) // os.sysconf("SC_PAGE_SIZE")

FAULTS_PER_ROUND = f"""
import ctypes, json, resource
from utils.heap import glibc, hold_freed_memory
record = hold_freed_memory()
libc = glibc()
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
faults = []
for _ in range(10):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [libc.malloc(size) for size in {BLOCKS}]
    for block, size in zip(blocks, {BLOCKS}):
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
print(json.dumps({{"record": record, "faults": faults[2:]}}))
"""


def faults_per_round(mode: str) -> dict:
    env = {**os.environ, MODE_VARIABLE: mode}
    done = subprocess.run([sys.executable, "-c", FAULTS_PER_ROUND], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_held_heap_reuses_freed_blocks_instead_of_faulting_them_in():
    system = faults_per_round("system")
    assert system["record"] == {"mode": "system", "held": False, "why": f"{MODE_VARIABLE}=system"}
    assert all(f >= PAGES_PER_ROUND * 9 // 10 for f in system["faults"]), system
    held = faults_per_round("hold")
    assert held["record"] == HELD
    assert all(f <= PAGES_PER_ROUND // 20 for f in held["faults"]), held


class FakeLibc:
    def __init__(self, accepts: bool) -> None:
        self.accepts, self.calls = accepts, []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return int(self.accepts)


@pytest.mark.parametrize("value, set_", [("", True), ("hold", True), (" hold ", True),
                                         ("system", False)])
def test_the_mode_variable(monkeypatch, value, set_):
    libc = FakeLibc(accepts=True)
    monkeypatch.setattr(heap, "glibc", lambda: libc)
    monkeypatch.setenv(MODE_VARIABLE, value)
    record = hold_freed_memory()
    assert record["held"] is set_
    # mallopt's M_MMAP_THRESHOLD is -3 and M_TRIM_THRESHOLD -1 (glibc's malloc.h)
    assert libc.calls == ([(-3, 32 << 20), (-1, 64 << 20)] if set_ else [])


@pytest.mark.parametrize("value", ["HOLD", "on", "0", "default", "hold,system"])
def test_a_bad_mode_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(MODE_VARIABLE, value)
    with pytest.raises(InputError, match=f"{MODE_VARIABLE} must be one of hold, system"):
        hold_freed_memory()


def test_without_glibc_or_when_refused_nothing_is_held(monkeypatch):
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    monkeypatch.setattr(heap, "glibc", lambda: None)
    assert hold_freed_memory() == {"mode": "hold", "held": False, "why": "the C library is not glibc"}
    monkeypatch.setattr(heap, "glibc", lambda: FakeLibc(accepts=False))
    assert hold_freed_memory() == {"mode": "hold", "held": False, "why": "glibc refused the thresholds"}


def test_this_c_library_is_found_as_glibc():
    # The project's machines and CI run Linux with glibc: the real library must be found there.
    assert heap.glibc() is not None
