"""train_mtl.py end to end on a tiny synthetic data file: every sharing mode, its outputs and
parameter counts, refusal to overwrite, resume of a finished run, bad masks, -h."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_heap import HELD  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

import train_mtl  # noqa: E402
from models import ModelConfig, build_model  # noqa: E402
from utils.atomic import read_jsonl  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.sparsity.pruning import prunable_names  # noqa: E402
from utils.training.checkpoint import save_weights  # noqa: E402
from utils.training.presets import preset_help  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["--hidden_size", "8", "--epochs", "2", "--batch_size", "8", "--optim", "adam(lr=0.01)",
        "--num_threads", "1", "--seed", "3"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny.pt"
    save_data_file(synthetic_data(n_train=40, n_eval=16), path)
    return path


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def masks_folder(folder: Path) -> tuple[Path, dict, dict]:
    """A prepare-masks.sh style folder: 0.th, 1.th (overlapping random masks), init_weights.th."""
    data = synthetic_data(n_train=40, n_eval=16)
    config = ModelConfig(n_words=len(data.words), n_chars=len(data.chars), n_labels=[3, 4], word_dim=8,
                         hidden_size=8)
    torch.manual_seed(0)
    model = build_model(config, data.embedding)
    folder.mkdir(parents=True)
    save_weights(folder / "init_weights.th", model, config)
    gen = torch.Generator().manual_seed(1)
    masks = {}
    for task_id in (0, 1):
        masks[task_id] = {n: torch.rand(p.shape, generator=gen) < 0.5
                          for n, p in model.named_parameters() if n in prunable_names(model)}
        torch.save({"mask": masks[task_id], "pruning_time": 1, "percent": 50.0}, folder / f"{task_id}.th")
    return folder, masks, {n: p.detach().clone() for n, p in model.named_parameters()}


def train(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["train_mtl.py", *args])
    train_mtl.main()


def test_sparse_run_outputs_and_parameter_counts(tmp_path, data_file, monkeypatch):
    folder, masks, init = masks_folder(tmp_path / "mask")
    train(monkeypatch, "--data_path", str(data_file), "--save_dir", str(tmp_path / "mtl"),
          "--masks_path", str(folder), *TINY)
    run = tmp_path / "mtl" / "cp" / "sparse"
    assert sorted(p.name for p in run.iterdir()) == [".lock", ".sparse-sharing", "args.json", "best.th",
                                                     "log.jsonl", "results.json"]
    results = json.loads((run / "results.json").read_text())
    assert results["mode"] == "sparse" and results["selected_on"] == "dev"
    assert results["heap"] == HELD
    assert set(results["dev"]) == set(results["test"]) == {"pos", "ner"}
    assert results["avg"]["test"] == pytest.approx(sum(results["test"].values()) / 2)
    assert 1 <= results["best_epoch"] <= 2 and results["init_weights"] == str(folder / "init_weights.th")
    assert len(read_jsonl(run / "log.jsonl")) == 2
    # parameters: prunable weights count per mask; shared = embeddings, biases, both masks' overlap
    params = results["parameters"]
    prunable = {n: init[n].numel() for n in masks[0]}
    other = sum(p.numel() for n, p in init.items() if n not in prunable and not n.startswith("heads."))
    kept = {t: sum(int(m.sum()) for m in masks[t].values()) for t in (0, 1)}
    both = sum(int((masks[0][n] & masks[1][n]).sum()) for n in prunable)
    heads = {t: init[f"heads.{t}.weight"].numel() + init[f"heads.{t}.bias"].numel() for t in (0, 1)}
    assert params["per_task"] == {"pos": other + kept[0] + heads[0], "ner": other + kept[1] + heads[1]}
    assert params["shared_by_2"] == other + both
    assert params["total"] == other + kept[0] + kept[1] - both + heads[0] + heads[1]
    assert params["model"] == sum(p.numel() for p in init.values())
    assert results["density"]["pos"] == pytest.approx(100 * kept[0] / sum(prunable.values()), abs=0.01)
    # best.th: the masks travel with the weights; weights that no task keeps stay zero
    best = torch.load(run / "best.th", weights_only=True)
    assert best["tasks"] == ["pos", "ner"] and torch.equal(best["masks"][1]["lstm.0.weight_hh_l0"],
                                                            masks[1]["lstm.0.weight_hh_l0"])
    for name in prunable:
        nobody = ~(masks[0][name] | masks[1][name])
        assert torch.all(best["state_dict"][name][nobody] == 0)
    assert json.loads((run / "args.json").read_text())["masks_path"] == str(folder)


def test_hard_hier_and_single_task_modes(tmp_path, data_file, monkeypatch):
    common = ["--data_path", str(data_file), "--save_dir", str(tmp_path), *TINY]
    train(monkeypatch, *common)
    train(monkeypatch, *common, "--arch", "hier-lstm")
    train(monkeypatch, *common, "--tasks", "1")
    hard, hier, single = (json.loads((tmp_path / "cp" / name / "results.json").read_text())
                          for name in ("hard", "hier", "single-ner"))
    assert (hard["mode"], hier["mode"], single["mode"]) == ("hard", "hier", "single")
    layer2 = sum(p.numel() for n, p in build_model(ModelConfig(
        n_words=32, n_chars=13, n_labels=[3, 4], word_dim=8, hidden_size=8)).named_parameters()
        if n.startswith("lstm.1."))
    # hierarchical: POS reads layer 1 only, so the second BiLSTM layer is NER's alone
    assert hard["parameters"]["per_task"]["pos"] - hier["parameters"]["per_task"]["pos"] == layer2
    assert hard["parameters"]["private"] + layer2 == hier["parameters"]["private"]
    assert single["tasks"] == ["ner"] and single["parameters"]["total"] == single["parameters"]["private"]
    assert single["parameters"]["total"] == hard["parameters"]["per_task"]["ner"]


def test_existing_run_is_refused_then_overwritten_or_resumed(tmp_path, data_file, monkeypatch, capsys):
    common = ["--data_path", str(data_file), "--save_dir", str(tmp_path), "--exp_name", "x", *TINY]
    train(monkeypatch, *common)
    with pytest.raises(InputError, match="output directory exists; pass --resume"):
        train(monkeypatch, *common)
    train(monkeypatch, *common, "--resume")
    assert "has finished already" in capsys.readouterr().out
    train(monkeypatch, *common, "--overwrite", "--select_on", "test")
    results = json.loads((tmp_path / "cp" / "x" / "results.json").read_text())
    assert results["selected_on"] == "test"
    # the epoch chosen has the best mean test score; the dev scores reported are its real ones
    rows = read_jsonl(tmp_path / "cp" / "x" / "log.jsonl")
    chosen = rows[results["best_epoch"] - 1]
    assert chosen["test_selection"] == results["test"]
    assert chosen["dev"] == results["dev"] != results["test"]
    mean = lambda scores: sum(scores.values()) / len(scores)
    assert mean(chosen["test_selection"]) == max(mean(row["test_selection"]) for row in rows)


def test_bad_masks_and_start_weights_are_reported(tmp_path, data_file, monkeypatch):
    folder, _, _ = masks_folder(tmp_path / "mask")
    common = ["--data_path", str(data_file), "--save_dir", str(tmp_path / "mtl"), *TINY]
    (folder / "1.th").unlink()
    with pytest.raises(InputError, match="no mask for task 1; masks present for tasks: 0"):
        train(monkeypatch, *common, "--masks_path", str(folder))
    with pytest.raises(InputError, match="run prepare-masks.sh first"):
        train(monkeypatch, *common, "--masks_path", str(tmp_path / "none"))
    with pytest.raises(InputError, match=r"hidden_size: 8 there, 16 here"):
        train(monkeypatch, *[a if a != "8" else "16" for a in common],
              "--init_weights", str(folder / "init_weights.th"))
    with pytest.raises(InputError, match=r"no task '5' in the data file; its tasks: 0 \(pos\), 1 \(ner\)"):
        train(monkeypatch, *common, "--tasks", "5")
    with pytest.raises(InputError, match=r"--tasks: no task 'chunk' in the data file"):
        train(monkeypatch, *common, "--tasks", "pos", "chunk")
    with pytest.raises(InputError, match=r"--tasks: a task is named twice: \['ner', '1'\]"):
        train(monkeypatch, *common, "--tasks", "ner", "1")
    assert not (tmp_path / "mtl").exists()          # nothing written on bad input


def test_command_line_errors_and_help():
    done = subprocess.run([sys.executable, "train_mtl.py", "--data_path", "missing.pt"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: missing.pt: data file not found; run prepare-data.py first"
    parser = train_mtl.build_parser()
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        assert action.help, action.dest
        if action.default not in (None, False) and action.dest != "help":
            assert f"(default: {action.default})" in text, action.dest
    assert preset_help("epochs") in text and "NOT recommended" in text
