"""train_single.py end to end on a tiny data file: outputs, same seed -> same masks, SIGKILL and
--resume, refusal to overwrite, --evaluate."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import InProcess, run  # noqa: E402
from test_heap import HELD  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

from utils.atomic import read_jsonl  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["--task_id", "1", "--hidden_size", "8", "--epochs", "4", "--pruning_iter", "2",
        "--batch_size", "8", "--optim", "adam(lr=0.01)", "--num_threads", "1", "--seed", "5"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny.pt"
    save_data_file(synthetic_data(n_train=250, n_eval=40), path)
    return path


def command(data_file: Path, save_dir: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "train_single.py", "--data_path", str(data_file), "--save_dir",
            str(save_dir), "--exp_name", name, *TINY, *extra]


@pytest.fixture
def run_here(capsys) -> InProcess:
    return InProcess(capsys)


def masks_of(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {p.name: torch.load(p, weights_only=True)["mask"]
            for p in sorted(run_dir.glob("[0-9]*_*.th"))}


def same_masks(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[f].keys() == b[f].keys() and all(torch.equal(a[f][n], b[f][n]) for n in a[f]) for f in a)


def scores(run_dir: Path) -> list[tuple]:
    return [(r["round"], r["percent"], r["dev"], r["test"], r["best_epoch"], r["epochs"])
            for r in read_jsonl(run_dir / "results.jsonl")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_file) -> Path:
    save_dir = tmp_path_factory.mktemp("runs")
    done = run(command(data_file, save_dir, "ref"))
    assert done.returncode == 0, done.stderr
    return save_dir / "cp" / "ref"


def test_outputs_of_a_run(reference):
    rows = read_jsonl(reference / "results.jsonl")
    assert [r["percent"] for r in rows] == [100.0, pytest.approx(31.62, abs=0.011), 10.0]
    masks = [f"{r['round']}_{r['percent']:.2f}.th" for r in rows]
    names = sorted(p.name for p in reference.iterdir())
    assert names == sorted([".lock", ".sparse-sharing", "args.json", "init_weights.th", "log.jsonl",
                            "results.jsonl", *masks, *[f"best_{m}" for m in masks]])
    init = torch.load(reference / "init_weights.th", weights_only=True)
    assert init["model_config"]["hidden_size"] == 8 and "lstm.0.weight_ih_l0" in init["state_dict"]
    mask_file = torch.load(reference / masks[1], weights_only=True)
    assert mask_file["pruning_time"] == 1 and mask_file["percent"] == rows[1]["percent"]
    assert [r["round"] for r in rows] == [0, 1, 2]
    # each round records the BiLSTM plan's constants it ran with (the tests run today's defaults)
    assert all(r.pop("lstm_costs")["source"] == "default" for r in rows)
    # and whether glibc's heap was held between steps (utils/heap.py; the tests run on glibc)
    assert all(r.pop("heap") == HELD for r in rows)
    assert rows[2] | {"dev": 0, "test": 0, "seconds": 0, "epoch_seconds": 0, "best_epoch": 0,
                      "scores": 0} == {
        "round": 2, "percent": 10.0, "mask_file": "2_10.00.th", "weights_file": "best_2_10.00.th",
        "task": "ner", "dev": 0, "test": 0, "metric": "f1-yangjie", "epochs": 4, "best_epoch": 0,
        "seconds": 0, "epoch_seconds": 0, "scores": 0}
    # both span metrics are kept; the original's pruning metric (yangjie) selected the epoch
    for row in rows:
        assert set(row["scores"]["dev"]) == {"conlleval", "yangjie"}
        assert row["dev"] == row["scores"]["dev"]["yangjie"]
        assert row["test"] == row["scores"]["test"]["yangjie"]
    assert all(0 <= r["dev"] <= 100 and 0 <= r["test"] <= 100 for r in rows)
    assert rows[0]["dev"] > 50                      # the dense tiny model learns the toy NER
    # the selected weights of round 2 are zero outside its mask; survivors were rewound then trained
    best = torch.load(reference / "best_2_10.00.th", weights_only=True)["state_dict"]
    mask = torch.load(reference / "2_10.00.th", weights_only=True)["mask"]
    for name, kept in mask.items():
        assert torch.count_nonzero(best[name][~kept]) == 0
    assert set(mask) == {n for n in init["state_dict"] if ("lstm" in n or "conv" in n) and "bias" not in n}
    args = json.loads((reference / "args.json").read_text())
    assert args["epochs"] == 4 and args["preset"] == "paper" and args["dropout"] == 0.5
    log = read_jsonl(reference / "log.jsonl")
    assert [(r["round"], r["epoch"]) for r in log] == [(k, e) for k in range(3) for e in range(1, 5)]
    assert all(set(r["dev_all"]["ner"]) == {"conlleval", "yangjie"} for r in log)
    assert all(r["dev"]["ner"] == r["dev_all"]["ner"]["yangjie"] for r in log)


def test_same_seed_gives_identical_masks_and_scores(reference, data_file, tmp_path, run_here):
    again = run(command(data_file, tmp_path, "again"))
    assert again.returncode == 0, again.stderr
    assert same_masks(masks_of(reference), masks_of(tmp_path / "cp" / "again"))
    assert scores(reference) == scores(tmp_path / "cp" / "again")
    other = run_here(command(data_file, tmp_path, "other", "--seed", "6"))
    assert other.returncode == 0, other.stderr
    assert not same_masks(masks_of(reference), masks_of(tmp_path / "cp" / "other"))


def test_sigkill_in_a_round_then_resume_gives_the_same_run(reference, data_file, tmp_path, run_here):
    run_dir = tmp_path / "cp" / "killed"
    proc = subprocess.Popen(command(data_file, tmp_path, "killed"), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            if (run_dir / "resume_1.th").exists():  # round 1 has saved a state after an epoch
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    rows = read_jsonl(run_dir / "results.jsonl")
    assert [r["round"] for r in rows] == [0]       # killed inside round 1
    refused = run_here(command(data_file, tmp_path, "killed"))
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = run(command(data_file, tmp_path, "killed", "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after epoch" in resumed.stdout
    assert same_masks(masks_of(reference), masks_of(run_dir))
    assert scores(reference) == scores(run_dir)
    log = read_jsonl(run_dir / "log.jsonl")
    assert [(r["round"], r["epoch"]) for r in log] == [(k, e) for k in range(3) for e in range(1, 5)]
    assert not list(run_dir.glob("resume_*.th"))


def test_existing_directory_is_refused_unless_resume_or_overwrite(reference, data_file, run_here):
    save_dir = reference.parent.parent
    refused = run_here(command(data_file, save_dir, "ref"))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and "output directory exists" in refused.stderr
    assert "--overwrite" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    changed = run_here(command(data_file, save_dir, "ref", "--resume", "--epochs", "5"))
    assert changed.returncode == 2 and "--epochs was 4, now 5" in changed.stderr
    finished = run_here(command(data_file, save_dir, "ref", "--resume"))
    assert finished.returncode == 0 and "epoch" not in finished.stdout.split("score against")[0]


def test_evaluate_rescores_the_saved_rounds(reference, data_file, run_here):
    done = run_here(command(data_file, reference.parent.parent, "ref", "--evaluate"))
    assert done.returncode == 0, done.stderr
    table = [line.split() for line in done.stdout.strip().splitlines()[1:]]
    for row, line in zip(read_jsonl(reference / "results.jsonl"), table):
        assert [float(x) for x in line[1:4]] == pytest.approx(
            [row["percent"], round(row["dev"], 2), round(row["test"], 2)], abs=0.006)


def test_overwrite_replaces_the_run(data_file, tmp_path, run_here):
    first = run_here(command(data_file, tmp_path, "x", "--pruning_iter", "1", "--epochs", "1"))
    assert first.returncode == 0, first.stderr
    again = run_here(command(data_file, tmp_path, "x", "--pruning_iter", "1", "--epochs", "1",
                        "--overwrite"))
    assert again.returncode == 0, again.stderr
    assert len(read_jsonl(tmp_path / "cp" / "x" / "results.jsonl")) == 2


def test_bad_input_is_one_line_with_exit_code_2(data_file, tmp_path, run_here):
    bad_optim = run_here(command(data_file, tmp_path, "y", "--optim", "sgd(lr=__import__('os'))"))
    assert bad_optim.returncode == 2 and bad_optim.stderr.startswith("error: --optim")
    missing = run_here(command(tmp_path / "nope.pt", tmp_path, "y"))
    assert missing.returncode == 2 and "prepare-data.py" in missing.stderr
    bad_rate = run_here(command(data_file, tmp_path, "y", "--dropout", "1.0"))
    assert bad_rate.returncode == 2 and bad_rate.stderr.startswith("error: --dropout: must be")
    assert len(bad_rate.stderr.splitlines()) == 1
    assert not (tmp_path / "cp" / "y").exists()
