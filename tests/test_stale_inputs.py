"""Nothing stale: every consumer checks that an artifact still holds what it was built from
(utils/built_from.py), before it uses it. One table: each producer/consumer pair, its input
changed after the artifact was made; the consumer refuses in one line naming what changed, and
every earlier output stays byte-identical. ACCEPT_STALE=1 takes it knowingly, with a note."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from experiment_fixtures import in_process  # noqa: E402
from test_mask_select import fake_pruning_runs  # noqa: E402
from test_run_scripts import three_task_data  # noqa: E402

from utils.data.datafile import load_data_file, save_data_file  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.locks import take_lock  # noqa: E402
from utils.subnetworks.mask_select import main as select_main  # noqa: E402
from utils.training.fingerprint import fingerprint  # noqa: E402
from utils.training.mtl_setup import load_task_masks  # noqa: E402
from utils.training.run_dir import open_run_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

TASK_SET = """\
name = "mini"
embedding = "none"

[[tasks]]
name = "tag"
corpus = "corpus"
tag_column = 1
scheme = "plain"
"""
EXTRA_TASK = """
[[tasks]]
name = "again"
corpus = "corpus"
tag_column = 1
scheme = "plain"
"""


def snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file below `roots` (or the file itself) with its bytes."""
    found = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        found.update({str(p): p.read_bytes() for p in files})
    return found


def mini_setting(tmp_path: Path) -> tuple[Path, Path]:
    """A one-task task-set file over a corpus written here, prepared: (task-set file, data file)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, n in (("train", 12), ("dev", 4), ("test", 4)):
        rows = ["\n".join(f"w{(i + j) % 7} T{j % 2}" for j in range(3)) for i in range(n)]
        (corpus / f"{split}.txt").write_text("\n\n".join(rows) + "\n", encoding="utf-8")
    toml = tmp_path / "mini.toml"
    toml.write_text(TASK_SET, encoding="utf-8")
    done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(tmp_path / "data"))
    assert done.returncode == 0
    return toml, tmp_path / "data" / "mini.pt"


def finished_run(folder: Path, inputs: dict[str, Path]) -> Path:
    """A finished run folder as the training scripts write it (args.json with the inputs'
    fingerprints, then results.json)."""
    with open_run_dir(folder, {"seed": 1}, resume=False, overwrite=False, inputs=inputs):
        (folder / "results.json").write_text('{"test": {}}\n')
    return folder


def reuse_in_run_script(run: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The run scripts' reuse of a finished run (plan_reusable in scripts/stages.sh), as
    `baselines` calls it for the run `cp/<name>` of EXP/mtl."""
    exp = run.parent.parent.parent
    code = ("source scripts/run_common.sh; SEED_LIST=(1); plan_reusable 1 "
            f"{run.name} --masks_path x && echo planned")
    return subprocess.run(["bash", "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "EXP": str(exp), **(env or {})}, timeout=120)


def pruning_runs_with_args(exp: Path, data: Path) -> None:
    """fake_pruning_runs, each with the args.json train_single.py writes (its data file's
    fingerprint)."""
    fake_pruning_runs(exp)
    for task_dir in (exp / "single" / "cp").iterdir():
        (task_dir / "args.json").write_text(json.dumps(
            {"data_path": str(data), "task_id": int(task_dir.name), "pruning_iter": 3, "seed": 1,
             "inputs": {"data_path": fingerprint(data)}}))


def select(exp: Path, *rounds: str) -> None:
    select_main(["--exp", str(exp), "--rounds", *rounds])


def permuted_words(data: Path, out: Path) -> Path:
    """The data file with two word rows swapped: the same sizes, other words."""
    prepared = load_data_file(data)
    prepared.words[2], prepared.words[3] = prepared.words[3], prepared.words[2]
    save_data_file(prepared, out)
    return out


# ---- the table: build, then change an input, then the consumer ---------------------------------
# Each case: build(tmp_path) -> (outputs to keep byte-identical, consume, change), where consume()
# returns the error line (or raises InputError) and change() changes an input after the fact.
Case = Callable[[Path], tuple[list[Path], Callable[[], str], Callable[[], None]]]


def load_tasks_in_run_script(data: Path, toml: Path) -> Callable[[], str]:
    """The run scripts' load_tasks: `describe tasks DATA --task-set FILE`; its error line."""
    def consume():
        done = subprocess.run([sys.executable, "-m", "utils.data.describe", "tasks", str(data),
                               "--task-set", str(toml)], cwd=REPO, capture_output=True, text=True)
        return done.stderr if done.returncode else ""
    return consume


def data_file_from_task_set(tmp_path):
    toml, data = mini_setting(tmp_path)
    change = lambda: toml.write_text(TASK_SET + EXTRA_TASK, encoding="utf-8")  # noqa: E731
    return [data], load_tasks_in_run_script(data, toml), change


def data_file_from_corpus(tmp_path):
    toml, data = mini_setting(tmp_path)

    def change():      # one tag corrected in the train file, the same size
        train = tmp_path / "corpus" / "train.txt"
        train.write_text(train.read_text(encoding="utf-8").replace("T1", "T0", 1), encoding="utf-8")
    return [data], load_tasks_in_run_script(data, toml), change


def data_file_replaced_by_prepare_data(tmp_path):
    toml, data = mini_setting(tmp_path)

    def consume():     # prepare-data.py again, over a data file runs were trained on
        done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(data.parent))
        return "refused" if done.returncode == 2 else ""
    return [data], consume, lambda: toml.write_text(TASK_SET + EXTRA_TASK, encoding="utf-8")


def finished_run_from_masks(tmp_path):
    masks, data = tmp_path / "masks", tmp_path / "data.pt"
    masks.mkdir()
    (masks / "0.th").write_bytes(b"round 0")
    data.write_bytes(b"data")
    run = finished_run(tmp_path / "exp" / "mtl" / "cp" / "main",
                       {"masks_path": masks, "data_path": data})

    def consume():
        done = reuse_in_run_script(run)
        return done.stderr if done.returncode else ""
    return [run, masks], consume, lambda: (masks / "0.th").write_bytes(b"round 2")


def finished_run_from_data(tmp_path):
    data = tmp_path / "data.pt"
    data.write_bytes(b"words in one order")
    run = finished_run(tmp_path / "exp" / "mtl" / "cp" / "main-hard", {"data_path": data})

    def consume():
        done = reuse_in_run_script(run)
        return done.stderr if done.returncode else ""
    return [run], consume, lambda: data.write_bytes(b"words in another order")


def pruning_runs_from_data(tmp_path):
    data, exp = three_task_data(tmp_path / "data.pt"), tmp_path / "exp"
    pruning_runs_with_args(exp, data)
    select(exp, "1", "1", "1")

    def consume():     # prepare-masks.sh: the masks chosen again
        select(exp, "2", "2", "2")
        return ""
    return [exp], consume, lambda: permuted_words(data, data)


def masks_from_pruning_runs(tmp_path):
    exp = tmp_path / "exp"
    fake_pruning_runs(exp)
    select(exp, "1", "1", "1")
    masks = exp / "mtl" / "mask"

    def consume():     # train_mtl.py --masks_path
        load_task_masks(masks, [0, 1, 2])
        return ""

    def prune_again():
        chosen = next((exp / "single" / "cp" / "0").glob("1_*.th"))
        saved = torch.load(chosen, weights_only=True)
        saved["mask"] = {name: ~kept for name, kept in saved["mask"].items()}
        torch.save(saved, chosen)
    return [masks], consume, prune_again


def model_from_data_file(tmp_path, tiny_experiment):
    data = permuted_words(tiny_experiment.parent / "data.pt", tmp_path / "data.pt")
    text, out = tmp_path / "in.txt", tmp_path / "out.txt"
    text.write_text("w1 w2\n")

    def consume():     # predict.py with the data file
        done = in_process("predict.py", "--model", str(tiny_experiment / "mtl" / "cp" / "t" / "best.th"),
                          "--input", str(text), "--output", str(out), "--overwrite", "--data_path", str(data))
        return "refused" if done.returncode == 2 else ""
    before = permuted_words(tiny_experiment.parent / "data.pt", tmp_path / "before.pt")
    shutil.copyfile(tiny_experiment.parent / "data.pt", data)      # the right one, first
    return [tiny_experiment / "mtl" / "cp" / "t"], consume, lambda: shutil.copyfile(before, data)


CASES = {"data file <- task-set file (run scripts)": data_file_from_task_set,
         "data file <- corpus (run scripts)": data_file_from_corpus,
         "data file <- task-set file (prepare-data.py again)": data_file_replaced_by_prepare_data,
         "finished run <- masks (baselines' reuse)": finished_run_from_masks,
         "finished run <- data file (baselines' reuse)": finished_run_from_data,
         "pruning runs <- data file (prepare-masks.sh)": pruning_runs_from_data,
         "masks <- pruning runs (train_mtl.py)": masks_from_pruning_runs,
         "model <- data file (predict.py)": model_from_data_file}


def _consumed(consume: Callable[[], str]) -> str:
    try:
        return consume()
    except InputError as err:
        return str(err)


@pytest.mark.parametrize("case", CASES)
def test_a_changed_input_is_named_and_nothing_is_used_or_replaced(case, tmp_path, request,
                                                                  monkeypatch, capsys):
    build = CASES[case]
    extra = [request.getfixturevalue("tiny_experiment")] if "predict" in case else []
    monkeypatch.delenv("ACCEPT_STALE", raising=False)
    outputs, consume, change = build(tmp_path, *extra)
    assert _consumed(consume) == "", "the artifact as it was built is used"
    change()
    kept = snapshot(*outputs)
    refused = _consumed(consume)
    assert refused, f"{case}: the changed input was not noticed"
    assert snapshot(*outputs) == kept
    if "refused" not in refused:
        assert "changed" in refused or "added" in refused, refused
        assert refused.count("\n") <= 1 and len(refused) < 1500
    monkeypatch.setenv("ACCEPT_STALE", "1")         # taken knowingly: used, with a note
    capsys.readouterr()
    if "prepare-data" not in case:
        assert _consumed(consume) == "", case
        assert "used as it is" in capsys.readouterr().err or "reuse" in case or "run scripts" in case


def test_a_pruning_run_being_written_is_not_read(tmp_path):
    data, exp = three_task_data(tmp_path / "data.pt"), tmp_path / "exp"
    pruning_runs_with_args(exp, data)
    select(exp, "1", "1", "1")
    kept = snapshot(exp / "mtl")
    lock = take_lock(exp / "single" / "cp" / "1" / ".lock", exp / "single" / "cp" / "1")
    try:
        with pytest.raises(InputError, match="another process .* is writing to this run"):
            select_main(["--exp", str(exp), "--auto"])
    finally:
        lock.release()
    assert snapshot(exp / "mtl") == kept
    select_main(["--exp", str(exp), "--auto"])           # once it has ended


def test_prepare_data_again_with_the_same_inputs_leaves_the_file_and_overwrite_replaces(tmp_path):
    toml, data = mini_setting(tmp_path)
    kept, stat = data.read_bytes(), data.stat()
    assert in_process("prepare-data.py", "--tasks", str(toml), "--out", str(data.parent)).returncode == 0
    assert data.read_bytes() == kept and data.stat().st_mtime_ns == stat.st_mtime_ns
    toml.write_text(TASK_SET + EXTRA_TASK, encoding="utf-8")
    done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(data.parent), "--overwrite")
    assert done.returncode == 0 and load_data_file(data).tasks == ["tag", "again"]


def test_analyze_names_the_runs_built_from_inputs_that_changed(tmp_path, capsys):
    data, exp = three_task_data(tmp_path / "data.pt"), tmp_path / "exp"
    pruning_runs_with_args(exp, data)
    select(exp, "1", "1", "1")
    done = in_process("analyze.py", str(exp), "--out", str(tmp_path / "before"), capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert "changed since" not in (tmp_path / "before" / "report.md").read_text(encoding="utf-8")
    permuted_words(data, data)                    # prepared again, after the prunings
    kept = snapshot(exp)
    done = in_process("analyze.py", str(exp), "--out", str(tmp_path / "after"), capsys=capsys)
    text = (tmp_path / "after" / "report.md").read_text(encoding="utf-8")
    assert done.returncode == 0 and "Built from inputs that have changed since" in text
    assert all(f"`single/cp/{t}`: data_path {data} changed" in text for t in range(3)), text
    assert snapshot(exp) == kept
