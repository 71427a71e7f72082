"""Nothing lost, every message bounded, every path the kind it says (utils/owned.py,
utils/errors.py, utils/paths.py). Three tables:
- deletion: a folder is replaced or deleted only when it carries the tool's marker; foreign
  folders and hostile names (glob characters, spaces, leading dashes, unicode) are kept
  byte-identical, a killed swap's leftovers of another run included;
- message size: a bad value of any size gives one bounded line (exit 2), no traceback;
- path kinds: a file option given a folder, or a folder option given a file, is one line naming
  the option, before anything is read.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from experiment_fixtures import in_process  # noqa: E402
from test_mask_select import fake_pruning_runs  # noqa: E402
from test_stale_inputs import TASK_SET, mini_setting, snapshot  # noqa: E402

from utils.errors import run_main  # noqa: E402
from utils.subnetworks.mask_select import main as select_main  # noqa: E402
from utils.training.run_dir import open_run_dir  # noqa: E402

HOSTILE = ["lr[0.1]", "a*", "run ?", "-x", "ünï★ code", "[!z]"]
# For each hostile name, another run whose name its glob would match (or a look-alike).
VICTIM = {"lr[0.1]": "lr1", "a*": "ab", "run ?": "run x", "-x": "-xy", "ünï★ code": "ünï★ codex",
          "[!z]": "y"}


def killed_swap_halves(parent: Path, victim: str) -> None:
    """What a swap of the run `victim` killed between its two renames leaves: the only copy of
    that run in `.victim.old-XXXXXXXX/victim`, and a half-built `.victim.new-XXXXXXXX`."""
    old = parent / f".{victim}.old-abcd1234" / victim
    old.mkdir(parents=True)
    (old / "args.json").write_text('{"only": "copy"}')
    new = parent / f".{victim}.new-abcd1234"
    new.mkdir()
    (new / "half.txt").write_text("being built")


@pytest.mark.parametrize("name", HOSTILE)
def test_overwriting_a_run_with_a_hostile_name_keeps_every_other_run(name, tmp_path):
    parent = tmp_path / "cp"
    parent.mkdir()
    killed_swap_halves(parent, VICTIM[name])
    (parent / VICTIM[name]).mkdir()                # the victim's place is empty: its run is in .old
    kept = snapshot(parent)
    run = parent / name
    for _ in range(2):                               # made, then replaced with --overwrite
        with open_run_dir(run, {"seed": 1}, resume=False, overwrite=True, inputs={}):
            pass
    assert (run / "args.json").is_file()
    assert {k: v for k, v in snapshot(parent).items() if not k.startswith(str(run) + os.sep)} == kept


FOREIGN = {  # name -> files (path: text) of a folder the tool did not make
    "the experiment itself": {"report.md": "# my notes", "single/cp/0/args.json": "{}",
                              "mtl/cp/main/results.json": "{}"},
    "a notes folder with a report.md": {"report.md": "mine", "notes.txt": "keep"},
    "a report.md alone": {"report.md": "written by hand"},
    "another kind's marker": {".sparse-sharing": "run\n", "report.md": "x", "best.th": "w"},
    "a marker that says nothing": {".sparse-sharing": "", "report.md": "x"},
    **{f"hostile name {name!r}": {"report.md": "x", "data.csv": "1,2"} for name in HOSTILE},
}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    """An experiment folder with runs analyze.py reads (pruning runs and placed masks)."""
    exp = tmp_path_factory.mktemp("exp")
    fake_pruning_runs(exp)
    select_main(["--exp", str(exp), "--rounds", "1", "1", "1"])
    return exp


@pytest.mark.parametrize("case", FOREIGN)
def test_analyze_never_replaces_a_folder_it_did_not_make(case, experiment, tmp_path, capsys):
    name = case.split("'")[1] if case.startswith("hostile") else "out"
    out = experiment if case == "the experiment itself" else tmp_path / name
    for path, text in FOREIGN[case].items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")
    kept = snapshot(out)
    done = in_process("analyze.py", str(experiment), "--out", str(out), capsys=capsys)
    assert done.returncode == 2 and "not a report folder of analyze.py" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    assert snapshot(out) == kept
    if case == "the experiment itself":
        (experiment / "report.md").unlink()


@pytest.mark.parametrize("name", HOSTILE)
def test_analyze_replaces_its_own_report_whatever_its_name(name, experiment, tmp_path, capsys):
    out = tmp_path / name
    beside = tmp_path / VICTIM[name]
    killed_swap_halves(tmp_path, VICTIM[name])
    beside.mkdir()
    (beside / "report.md").write_text("another report")
    kept = snapshot(tmp_path)
    for _ in range(2):
        assert in_process("analyze.py", str(experiment), "--out", str(out), capsys=capsys).returncode == 0
    assert (out / "report.md").is_file()
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(str(out) + os.sep)} == kept


# ---- message size: a bad value of any size, one short line --------------------------------------
HUGE = "9" * 100_000


def _task_set(tmp_path: Path, change: str) -> list[str]:
    toml, data = mini_setting(tmp_path)
    toml.write_text(change, encoding="utf-8")
    return ["prepare-data.py", "--tasks", str(toml), "--out", str(tmp_path / "out")]


def _results_row(tmp_path: Path) -> list[str]:
    fake_pruning_runs(tmp_path / "exp")
    rows = tmp_path / "exp" / "single" / "cp" / "0" / "results.jsonl"
    rows.write_text(json.dumps({"round": 0, "dev": "x" * 1_000_000}) + "\n")
    return ["-m", "utils.subnetworks.mask_select", "--exp", str(tmp_path / "exp"), "--auto"]


def _model(tmp: Path) -> Path:
    return MODEL[0] / "mtl" / "cp" / "t" / "best.th"


def _gold(tmp: Path) -> str:
    (tmp / "gold.txt").write_text("w1 pos1 chunk1 ner1\n\n", encoding="utf-8")
    return str(tmp / "gold.txt")


MODEL: list[Path] = []      # the tiny experiment, when a case needs a trained model

MESSAGES = {
    "a column of ten million": lambda tmp: _task_set(tmp, TASK_SET.replace("tag_column = 1", "tag_column = 10000000")),
    "a seed above numpy's": lambda tmp: _task_set(tmp, 'seed = 5000000000\n' + TASK_SET),
    "a seed of 100,000 digits in a task set": lambda tmp: _task_set(tmp, f"seed = {HUGE[:4000]}\n" + TASK_SET),
    "--seed -1": lambda tmp: [*_task_set(tmp, TASK_SET.replace("corpus\"", "corpus\"\ndev_share = 0.2")), "--seed", "-1"],
    "--seed of 100,000 characters": lambda tmp: ["prepare-data.py", "--type", "conll03", "--seed", "x" * 100_000],
    "--gold_columns of 100,000 digits": lambda tmp: ["predict.py", "--model", str(_model(tmp)), "--input",
                                                     _gold(tmp), "--eval", "--gold_columns", "pos=" + HUGE],
    "a dev score of a megabyte": _results_row,
}


@pytest.mark.parametrize("case", MESSAGES)
def test_an_error_message_never_grows_with_the_bad_value(case, tmp_path, capsys, request):
    if "gold_columns" in case:
        MODEL[:] = [request.getfixturevalue("tiny_experiment")]
    argv = MESSAGES[case](tmp_path)
    before = snapshot(tmp_path)
    if argv[0] == "-m":
        done = _mask_select(argv[2:], capsys)
    else:
        done = in_process(argv[0], *argv[1:], capsys=capsys)
    assert done.returncode == 2, (done.returncode, done.stderr[:500])
    assert done.stderr.count("\n") == 1 and len(done.stderr) < 2200, done.stderr[:3000]
    assert "Traceback" not in done.stderr
    assert snapshot(tmp_path) == before


def _mask_select(args: list[str], capsys) -> subprocess.CompletedProcess:
    """prepare-masks.sh's step (utils.subnetworks.mask_select) in this process."""
    capsys.readouterr()
    code = 0
    try:
        run_main(lambda: select_main(args))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_the_gold_columns_are_checked_in_range(tmp_path):
    from utils.errors import InputError
    from utils.results.input_layout import gold_columns
    for fmt in ("conll", "conllu"):
        for spec in ("pos=" + HUGE, "pos=1000", "pos=-1", "pos=1e3", "pos=XPOS" + HUGE):
            with pytest.raises(InputError) as err:
                gold_columns(spec, ["pos"], {}, fmt)
            assert len(str(err.value)) < 300


# ---- path kinds: each option that names a path gets the kind it says ------------------------------
def _folder(tmp: Path) -> str:
    (tmp / "a folder").mkdir(exist_ok=True)
    (tmp / "a folder" / "big.bin").write_bytes(b"0" * 1000)
    return str(tmp / "a folder")


def _file(tmp: Path) -> str:
    (tmp / "a file.txt").write_text("text\n")
    return str(tmp / "a file.txt")


PATH_KINDS = {  # case -> (argv, the words of the message)
    "predict --model a folder": (lambda t: ["predict.py", "--model", _folder(t), "--input", _file(t)],
                                 "found a folder"),
    "predict --output a folder": (lambda t: ["predict.py", "--model", _file(t), "--input", _file(t),
                                             "--output", _folder(t)], "expected a file, found a folder"),
    "train_mtl --data_path a folder": (lambda t: ["train_mtl.py", "--data_path", _folder(t)],
                                       "expected a data file, found a folder"),
    "train_single --data_path a folder": (lambda t: ["train_single.py", "--data_path", _folder(t),
                                                     "--task_id", "0"], "expected a data file, found a folder"),
    "prepare-data --embedding a folder": (lambda t: [*_task_set(t, TASK_SET), "--embedding", _folder(t)],
                                          "expected an embedding file, found a folder"),
    "prepare-data --tasks a folder": (lambda t: ["prepare-data.py", "--tasks", _folder(t), "--out",
                                                 str(t / "out")], "found a folder"),
    "analyze EXP_DIR a file": (lambda t: ["analyze.py", _file(t)], "no such experiment folder"),
}


@pytest.mark.parametrize("case", PATH_KINDS)
def test_a_path_of_the_wrong_kind_is_one_line(case, tmp_path, capsys):
    make, words = PATH_KINDS[case]
    argv = make(tmp_path)
    before = snapshot(tmp_path)
    done = in_process(argv[0], *argv[1:], capsys=capsys)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    assert snapshot(tmp_path) == before


# ---- the leftovers of round two ------------------------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ("sgd(lr=0.1, lr=0.2)", "argument 'lr' is given twice"),
    ("sgd(lr=True)", "argument 'lr' must be a number, got True"),
    ("sgd(lr=0.1, momentum=0.9, nesterov=1)", "argument 'nesterov' must be True or False, got 1"),
    ("adam(betas=(True, 0.9))", "argument 'betas' must be two numbers"),
    ("adam(lr=1e-3, eps=(1, 2))", "argument 'eps' must be a number"),
])
def test_an_optimizer_keyword_twice_or_of_the_wrong_type_is_refused(spec, message):
    from utils.errors import InputError
    from utils.training.optim import check_optim
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_optim(spec)


def test_a_byte_order_mark_is_no_part_of_the_first_word(tmp_path):
    from utils.data.readers.text import iter_lines
    path = tmp_path / "in.txt"
    path.write_bytes("\ufeffThe cat\nsat\n".encode("utf-8"))
    assert [line for _, line in iter_lines(path)] == ["The cat", "sat"]


def test_seeds_naming_no_seed_are_refused(tmp_path):
    from test_run_scripts import script, three_task_data
    data = three_task_data(tmp_path / "tiny.pt")
    done = script("conll03", "single", DATA=str(data), EXP=str(tmp_path / "exp"), SEEDS=" ")
    assert done.returncode == 2 and "SEEDS names no seed" in done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "exp").exists()


def test_a_mask_file_without_a_prunable_tensor_gets_a_note(tiny_experiment, tmp_path, capsys):
    import shutil
    import torch
    from experiment_fixtures import TINY
    masks = tmp_path / "masks"
    shutil.copytree(tiny_experiment / "mtl" / "mask", masks)
    saved = torch.load(masks / "1.th", weights_only=True)
    dropped = sorted(saved["mask"])[0]
    del saved["mask"][dropped]
    torch.save(saved, masks / "1.th")
    done = in_process("train_mtl.py", "--data_path", str(tiny_experiment.parent / "data.pt"),
                      "--masks_path", str(masks), "--save_dir", str(tmp_path / "mtl"),
                      "--exp_name", "t", *TINY[:2], "--epochs", "1", *TINY[4:], capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert f"1.th: no mask for 1 prunable weight(s) ({dropped}); they train dense" in done.stderr


def test_word_vectors_that_are_not_finite_are_refused(tmp_path, capsys):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("w1 0.1 0.2\nw2 nan 0.3\nw3 1e999 0\n", encoding="utf-8")
    argv = _task_set(tmp_path, TASK_SET)
    done = in_process(*argv, "--embedding", str(vectors), capsys=capsys)
    assert done.returncode == 2 and "vectors.txt:2: the vector holds a value that is not a finite" in done.stderr
    assert not (tmp_path / "out").exists()
