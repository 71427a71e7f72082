"""train_mtl.py --save_ep keeps every epoch's weights; --evaluate re-scores them with the run's own
arguments, without training and without writing; the recipe arguments are checked."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_mtl_train import TINY, data_file, keep_threads, masks_folder, train  # noqa: E402,F401

from utils.atomic import read_jsonl  # noqa: E402
from utils.errors import InputError  # noqa: E402


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_save_ep_then_evaluate_rescores_every_epoch_and_writes_nothing(tmp_path, data_file,
                                                                       monkeypatch, capsys):
    folder, _, _ = masks_folder(tmp_path / "mask")
    common = ["--data_path", str(data_file), "--save_dir", str(tmp_path / "mtl"),
              "--masks_path", str(folder), "--exp_name", "ep", *TINY]
    train(monkeypatch, *common, "--save_ep", "--trainer", "re-seq-label")
    run = tmp_path / "mtl" / "cp" / "ep"
    assert sorted(p.name for p in (run / "epochs").iterdir()) == ["1.th", "2.th"]
    saved = torch.load(run / "epochs" / "2.th", weights_only=True)
    assert saved["epoch"] == 2 and saved["model_config"]["hidden_size"] == 8
    results = json.loads((run / "results.json").read_text())
    log = read_jsonl(run / "log.jsonl")
    before = snapshot(tmp_path)
    capsys.readouterr()
    # only the run's name is needed: the rest comes from its args.json
    train(monkeypatch, "--data_path", str(data_file), "--save_dir", str(tmp_path / "mtl"),
          "--exp_name", "ep", "--evaluate", "--num_threads", "1")
    out = capsys.readouterr().out
    assert snapshot(tmp_path) == before
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2]
    for row, logged in zip(rows, log):               # dev pos, dev ner, dev avg, test ...
        assert [float(x) for x in row[1:3]] == pytest.approx(
            [logged["dev"]["pos"], logged["dev"]["ner"]], abs=0.006)
    assert f"selected on dev: epoch {results['best_epoch']} " in out
    best = rows[results["best_epoch"] - 1]
    assert [float(x) for x in best[4:6]] == pytest.approx(
        [results["test"]["pos"], results["test"]["ner"]], abs=0.006)
    assert "best on test" in out


def test_evaluate_needs_saved_epochs(tmp_path, data_file, monkeypatch):
    common = ["--data_path", str(data_file), "--save_dir", str(tmp_path), "--exp_name", "plain", *TINY]
    train(monkeypatch, *common)
    with pytest.raises(InputError, match="train with --save_ep"):
        train(monkeypatch, *common, "--evaluate")
    with pytest.raises(InputError, match="cannot evaluate: no args.json"):
        train(monkeypatch, "--data_path", str(data_file), "--save_dir", str(tmp_path),
              "--exp_name", "none", "--evaluate")


@pytest.mark.parametrize("bad, message", [
    (["--scheduler", "cosine"], "--scheduler: unknown scheduler 'cosine'"),
    (["--accumulation_steps", "0"], "--accumulation_steps: must be at least 1"),
    (["--clip", "-1"], "--clip: must be at least 0"),
])
def test_bad_recipe_arguments_are_one_line_errors(tmp_path, data_file, monkeypatch, bad, message):
    with pytest.raises(InputError, match=message):
        train(monkeypatch, "--data_path", str(data_file), "--save_dir", str(tmp_path), *TINY, *bad)
    assert not tmp_path.joinpath("cp").exists()
