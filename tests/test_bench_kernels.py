"""bench/lstm_kernels.py on a tiny configuration: every kind measured in both gradient modes, the
plan's time one of the measured ones, the fit and the model's constants reported.

Runs the script as users do (a subprocess) on the first sentences of the real CoNLL-2003 files;
no timing assertions.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from models.lstm_plan import DEFAULT_COSTS, KernelCosts
from test_model_fixtures import conll03_sample
from utils.data.datafile import save_data_file

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "lstm_kernels.py"
sys.path.insert(0, str(ROOT / "bench"))

import lstm_kernels  # noqa: E402

TINY = ["--batches", "3", "--repeats", "1", "--hidden", "8", "--eval-batch", "10", "40",
        "--threads", "1"]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kernels") / "conll03-sample.pt"
    save_data_file(conll03_sample(80, 60), path)
    return path


@pytest.fixture(scope="module")
def result(data_file, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("kernels-out") / "kernels.json"
    done = run_bench("--data", str(data_file), *TINY, "--out", str(out))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert json.loads(out.read_text()) == printed
    return printed


def test_every_kind_in_both_gradient_modes(result):
    names = {f"{kind} {mode}" for kind in ("random-10", "tight-10", "fastnlp-10", "eval-10", "eval-40")
             for mode in ("grad", "no grad")}
    assert set(result["kinds"]) == names
    for name, kind in result["kinds"].items():
        assert kind["grad"] == (not name.endswith(" no grad"))
        assert 1 <= kind["batches"] <= 3 and sum(kind["plans"].values()) == kind["batches"]
        seconds = kind["seconds"]
        assert all(seconds[k] > 0 for k in ("packed", "padded", "plan", "best_of_two"))
        assert seconds["best_of_two"] <= min(seconds["packed"], seconds["padded"]) + 1e-4
        assert 0 <= kind["padding"] < 1
    # Sorted evaluation batches have less padding than random ones.
    assert result["kinds"]["eval-10 grad"]["padding"] < result["kinds"]["random-10 grad"]["padding"]


def test_fit_and_model_constants_are_reported(result):
    names = {f.name for f in fields(KernelCosts)}
    for mode, grad in (("grad", True), ("no grad", False)):
        # Three tiny batches may time too noisily for a fit (test_fit_of_rows covers both cases).
        assert set(result["fit"][mode]) in (names | {"row_step_us"}, {"unusable"})
        assert result["model_costs"][mode] == asdict(DEFAULT_COSTS[grad])      # tests: the defaults
    machine = result["machine"]
    assert machine["torch_threads"] == 1 and machine["clock"] == "process CPU time"


def test_table_output(data_file):
    done = run_bench("--data", str(data_file), *TINY, "--table")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith(("random-10", "tight-10", "eval-40")) for line in lines) == 6
    assert any(line.startswith("fit, grad: ") for line in lines)


def test_bad_input_is_one_line_and_exit_2(tmp_path, data_file):
    for args in (["--data", str(tmp_path / "missing.pt")], ["--batches", "0"],
                 ["--eval-batch", "0"], ["--data", str(data_file), "--task", "srl"]):
        done = run_bench(*args, "--repeats", "1")
        assert done.returncode == 2, args
        assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1


def _row(lengths: list[int], packed: float, padded: float) -> dict:
    return {"lengths": lengths, "packed": packed, "padded": padded, "plan": padded, "groups": []}


@pytest.mark.parametrize("padded_seconds, fitted", [
    # A padded batch costs 1 us per row-step exactly (worked by hand): the row-step is 1 us.
    (lambda rows, width: rows * width * 1e-6, True),
    # Padded time falling as batches grow, as noise can make it on three tiny batches: no fit,
    # and the bench still reports its measurements.
    (lambda rows, width: 1e-3 / (rows * width), False),
])
def test_fit_of_rows(padded_seconds, fitted):
    rows = [_row([width] * rows, 2e-6 * rows * width, padded_seconds(rows, width))
            for rows in (1, 4, 10) for width in (5, 20, 40)]
    fit = lstm_kernels.fit(rows)
    if fitted:
        assert fit["row_step_us"] == pytest.approx(1.0, rel=1e-6)
        # Packed costs 2 us a token, i.e. two padded row-steps; nothing else costs.
        assert fit["packed_token"] == pytest.approx(2.0, abs=0.01)
        assert fit["group"] == fit["group_step"] == fit["packed"] == fit["packed_step"] == 0
    else:
        assert set(fit) == {"unusable"} and "row-step" in fit["unusable"]
        assert "unusable" in lstm_kernels.table(
            {"machine": {"torch": "t", "cpu_capability": "c", "torch_threads": 1, "clock": "x",
                         "load_avg_before": [0.0]}, "kinds": {},
             "fit": {"grad": fit, "no grad": fit},
             "model_costs": {"grad": {}, "no grad": {}, "source": "default"}})
