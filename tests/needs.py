"""What a test needs from outside the project (the real corpora, fastNLP, the vectors package, the
original code, Slurm), and what happens when it is missing.

Under CI=true (`make test` sets it) a parity or real-corpus test that cannot run FAILS with the
reason: CI never hides a parity check. A plain `pytest` skips it, saying why, so the suite still
runs on a laptop without the corpora. tests/conftest.py turns any other skip into a failure under
CI as well, unless the test is marked `ci_may_skip` (a test that cannot apply to the machine).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from utils.paths import SHARED_DATA_DIR

CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Stop the test: a failure under CI=true, a skip otherwise."""
    if CI:
        pytest.fail(f"cannot run, and CI=true allows no skipped test: {reason}", pytrace=False)
    pytest.skip(reason)


def need_module(name: str, why: str = "") -> ModuleType:
    """The imported module `name`, or `unavailable`."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        problem = str(err)
    unavailable(f"{name} is not installed ({problem}){'; ' + why if why else ''}; "
                "`make install` installs the test tools (requirements-dev.txt)")


def need_corpus(*parts: str) -> Path:
    """../shared/data/<parts...> (a folder or file of the real corpora), or `unavailable`."""
    path = SHARED_DATA_DIR.joinpath(*parts)
    if not path.exists():
        unavailable(f"real corpora not found: ../shared/data/{'/'.join(parts)}")
    return path
