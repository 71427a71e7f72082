"""Shared pytest fixtures: the repository root on sys.path, the real corpora, a tiny synthetic
data file and the in-process script runner."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from cli_runner import InProcess  # noqa: E402  (needs the paths above)
from utils.paths import SHARED_DATA_DIR  # noqa: E402

# `make test` runs two workers (pytest-xdist) on the 2 cores; a worker's in-process torch then
# takes one thread, so the two do not fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora in ../shared/data (relative to the repository root), or a skip."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip("real corpora not found in ../shared/data")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def ontonotes_splits(shared_data):
    """The real OntoNotes splits (pt dropped), read once per test session: {split: (sentences,
    report)} with split in train/development/test."""
    from utils.data.readers.ontonotes import ReadReport, read_ontonotes

    folder = shared_data / "ontonotes"
    splits = {}
    for split in ("train", "development", "test"):
        report = ReadReport()
        splits[split] = (read_ontonotes([folder / f"{split}.gold_conll.gz"], ("pt",), report),
                         report)
    return splits


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and spinning threads crawl on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data_file(tmp_path_factory) -> Path:
    """A data file of `synthetic_data` (two tasks, 40 train and 16 dev/test sentences)."""
    from test_model_fixtures import synthetic_data
    from utils.data.datafile import save_data_file

    path = tmp_path_factory.mktemp("tiny_data") / "tiny.pt"
    save_data_file(synthetic_data(n_train=40, n_eval=16), path)
    return path


@pytest.fixture
def run_here(capsys) -> InProcess:
    """Runs `[python, "script.py", *args]` inside the test process (see tests/cli_runner.py)."""
    return InProcess(capsys)


@pytest.fixture(scope="session")
def tiny_experiment(tmp_path_factory) -> Path:
    """A small finished experiment (tests/experiment_fixtures.py): its exp folder, with the data
    file beside it. Shared by the tests: copy it before changing it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from experiment_fixtures import build_experiment

    return build_experiment(tmp_path_factory.mktemp("experiment"))
