"""The results table (utils/results_table.py) and the run scripts' shared logic (scripts/run_common.sh)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from utils.errors import InputError
from utils.results_table import build, format_markdown, format_text

REPO = Path(__file__).resolve().parents[1]
METRIC = {"pos": "accuracy", "chunk": "f1", "ner": "f1"}


def fake_run(folder: Path, test: dict[str, float], total: int, seconds: float = 60.0) -> Path:
    folder.mkdir(parents=True)
    dev = {t: s + 1.0 for t, s in test.items()}
    (folder / "results.json").write_text(json.dumps({
        "test": test, "dev": dev, "metric": {t: METRIC[t] for t in test},
        "parameters": {"total": total}, "seconds": seconds}))
    return folder


def test_table_joins_single_task_runs_and_sums_their_parameters(tmp_path):
    singles = [fake_run(tmp_path / f"s{t}", {t: s}, 100)
               for t, s in [("pos", 95.0), ("chunk", 90.0), ("ner", 85.0)]]
    hard = fake_run(tmp_path / "hard", {"pos": 94.0, "chunk": 91.0, "ner": 86.0}, 150)
    sparse = fake_run(tmp_path / "sparse", {"pos": 95.5, "chunk": 91.5, "ner": 86.5}, 120, 30.0)
    rows, as_json = build([f"single={','.join(map(str, singles))}", f"hard={hard}", f"sparse={sparse}"])
    assert rows[0] == ["test score (%)", "single", "hard", "sparse"]
    assert rows[1] == ["pos (acc)", "95.00", "94.00", "95.50"]
    assert rows[3] == ["ner (F1)", "85.00", "86.00", "86.50"]
    assert rows[4] == ["avg (test)", "90.00", "90.33", "91.17"]
    assert rows[5] == ["avg (dev)", "91.00", "91.33", "92.17"]
    assert rows[6] == ["parameters", "300", "150", "120"]
    assert rows[7] == ["train minutes", "3.0", "1.0", "0.5"]
    assert as_json["single"]["parameters"] == 300 and as_json["sparse"]["avg_test"] == pytest.approx(91.1667, abs=1e-3)
    text = format_text(rows)
    assert text.splitlines()[1].startswith("---") and "91.17" in text
    assert format_markdown(rows).splitlines()[2] == "| pos (acc) | 95.00 | 94.00 | 95.50 |"


def test_table_with_a_missing_task_shows_a_dash(tmp_path):
    hard = fake_run(tmp_path / "hard", {"pos": 94.0, "chunk": 91.0, "ner": 86.0}, 150)
    only_ner = fake_run(tmp_path / "ner", {"ner": 80.0}, 50)
    rows, _ = build([f"hard={hard}", f"single={only_ner}"])
    assert rows[1] == ["pos (acc)", "94.00", "-"] and rows[4] == ["avg (test)", "90.33", "-"]


def test_table_refuses_bad_input(tmp_path):
    run = fake_run(tmp_path / "a", {"pos": 94.0}, 10)
    with pytest.raises(InputError, match="task 'pos' appears in two runs"):
        build([f"single={run},{run}"])
    with pytest.raises(InputError, match="results.json not found"):
        build([f"hard={tmp_path / 'missing'}"])
    with pytest.raises(InputError, match="expected NAME=RUN_DIR"):
        build([str(run)])
