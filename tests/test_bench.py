"""bench/throughput.py on a tiny configuration: every field present, sane values, same shapes.

Runs the script as users do (a subprocess) on the first sentences of the real CoNLL-2003 files;
no timing assertions (speed is measured by the benchmark itself, not by tests).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_model_fixtures import conll03_sample
from utils.data.datafile import save_data_file

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "throughput.py"
sys.path.insert(0, str(ROOT / "bench"))

import throughput_runs  # noqa: E402
import throughput_sample  # noqa: E402

TINY = ["--steps", "3", "--hidden", "16", "--eval-batch", "8", "--eval-batches", "1",
        "--repeats", "1", "--threads", "1"]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "conll03-sample.pt"
    save_data_file(conll03_sample(60, 20), path)
    return path


@pytest.fixture(scope="module")
def result(data_file, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench-out") / "throughput.json"
    done = run_bench("--data", str(data_file), *TINY, "--out", str(out))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert json.loads(out.read_text()) == printed
    return printed


def test_every_method_is_measured_with_sane_values(result):
    assert set(result["train"]) == set(throughput_runs.TRAIN_METHODS)
    assert set(result["eval"]) == set(throughput_runs.EVAL_METHODS)
    for table in (result["train"], result["eval"]):
        for row in table.values():
            assert row["tokens_per_s"] > 0 and row["best_seconds"] > 0
            assert row["median_tokens_per_s"] <= row["tokens_per_s"]
            assert row["tokens_per_cpu_s"] > 0
            assert row["peak_mb"] is None          # CPU: no per-run device peak
    assert result["peak_rss_mb"] > 0
    assert result["machine"]["torch_threads"] == 1 and result["machine"]["device"] == "cpu"
    assert result["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    # The plan's constants in use are recorded (the test suite runs with the defaults).
    assert result["machine"]["lstm_costs"]["source"] == "default"


@pytest.mark.parametrize("bucketing", ["fastnlp", "tight"])
def test_the_floors_run_the_batches_the_single_trainer_draws(data_file, bucketing):
    import throughput
    from utils.data.datafile import load_data_file

    args = throughput.parse_args(["--data", str(data_file), *TINY, "--bucketing", bucketing])
    bench = throughput_runs.Bench(load_data_file(args.data), args, torch.device("cpu"))
    trainer = bench.trainers["single"]
    for name, floor in bench.floors.items():
        inputs = floor.prepare_train(trainer, 5, throughput_runs.BUCKETED_EPOCH)
        trainer.generator.manual_seed(5)
        drawn = [trainer.train_index[t].batch(ids).lengths.tolist()
                 for t, ids in trainer.schedule.epoch(throughput_runs.BUCKETED_EPOCH)]
        if name == "floor":
            assert [x[0].batch_sizes.sum().item() for x in inputs] == [sum(d) for d in drawn]
        else:
            assert [x[1].tolist() for x in inputs] == drawn


def test_methods_run_on_the_same_sentences(result):
    train = result["train"]
    single = train["single"]["tokens"]
    assert single > 0
    assert train["floor"]["tokens"] == train["single_masked"]["tokens"] == single
    # Hard, sparse and the original masking see every task's sample (the same sentences), and so
    # do their random-batch epochs.
    assert train["hard"]["tokens"] == train["sparse"]["tokens"] == train["original_masking"]["tokens"]
    assert train["hard_random"]["tokens"] == train["sparse_random"]["tokens"] == train["hard"]["tokens"]
    assert train["hard"]["tokens"] == 3 * single
    assert result["eval"]["sparse"]["tokens"] == 3 * result["eval"]["single"]["tokens"]


def test_ratios_follow_from_the_rates(result):
    train, ratios = result["train"], result["ratios"]
    expected = train["sparse"]["tokens_per_s"] / train["hard"]["tokens_per_s"]
    assert ratios["sparse_over_hard"] == pytest.approx(expected, abs=1e-3)
    expected = train["single"]["tokens_per_s"] / train["floor"]["tokens_per_s"]
    assert ratios["single_over_floor"] == pytest.approx(expected, abs=1e-3)
    assert {"sparse_over_original_masking", "hard_over_original_masking",
            "eval_single_over_floor"} <= set(ratios)
    # Random over bucketed: the time of a random-batch epoch over a bucketed one's, the same
    # sentences (so the ratio of the rates; best_seconds, kept to 0.1 ms, is too coarse here).
    assert train["hard_random"]["tokens"] == train["hard"]["tokens"]
    expected = train["hard"]["tokens_per_s"] / train["hard_random"]["tokens_per_s"]
    assert ratios["hard_over_hard_random"] == pytest.approx(expected, abs=1e-3)
    expected = train["sparse_random"]["tokens_per_s"] / train["hard_random"]["tokens_per_s"]
    assert ratios["sparse_random_over_hard_random"] == pytest.approx(expected, abs=1e-3)
    assert set(result["ratios_cpu_time"]) == set(result["ratios_paired"]) == set(ratios)
    # One repeat: the paired median is the ratio of that repeat's (= the best) rates.
    assert result["ratios_paired"]["sparse_over_hard"] == pytest.approx(
        ratios["sparse_over_hard"], abs=2e-3)
    # and its range is that one ratio
    assert set(result["ratios_paired_range"]) == set(ratios)
    assert all(low == high == result["ratios_paired"][k]
               for k, (low, high) in result["ratios_paired_range"].items())
    expected = train["sparse"]["tokens_per_cpu_s"] / train["hard"]["tokens_per_cpu_s"]
    assert result["ratios_cpu_time"]["sparse_over_hard"] == pytest.approx(expected, abs=1e-3)


def test_step_ms_is_the_hard_step_and_what_each_masking_adds(result):
    train, step = result["train"], result["step_ms"]
    steps = 3 * 3                                  # --steps 3 batches per task, three tasks
    # best_seconds are rounded to 0.1 ms, step_ms to 1 us: what each side may be off by, in ms
    one = 0.5e-4 / steps * 1e3 + 0.5e-3
    assert step["hard"] == pytest.approx(train["hard"]["best_seconds"] / steps * 1e3, abs=one)
    assert step["hard_random"] == pytest.approx(train["hard_random"]["best_seconds"] / steps * 1e3,
                                                abs=one)
    # One repeat: the extra time is the difference of the two methods' only (= best) repeats.
    for method in ("sparse", "original_masking"):
        expected = (train[method]["best_seconds"] - train["hard"]["best_seconds"]) / steps * 1e3
        assert step[f"{method}_extra"] == pytest.approx(expected, abs=2 * one)


def test_config_echoes_the_model_and_three_distinct_masks(result):
    config = result["config"]
    assert config["model"]["hidden"] == 16 and config["model"]["layers"] == 2
    assert config["batch"] == 10 and config["steps"] == 3 and config["tasks"] == ["pos", "chunk", "ner"]
    assert config["bucketing"] == "fastnlp"                  # the training default, as users run it
    # Masks at the densities of IMP rounds 7, 10 and 14 of 20 (final rate 0.1).
    assert config["mask_density"] == pytest.approx([0.1 ** (k / 20) for k in (7, 10, 14)], abs=1e-3)


def test_table_output(data_file):
    done = run_bench("--data", str(data_file), *TINY, "--table")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("sparse_over_hard") for line in lines)
    assert any(line.startswith("ms per 3-task step: hard ") for line in lines)
    assert sum(line.split()[0] in throughput_runs.TRAIN_METHODS for line in lines if line.strip()) == 13


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    done = run_bench("--data", str(tmp_path / "missing.pt"), *TINY)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    done = run_bench("--steps", "0")
    assert done.returncode == 2 and "--steps" in done.stderr


def test_sample_split_keeps_whole_sentences():
    split = conll03_sample(40, 5).data["ner"]["train"]
    sample = throughput_sample.sample_split(split, 15, torch.Generator().manual_seed(3))
    assert sample.n_sentences == 15
    assert int(sample.sent_lengths.sum()) == sample.n_tokens
    assert int(sample.word_lengths.sum()) == sample.chars.numel()
    starts = torch.cumsum(split.sent_lengths, 0) - split.sent_lengths
    originals = {tuple(split.words[s:s + n].tolist()) for s, n in zip(starts.tolist(),
                                                                      split.sent_lengths.tolist())}
    offset = 0
    for n in sample.sent_lengths.tolist():
        assert tuple(sample.words[offset:offset + n].tolist()) in originals
        offset += n


def test_gpu_script_imports_neither_pyarrow_nor_fastnlp():
    code = ("import sys; sys.path.insert(0, 'bench'); import throughput; "
            "bad = [m for m in ('pyarrow', 'fastNLP') if m in sys.modules]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
