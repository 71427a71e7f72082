"""The library's layers, as .importlinter writes them down: each stage imports only the stages below
it, the library never imports the command line, and no two modules or packages import each
other. Checked with import-linter on the real code, so the next change that reaches up fails."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from needs import need_module

REPO = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    need_module("importlinter", "the layers are checked with import-linter")
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout
