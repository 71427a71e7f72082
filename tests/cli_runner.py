"""Running the top-level scripts from tests: inside the test process (no interpreter start-up)
or as a child process, with the exit code, stdout and stderr of a real run."""
from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


class InProcess:
    """`[python, "script.py", *args]` run inside the test process: rc, stdout, stderr."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, cmd: list[str]) -> subprocess.CompletedProcess:
        argv, threads = sys.argv, torch.get_num_threads()
        sys.argv = cmd[1:]
        self.capsys.readouterr()
        try:
            runpy.run_path(str(REPO / cmd[1]), run_name="__main__")
            code = 0
        except SystemExit as stop:
            code = stop.code
        finally:
            sys.argv = argv
            torch.set_num_threads(threads)
        out, err = self.capsys.readouterr()
        return subprocess.CompletedProcess(cmd, code, out, err)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """`cmd` as a child process in the repository root."""
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, **kwargs)


def one_line_error(done: subprocess.CompletedProcess, code: int) -> str:
    """The single stderr line of a run that failed with `code` (asserted), without 'error: '."""
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0].removeprefix("error: ")
