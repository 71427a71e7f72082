"""A small finished experiment, made in-process the way the run scripts make one: three pruning
runs (train_single.py), the masks chosen by dev score (prepare-masks.sh auto), sparse sharing
and the baselines (train_mtl.py), on a synthetic three-task data file. Used by the tests of
analyze.py and predict.py (`tiny_experiment` in conftest.py)."""
from __future__ import annotations

import io
import runpy
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import synthetic_data, with_chunk_copy  # noqa: E402

from utils.data.datafile import save_data_file  # noqa: E402
from utils.subnetworks.mask_select import main as select_masks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASKS = ("pos", "chunk", "ner")
TINY = ["--hidden_size", "8", "--epochs", "3", "--batch_size", "4", "--optim", "adam(lr=0.03)",
        "--num_threads", "1", "--preset", "demo", "--train_subset", "0", "--eval_subset", "0"]


def three_task_data(path: Path) -> Path:
    """The synthetic fixture with a chunk task (a copy of pos) between pos and ner."""
    save_data_file(with_chunk_copy(synthetic_data(n_train=60, n_eval=20)), path)
    return path


def in_process(script: str, *args: str, capsys=None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """A top-level script run in this process (no interpreter start-up): its exit code and, with
    pytest's `capsys`, its stdout and stderr; `stdin` is fed to it as standard input."""
    argv, threads, real_stdin = sys.argv, torch.get_num_threads(), sys.stdin
    sys.argv = [script, *args]
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    if capsys is not None:
        capsys.readouterr()
    code = 0
    try:
        runpy.run_path(str(REPO / script), run_name="__main__")
    except SystemExit as stop:
        code = stop.code
    finally:
        sys.argv, sys.stdin = argv, real_stdin
        torch.set_num_threads(threads)
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return subprocess.CompletedProcess([script, *args], code, out, err)


def run_script(script: str, *args: str) -> None:
    """A top-level script in this process; a non-zero exit fails."""
    code = in_process(script, *args).returncode
    assert not code, f"{script} {' '.join(args)} exited with {code}"


def build_experiment(root: Path) -> Path:
    """root/data.pt and root/exp/ (single/, mtl/mask/, mtl/cp/{t,t-hard,t-hier,t-single-*}/)."""
    data = str(three_task_data(root / "data.pt"))
    exp = root / "exp"
    for task_id in range(3):
        run_script("train_single.py", "--data_path", data, "--task_id", str(task_id),
                   "--save_dir", str(exp / "single"), "--exp_name", str(task_id),
                   "--pruning_iter", "2", "--final_rate", "0.25", "--seed", "2", *TINY)
    select_masks(["--exp", str(exp), "--auto", "--margin", "100"])
    mask = exp / "mtl" / "mask"
    runs = {"t": ["--masks_path", str(mask)], "t-hard": [], "t-hier": ["--arch", "hier-lstm"],
            **{f"t-single-{name}": ["--tasks", str(i)] for i, name in enumerate(TASKS)}}
    for name, extra in runs.items():
        run_script("train_mtl.py", "--data_path", data, "--save_dir", str(exp / "mtl"),
                   "--exp_name", name, "--init_weights", str(mask / "init_weights.th"),
                   "--seed", "2", *extra, *TINY)
    return exp
