"""A diverged run stops with a one-line error naming the epoch and batch, keeps nothing from the bad
epoch (no selected weights, no pruned mask, no best.th), and continues with --resume and another
--optim from its last good epoch (utils/training/finite.py, utils/training/run_dir.py)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import one_line_error  # noqa: E402
from test_trainer import make_trainer  # noqa: E402

from torch.optim.optimizer import register_optimizer_step_post_hook  # noqa: E402
from utils.atomic import read_jsonl  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--hidden_size", "8", "--batch_size", "8", "--num_threads", "1", "--seed", "2"]
EXPLODE = "sgd(lr=1e30)"


def single(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "train_single.py", "--data_path", str(data), "--save_dir",
            str(save_dir), "--exp_name", "run", "--epochs", "2", "--pruning_iter", "1", *SMALL, *extra]


def mtl(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "train_mtl.py", "--data_path", str(data), "--save_dir",
            str(save_dir), "--exp_name", "run", "--epochs", "2", *SMALL, *extra]


def test_diverged_pruning_stops_and_prunes_nothing_then_resumes_with_another_optim(
        tiny_data_file, tmp_path, run_here):
    run_dir = tmp_path / "cp" / "run"
    done = run_here(single(tiny_data_file, tmp_path, "--optim", EXPLODE))
    line = one_line_error(done, 3)
    assert line.startswith("training diverged: round 0 epoch 1: the loss is") and "at batch" in line
    assert "--resume" in line
    # nothing selected from the bad epoch, no mask pruned from NaN magnitudes, no result row
    assert not list(run_dir.glob("best_*.th")) and not list(run_dir.glob("1_*.th"))
    assert read_jsonl(run_dir / "results.jsonl") == [] and read_jsonl(run_dir / "log.jsonl") == []
    # the run continues with a sane optimizer; the change is recorded
    resumed = run_here(single(tiny_data_file, tmp_path, "--optim", "adam(lr=0.01)", "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    rows = read_jsonl(run_dir / "results.jsonl")
    assert [r["round"] for r in rows] == [0, 1] and all(math.isfinite(r["dev"]) for r in rows)
    args = json.loads((run_dir / "args.json").read_text())
    assert args["optim"] == "adam(lr=0.01)"
    assert args["changed_on_resume"][0]["changes"] == {"optim": {"was": EXPLODE, "now": "adam(lr=0.01)"}}
    assert not (run_dir / "diverged.json").exists()
    # without a divergence, --optim may not change on resume
    again = run_here(single(tiny_data_file, tmp_path, "--optim", "adam(lr=0.02)", "--resume"))
    assert "--optim was 'adam(lr=0.01)', now 'adam(lr=0.02)'" in one_line_error(again, 2)


def test_diverged_multitask_run_writes_no_best_weights(tiny_data_file, tmp_path, run_here):
    done = run_here(mtl(tiny_data_file, tmp_path, "--optim", EXPLODE))
    assert one_line_error(done, 3).startswith("training diverged: epoch 1: the loss is")
    run_dir = tmp_path / "cp" / "run"
    assert not (run_dir / "best.th").exists() and not (run_dir / "results.json").exists()


def test_infinite_optimizer_values_are_refused(tiny_data_file, tmp_path, run_here):
    done = run_here(single(tiny_data_file, tmp_path, "--optim", "sgd(lr=1e400)"))
    assert one_line_error(done, 2) == "--optim: argument 'lr' must be finite, got inf"
    done = run_here(mtl(tiny_data_file, tmp_path, "--optim", "adam(betas=(0.9, 1e999))"))
    assert "must be finite" in one_line_error(done, 2)
    assert not (tmp_path / "cp").exists()


def test_last_good_epoch_is_kept_and_resumed_with_a_new_optimizer(tmp_path):
    steps_after_epoch_1 = []

    def note_epoch(line):
        if "epoch 1/" in line:
            steps_after_epoch_1.append(0)
    trainer, model = make_trainer(tmp_path, epochs=3, optim="sgd(lr=0.1)", echo=note_epoch)

    def poison(optimizer, args, kwargs):         # a NaN weight after epoch 2's third step
        if steps_after_epoch_1:
            steps_after_epoch_1[0] += 1
            if steps_after_epoch_1[0] == 3:
                with torch.no_grad():
                    model.heads[0].weight[0, 0] = float("nan")
    handle = register_optimizer_step_post_hook(poison)
    try:
        with pytest.raises(Exception, match=r"round 0 epoch 2: the loss is nan at batch 4"):
            trainer.fit()
    finally:
        handle.remove()
    state = torch.load(tmp_path / "state.th", weights_only=True)
    assert state["epoch"] == 1 and state["optim"] == "sgd(lr=0.1)"          # the last good epoch
    assert all(torch.isfinite(w).all() for w in state["model"].values())
    assert [r["epoch"] for r in read_jsonl(tmp_path / "log.jsonl")] == [1]
    lines = []
    resumed, _ = make_trainer(tmp_path, epochs=3, optim="adam(lr=0.01)", echo=lines.append)
    result = resumed.fit()
    assert result.epochs == 3 and math.isfinite(result.dev["pos"])
    assert any("new optimizer adam(lr=0.01) (was sgd(lr=0.1))" in line for line in lines)
    rows = read_jsonl(tmp_path / "log.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[1]["lr"] == pytest.approx(0.01 / 1.05)       # the lr schedule went on at epoch 2


def test_guard_on_a_gpu_reads_the_first_bad_batch_once_per_epoch():
    from utils.errors import TrainingDiverged
    from utils.training.finite import FiniteGuard
    model = torch.nn.Linear(2, 2)
    guard = FiniteGuard("cpu", eager=False)          # the GPU path, run on the CPU
    guard.start_epoch()
    for batch, value in enumerate([1.0, 2.0, float("inf"), float("nan"), 3.0], start=1):
        guard.loss(torch.tensor(value), epoch=4, batch=batch)
    with pytest.raises(TrainingDiverged, match="epoch 4: the loss is not finite from batch 3 on"):
        guard.end_of_epoch(model, epoch=4, n_batches=5)
    guard.start_epoch()
    guard.loss(torch.tensor(1.0), epoch=5, batch=1)
    guard.end_of_epoch(model, epoch=5, n_batches=1)  # a finite epoch passes
    with torch.no_grad():
        model.bias[1] = float("-inf")
    with pytest.raises(TrainingDiverged, match=r"weight bias is not finite after the last batch \(1\)"):
        guard.end_of_epoch(model, epoch=5, n_batches=1)
