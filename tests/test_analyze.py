"""analyze.py on a small finished experiment (conftest.tiny_experiment): every figure, CSV and
report.md, numbers equal to the saved runs, commands that rebuild the runs' arguments, missing and
unfinished runs, several seeds in any layout, and a folder without runs."""
from __future__ import annotations

import csv
import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from experiment_fixtures import in_process  # noqa: E402

import train_mtl  # noqa: E402
import train_single  # noqa: E402
from utils.atomic import read_jsonl  # noqa: E402
from utils.owned import MARKER  # noqa: E402
from utils.data.datafile import load_data_file  # noqa: E402
from utils.training.run_dir import CHANGES_KEY, INPUTS_KEY  # noqa: E402

FIGURES = ("pruning_curves", "overlap_rounds", "chosen_masks", "comparison", "training_curves")


def analyze(capsys, *args: str):
    return in_process("analyze.py", *args, capsys=capsys)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def report(tiny_experiment, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysis") / "report"
    done = in_process("analyze.py", str(tiny_experiment), "--out", str(out))
    assert done.returncode == 0
    return out


def test_every_figure_with_its_csv_and_the_report(report):
    assert sorted(p.name for p in report.iterdir()) == sorted(
        [f"{f}.{ext}" for f in FIGURES for ext in ("png", "csv")] + ["report.md", MARKER])
    text = (report / "report.md").read_text(encoding="utf-8")
    for figure in FIGURES:
        with Image.open(report / f"{figure}.png") as image:
            assert image.format == "PNG" and image.width >= 800 and image.height >= 400
        assert f"]({figure}.png)" in text and f"`{figure}.csv`" in text
    for heading in ("## Runs found", "## Pruning curves", "## Overlap across pruning rounds",
                    "## Overlap of the chosen masks", "## Method comparison", "## Training curves",
                    "## How the runs were made"):
        assert heading in text
    assert text.count("python train_single.py") == 3 and text.count("python train_mtl.py") == 6


def test_pruning_curves_and_the_chosen_rounds(report, tiny_experiment):
    rows = read_csv(report / "pruning_curves.csv")
    selection = json.loads((tiny_experiment / "mtl" / "mask" / "selection.json").read_text())
    assert len(rows) == 9
    for task_id, task in enumerate(("pos", "chunk", "ner")):
        saved = read_jsonl(tiny_experiment / "single" / "cp" / str(task_id) / "results.jsonl")
        mine = [r for r in rows if r["task"] == task]
        assert [float(r["test"]) for r in mine] == [pytest.approx(s["test"], abs=1e-4) for s in saved]
        assert [float(r["percent_kept"]) for r in mine] == [100.0, 50.0, 25.0]
        assert [r["round"] for r in mine if r["chosen"] == "True"] == [str(selection["tasks"][task]["round"])]


def test_overlap_numbers_agree_with_prepare_masks(report, tiny_experiment):
    rounds = read_csv(report / "overlap_rounds.csv")
    assert [r["round"] for r in rounds] == ["0", "1", "2"]
    assert all(float(rounds[0][k]) == 100.0 for k in rounds[0] if k.startswith(("iou:", "independent")))
    assert float(rounds[1]["independent_iou:pos-ner"]) == pytest.approx(100 / 3, abs=1e-3)  # 50% each
    chosen = read_csv(report / "chosen_masks.csv")
    selection = json.loads((tiny_experiment / "mtl" / "mask" / "selection.json").read_text())
    overall = chosen[-1]
    assert overall["tensor"] == "overall" and len(chosen) == 10     # 9 prunable tensors + overall
    for task, row in selection["tasks"].items():
        assert float(overall[f"kept:{task}"]) == pytest.approx(row["percent_kept"], abs=0.01)
    for pair, value in selection["overlap"].items():
        assert float(overall[f"iou:{pair}"]) == pytest.approx(value["iou_percent"], abs=1e-3)
    assert float(overall["pruned"]) == pytest.approx(selection["kept_by"]["0"], abs=1e-3)


def test_comparison_and_training_curves_hold_the_saved_scores(report, tiny_experiment):
    rows = {r["method"]: r for r in read_csv(report / "comparison.csv")}
    assert list(rows) == ["single", "hard", "hier", "sparse"]
    cp = tiny_experiment / "mtl" / "cp"
    for method, run in (("hard", "t-hard"), ("hier", "t-hier"), ("sparse", "t")):
        results = json.loads((cp / run / "results.json").read_text())
        for task, score in results["test"].items():
            assert float(rows[method][f"test:{task}"]) == pytest.approx(score, abs=1e-4)
        assert int(rows[method]["parameters"]) == results["parameters"]["total"]
    singles = [json.loads((cp / f"t-single-{t}" / "results.json").read_text()) for t in ("pos", "chunk", "ner")]
    assert int(rows["single"]["parameters"]) == sum(r["parameters"]["total"] for r in singles)
    assert float(rows["single"]["avg:test"]) == pytest.approx(
        sum(next(iter(r["test"].values())) for r in singles) / 3, abs=1e-4)
    curves = read_csv(report / "training_curves.csv")
    assert len(curves) == 3 * 3 * 3 + 3 * 3           # 3 runs x 3 epochs x 3 tasks + 3 single x 3 epochs
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "| test score (%) | single | hard | hier | sparse |" in text


def test_commands_rebuild_the_arguments_of_each_run(report, tiny_experiment):
    text = (report / "report.md").read_text(encoding="utf-8")
    data = load_data_file(tiny_experiment.parent / "data.pt")
    commands = [line for line in text.splitlines() if line.startswith("python train_")]
    saved = {}
    for folder in sorted(tiny_experiment.rglob("args.json")):
        args = json.loads(folder.read_text())
        for record_only in (INPUTS_KEY, CHANGES_KEY):  # kept beside the arguments, not arguments
            args.pop(record_only, None)
        saved[args["exp_name"], args["save_dir"]] = args
    for command in commands:
        script, *argv = shlex.split(command)[1:]
        if script == "train_mtl.py":
            values = train_mtl.resolve(train_mtl.build_parser().parse_args(argv), data)
        else:
            values = train_single.resolve(train_single.build_parser().parse_args(argv), data)
        rebuilt = json.loads(json.dumps(values))
        assert rebuilt == saved[rebuilt["exp_name"], rebuilt["save_dir"]], command
    assert len(commands) == len(saved) == 9


def test_missing_unfinished_and_seeds_in_another_layout(tiny_experiment, tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(tiny_experiment, exp)
    shutil.rmtree(exp / "mtl" / "cp" / "t-hard")                          # hard: missing
    shutil.rmtree(exp / "mtl" / "cp" / "t-single-chunk")                  # single: one task missing
    hier = exp / "mtl" / "cp" / "t-hier"                                   # hier: stopped after epoch 1
    (hier / "results.json").unlink()
    log = (hier / "log.jsonl").read_text().splitlines()
    (hier / "log.jsonl").write_text(log[0] + "\n")
    # a second seed of sparse sharing, in a folder of its own (the layout is not looked at)
    other = exp / "more" / "whatever"
    shutil.copytree(exp / "mtl" / "cp" / "t", other)
    args, results = json.loads((other / "args.json").read_text()), json.loads((other / "results.json").read_text())
    args["seed"] = 7
    results["test"] = {t: s + 1.0 for t, s in results["test"].items()}
    (other / "args.json").write_text(json.dumps(args))
    (other / "results.json").write_text(json.dumps(results))
    (exp / "junk").mkdir()
    (exp / "junk" / "args.json").write_text("{cut short")                   # a broken file is listed
    done = analyze(capsys, str(exp))
    assert done.returncode == 0, done.stderr
    text = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert "- skipped `junk/args.json`: not a JSON object" in text
    assert "- hard: missing (no run found)" in text
    assert "- hier: unfinished (1 of 3 epochs)" in text
    assert "- single, seed 2: no finished run of chunk (left out of the averages)" in text
    assert "| multi-task | more/whatever | sparse: pos, chunk, ner | 7 | finished |" in text
    rows = [r for r in read_csv(exp / "report" / "comparison.csv") if r["method"] == "sparse"]
    assert [r["seed"] for r in rows] == ["2", "7"]
    base = json.loads((exp / "mtl" / "cp" / "t" / "results.json").read_text())["test"]["ner"]
    row = next(line for line in text.splitlines() if line.startswith("| ner (F1)"))
    assert row.split(" | ")[-1].rstrip(" |") == f"{base + 0.5:.2f} ± {2 ** -0.5:.2f}"
    assert "| test score (%) | single | sparse |" in text and "| seeds | 1 | 2 |" in text
    curves = read_csv(exp / "report" / "training_curves.csv")
    assert {r["finished"] for r in curves if r["run"] == "mtl/cp/t-hier"} == {"False"}


def test_a_folder_without_runs_and_a_foreign_out_folder(tmp_path, tiny_experiment, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    done = analyze(capsys, str(tmp_path / "empty"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no runs found" in done.stderr
    assert not (tmp_path / "empty" / "report").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    done = analyze(capsys, str(tiny_experiment), "--out", str(foreign))
    assert done.returncode == 2 and "not a report folder of analyze.py" in done.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_an_earlier_report_is_replaced_whole(tiny_experiment, tmp_path, capsys):
    out = tmp_path / "report"
    assert analyze(capsys, str(tiny_experiment), "--out", str(out)).returncode == 0
    (out / "stale.png").write_text("from an earlier report")
    assert analyze(capsys, str(tiny_experiment), "--out", str(out)).returncode == 0
    assert not (out / "stale.png").exists() and (out / "report.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]               # no temporary folders left


# ---- malformed files: set aside and listed, the rest reported --------------------------------
def edit_json(path: Path, change) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def edit_rows(path: Path, change) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    change(rows)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def reseed(seed: int):
    return lambda folder: edit_json(folder / "args.json", lambda a: a.update(seed=seed))


def reshaped_mask(path: Path) -> None:
    loaded = torch.load(path, weights_only=True)
    name = next(iter(loaded["mask"]))
    loaded["mask"][name] = torch.ones(3, 3, dtype=torch.bool)
    torch.save(loaded, path)


def round_1_of_other_shapes(pruning_runs: Path) -> None:
    """Two pruning runs of a seed of their own, chunk's round-1 mask of other shapes than pos's."""
    shutil.rmtree(pruning_runs / "2")
    for task in ("0", "1"):
        reseed(97)(pruning_runs / task)
    reshaped_mask(pruning_runs / "1" / "1_50.00.th")


# case: (folder copied into bad/<case>, damage done to the copy, file named, reason given)
MALFORMED = {
    "pruning args task_id text": ("single/cp/0", lambda f: edit_json(f / "args.json", lambda a: a.update(task_id="zero")),
                                  "args.json", "'task_id' must be a whole number, got 'zero' (run left out)"),
    "pruning args pruning_iter negative": ("single/cp/0", lambda f: edit_json(f / "args.json", lambda a: a.update(pruning_iter=-1)),
                                           "args.json", "'pruning_iter' must be a whole number, got -1 (run left out)"),
    "round row percent text": ("single/cp/1", lambda f: (reseed(91)(f), edit_rows(f / "results.jsonl", lambda r: r[1].update(percent="x"))),
                               "results.jsonl", "line 2: 'percent' must be a finite number, got 'x' (not read)"),
    "round row not an object": ("single/cp/1", lambda f: (reseed(92)(f), edit_rows(f / "results.jsonl", lambda r: r.insert(0, [1, 2]))),
                                "results.jsonl", "line 1: not a JSON object (not read)"),
    "round row without dev": ("single/cp/2", lambda f: (reseed(93)(f), edit_rows(f / "results.jsonl", lambda r: r[0].pop("dev"))),
                              "results.jsonl", "line 1: no 'dev' (not read)"),
    "log row dev a list": ("mtl/cp/t-hard", lambda f: edit_rows(f / "log.jsonl", lambda r: r[2].update(dev=[1.0])),
                           "log.jsonl", "line 3: 'dev' must be {task: finite number}, got [1.0] (not read)"),
    "log row epoch text": ("mtl/cp/t-hier", lambda f: edit_rows(f / "log.jsonl", lambda r: r[0].update(epoch="one")),
                           "log.jsonl", "line 1: 'epoch' must be a whole number, got 'one' (not read)"),
    "results test lacks a task": ("mtl/cp/t", lambda f: edit_json(f / "results.json", lambda r: r["test"].pop("ner")),
                                  "results.json", "'dev' and 'test' lack a score of 'ner', one of its 'tasks' (run listed as unfinished)"),
    "results tasks empty": ("mtl/cp/t", lambda f: edit_json(f / "results.json", lambda r: r.update(tasks=[])),
                            "results.json", "'tasks' must be a non-empty list of task names, got [] (run listed as unfinished)"),
    "results parameters without total": ("mtl/cp/t-hard", lambda f: edit_json(f / "results.json", lambda r: r.update(parameters={})),
                                         "results.json", "'parameters' must be {'total': whole number, ...}, got {} (run listed as unfinished)"),
    "results seconds text": ("mtl/cp/t-single-pos", lambda f: edit_json(f / "results.json", lambda r: r.update(seconds="60")),
                             "results.json", "'seconds' must be a finite number, got '60' (run listed as unfinished)"),
    "mtl args mode a number": ("mtl/cp/t", lambda f: edit_json(f / "args.json", lambda a: a.update(mode=3)),
                               "args.json", "'mode' must be text, got 3 (run left out)"),
    "mtl args seed a list": ("mtl/cp/t", lambda f: edit_json(f / "args.json", lambda a: a.update(seed=[1])),
                             "args.json", "'seed' must be a number or text, got [1] (run left out)"),
    "selection tasks empty": ("mtl/mask", lambda f: edit_json(f / "selection.json", lambda s: s.update(tasks={})),
                              "selection.json", "not a selection.json of prepare-masks.sh: 'tasks' must be"),
    "selection round text": ("mtl/mask", lambda f: edit_json(f / "selection.json", lambda s: s["tasks"]["ner"].update(round="two")),
                             "selection.json", "not a selection.json of prepare-masks.sh: 'tasks' must be"),
    "chosen masks of other shapes": ("mtl/mask", lambda f: reshaped_mask(f / "1.th"),
                                     "1.th", "its mask covers other parameters or shapes than the mask of pos"),
    "chosen mask empty": ("mtl/mask", lambda f: torch.save({"mask": {}}, f / "2.th"),
                          "2.th", "expected {'mask': {name: bool tensor}, ...} with at least one tensor (left out of the overlap)"),
    "round masks of other shapes": ("single/cp", lambda f: round_1_of_other_shapes(f),
                                    "1/1_50.00.th", "its mask covers other parameters or shapes than the mask of pos"),
}


@pytest.fixture(scope="module")
def malformed(tiny_experiment, tmp_path_factory):
    """The experiment with a damaged copy of a run per case in bad/<case>/, analysed once:
    (the experiment folder, stderr, report.md)."""
    exp = tmp_path_factory.mktemp("malformed") / "exp"
    shutil.copytree(tiny_experiment, exp)
    for case, (source, damage, _, _) in MALFORMED.items():
        copy = exp / "bad" / case.replace(" ", "-")
        shutil.copytree(exp / source, copy)
        damage(copy)
    done = in_process("analyze.py", str(exp), capsys=None)
    assert done.returncode == 0
    return exp, (exp / "report" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_file_is_set_aside_and_named(case, malformed, capsys):
    exp, text = malformed
    _, _, name, reason = MALFORMED[case]
    where = f"bad/{case.replace(' ', '-')}/{name}"
    assert f"- skipped `{where}`: {reason}" in text


def test_malformed_files_leave_the_rest_reported_and_each_is_noted_on_stderr(malformed, capsys):
    exp, text = malformed
    done = analyze(capsys, str(exp), "--out", str(exp / "again"))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    notes = done.stderr.strip().splitlines()
    assert len(notes) == len(MALFORMED) and all(n.startswith("note: skipped bad/") for n in notes)
    assert "| test score (%) | single | hard | hier | sparse |" in text
    assert "## Overlap of the chosen masks" in text and "## Pruning curves" in text


# ---- an encoder's masks: where in the encoder the tasks share ----------------------------------
LAYER = "encoder.encoder.layer.{}."
ATTENTION = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")
FEED_FORWARD = {"intermediate.dense": (8, 4), "output.dense": (4, 8)}   # hidden 4, intermediate 8


def first(share: float, shape: tuple[int, int]) -> torch.Tensor:
    """A mask keeping the first `share` of the matrix's weights (row-major)."""
    kept = torch.zeros(shape[0] * shape[1], dtype=torch.bool)
    kept[:round(share * kept.numel())] = True
    return kept.view(shape)


# Per task, the share of each matrix it keeps, (layer 0, layer 1) x (attention, feed-forward):
# layer 0: attention kept whole by all, feed-forward whole by pos, half by chunk, none by ner;
# layer 1: attention whole by pos and chunk, half by ner; feed-forward a quarter, a half, a quarter.
SHARES = {"pos": ((1.0, 1.0), (1.0, 0.25)), "chunk": ((1.0, 0.5), (1.0, 0.5)), "ner": ((1.0, 0.0), (0.5, 0.25))}


def encoder_mask(task: str, extra: str | None = None) -> dict[str, torch.Tensor]:
    mask = {}
    for layer, (attention, feed_forward) in enumerate(SHARES[task]):
        mask.update({LAYER.format(layer) + f"{m}.weight": first(attention, (4, 4)) for m in ATTENTION})
        mask.update({LAYER.format(layer) + f"{m}.weight": first(feed_forward, shape)
                     for m, shape in FEED_FORWARD.items()})
    if extra:
        mask[extra] = torch.ones(4, 4, dtype=torch.bool)
    return mask


def write_encoder_experiment(exp: Path, extra: str | None = None) -> Path:
    """Pruning runs of pos, chunk and ner over a 2-layer encoder (round 0 keeps all, round 1 the
    masks of SHARES) and those round-1 masks placed by prepare-masks.sh, as the scripts write them."""
    selection = {"rule": "MASK_LIST", "tasks": {}}
    (exp / "mtl" / "mask").mkdir(parents=True)
    for task_id, task in enumerate(SHARES):
        run = exp / "single" / "cp" / str(task_id)
        run.mkdir(parents=True)
        (run / "args.json").write_text(json.dumps({"task_id": task_id, "pruning_iter": 1, "seed": 1}))
        rows = []
        for k, mask in enumerate(({n: torch.ones_like(t) for n, t in encoder_mask(task, extra).items()},
                                  encoder_mask(task, extra))):
            percent = 100.0 * sum(int(t.sum()) for t in mask.values()) / sum(t.numel() for t in mask.values())
            torch.save({"mask": mask, "pruning_time": k, "percent": round(percent, 2)},
                       run / f"{k}_{percent:.2f}.th")
            rows.append({"round": k, "percent": round(percent, 2), "dev": 90.0 - 5 * k, "test": 89.0 - 4 * k,
                         "task": task, "mask_file": f"{k}_{percent:.2f}.th"})
        (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        shutil.copy(run / rows[1]["mask_file"], exp / "mtl" / "mask" / f"{task_id}.th")
        selection["tasks"][task] = {"task_id": task_id, "round": 1, "percent_kept": rows[1]["percent"]}
    (exp / "mtl" / "mask" / "selection.json").write_text(json.dumps(selection))
    return exp


def test_an_encoders_masks_show_where_in_the_encoder_the_tasks_share(tmp_path, capsys):
    exp = write_encoder_experiment(tmp_path / "exp")
    done = analyze(capsys, str(exp))
    assert done.returncode == 0, done.stderr
    report = exp / "report"
    for figure in ("pruning_curves", "overlap_rounds", "chosen_masks", "chosen_masks_by_layer"):
        assert (report / f"{figure}.csv").is_file()
        with Image.open(report / f"{figure}.png") as image:
            assert image.format == "PNG" and image.width >= 800 and image.height >= 400
    curves = read_csv(report / "pruning_curves.csv")        # pos keeps 128 + 80 of 256 weights
    assert [(r["task"], r["percent_kept"], r["chosen"]) for r in curves if r["round"] == "1"] == [
        ("pos", "81.2500", "True"), ("chunk", "75.0000", "True"), ("ner", "43.7500", "True")]
    rows = {(r["layer"], r["part"]): r for r in read_csv(report / "chosen_masks_by_layer.csv")}
    assert len(rows) == 3 * (6 + 2 + 1)          # layers 0, 1 and all: 6 kinds, 2 blocks, all
    value = lambda layer, part, key: float(rows[layer, part][key])
    assert value("0", "feed-forward-in", "kept:chunk") == 50.0 and value("0", "attention-v", "all") == 100.0
    assert value("1", "all", "kept:ner") == 37.5              # 32 + 16 of 128
    assert value("1", "feed-forward", "both:pos-chunk") == 25.0
    assert value("1", "feed-forward", "subset_iou:3") == 50.0  # 16 kept by all of 32 by any
    # independent masks of densities 1/4, 1/2, 1/4: all 1/32 of any 23/32
    assert value("1", "feed-forward", "independent_subset_iou:3") == pytest.approx(100 / 23, abs=1e-4)
    assert value("all", "all", "all") == 43.75                # 64 + 0 + 32 + 16 of 256
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "## Where in the encoder the tasks share" in text and "](chosen_masks_by_layer.png)" in text
    assert ("| layer | weights | kept pos | kept chunk | kept ner | kept by all: attention | "
            "kept by all: feed-forward | kept by all: all | ratio of all: attention (indep.) | "
            "ratio of all: feed-forward (indep.) |") in text
    assert "| 0 | 128 | 100.0 | 75.0 | 50.0 | 100.0 | 0.0 | 50.0 | 100.0 (100.0) | 0.0 (0.0) |" in text
    assert "| 1 | 128 | 62.5 | 75.0 | 37.5 | 50.0 | 25.0 | 37.5 | 50.0 (50.0) | 50.0 (4.3) |" in text
    assert "| all | 256 | 81.2 | 75.0 | 43.8 | 75.0 | 12.5 | 43.8 |" in text


def test_the_bilstm_report_has_no_encoder_section(report):
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "Where in the encoder" not in text and not (report / "chosen_masks_by_layer.png").exists()


def test_an_encoder_mask_that_cannot_be_placed_is_named_and_the_rest_reported(tmp_path, capsys):
    exp = write_encoder_experiment(tmp_path / "exp", extra="encoder.pooler.dense.weight")
    done = analyze(capsys, str(exp))
    assert done.returncode == 0, done.stderr
    text = (exp / "report" / "report.md").read_text(encoding="utf-8")
    assert ("- skipped `mtl/mask/0.th`: cannot place parameter 'encoder.pooler.dense.weight' in the "
            "network") in text and "(left out of the overlap per layer)" in text
    assert "## Overlap of the chosen masks" in text and "Where in the encoder" not in text
    assert done.stderr.count("note: skipped mtl/mask/0.th: cannot place parameter") == 1
