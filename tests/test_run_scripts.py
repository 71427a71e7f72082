"""The results table (utils/results/results_table.py) and the run scripts' shared logic
(scripts/run_common.sh)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.errors import InputError
from utils.results.results_table import build, format_markdown, format_text

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


def test_table_over_seeds_shows_mean_and_sample_std_of_every_cell(tmp_path):
    for seed, (pos, ner, total) in {"1": (94.0, 80.0, 100), "2": (96.0, 84.0, 120),
                                    "3": (95.0, 85.0, 110)}.items():
        fake_run(tmp_path / f"seed-{seed}" / "hard", {"pos": pos, "ner": ner}, total, 60.0 * int(seed))
        fake_run(tmp_path / f"seed-{seed}" / "ner", {"ner": ner - 1}, 50)
    rows, as_json = build([f"hard={tmp_path}/seed-{{seed}}/hard", f"single={tmp_path}/seed-{{seed}}/ner"],
                          seeds=["1", "2", "3"])
    # pos 94, 96, 95: mean 95, sample std 1; ner 80, 84, 85: mean 83, std sqrt(7) = 2.65
    assert rows[1] == ["pos (acc)", "95.00 ± 1.00", "-"]
    assert rows[2] == ["ner (F1)", "83.00 ± 2.65", "82.00 ± 2.65"]
    assert rows[3][1] == "89.00 ± 1.73"              # per-seed averages 87, 90, 90: std sqrt(3)
    assert rows[5] == ["parameters", "110 ± 10", "50 ± 0"]
    assert rows[6] == ["train minutes", "2.0 ± 1.0", "1.0 ± 0.0"]
    hard = as_json["hard"]
    assert hard["seeds"] == ["1", "2", "3"] and hard["test"] == {"pos": 95.0, "ner": 83.0}
    assert hard["test_std"]["ner"] == pytest.approx(7 ** 0.5)
    assert hard["per_seed"]["2"]["test"] == {"pos": 96.0, "ner": 84.0}
    assert as_json["single"]["avg_test"] is None         # pos missing from that column
    with pytest.raises(InputError, match="must hold"):
        build([f"hard={tmp_path}/seed-1/hard"], seeds=["1", "2"])
    with pytest.raises(InputError, match="at least two seeds"):
        build([f"hard={tmp_path}/seed-{{seed}}/hard"], seeds=["1"])


def test_table_refuses_bad_input(tmp_path):
    run = fake_run(tmp_path / "a", {"pos": 94.0}, 10)
    with pytest.raises(InputError, match="task 'pos' appears in two runs"):
        build([f"single={run},{run}"])
    with pytest.raises(InputError, match="results.json not found"):
        build([f"hard={tmp_path / 'missing'}"])
    with pytest.raises(InputError, match="expected NAME=RUN_DIR"):
        build([str(run)])


# ---- the run scripts -------------------------------------------------------------------------
TINY_ARGS = "--hidden_size 8 --epochs 1 --batch_size 8 --optim adam(lr=0.01)"


def three_task_data(path: Path, n_tasks: int = 3) -> Path:
    """The synthetic fixture with a third task (chunk: a copy of pos) so the scripts' three tasks
    exist; with n_tasks=2 the chunk task is missing and task 2 does not exist."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from test_model_fixtures import synthetic_data, with_chunk_copy
    from utils.data.datafile import save_data_file

    data = synthetic_data(n_train=24, n_eval=8)
    save_data_file(with_chunk_copy(data) if n_tasks == 3 else data, path)
    return path


def script(setting: str, *args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PRESET": "demo", "CORES": "2", "TRAIN_ARGS": TINY_ARGS,
                "SINGLE_ARGS": "--pruning_iter 1", **env}
    name = f"run_{setting}.sh"                     # the copy in cwd if there is one, else ours
    path = cwd / name if (cwd / name).is_file() else REPO / name
    return subprocess.run(["bash", str(path), *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, timeout=600)


def test_the_light_steps_of_a_plan_do_not_import_torch():
    """A plan checks every finished run it reuses twice, and makes its tables, each in a process
    of its own: importing torch would be most of their time (7 reused runs took 33 s, now 3 s)."""
    light = ("utils.training.reuse", "utils.results.results_table")
    code = f"import sys; import {', '.join(light)}; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_all_mode_prunes_places_masks_trains_baselines_and_prints_the_table(tmp_path):
    data, exp = three_task_data(tmp_path / "tiny.pt"), tmp_path / "exp"
    done = script("conll03", "all", DATA=str(data), EXP=str(exp), NAME="t")
    assert done.returncode == 0, done.stdout + done.stderr
    for task_id in (0, 1, 2):                      # each pruning logs to its own file
        log = (exp / "single" / "logs" / f"{task_id}.log").read_text()
        assert "round 1/1" in log
        assert (exp / "mtl" / "mask" / f"{task_id}.th").is_file()
    assert "auto: sparsest round" in done.stdout and "pairwise overlap" in done.stdout
    for name in ("t", "t-hard", "t-soft", "t-hier", "t-single-pos", "t-single-chunk", "t-single-ner"):
        assert (exp / "mtl" / "cp" / name / "results.json").is_file(), name
    table = done.stdout[done.stdout.index("test score (%)"):].splitlines()
    assert table[0].split() == ["test", "score", "(%)", "single", "hard", "soft", "hier", "sparse"]
    assert [row.split()[0] for row in table[2:7]] == ["pos", "chunk", "ner", "avg", "avg"]
    assert (exp / "mtl" / "t-table.md").read_text().count("|") > 30
    hier = json.loads((exp / "mtl" / "cp" / "t-hier" / "results.json").read_text())
    assert hier["mode"] == "hier" and hier["init_weights"] == str(exp / "mtl" / "mask" / "init_weights.th")
    for args in (exp / "single" / "cp" / "2" / "args.json", exp / "mtl" / "cp" / "t" / "args.json"):
        assert json.loads(args.read_text())["seed"] == 2019          # the original scripts' seed
    # again: every finished run is reused and only the table is made
    again = script("conll03", "baselines", DATA=str(data), EXP=str(exp), NAME="t")
    assert again.returncode == 0 and again.stdout.count("reusing") == 7 and "started" not in again.stdout
    # some columns only (BASELINES): their runs alone are planned, reused here, and tabulated
    some = script("conll03", "baselines", DATA=str(data), EXP=str(exp), NAME="t", BASELINES="sparse,hard")
    assert some.returncode == 0 and some.stdout.count("reusing") == 2, some.stdout + some.stderr
    assert "baselines: hard sparse (train_mtl.py)" in some.stdout
    assert some.stdout[some.stdout.index("test score (%)"):].split("\n")[0].split() == \
        ["test", "score", "(%)", "hard", "sparse"]
    # the prunings again, refused: each log keeps the finished run and adds the refusal after it
    logs = {t: (exp / "single" / "logs" / f"{t}.log").read_text() for t in (0, 1, 2)}
    refused = script("conll03", "single", DATA=str(data), EXP=str(exp))
    assert refused.returncode == 1 and "error: 3 run(s) failed" in refused.stderr
    for task_id, before in logs.items():
        after = (exp / "single" / "logs" / f"{task_id}.log").read_text()
        assert after.startswith(before) and "round 1/1" in before
        attempts = after.split("==> attempt ")
        assert len(attempts) == 3 and attempts[2].rstrip().endswith(
            "output directory exists; pass --resume to continue that run or --overwrite to replace it")
    # `mtl MASKDIR`: the masks from another folder, a path relative to where the script is called
    shutil.copytree(exp / "mtl" / "mask", tmp_path / "my masks")
    done = script("conll03", "mtl", "my masks", cwd=tmp_path, DATA=str(data), EXP=str(exp), NAME="m")
    assert done.returncode == 0, done.stdout + done.stderr
    sparse = json.loads((exp / "mtl" / "cp" / "m" / "results.json").read_text())
    assert sparse["masks_path"] == str(tmp_path / "my masks") and sparse["mode"] == "sparse"
    # other masks chosen: the finished sparse run was trained on the old ones and is not reused
    finished = {p: p.read_bytes() for p in (exp / "mtl").rglob("*") if p.is_file() and "mask" not in p.parts}
    chosen = subprocess.run(["bash", str(REPO / "prepare-masks.sh"), exp.name, "0", "0", "0"],
                            env={**os.environ, "EXP_ROOT": str(exp.parent)}, capture_output=True, text=True)
    assert chosen.returncode == 0, chosen.stderr
    stale = script("conll03", "baselines", DATA=str(data), EXP=str(exp), NAME="t")
    assert stale.returncode == 2 and "reusing t:" not in stale.stdout, stale.stdout + stale.stderr
    assert f"{exp / 'mtl' / 'cp' / 't'}: built from inputs that changed since: masks_path" in stale.stderr
    assert "OVERWRITE=1 trains it again, or ACCEPT_STALE=1" in stale.stderr
    assert {p: p.read_bytes() for p in finished} == finished


def test_a_failing_pruning_fails_the_script_loudly(tmp_path):
    data, exp = three_task_data(tmp_path / "tiny.pt"), tmp_path / "exp"
    (exp / "single" / "cp" / "2").mkdir(parents=True)      # NER's run folder is taken
    (exp / "single" / "cp" / "2" / "args.json").write_text("{}")
    done = script("conll03", "single", DATA=str(data), EXP=str(exp))
    assert done.returncode == 1
    assert "FAILED: prune-ner (exit code 2)" in done.stderr
    assert "--overwrite" in done.stderr                       # the tail of the failed run's log
    assert "error: 1 run(s) failed: prune-ner" in done.stderr
    assert "finished prune-pos" in done.stdout and "finished prune-chunk" in done.stdout


def test_missing_inputs_are_explained(tmp_path):
    done = script("ptb", "mtl", DATA=str(tmp_path / "none.pt"))
    assert done.returncode == 2 and "prepare-data.py --type ptb" in done.stderr
    data = three_task_data(tmp_path / "tiny.pt")
    done = script("conll03", "baselines", DATA=str(data), EXP=str(tmp_path / "exp"))
    assert done.returncode == 2 and "no masks in" in done.stderr and "prepare-masks.sh exp" in done.stderr
    done = script("conll03", "mtl", "no-such-folder", DATA=str(data))
    assert done.returncode == 2 and "masks folder not found:" in done.stderr
    done = script("ontonotes", "bogus")
    assert done.returncode == 2 and "usage: bash run_ontonotes.sh" in done.stderr


# setting: (environment, the error line's start); DATA names no file, so that a setting let
# through could not start anything either
BAD_SETTINGS = {
    "PRESET": ({"PRESET": "gpu"}, "error: PRESET must be one of: paper cpu demo; got 'gpu'"),
    "NAME empty": ({"NAME": ""}, "error: NAME must be one folder name"),
    "NAME a path": ({"NAME": "../main"}, "error: NAME must be one folder name"),
    "NAME ..": ({"NAME": ".."}, "error: NAME must be one folder name"),
    "SEEDS text": ({"SEEDS": "1 two"}, "error: SEEDS must be whole numbers"),
    "SEEDS repeated": ({"SEEDS": "1 2 1"}, "error: SEEDS names seed 1 twice ('1 2 1')"),
    "SEEDS too large": ({"SEEDS": "123456789012345678"}, "error: SEEDS must be whole numbers of at most 16 digits"),
    "CORES": ({"CORES": "0"}, "error: CORES must be 1 or more, got '0'"),
    "JOBS": ({"JOBS": "many"}, "error: JOBS must be 1 or more, got 'many'"),
    "THREADS": ({"THREADS": "-1"}, "error: THREADS must be 1 or more, got '-1'"),
    "WARMUP_EPOCHS": ({"WARMUP_EPOCHS": "1.5"}, "error: WARMUP_EPOCHS must be a whole number"),
    "RESUME": ({"RESUME": "yes"}, "error: RESUME must be 0 or 1, got 'yes'"),
    "OVERWRITE": ({"OVERWRITE": "true"}, "error: OVERWRITE must be 0 or 1, got 'true'"),
    "RESUME and OVERWRITE": ({"RESUME": "1", "OVERWRITE": "1"}, "error: RESUME=1 (continue the runs) and OVERWRITE=1"),
    "DEVICE": ({"DEVICE": "gpu"}, "error: DEVICE must be cpu or cuda, got 'gpu'"),
    "DEVICE cuda:1": ({"DEVICE": "cuda:1"}, "error: DEVICE=cuda:1: choose the GPUs with GPUS=1"),
    "GPUS": ({"GPUS": "0,x"}, "error: GPUS must be GPU numbers separated by commas, got '0,x'"),
    "RUNS_PER_GPU": ({"RUNS_PER_GPU": "0"}, "error: RUNS_PER_GPU must be 1 or more"),
    "LAUNCHER": ({"LAUNCHER": "ssh"}, "error: LAUNCHER must be local or slurm"),
    "AUTO_MARGIN negative": ({"AUTO_MARGIN": "-1"}, "error: AUTO_MARGIN must be a number of dev points"),
    "AUTO_MARGIN text": ({"AUTO_MARGIN": "half"}, "error: AUTO_MARGIN must be a number of dev points"),
    "BASELINES unknown": ({"BASELINES": "hard,sparce"}, "error: BASELINES: 'sparce' is not a column; choose among: single hard soft hier sparse"),
    "BASELINES empty": ({"BASELINES": " , "}, "error: BASELINES names no column (' , ')"),
    "BASELINES repeated": ({"BASELINES": "hard sparse hard"}, "error: BASELINES names 'hard' twice"),
    "BASELINES case": ({"BASELINES": "Hard"}, "error: BASELINES: 'Hard' is not a column"),
    "BASELINES soft over an encoder": ({"BASELINES": "soft", "ENCODER": "."},
                                       "error: BASELINES: soft sharing is not offered over an encoder (ENCODER); choose among: single hard hier sparse"),
}


@pytest.mark.parametrize("setting", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_before_anything_starts(setting, tmp_path):
    env, start = BAD_SETTINGS[setting]
    done = script("conll03", "all", DATA=str(tmp_path / "none.pt"), EXP=str(tmp_path / "exp"), **env)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.startswith(start) and len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "exp").exists()


def test_demo_without_corpus_says_where_to_put_it(tmp_path):
    """A copy of the scripts where neither data/raw/conll03 nor ../shared/data/conll03 exists."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("run_conll03.sh", "prepare-data.py", "scripts", "settings", "utils", "models"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, repo / name)             # copies: utils/paths.py finds its root by path
    (repo / ".venv").symlink_to(REPO / ".venv")
    done = script("conll03", "demo", cwd=repo)
    assert done.returncode == 2
    assert "data/raw/conll03/ (inside the repository) or in ../shared/data/conll03/" in done.stderr
    assert not (repo / "exp" / "conll03-demo" / "single").exists()


def test_warmup_checkpoint_is_the_rewind_point_of_the_pruning(tmp_path):
    data, exp = three_task_data(tmp_path / "tiny.pt"), tmp_path / "exp"
    done = script("conll03", "warmup", DATA=str(data), EXP=str(exp), NAME="w")
    assert done.returncode == 0, done.stdout + done.stderr
    checkpoint = exp / "mtl" / "cp" / "w-warmup" / "best.th"
    assert f"bash run_conll03.sh single {checkpoint}" in done.stdout
    assert json.loads((checkpoint.parent / "results.json").read_text())["mode"] == "hard"
    done = script("conll03", "single", str(checkpoint), DATA=str(data), EXP=str(exp))
    assert done.returncode == 0, done.stdout + done.stderr
    warm = torch.load(checkpoint, weights_only=True)["state_dict"]
    for task_id in (0, 1, 2):
        init = torch.load(exp / "single" / "cp" / str(task_id) / "init_weights.th", weights_only=True)
        assert all(torch.equal(init["state_dict"][n], warm[n]) for n in warm)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("env, message", [
    ({"PRESET": "dem"}, "error: PRESET must be one of: paper cpu demo; got 'dem'"),
    ({"PRESET": "cpu"}, "error: demo mode runs PRESET=demo; got PRESET=cpu"),
    ({"PRESET": ""}, "holds an earlier demo; RESUME=1 continues it, OVERWRITE=1 replaces it"),
    ({"PRESET": "demo", "NAME": ""}, "error: NAME must be one folder name"),
])
def test_demo_keeps_an_earlier_demo_folder_byte_for_byte(env, message, tmp_path):
    data, exp = three_task_data(tmp_path / "tiny.pt"), tmp_path / "exp" / "conll03-demo"
    (exp / "mtl" / "cp" / "demo").mkdir(parents=True)
    (exp / "mtl" / "demo-table.md").write_text("| the earlier report |\n")
    (exp / "mtl" / "cp" / "demo" / "results.json").write_text('{"test": {"pos": 91.5}}')
    before = snapshot(exp)
    done = script("conll03", "demo", DATA=str(data), DEMO_EXP=str(exp), **env)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr and \
        len(done.stderr.splitlines()) == 1, done.stderr
    assert snapshot(exp) == before


def test_demo_replaces_an_earlier_demo_folder_only_with_overwrite(tmp_path):
    data, exp = three_task_data(tmp_path / "tiny.pt"), tmp_path / "exp" / "conll03-demo"
    (exp / "mtl").mkdir(parents=True)
    (exp / "mtl" / "old-table.md").write_text("| the earlier report |\n")
    done = script("conll03", "demo", DATA=str(data), DEMO_EXP=str(exp), OVERWRITE="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (exp / "mtl" / "old-table.md").exists()
    assert (exp / "mtl" / "demo-table.md").is_file()
    assert not list(exp.parent.glob(".conll03-demo.removing-*"))


def test_removal_refuses_what_is_not_a_run_folder(tmp_path, monkeypatch):
    from utils.folders import remove_asked
    monkeypatch.chdir(tmp_path / ".." )
    target = tmp_path / "file.txt"
    target.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    for bad in (target, link, REPO, REPO / "utils" / "..", tmp_path.parent):
        with pytest.raises(InputError, match="not deleting it"):
            remove_asked(bad)
    assert target.read_text() == "keep" and link.is_symlink()
    assert remove_asked(tmp_path / "absent") is False
    (tmp_path / "run" / "single").mkdir(parents=True)        # written before the marker
    assert remove_asked(tmp_path / "run") is True and not (tmp_path / "run").exists()


def _foreign_folder(folder: Path, entries: dict[str, str | None]) -> None:
    """`folder` holding `entries` (name -> text of a file, None for a folder)."""
    folder.mkdir(parents=True)
    for name, text in entries.items():
        if text is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_text(text)


FOREIGN_EXPERIMENT_FOLDERS = {          # no tool marker and more than the run scripts write
    "notes": {"notes.md": "my notes"},
    "single and notes": {"single": None, "notes.md": "my notes"},
    "a report only": {"report.md": "a report of my own"},
    "another kind's marker": {".sparse-sharing": "report\n", "mtl": None},
    "an empty marker": {".sparse-sharing": "", "mtl": None, "draft.txt": "x"},
    "glob [name]*": {"mtl": None, "keep me": "x"},
    "-leading dash": {"seed-1": None, "data.csv": "1,2"},
    "ünï★ code": {"single": None, "src": None},
}


@pytest.mark.parametrize("name", FOREIGN_EXPERIMENT_FOLDERS)
def test_removal_and_marking_refuse_a_folder_the_tool_did_not_make(tmp_path, monkeypatch, name):
    from utils.folders import mark_experiment, remove_asked
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "exp" / name
    _foreign_folder(folder, FOREIGN_EXPERIMENT_FOLDERS[name])
    before = snapshot(folder)
    for action in (remove_asked, mark_experiment):
        with pytest.raises(InputError, match="not an experiment folder made by this tool"):
            action(folder)
    assert snapshot(folder) == before


def test_a_marked_experiment_folder_is_removed_whatever_it_holds(tmp_path, monkeypatch):
    from utils.folders import mark_experiment, remove_asked
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "exp" / "lr[0.1] ★"
    mark_experiment(folder)
    (folder / "notes.md").write_text("written inside the tool's own folder")
    neighbour = tmp_path / "exp" / "lr1"
    (neighbour / "single").mkdir(parents=True)
    assert remove_asked(folder) is True
    assert [p.name for p in (tmp_path / "exp").iterdir()] == ["lr1"]
