"""CI never hides a parity check: under CI=true (`make test`) a test that cannot run fails with
its reason, whether it stops through tests/needs.py, a plain pytest.skip or an importorskip while
its module is collected; only a test marked `ci_may_skip` may still skip. A plain pytest skips
them all, saying why. Checked on a sample test folder run by pytest with this suite's conftest."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


TESTS = Path(__file__).resolve().parent

SAMPLE = '''
import pytest
from needs import need_corpus, need_module, unavailable


def test_needs_the_original():
    unavailable("the original code is not found in ../shared/reference/original")


def test_needs_a_corpus():
    need_corpus("no-such-corpus")


def test_needs_a_module():
    need_module("no_such_module_for_the_ci_rule")


def test_plain_skip():
    pytest.skip("a plain skip")


@pytest.mark.ci_may_skip("cannot apply to this machine")
def test_allowed_to_skip():
    pytest.skip("not here")
'''
COLLECTED = '''
import pytest
pytest.importorskip("no_such_module_for_the_ci_rule")


def test_never_collected():
    pass
'''
CONFTEST = f'''
import importlib.util
import sys
sys.path[:0] = [{str(TESTS.parent)!r}, {str(TESTS)!r}]
spec = importlib.util.spec_from_file_location("suite_conftest", {str(TESTS / "conftest.py")!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_configure = suite.pytest_configure
pytest_runtest_makereport = suite.pytest_runtest_makereport
pytest_make_collect_report = suite.pytest_make_collect_report
'''


def run_sample(folder: Path, ci: bool) -> str:
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_sample.py").write_text(SAMPLE)
    (folder / "test_collected.py").write_text(COLLECTED)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    if ci:
        env["CI"] = "true"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfsE", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--continue-on-collection-errors", str(folder)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def test_under_ci_every_test_that_cannot_run_fails_with_its_reason(tmp_path):
    out = run_sample(tmp_path / "ci", ci=True)
    assert "4 failed, 1 skipped, 1 error" in out, out
    stopped = "cannot run, and CI=true allows no skipped test: "          # by tests/needs.py
    for reason in ("the original code is not found", "real corpora not found: ../shared/data/no-such-corpus",
                   "no_such_module_for_the_ci_rule is not installed"):
        assert stopped + reason in out, reason
    assert "skipped under CI=true, where every test must run: Skipped: a plain skip" in out
    assert "SKIPPED [1] test_sample.py" in out and "not here" in out
    assert "ERROR test_collected.py" in out


def test_a_plain_pytest_skips_them_saying_why(tmp_path):
    out = run_sample(tmp_path / "plain", ci=False)
    assert "6 skipped" in out, out
    assert "real corpora not found" in out and "could not import 'no_such_module_for_the_ci_rule'" in out
    assert "failed" not in out and "error" not in out.lower()
