"""Shared pytest fixtures: the repository root on sys.path, the real corpora, a tiny synthetic
data file and the in-process script runner. Under CI=true no test may skip (tests/needs.py):
a skip there is reported as a failure with its reason, unless the test is marked `ci_may_skip`."""
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
from needs import CI, need_corpus, need_module  # noqa: E402

# `make test` runs two workers (pytest-xdist) on the 2 cores; a worker's in-process torch then
# takes one thread, so the two do not fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

# The BiLSTM plan's constants: the defaults, so that no test measures the machine or writes to
# the user's cache folder unless it asks to (tests/test_lstm_calibration.py).
os.environ["SPARSE_SHARING_LSTM_COSTS"] = "default"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "ci_may_skip(reason): the test may skip under CI=true "
                            "too (it cannot apply to the machine; no parity or corpus check)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failed one, with the skip's reason."""
    outcome = yield
    report = outcome.get_result()
    if CI and report.skipped and not hasattr(report, "wasxfail") \
            and item.get_closest_marker("ci_may_skip") is None:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_reason(report)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped while it is collected (importorskip) is a collection error under CI."""
    outcome = yield
    report = outcome.get_result()
    if CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_reason(report)}"


def _reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora in ../shared/data (relative to the repository root); without them a
    skip, or a failure under CI=true."""
    return need_corpus()


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


@pytest.fixture(scope="session")
def fastnlp():
    """fastNLP 0.5.0, the test oracle (requirements-dev.txt); without it a skip, or a failure
    under CI=true."""
    return need_module("fastNLP", "the parity oracle")


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
