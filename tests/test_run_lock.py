"""One writer per run folder (utils/locks.py, utils/training/run_dir.py): a second process on a
run that another is writing is refused in one line naming the first one's PID, and a SIGKILL
of the writer frees the run at once (the kernel drops its lock). The writer is a child process;
the second is this test's own process, running the script in-process."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import REPO, one_line_error  # noqa: E402

from utils.locks import take_lock  # noqa: E402
from utils.training.run_dir import LOCK_FILE  # noqa: E402


def mtl(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "train_mtl.py", "--data_path", str(data), "--save_dir", str(save_dir),
            "--exp_name", "run", "--hidden_size", "4", "--batch_size", "8", "--num_threads", "1",
            "--optim", "adam(lr=0.01)", "--epochs", "100000", *extra]


def wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 240
    while not path.exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended or never got going"
        time.sleep(0.02)


def test_a_second_writer_is_refused_and_a_killed_writer_frees_the_run(tiny_data_file, tmp_path,
                                                                      run_here):
    run_dir = tmp_path / "cp" / "run"
    writer = subprocess.Popen(mtl(tiny_data_file, tmp_path), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(run_dir / "args.json", writer)              # the run has started
        for flag in ("--resume", "--overwrite"):                # run by this test's process
            done = run_here(mtl(tiny_data_file, tmp_path, flag))
            assert one_line_error(done, 2) == (
                f"{run_dir}: another process (PID {writer.pid}) is writing to this run; wait for "
                "it to end, or stop it and continue with --resume")
        wait_for(run_dir / "resume.th", writer)              # the writer went on
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert (run_dir / LOCK_FILE).read_text().strip() == str(writer.pid)     # no one unlocked it
    take_lock(run_dir / LOCK_FILE, run_dir).release()      # but the kernel did
    resumed = run_here(mtl(tiny_data_file, tmp_path, "--resume", "--epochs", "1"))
    assert "cannot resume with different arguments" in one_line_error(resumed, 2)   # got past it


def test_the_lock_is_released_when_a_run_ends_in_the_same_process(tmp_path):
    """In-process runs (the tests', or a library caller's) release the lock on the way out."""
    lock = take_lock(tmp_path / LOCK_FILE, tmp_path)
    assert (tmp_path / LOCK_FILE).read_text().strip().isdigit()
    lock.release()
    take_lock(tmp_path / LOCK_FILE, tmp_path).release()
