"""Nothing lost: every argument and input is checked before a run folder is written or replaced,
and --resume checks that it continues the same run (utils/training/run_dir.py,
utils/training/fingerprint.py)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import REPO, one_line_error  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

from models import ModelConfig, build_model  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402
from utils.sparsity.pruning import full_mask, prunable_names  # noqa: E402
from utils.training.checkpoint import save_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--hidden_size", "8", "--batch_size", "8", "--num_threads", "1", "--seed", "2",
         "--optim", "adam(lr=0.01)"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A data file, the same data file without the dev split of 'ner', and a mask file that
    does not fit the hidden-8 model."""
    folder = tmp_path_factory.mktemp("inputs")
    data = synthetic_data(n_train=40, n_eval=16)
    save_data_file(data, folder / "tiny.pt")
    raw = data.to_dict()
    del raw["data"]["ner"]["dev"]
    torch.save(raw, folder / "no_dev.pt")
    config = ModelConfig(n_words=len(data.words), n_chars=len(data.chars), n_labels=[3, 4],
                         word_dim=8, hidden_size=4)
    model = build_model(config)
    torch.save({"mask": full_mask(model, prunable_names(model))}, folder / "hidden4_mask.th")
    return {"data": folder / "tiny.pt", "no_dev": folder / "no_dev.pt",
            "bad_mask": folder / "hidden4_mask.th"}


def single(data: Path, save_dir: Path | str, *extra: str) -> list[str]:
    return [sys.executable, "train_single.py", "--data_path", str(data), "--save_dir",
            str(save_dir), "--exp_name", "run", "--task_id", "1", "--epochs", "1",
            "--pruning_iter", "1", *SMALL, *extra]


def mtl(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "train_mtl.py", "--data_path", str(data), "--save_dir",
            str(save_dir), "--exp_name", "run", "--epochs", "1", *SMALL, *extra]


def bad_starts(inputs: dict[str, Path]) -> dict[str, tuple[list[str], str]]:
    """Arguments that can only be found wrong by reading inputs or building things: {case:
    (what replaces the good arguments, expected start of the error line)}."""
    return {
        "optimizer values": (["--optim", "sgd(lr=-1)"], "--optim: bad arguments for sgd"),
        "need_cut matching nothing": (["--need_cut", "nothing"], "--need_cut: no parameter"),
        "init_masks of the wrong shape": (["--init_masks", str(inputs["bad_mask"])],
                                          f"{inputs['bad_mask']}: mask for"),
        "data file missing a split": (["--data_path", str(inputs["no_dev"])],
                                      f"{inputs['no_dev']}: not a complete data file"),
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---- point 2: --overwrite replaces a run only once the new one has started cleanly -------
def test_overwrite_with_bad_arguments_keeps_the_finished_run(inputs, tmp_path, run_here):
    first = run_here(single(inputs["data"], tmp_path))
    assert first.returncode == 0, first.stderr
    run_dir = tmp_path / "cp" / "run"
    before = snapshot(run_dir)
    assert "best_1_10.00.th" in before
    for case, (args, message) in bad_starts(inputs).items():
        done = run_here(single(inputs["data"], tmp_path, "--overwrite", *args))
        assert one_line_error(done, 2).startswith(message), case
        assert snapshot(run_dir) == before, case
    replaced = run_here(single(inputs["data"], tmp_path, "--overwrite", "--seed", "9"))
    assert replaced.returncode == 0, replaced.stderr
    assert '"seed": 9' in (run_dir / "args.json").read_text()
    assert sorted(p.name for p in (tmp_path / "cp").iterdir()) == ["run"]     # nothing left aside


def test_multitask_overwrite_with_bad_optimizer_keeps_best_weights(inputs, tmp_path, run_here):
    assert run_here(mtl(inputs["data"], tmp_path)).returncode == 0
    before = snapshot(tmp_path / "cp" / "run")
    done = run_here(mtl(inputs["data"], tmp_path, "--overwrite", "--optim", "adam(lr=-0.5)"))
    assert one_line_error(done, 2).startswith("--optim: bad arguments for adam")
    assert snapshot(tmp_path / "cp" / "run") == before


# ---- point 5: late validation leaves no stub folder ----------------------------------------
def test_bad_starts_leave_no_folder_and_the_corrected_run_needs_no_overwrite(inputs, tmp_path,
                                                                             run_here):
    for case, (args, message) in bad_starts(inputs).items():
        done = run_here(single(inputs["data"], tmp_path, *args))
        assert one_line_error(done, 2).startswith(message), case
        assert not (tmp_path / "cp").exists(), case
    done = run_here(mtl(inputs["no_dev"], tmp_path))
    assert one_line_error(done, 2).startswith(f"{inputs['no_dev']}: not a complete data file: "
                                              "data['ner']['dev']: missing")
    assert not (tmp_path / "cp").exists()
    corrected = run_here(single(inputs["data"], tmp_path))
    assert corrected.returncode == 0, corrected.stderr


def test_missing_tensorboard_leaves_no_folder(inputs, tmp_path, run_here, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)    # import fails
    for command in (single, mtl):
        done = run_here(command(inputs["data"], tmp_path, "--tensorboard", str(tmp_path / "tb")))
        assert one_line_error(done, 2).startswith("--tensorboard: TensorBoard logging needs")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- point 4: --resume checks contents, and paths resolved --------------------------------
def test_resume_accepts_another_spelling_of_the_same_paths(inputs, tmp_path, run_here, monkeypatch):
    assert run_here(single(inputs["data"], tmp_path)).returncode == 0
    slash = run_here(single(inputs["data"], f"{tmp_path}/", "--resume"))
    assert slash.returncode == 0, slash.stderr
    monkeypatch.chdir(tmp_path)
    relative = run_here(single(Path(os.path.relpath(inputs["data"])), ".", "--resume"))
    assert relative.returncode == 0, relative.stderr


def test_resume_refuses_a_data_file_replaced_at_the_same_path(inputs, tmp_path, run_here):
    data = tmp_path / "data.pt"
    save_data_file(synthetic_data(n_train=40, n_eval=16), data)
    assert run_here(single(data, tmp_path)).returncode == 0
    save_data_file(synthetic_data(n_train=40, n_eval=16, vocab=40), data)    # another vocabulary
    line = one_line_error(run_here(single(data, tmp_path, "--resume")), 2)
    assert f"--data_path {data} changed since the run started" in line


def test_resume_refuses_masks_replaced_during_an_interrupted_run(inputs, tmp_path, run_here):
    masks = tmp_path / "mask"
    data = synthetic_data(n_train=40, n_eval=16)
    config = ModelConfig(n_words=len(data.words), n_chars=len(data.chars), n_labels=[3, 4],
                         word_dim=8, hidden_size=8)
    model = build_model(config, data.embedding)
    masks.mkdir()
    save_weights(masks / "init_weights.th", model, config)
    for task_id, keep in ((0, 0.5), (1, 0.3)):
        gen = torch.Generator().manual_seed(task_id)
        torch.save({"mask": {n: torch.rand(p.shape, generator=gen) < keep
                             for n, p in model.named_parameters() if n in prunable_names(model)}},
                   masks / f"{task_id}.th")
    cmd = mtl(inputs["data"], tmp_path, "--masks_path", str(masks), "--epochs", "300")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and not (tmp_path / "cp" / "run" / "resume.th").exists():
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    assert (tmp_path / "cp" / "run" / "resume.th").exists()
    shutil.copy(masks / "0.th", masks / "1.th")      # prepare-masks run again with other rounds
    resumed = run_here(cmd + ["--resume"])
    line = one_line_error(resumed, 2)
    assert "cannot resume with different arguments or inputs" in line
    assert f"--masks_path {masks}: 1.th changed since the run started" in line


def test_fingerprints_name_what_changed(tmp_path, monkeypatch):
    from utils.training.fingerprint import differences, fingerprints
    from utils.training.run_dir import FOLDER_INPUTS
    (tmp_path / "masks").mkdir()
    for name in ("0.th", "1.th"):
        (tmp_path / "masks" / name).write_bytes(name.encode())
    (tmp_path / "data.pt").write_bytes(b"12345")
    monkeypatch.chdir(tmp_path)
    before = fingerprints({"data_path": "data.pt", "masks_path": "masks", "init_weights": None}, FOLDER_INPUTS)
    same = fingerprints({"data_path": str(tmp_path / "data.pt"), "masks_path": "./masks/"}, FOLDER_INPUTS)
    assert differences(before, same) == []                  # other spellings, same files
    (tmp_path / "data.pt").write_bytes(b"12346")
    (tmp_path / "masks" / "1.th").unlink()
    (tmp_path / "masks" / "2.th").write_bytes(b"2")
    (tmp_path / "other.pt").write_bytes(b"12345")
    after = fingerprints({"data_path": "data.pt", "masks_path": "masks", "init_weights": "other.pt"}, FOLDER_INPUTS)
    assert differences(before, after) == [
        "--data_path data.pt changed since the run started (5 bytes, sha256 5994471abb01 then, "
        "5 bytes, sha256 34d128f5b3de now)",
        "--init_weights was not given, now other.pt",
        "--masks_path masks: 1.th (gone), 2.th (new) changed since the run started"]
    moved = fingerprints({"data_path": "other.pt", "masks_path": "masks"}, FOLDER_INPUTS)
    assert differences(before, moved)[0] == (f"--data_path was {tmp_path / 'data.pt'}, "
                                             f"now {tmp_path / 'other.pt'}")


def test_tensorboard_folder_is_checked_first_and_written_by_training_only(inputs, tmp_path, run_here,
                                                                          monkeypatch):
    opened = []

    class SummaryWriter:                                # stands in for tensorboard's
        def __init__(self, log_dir):
            opened.append(log_dir)
            Path(log_dir).mkdir(parents=True, exist_ok=True)

        def add_scalar(self, *args):
            pass

        def close(self):
            pass
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=SummaryWriter))
    (tmp_path / "notes").write_text("a file")
    done = run_here(mtl(inputs["data"], tmp_path, "--tensorboard", str(tmp_path / "notes" / "tb")))
    assert one_line_error(done, 2) == f"--tensorboard: {tmp_path / 'notes'} is a file, not a folder"
    done = run_here(mtl(inputs["data"], tmp_path, "--tensorboard", str(tmp_path / "tb"), "--seed", "-1" + "0" * 20))
    assert one_line_error(done, 2).startswith("--seed: ") and opened == []
    assert run_here(mtl(inputs["data"], tmp_path, "--tensorboard", str(tmp_path / "tb"))).returncode == 0
    assert opened == [str(tmp_path / "tb")]
