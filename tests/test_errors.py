"""How runs end when something goes wrong: one line and an exit code, never a traceback, for bad
files and arguments, the operating system's refusals (permission, full disk, missing folder) and
interruptions (Ctrl-C, SIGTERM); and the small things that keep a run folder clean (utils/errors.py,
utils/atomic.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import REPO, one_line_error  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

from utils import atomic  # noqa: E402
from utils.atomic import append_jsonl, read_jsonl  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402
from utils.torch_files import load  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--hidden_size", "8", "--batch_size", "8", "--num_threads", "1", "--seed", "4",
         "--optim", "adam(lr=0.01)", "--epochs", "2", "--pruning_iter", "1"]


def single(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "train_single.py", "--data_path", str(data), "--save_dir",
            str(save_dir), "--exp_name", "run", *SMALL, *extra]


def strict_json(line: str):
    """json.loads that refuses NaN and Infinity (not JSON)."""
    return json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {line!r}"))


# ---- the operating system refuses ----------------------------------------------------------
@pytest.fixture
def unwritable_folder(tmp_path) -> Path:
    """A folder nothing can be created in: read-only by its mode, or, for root (who ignores
    modes), sysfs, where only the kernel creates entries."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder = Path("/sys")
    try:
        (folder / "probe").mkdir()
    except OSError:
        yield folder
    else:
        pytest.skip("found no folder this user cannot write to")
    finally:
        (tmp_path / "read-only").chmod(0o755)


@pytest.mark.ci_may_skip("a user who can write everywhere has no read-only folder to try")
def test_read_only_output_folder_is_one_line(tiny_data_file, unwritable_folder, run_here):
    done = run_here(single(tiny_data_file, unwritable_folder / "exp"))
    line = one_line_error(done, 1)
    assert line.startswith(str(unwritable_folder / "exp"))
    assert line.endswith(("Permission denied", "Operation not permitted", "Read-only file system"))


def test_a_file_where_a_folder_should_be_is_one_line(tiny_data_file, tmp_path, run_here):
    (tmp_path / "exp").write_text("not a folder")
    assert one_line_error(run_here(single(tiny_data_file, tmp_path / "exp" / "x")), 1).endswith(
        "Not a directory")


def test_full_disk_is_one_line_and_the_run_resumes(tiny_data_file, tmp_path, run_here, monkeypatch):
    """Writes of the selected weights go to /dev/full, which answers every write with ENOSPC."""
    reference = run_here(single(tiny_data_file, tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr
    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_full_disk(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        if Path(path).name.startswith(".best_1_"):
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
        return fd, path
    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_on_full_disk)
    run_dir = tmp_path / "cp" / "run"
    line = one_line_error(run_here(single(tiny_data_file, tmp_path)), 1)
    assert line == (f"{run_dir / 'best_1_10.00.th'}: No space left on device; continue with "
                    f"--resume (run folder {run_dir})")
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / "best_1_10.00.th").exists()
    monkeypatch.setattr(atomic.tempfile, "mkstemp", real_mkstemp)        # space freed
    resumed = run_here(single(tiny_data_file, tmp_path, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    rows = [(r["round"], r["dev"], r["test"]) for r in read_jsonl(run_dir / "results.jsonl")]
    assert rows == [(r["round"], r["dev"], r["test"])
                    for r in read_jsonl(tmp_path / "ref" / "cp" / "run" / "results.jsonl")]


# ---- bad arguments and files ---------------------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ("adam(betas=(0.9,))", "argument 'betas' must be two numbers, e.g. betas=(0.9, 0.999), got (0.9,)"),
    ("sgd(lr=" + "(" * 300 + "1" + ")" * 300 + ")", "expected NAME(key=value, ...)"),
    ("sgd(lr=" + "-" * 100_000 + "1)", "expected NAME(key=value, ...) of at most 500 characters"),
    ("sgd(lr=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])",
     "argument 'lr' must be a number, got [[[["),
])
def test_bad_optimizer_strings_are_one_line(tiny_data_file, tmp_path, run_here, spec, message):
    line = one_line_error(run_here(single(tiny_data_file, tmp_path, "--optim", spec)), 2)
    assert line.startswith(f"--optim: {message}")
    assert not (tmp_path / "cp").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw.pop("words"), "no words"),
    (lambda raw: raw["labels"].pop("ner"), "labels lacks task(s) ner"),
    (lambda raw: raw["data"]["pos"]["test"].pop("chars"), "data['pos']['test']: no tensor chars"),
    (lambda raw: raw["data"]["ner"]["train"].update(labels=torch.zeros(3, dtype=torch.long)),
     "data['ner']['train']: the lengths do not add up"),
    (lambda raw: raw["data"]["pos"]["dev"]["words"].add_(1000), "data['pos']['dev']: words ids outside"),
])
def test_a_data_file_with_missing_parts_is_one_line(tmp_path, run_here, damage, message):
    raw = synthetic_data(n_train=40, n_eval=16).to_dict()
    damage(raw)
    torch.save(raw, tmp_path / "damaged.pt")
    line = one_line_error(run_here(single(tmp_path / "damaged.pt", tmp_path)), 2)
    assert line.startswith(f"{tmp_path / 'damaged.pt'}: not a complete data file: {message}")
    assert line.endswith("; run prepare-data.py again")
    assert not (tmp_path / "cp").exists()


def test_data_changed_before_resume_is_one_line(tmp_path, run_here):
    data = tmp_path / "data.pt"
    save_data_file(synthetic_data(n_train=40, n_eval=16), data)
    assert run_here(single(data, tmp_path, "--epochs", "1", "--pruning_iter", "0")).returncode == 0
    save_data_file(synthetic_data(n_train=40, n_eval=16, vocab=50), data)
    line = one_line_error(run_here(single(data, tmp_path, "--epochs", "1", "--pruning_iter", "0",
                                          "--resume")), 2)
    assert f"--data_path {data} changed since the run started" in line


# ---- interruptions -------------------------------------------------------------------------
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_interrupted_run_says_how_to_continue(tiny_data_file, tmp_path, sig, code, word):
    cmd = single(tiny_data_file, tmp_path, "--epochs", "300", "--pruning_iter", "0")
    run_dir = tmp_path / "cp" / "run"
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True,   # Ctrl-C reaches a child whose parent ignores it, too
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and not (run_dir / "resume_0.th").exists():
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert err.strip() == f"{word}; continue with --resume (run folder {run_dir})"
    # what --resume continues from is whole: the last epoch's state, and no half-written file
    assert torch.load(run_dir / "resume_0.th", weights_only=True)["epoch"] >= 1
    assert not list(run_dir.glob(".*.tmp"))


# ---- small things: temp files, strict JSON, the refused-pickle message --------------------
def test_resume_removes_temp_files_of_a_killed_writer(tiny_data_file, tmp_path, run_here):
    args = ("--epochs", "1", "--pruning_iter", "0")
    assert run_here(single(tiny_data_file, tmp_path, *args)).returncode == 0
    run_dir = tmp_path / "cp" / "run"
    (run_dir / ".best_0_100.00.th.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    assert run_here(single(tiny_data_file, tmp_path, *args, "--resume")).returncode == 0
    assert not list(run_dir.glob(".*.tmp"))


def test_log_lines_are_strict_json(tiny_data_file, tmp_path, run_here):
    assert run_here(single(tiny_data_file, tmp_path)).returncode == 0
    lines = (tmp_path / "cp" / "run" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(isinstance(strict_json(line), dict) for line in lines)
    log = tmp_path / "other.jsonl"
    log.write_text('{"epoch": 1}\n{"epoch": 2, "lo')                  # a write cut short
    append_jsonl({"epoch": 2, "loss": float("nan"), "dev": {"ner": float("inf")}}, log)
    assert [strict_json(line) for line in log.read_text().splitlines()] == [
        {"epoch": 1}, {"epoch": 2, "loss": None, "dev": {"ner": None}}]


def test_refused_pickle_does_not_advise_the_unsafe_load(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())
    torch.save({"state_dict": Payload()}, tmp_path / "evil.th")
    with pytest.raises(InputError) as caught:
        load(tmp_path / "evil.th", "weights file")
    message = str(caught.value)
    assert "weights_only" not in message and "refused to read weights file" in message
    assert "(posix.getcwd)" in message and len(message.splitlines()) == 1


def test_bytes_that_are_no_torch_file_are_not_called_python_objects(tmp_path):
    """torch refuses random bytes with the same exception class as a pickled object."""
    (tmp_path / "text.th").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match=r"text.th: cannot read weights file: not a file "
                                         r"torch.save writes$"):
        load(tmp_path / "text.th", "weights file")


def test_a_refused_allocation_is_one_line(capsys):
    """Sizes too large for memory (e.g. --hidden_size 10**8) end in one line and exit code 1."""
    with pytest.raises(SystemExit) as stop:
        run_main(lambda: torch.empty(10 ** 15))                # 4 PB: refused at once
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: not enough memory: ") and "4000000000000000 bytes" in err
    assert len(err.splitlines()) == 1


def test_a_bad_command_line_is_one_line(capsys):
    from utils.errors import ArgumentParser
    parser = ArgumentParser(prog="tool.py")
    parser.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--n", "x"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == "error: argument --n: invalid int value: 'x'; see tool.py -h\n"
