"""Mask selection (utils/subnetworks/mask_select.py, prepare-masks.sh) and mask statistics
(utils/sparsity/mask_stats.py)
on fake pruning runs: mask files of the real format built from a tiny dict of tensors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import one_line_error  # noqa: E402
from experiment_fixtures import in_process  # noqa: E402

from utils.atomic import append_jsonl  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.locks import locked_folder  # noqa: E402
from utils.subnetworks.mask_select import main as select_main  # noqa: E402
from utils.subnetworks.mask_select import select  # noqa: E402
from utils.sparsity.mask_stats import kept_by_histogram, pair_overlap, parameter_counts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"char_cnn.conv.weight": (3, 2, 3), "lstm.0.weight_ih_l0": (8, 4), "lstm.1.weight_hh_l0": (8, 2)}
# dev score of rounds 0..3, per task; round k keeps about 0.7 ** k of the weights
DEV = {0: [90.0, 91.0, 90.8, 89.0], 1: [80.0, 80.1, 80.2, 80.3], 2: [70.0, 69.0, 68.0, 67.0]}
NAMES = {0: "pos", 1: "chunk", 2: "ner"}


def _mask(gen: torch.Generator, keep: float) -> dict[str, torch.Tensor]:
    return {name: torch.rand(shape, generator=gen) < keep for name, shape in SHAPES.items()}


def _percent(mask: dict[str, torch.Tensor]) -> float:
    return round(100.0 * sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values()), 2)


def fake_pruning_runs(exp: Path, same_init: bool = True) -> dict[tuple[int, int], dict]:
    """exp/single/cp/<task>/ with k_pct.th masks, init_weights.th and results.jsonl."""
    masks = {}
    for task_id, devs in DEV.items():
        folder = exp / "single" / "cp" / str(task_id)
        folder.mkdir(parents=True)
        gen = torch.Generator().manual_seed(task_id)
        init_seed = 0 if same_init else task_id
        init = {name: torch.randn(shape, generator=torch.Generator().manual_seed(init_seed))
                for name, shape in SHAPES.items()}
        torch.save({"state_dict": init, "model_config": {"n_words": 5}}, folder / "init_weights.th")
        for k, dev in enumerate(devs):
            mask = _mask(gen, 0.7 ** k) if k else {n: torch.ones(s, dtype=torch.bool) for n, s in SHAPES.items()}
            pct = _percent(mask)
            name = f"{k}_{pct:.2f}.th"
            torch.save({"mask": mask, "pruning_time": k, "percent": pct}, folder / name)
            append_jsonl({"round": k, "percent": pct, "mask_file": name, "task": NAMES[task_id],
                          "dev": dev, "test": dev - 1}, folder / "results.jsonl")
            masks[task_id, k] = mask
    return masks


def test_given_rounds_are_copied_with_init_weights(tmp_path, capsys):
    masks = fake_pruning_runs(tmp_path)
    select_main(["--exp", str(tmp_path), "--rounds", "3", "2", "1"])
    out = tmp_path / "mtl" / "mask"
    for task_id, k in [(0, 3), (1, 2), (2, 1)]:
        placed = torch.load(out / f"{task_id}.th", weights_only=True)
        assert placed["pruning_time"] == k and placed["task_id"] == task_id
        assert all(torch.equal(placed["mask"][n], masks[task_id, k][n]) for n in SHAPES)
    init = torch.load(out / "init_weights.th", weights_only=True)
    assert torch.equal(init["state_dict"]["lstm.0.weight_ih_l0"],
                       torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))
    selection = json.loads((out / "selection.json").read_text())
    assert selection["tasks"]["pos"]["round"] == 3
    assert selection["tasks"]["chunk"]["percent_kept"] == pytest.approx(_percent(masks[1, 2]))
    assert set(selection["overlap"]) == {"pos-chunk", "pos-ner", "chunk-ner"}
    printed = capsys.readouterr().out
    assert "round   3" in printed and "pos-chunk" in printed and "IoU" in printed
    assert f"{_percent(masks[2, 1]):6.2f}%" in printed


def test_auto_takes_sparsest_round_within_margin(tmp_path):
    fake_pruning_runs(tmp_path)
    chosen = select(tmp_path, [0, 1, 2], None, margin=0.5)
    # task 0: best 91.0 (round 1); round 2 (90.8) is within 0.5 and sparser; round 3 (89.0) is not
    # task 1: every round is within 0.5 of the best: the sparsest (round 3)
    # task 2: only the best round (0) is within the margin
    assert {t: r.round for t, r in chosen.items()} == {0: 2, 1: 3, 2: 0}
    assert {t: r.round for t, r in select(tmp_path, [0, 1, 2], None, margin=0.0).items()} == {0: 1, 1: 3, 2: 0}


def test_missing_round_lists_the_rounds_that_exist(tmp_path):
    fake_pruning_runs(tmp_path)
    with pytest.raises(InputError, match=r"task 1 has no mask of round 7; rounds found: 0, 1, 2, 3"):
        select(tmp_path, [0, 1, 2], [1, 7, 1], margin=0.5)


def test_missing_task_lists_the_tasks_that_exist(tmp_path):
    fake_pruning_runs(tmp_path)
    with pytest.raises(InputError, match=r"no pruning run for task\(s\) 5; tasks found: 0, 1, 2"):
        select(tmp_path, [0, 5], [1, 1], margin=0.5)
    with pytest.raises(InputError, match="run `run_<setting>.sh single` first"):
        select(tmp_path / "nothing", [0], [1], margin=0.5)


def test_auto_without_dev_scores_is_an_error(tmp_path):
    fake_pruning_runs(tmp_path)
    (tmp_path / "single" / "cp" / "2" / "results.jsonl").unlink()
    with pytest.raises(InputError, match="no round has a dev score"):
        select(tmp_path, [0, 1, 2], None, margin=0.5)


def test_different_init_weights_are_reported(tmp_path, capsys):
    fake_pruning_runs(tmp_path, same_init=False)
    select_main(["--exp", str(tmp_path), "--rounds", "1", "1", "1"])
    assert "warning: init_weights.th of task(s) [1, 2] differ" in capsys.readouterr().out


def _script(*args: str, exp_root: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXP_ROOT": str(exp_root), **env}
    return subprocess.run(["bash", str(REPO / "prepare-masks.sh"), *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.mark.parametrize("rounds, noted", [(["0", "0", "0"], True), (["0", "1", "0"], False)])
def test_masks_that_prune_nothing_are_named_as_hard_sharing(tmp_path, capsys, rounds, noted):
    fake_pruning_runs(tmp_path)
    select_main(["--exp", str(tmp_path), "--rounds", *rounds])
    printed = capsys.readouterr().out
    assert ("note: every mask keeps every weight (no round pruned): sparse sharing through them "
            "is hard sharing (every task sees every weight)" in printed) is noted


def test_prepare_masks_script(tmp_path):
    fake_pruning_runs(tmp_path / "toy")
    done = _script("toy", "auto", exp_root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "auto: sparsest round" in done.stdout and "pos-ner" in done.stdout
    assert json.loads((tmp_path / "toy/mtl/mask/selection.json").read_text())["tasks"]["pos"]["round"] == 2
    done = _script("toy", "0", "0", "3", exp_root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert torch.load(tmp_path / "toy/mtl/mask/2.th", weights_only=True)["pruning_time"] == 3
    # MASK_LIST defaults to round 10, which these runs do not have
    done = _script("toy", exp_root=tmp_path)
    assert done.returncode == 2
    assert "task 0 has no mask of round 10; rounds found: 0, 1, 2, 3" in done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    done = _script("toy", "1", "2", exp_root=tmp_path)
    assert done.returncode == 2
    assert "expected one round per task (3: 0 pos, 1 chunk, 2 ner), got 2: 1 2" in done.stderr
    done = _script("toy", exp_root=tmp_path, MASK_LIST="0 1 2")       # MASK_LIST from the environment
    assert done.returncode == 0, done.stderr
    assert torch.load(tmp_path / "toy/mtl/mask/2.th", weights_only=True)["pruning_time"] == 2


def with_data_file(exp: Path, tasks: list[str]) -> Path:
    """A data file with these task names, named in every pruning run's args.json."""
    from test_model_fixtures import synthetic_data
    from utils.data.datafile import save_data_file

    data = synthetic_data(n_train=4, n_eval=2)
    data.tasks = tasks
    for name in tasks:
        for part in (data.schemes, data.labels, data.data, data.metrics, data.layers):
            part[name] = part["pos"]
    path = exp / "data.pt"
    save_data_file(data, path)
    for folder in (exp / "single" / "cp").iterdir():
        (folder / "args.json").write_text(json.dumps({"data_path": str(path), "task_id": int(folder.name)}))
    return path


def test_the_tasks_are_those_of_the_data_file(tmp_path, capsys):
    """Four tasks in the data file, pruning runs of three: the fourth is missing, named; with
    only three tasks in the file every run is placed, whatever their number."""
    fake_pruning_runs(tmp_path)
    with_data_file(tmp_path, ["pos", "chunk", "ner", "srl"])
    with pytest.raises(InputError, match=r"no pruning run for task\(s\) 3; tasks found: 0, 1, 2"):
        select_main(["--exp", str(tmp_path), "--auto"])
    with pytest.raises(InputError, match=r"expected one round per task \(4: 0 pos, 1 chunk, 2 ner, 3 srl\)"):
        select_main(["--exp", str(tmp_path), "--rounds", "1", "1", "1"])
    select_main(["--exp", str(tmp_path), "--auto", "--tasks", "0", "2"])      # a subset, by hand
    assert sorted(p.name for p in (tmp_path / "mtl" / "mask").glob("?.th")) == ["0.th", "2.th"]
    with_data_file(tmp_path, ["pos", "chunk"])
    shutil.rmtree(tmp_path / "single" / "cp" / "2")
    select_main(["--exp", str(tmp_path), "--rounds", "1", "2"])
    selection = json.loads((tmp_path / "mtl" / "mask" / "selection.json").read_text())
    assert list(selection["tasks"]) == ["pos", "chunk"] and list(selection["overlap"]) == ["pos-chunk"]


# ---- statistics ----------------------------------------------------------------------------
def test_pair_overlap_and_histogram():
    a = {"w": torch.tensor([True, True, False, False])}
    b = {"w": torch.tensor([True, False, True, False])}
    assert pair_overlap(a, b) == {"both_percent": 25.0, "iou_percent": pytest.approx(100 / 3)}
    assert kept_by_histogram([a, b]) == {0: 25.0, 1: 50.0, 2: 25.0}


def test_parameter_counts_follow_the_definition():
    shapes = {"word_embed.weight": (3, 2), "lstm.0.w": (2, 2), "lstm.1.w": (2, 2),
              "heads.0.weight": (2, 3), "heads.1.weight": (1, 3), "heads.2.weight": (5, 3)}
    masks = {0: {"lstm.0.w": torch.tensor([[True, True], [False, False]]),
                 "lstm.1.w": torch.tensor([[True, False], [False, False]])},
             1: {"lstm.0.w": torch.tensor([[True, False], [True, False]]),
                 "lstm.1.w": torch.tensor([[True, True], [True, True]])}}
    names = {0: "pos", 1: "ner"}
    # flat: both tasks read both layers
    counts = parameter_counts(shapes, [0, 1], names, masks)
    assert counts["per_task"] == {"pos": 6 + 2 + 1 + 6, "ner": 6 + 2 + 4 + 3}
    # embed 6 shared by 2; lstm.0: 1 by 2, 2 by 1; lstm.1: 1 by 2, 3 by 1; heads private
    assert counts["shared_by_2"] == 6 + 1 + 1
    assert counts["private"] == 2 + 3 + 6 + 3
    assert counts["total"] == counts["private"] + counts["shared_by_2"] == 22
    assert counts["model"] == 6 + 4 + 4 + 6 + 3 + 15
    # hierarchical: pos reads only layer 1 (lstm.0)
    hier = parameter_counts(shapes, [0, 1], names, masks, task_layers=[1, 2])
    assert hier["per_task"]["pos"] == 6 + 2 + 6
    assert hier["shared_by_2"] == 6 + 1
    # hard sharing (no masks): everything but the heads is shared
    hard = parameter_counts(shapes, [0, 1], names)
    assert hard["shared_by_2"] == 6 + 4 + 4 and hard["private"] == 6 + 3
    # one task alone
    alone = parameter_counts(shapes, [1], names)
    assert alone["total"] == alone["per_task"]["ner"] == alone["private"] == 6 + 8 + 3


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_masks_of_different_sizes_are_refused_before_anything_is_written(tmp_path):
    fake_pruning_runs(tmp_path / "toy")
    assert _script("toy", "1", "1", "1", exp_root=tmp_path).returncode == 0
    placed = tmp_path / "toy" / "mtl" / "mask"
    before = _snapshot(placed)
    # task 1 pruned again with a bigger network: its masks and weights no longer fit the others'
    task1 = tmp_path / "toy" / "single" / "cp" / "1"
    bigger = {name: (2 * shape[0], *shape[1:]) for name, shape in SHAPES.items()}
    for path in task1.glob("[0-9]*_*.th"):
        saved = torch.load(path, weights_only=True)
        torch.save({**saved, "mask": {n: torch.ones(s, dtype=torch.bool) for n, s in bigger.items()}}, path)
    torch.save({"state_dict": {n: torch.zeros(s) for n, s in bigger.items()}}, task1 / "init_weights.th")
    done = _script("toy", "2", "2", "2", exp_root=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "mask of 'char_cnn.conv.weight' has shape (6, 2, 3), but the weights in" in done.stderr
    assert done.stderr.strip().endswith("have (3, 2, 3): the runs differ in size")
    assert _snapshot(placed) == before                      # the good folder is untouched
    assert sorted(p.name for p in placed.parent.iterdir()) == ["mask"]    # nothing left aside


def test_the_mask_folder_is_replaced_whole_and_foreign_files_are_kept(tmp_path):
    fake_pruning_runs(tmp_path / "toy")
    placed = tmp_path / "toy" / "mtl" / "mask"
    assert _script("toy", "1", "1", "1", exp_root=tmp_path).returncode == 0
    torch.save({"mask": {}}, placed / "7.th")               # a mask of a task not chosen now
    assert _script("toy", "2", "2", "2", exp_root=tmp_path).returncode == 0
    assert sorted(p.name for p in placed.iterdir()) == [".sparse-sharing", "0.th", "1.th", "2.th", "init_weights.th",
                                                        "selection.json"]
    (placed / "notes.txt").write_text("mine")
    done = _script("toy", "3", "3", "3", exp_root=tmp_path)
    assert done.returncode == 2 and "refusing to replace a folder that holds other files (notes.txt)" in done.stderr
    assert torch.load(placed / "0.th", weights_only=True)["pruning_time"] == 2


def blocked_on_a_lock(pid: int) -> bool:
    """Whether a process started by `pid` (or `pid` itself) sleeps in the kernel waiting for a
    file lock (its wchan, e.g. locks_lock_inode_wait)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    for member in family:
        try:
            if "lock" in Path(f"/proc/{member}/wchan").read_text():
                return True
        except OSError:
            continue
    return False


def test_a_second_placement_waits_for_the_first(tmp_path):
    """Two prepare-masks.sh at once: the second waits for the folder's lock, so it neither
    deletes the first's half-built folder nor places its masks in the middle of it."""
    fake_pruning_runs(tmp_path / "toy")
    mtl = tmp_path / "toy" / "mtl"
    mtl.mkdir()
    env = {**os.environ, "EXP_ROOT": str(tmp_path)}
    with locked_folder(mtl):                              # a first placement, still writing
        second = subprocess.Popen(["bash", str(REPO / "prepare-masks.sh"), "toy", "1", "1", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 30
        while second.poll() is None and not blocked_on_a_lock(second.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second.poll() is None and not (mtl / "mask").exists()
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert torch.load(mtl / "mask" / "0.th", weights_only=True)["pruning_time"] == 1


# ---- malformed inputs: one line, nothing placed -----------------------------------------------
def rows_of(exp: Path, task: int, change) -> None:
    path = exp / "single" / "cp" / str(task) / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    change(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def mask_file(exp: Path, task: int, k: int, content) -> None:
    path = next((exp / "single" / "cp" / str(task)).glob(f"{k}_*.th"))
    torch.save(content(torch.load(path, weights_only=True)), path)


def init_of(exp: Path, task: int, content) -> None:
    path = exp / "single" / "cp" / str(task) / "init_weights.th"
    if content is None:
        path.unlink()
    else:
        torch.save(content(torch.load(path, weights_only=True)), path)


def with_nan(init: dict) -> dict:
    init["state_dict"]["lstm.0.weight_ih_l0"][0, 0] = float("nan")
    return init


ROUNDS_1 = ["--rounds", "1", "1", "1"]
# case: (damage to the fake pruning runs, arguments, what the line holds)
MALFORMED_RUNS = {
    "round text": (lambda e: rows_of(e, 1, lambda r: r[1].update(round="1")), ["--auto"],
                   "single/cp/1/results.jsonl:2: expected a row of train_single.py"),
    "row a list": (lambda e: rows_of(e, 2, lambda r: r.insert(0, [0])), ["--auto"],
                   "single/cp/2/results.jsonl:1: expected a row of train_single.py"),
    "dev text": (lambda e: rows_of(e, 0, lambda r: r[3].update(dev="x")), ["--auto"],
                 "single/cp/0/results.jsonl:4: 'dev' must be a finite number, got 'x'"),
    "dev scores text": (lambda e: rows_of(e, 0, lambda r: r[0].update(dev={"pos": "x"})), ["--auto"],
                        "single/cp/0/results.jsonl:1: 'dev' must be a finite number, got {'pos': 'x'}"),
    "mask of another shape": (lambda e: mask_file(e, 2, 1, lambda m: {**m, "mask": {
        **m["mask"], "lstm.0.weight_ih_l0": torch.ones(3, 3, dtype=torch.bool)}}), ROUNDS_1,
        "mask of 'lstm.0.weight_ih_l0' has shape (3, 3), but the weights in"),
    "masks of other parameters": (lambda e: mask_file(e, 1, 1, lambda m: {**m, "mask": {
        "lstm.0.weight_ih_l0": m["mask"]["lstm.0.weight_ih_l0"]}}), ROUNDS_1, "the masks cover different parameters"),
    "mask empty": (lambda e: mask_file(e, 0, 1, lambda m: {"mask": {}}), ROUNDS_1,
                   "expected {'mask': {name: bool tensor}, ...} with at least one tensor"),
    "mask not bool": (lambda e: mask_file(e, 0, 1, lambda m: {"mask": {n: v.float() for n, v in m["mask"].items()}}),
                      ROUNDS_1, "expected {'mask': {name: bool tensor}, ...} with at least one tensor"),
    "mask not a dict": (lambda e: mask_file(e, 0, 1, lambda m: [1]), ROUNDS_1, "mask file must hold a dict"),
    "init_weights.th missing": (lambda e: init_of(e, 0, None), ROUNDS_1, "init_weights.th is missing beside the masks"),
    "init_weights.th with NaN": (lambda e: init_of(e, 0, with_nan), ROUNDS_1,
                                 "tensor 'lstm.0.weight_ih_l0' holds 1 NaN or infinite value(s)"),
    "init_weights.th not tensors": (lambda e: init_of(e, 0, lambda i: {"state_dict": {"w": 1}}), ROUNDS_1,
                                    "'state_dict' is not a dict of tensors"),
    "margin negative": (None, ["--auto", "--margin", "-1"], "argument --margin: expected dev points of 0 or more, got -1.0"),
    "margin nan": (None, ["--auto", "--margin", "nan"], "argument --margin: expected dev points of 0 or more, got nan"),
    "margin text": (None, ["--auto", "--margin", "half"], "argument --margin: invalid float value: 'half'"),
    "tasks twice": (None, ["--auto", "--tasks", "0", "0"], "argument --tasks: a task is named twice: [0, 0]"),
    "rounds too few": (None, ["--rounds", "1", "1"], "expected one round per task (3: 0 pos, 1 chunk, 2 ner), got 2: 1 1"),
    "task without a run": (None, ["--auto", "--tasks", "0", "5"], "no pruning run for task(s) 5; tasks found: 0, 1, 2"),
    "round not pruned": (None, ["--rounds", "0", "0", "9"], "task 2 has no mask of round 9; rounds found: 0, 1, 2, 3"),
    "no dev scores": (lambda e: rows_of(e, 1, lambda r: [row.update(dev=None) for row in r]), ["--auto"],
                      "no round has a dev score in results.jsonl"),
}


@pytest.mark.parametrize("case", MALFORMED_RUNS)
def test_a_malformed_pruning_run_or_argument_is_one_line(case, tmp_path, capsys):
    damage, args, message = MALFORMED_RUNS[case]
    fake_pruning_runs(tmp_path)
    if damage:
        damage(tmp_path)
    done = in_process("utils/subnetworks/mask_select.py", "--exp", str(tmp_path), *args, capsys=capsys)
    line = one_line_error(done, 2)
    assert message in line, line
    assert not (tmp_path / "mtl").exists()


def test_prepare_masks_script_refuses_a_bad_margin_and_setting(tmp_path):
    fake_pruning_runs(tmp_path / "toy")
    for env, args, message in (({"AUTO_MARGIN": "-0.5"}, ("toy", "auto"), "argument --margin"),
                               ({}, ("../toy", "auto"), "SETTING must be a folder name"),
                               ({}, ("", "auto"), "SETTING must be a folder name")):
        done = subprocess.run(["bash", str(REPO / "prepare-masks.sh"), *args], capture_output=True,
                              text=True, env={**os.environ, "EXP_ROOT": str(tmp_path), **env}, timeout=120)
        assert message in one_line_error(done, 2)
    assert not (tmp_path / "toy" / "mtl").exists()


def test_a_task_at_chance_level_in_every_round_is_named(tmp_path, capsys):
    """ner's best dev (70.0, round 0) is within a point of its chance level 69.5: named by
    prepare-masks (its report and selection.json) and by the tables of runs on those masks."""
    from utils.data.datafile import load_data_file, save_data_file
    from utils.results.results_table import chance_notes

    fake_pruning_runs(tmp_path)
    path = with_data_file(tmp_path, ["pos", "chunk", "ner"])
    data = load_data_file(path)
    data.provenance["chance_dev"] = {"pos": 89.9, "chunk": 10.0, "ner": 69.5}
    save_data_file(data, path)
    select_main(["--exp", str(tmp_path), "--auto"])
    printed = capsys.readouterr().out
    assert ("warning: ner: dev 70.00 at best, its chance level 69.50, in every pruning round: it "
            "learned nothing, and its mask was chosen without a signal") in printed
    assert "pos:" not in printed.split("warning:", 1)[1]            # 91.0 is 1.1 above 89.9
    selection = json.loads((tmp_path / "mtl" / "mask" / "selection.json").read_text())
    assert selection["at_chance"] == {"ner": {"chance": 69.5, "best_dev": 70.0}}
    run = tmp_path / "mtl" / "cp" / "sparse"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"masks_path": str(tmp_path / "mtl" / "mask")}))
    assert [line[:40] for line in chance_notes([f"sparse={run}"])] == [
        "note: ner: dev 70.00 at best, its chance"]
    (run / "results.json").write_text(json.dumps({"masks_path": None}))
    assert chance_notes([f"sparse={run}"]) == []
