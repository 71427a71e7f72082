"""predict.py on the models of a small finished experiment (conftest.tiny_experiment): --eval
reproduces the scores training reported, raw text and CoNLL input give the same tags, standard
input and output, unknown words, very long sentences, blank lines, and bad input."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import one_line_error  # noqa: E402
from experiment_fixtures import in_process  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

from utils.atomic import read_jsonl  # noqa: E402
from utils.data.datafile import load_data_file, save_data_file  # noqa: E402


def predict(capsys, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return in_process("predict.py", "--num_threads", "1", *args, capsys=capsys, stdin=stdin)


def split_sentences(exp: Path, split: str = "test") -> tuple[list[list[str]], dict[str, list[list[str]]]]:
    """The words and gold tags of a split of the experiment's data file."""
    data = load_data_file(exp.parent / "data.pt")
    first = data.data[data.tasks[0]][split]
    words = [data.words[i] for i in first.words.tolist()]
    lengths = first.sent_lengths.tolist()
    cut = lambda flat: [flat[sum(lengths[:n]):sum(lengths[:n + 1])] for n in range(len(lengths))]
    tags = {t: cut([data.labels[t][i] for i in data.data[t][split].labels.tolist()]) for t in data.tasks}
    return cut(words), tags


def write_conll(path: Path, sentences, tags) -> Path:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for n, words in enumerate(sentences):
        lines += [" ".join([w] + [tags[t][n][i] for t in tags]) for i, w in enumerate(words)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parse_output(text: str) -> list[list[list[str]]]:
    """Sentences of rows [word, tag, ...] from predict.py's output."""
    return [[row.split() for row in block.splitlines()] for block in text.strip("\n").split("\n\n")]


@pytest.fixture(scope="module")
def gold_file(tiny_experiment, tmp_path_factory) -> Path:
    return write_conll(tmp_path_factory.mktemp("gold") / "test.conll", *split_sentences(tiny_experiment))


def test_eval_reproduces_the_scores_training_reported(tiny_experiment, gold_file, capsys, tmp_path):
    for run in ("t", "t-hard", "t-hier", "t-single-ner"):
        folder = tiny_experiment / "mtl" / "cp" / run
        done = predict(capsys, "--model", str(folder / "best.th"), "--input", str(gold_file), "--eval",
                       "--output", str(tmp_path / f"{run}.conll"))
        assert done.returncode == 0, done.stderr
        reported = json.loads((folder / "results.json").read_text())["test"]
        scores = {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()[1:]}
        # printed with two decimals: 46.875 may print as 46.88
        assert scores == {t: pytest.approx(s, abs=0.005 + 1e-9) for t, s in reported.items()}, run
        assert done.stdout.startswith("tagged 20 sentences (128 tokens") and "(conll)" in done.stdout


def test_pruning_round_with_its_mask(tiny_experiment, gold_file, capsys, tmp_path):
    run = tiny_experiment / "single" / "cp" / "2"
    for row in read_jsonl(run / "results.jsonl"):
        done = predict(capsys, "--model", str(run / row["weights_file"]), "--input", str(gold_file),
                       "--eval", "--output", str(tmp_path / f"{row['round']}.conll"))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1] == f"ner {row['test']:.2f} (F1)"
    done = predict(capsys, "--model", str(run / row["weights_file"]), "--input", str(gold_file),
                   "--tasks", "pos")
    assert done.returncode == 2 and "not trained on task 'pos'; its tasks: ner" in done.stderr


def test_text_and_conll_give_the_same_tags_through_stdin_and_stdout(tiny_experiment, gold_file, capsys):
    sentences, tags = split_sentences(tiny_experiment)
    model = str(tiny_experiment / "mtl" / "cp" / "t" / "best.th")
    conll = predict(capsys, "--model", model, "--input", str(gold_file))
    text = "\n\n".join(" ".join(words) for words in sentences) + "\n"      # blank lines between
    raw = predict(capsys, "--model", model, "--input", "-", "--tasks", "ner,pos", stdin=text.encode())
    assert conll.returncode == raw.returncode == 0, conll.stderr + raw.stderr
    assert "(text)" in raw.stderr and "(conll)" in conll.stderr
    by_conll, by_text = parse_output(conll.stdout), parse_output(raw.stdout)
    assert [[row[0] for row in s] for s in by_conll] == sentences
    assert len(by_conll[0][0]) == 4 and len(by_text[0][0]) == 3              # word + one tag per task
    for a, b in zip(by_conll, by_text):
        assert [[r[0], r[3], r[1]] for r in a] == b                           # the --tasks order
    data = load_data_file(tiny_experiment.parent / "data.pt")
    assert {r[3] for s in by_conll for r in s} <= set(data.labels["ner"])


def test_unknown_words_long_sentences_and_long_words(tiny_experiment, capsys, tmp_path):
    model = str(tiny_experiment / "mtl" / "cp" / "t" / "best.th")
    long_sentence = " ".join(["w3", "zebra", "ünïcödé"] * 1500)
    lines = ["w1 w2 Ω", "", long_sentence, "x" * 5000 + " w4", "   ", "w5"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = predict(capsys, "--model", model, "--input", str(source), "--output", str(tmp_path / "out.conll"))
    assert done.returncode == 0, done.stderr
    out = parse_output((tmp_path / "out.conll").read_text(encoding="utf-8"))
    assert [len(s) for s in out] == [3, 4500, 2, 1]
    assert out[1][4][0] == "zebra" and out[2][0][0] == "x" * 5000
    assert "4 sentences (4,506 tokens" in done.stdout and "unknown words" in done.stdout


def test_bad_input_is_one_line_and_nothing_is_written(tiny_experiment, gold_file, capsys, tmp_path):
    model = str(tiny_experiment / "mtl" / "cp" / "t" / "best.th")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("w1 w2\ncaf\xe9 w3\n".encode("latin-1"))
    out = tmp_path / "out.conll"
    done = predict(capsys, "--model", model, "--input", str(latin1), "--output", str(out))
    assert done.returncode == 2 and done.stderr.strip().endswith(":2: byte 0xe9 is not UTF-8 text")
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()
    out.write_text("keep me")
    done = predict(capsys, "--model", model, "--input", str(gold_file), "--output", str(out))
    assert done.returncode == 2 and "exists; pass --overwrite" in done.stderr
    assert out.read_text() == "keep me"
    text = tmp_path / "plain.txt"
    text.write_text("w1 w2\nw3\n")
    done = predict(capsys, "--model", model, "--input", str(text), "--eval", "--format", "text")
    assert done.returncode == 2 and "--eval needs a CoNLL file" in done.stderr
    bad_tag = tmp_path / "bad.conll"
    bad_tag.write_text("w1 A A O\nw2 A A S-NOPE\n\n")
    done = predict(capsys, "--model", model, "--input", str(bad_tag), "--eval")
    assert done.returncode == 2 and "bad.conll:2: ner tag 'S-NOPE' is not one the model knows" in done.stderr
    short = tmp_path / "short.conll"
    short.write_text("w1 A\nw2 B\n\n")
    done = predict(capsys, "--model", model, "--input", str(short), "--eval")
    assert done.returncode == 2 and "short.conll:1: expected at least 4 columns" in done.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    done = predict(capsys, "--model", model, "--input", str(empty))
    assert done.returncode == 2 and "file is empty; expected text or CoNLL lines" in done.stderr
    done = predict(capsys, "--model", str(tiny_experiment / "mtl" / "mask" / "init_weights.th"),
                   "--input", str(text))
    assert done.returncode == 2 and "not a trained model" in done.stderr


def test_a_data_file_that_does_not_fit_is_refused(tiny_experiment, capsys, tmp_path):
    other = tmp_path / "other.pt"
    save_data_file(synthetic_data(n_train=5, n_eval=5, vocab=12), other)
    text = tmp_path / "in.txt"
    text.write_text("w1 w2\n")
    done = predict(capsys, "--model", str(tiny_experiment / "mtl" / "cp" / "t" / "best.th"),
                   "--input", str(text), "--data_path", str(other))
    assert done.returncode == 2 and "not the one the model was trained on (words 32 in the model, 14 here" in done.stderr


def test_a_model_file_without_label_names_is_read_with_a_note(tiny_experiment, gold_file, capsys,
                                                              tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_experiment / "mtl" / "cp" / "t", folder)
    saved = torch.load(folder / "best.th", weights_only=True)
    data = load_data_file(tiny_experiment.parent / "data.pt")
    assert saved["labels"] == {t: data.labels[t] for t in data.tasks}   # what training records
    resave(folder / "best.th", lambda m: m.pop("labels"))
    with_names = predict(capsys, "--model", str(tiny_experiment / "mtl" / "cp" / "t" / "best.th"),
                         "--input", str(gold_file))
    without = predict(capsys, "--model", str(folder / "best.th"), "--input", str(gold_file))
    assert without.returncode == 0 and without.stdout == with_names.stdout
    assert "records no label names (written by an earlier version)" in without.stderr


def test_speed_benchmark_reports_every_stage(tiny_experiment, shared_data, capsys):
    done = in_process("bench/predict_speed.py", "--model", str(tiny_experiment / "mtl" / "cp" / "t" / "best.th"),
                      "--sentences", "30", "--repeats", "2", "--corpus", str(shared_data / "conll03"),
                      capsys=capsys)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sentences"] == 30 and result["tasks"] == result["masked"] == ["pos", "chunk", "ner"]
    assert result["tokens"] == 575            # the first 30 sentences of CoNLL-2003 test.txt
    assert set(result["best_s"]) == set(result["median_s"]) == {"read", "encode", "tag", "write"}
    assert result["total_best_s"] == pytest.approx(sum(result["best_s"].values()))
    assert result["tokens_per_s"] == pytest.approx(575 / result["total_best_s"])


# ---- malformed models, masks and arguments: one line, nothing written -------------------------
def damaged(change):
    """A damage to a run folder's best.th: `change(loaded)` edits the loaded dict."""
    def damage(folder: Path) -> Path:
        resave(folder / "best.th", change)
        return folder / "best.th"
    return damage


def resave(path: Path, change) -> None:
    loaded = torch.load(path, weights_only=True)
    change(loaded)
    torch.save(loaded, path)


def first_weight(loaded: dict) -> torch.Tensor:
    return loaded["state_dict"]["lstm.0.weight_ih_l0"]


def single_round(change):
    """A damage to a pruning run's round 1 (best_1_*.th and its mask beside it)."""
    def damage(folder: Path) -> Path:
        change(folder)
        return next(folder.glob("best_1_*.th"))
    return damage


def edit_args(change):
    def damage(folder: Path) -> Path:
        path = folder / "args.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
        return folder / "best.th"
    return damage


# case: (run folder copied, its damage (returns the model file), extra arguments, the line's end)
MALFORMED_MODELS = {
    "no state_dict": ("mtl/cp/t", damaged(lambda m: m.pop("state_dict")), [],
                      "expected a model file with 'state_dict' and 'model_config'"),
    "model_config a list": ("mtl/cp/t", damaged(lambda m: m.update(model_config=[1])), [],
                            "expected a model file with 'state_dict' and 'model_config'"),
    "model_config negative size": ("mtl/cp/t", damaged(lambda m: m["model_config"].update(hidden_size=-1)), [],
                                   "bad model_config: "),
    "state_dict not tensors": ("mtl/cp/t", damaged(lambda m: m.update(state_dict={"w": [1.0]})), [],
                               "'state_dict' is not a dict of tensors"),
    "weights with NaN": ("mtl/cp/t", damaged(lambda m: first_weight(m)[0].fill_(float("nan"))), [],
                         "tensor 'lstm.0.weight_ih_l0' holds "),
    "weights of another shape": ("mtl/cp/t", damaged(lambda m: m["state_dict"].update(
        {"lstm.0.weight_ih_l0": torch.zeros(3, 3)})), [], "weights do not fit this model: "),
    "task_ids empty": ("mtl/cp/t", damaged(lambda m: m.update(task_ids=[])), [],
                       "'task_ids' must be a non-empty list of task numbers, got []"),
    "task_ids text": ("mtl/cp/t", damaged(lambda m: m.update(task_ids="0")), [],
                      "'task_ids' must be a non-empty list of task numbers, got '0'"),
    "task_ids beyond the data file": ("mtl/cp/t", damaged(lambda m: m.update(task_ids=[0, 7])), [],
                                      "'task_ids' [0, 7] do not name distinct tasks of the data file (0 to 2)"),
    "task_ids twice": ("mtl/cp/t", damaged(lambda m: m.update(task_ids=[1, 1])), [],
                       "'task_ids' [1, 1] do not name distinct tasks of the data file (0 to 2)"),
    "mask of another shape": ("mtl/cp/t", damaged(lambda m: m["masks"][0].update(
        {"lstm.0.weight_ih_l0": torch.ones(3, 3, dtype=torch.bool)})), [],
        "the mask of task 0 does not fit the model: mask for 'lstm.0.weight_ih_l0' has shape (3, 3)"),
    "mask of a task not trained": ("mtl/cp/t-hard", damaged(lambda m: m.update(masks={5: {}})), [],
                                   "a mask for task 5, which the model was not trained on (its tasks: [0, 1, 2])"),
    "mask not bool": ("mtl/cp/t", damaged(lambda m: m["masks"].update(
        {1: {n: v.float() for n, v in m["masks"][1].items()}})), [], "the mask of task 1 is not {name: bool tensor}"),
    "masks a list": ("mtl/cp/t", damaged(lambda m: m.update(masks=[1])), [],
                     "'masks' must be a dict {task_id: {name: bool tensor}}"),
    "args.json a list": ("mtl/cp/t", edit_args(lambda a: [a]), [], "expected a JSON object of the run's arguments"),
    "args.json data file gone": ("mtl/cp/t", edit_args(lambda a: {**a, "data_path": "gone.pt"}), [],
                                 "the data file the model was trained on (gone.pt, from args.json) is not here; pass --data_path"),
    "pruning round without task_id": ("single/cp/2", single_round(lambda f: edit_args(lambda a: {**a, "task_id": None})(f)), [],
                                      "args.json of the pruning run is needed beside it (it names the task)"),
    "pruning round without its mask": ("single/cp/2", single_round(lambda f: next(f.glob("1_*.th")).unlink()), [],
                                       "mask file not found"),
    "pruning round mask of another shape": ("single/cp/2", single_round(lambda f: torch.save(
        {"mask": {"lstm.0.weight_ih_l0": torch.ones(3, 3, dtype=torch.bool)}}, next(f.glob("1_*.th")))), [],
        "the mask of task 2 does not fit the model: mask for 'lstm.0.weight_ih_l0' has shape (3, 3)"),
    "labels of a task in another order": ("mtl/cp/t", damaged(lambda m: m["labels"]["ner"].reverse()), [],
                                          "the labels of task 'ner' differ from the data file's"),
    "labels of a task one short": ("mtl/cp/t", damaged(lambda m: m["labels"]["pos"].pop()), [],
                                   "labels in the model, "),
    "labels a list": ("mtl/cp/t", damaged(lambda m: m.update(labels=[1])), [],
                      "'labels' must be a dict {task: [label, ...]}"),
    "labels not text": ("mtl/cp/t", damaged(lambda m: m["labels"].update(ner=[1, 2])), [],
                        "'labels' must be a dict {task: [label, ...]}"),
    "pruning round's labels in another order": ("single/cp/2", single_round(lambda f: resave(
        next(f.glob("best_1_*.th")), lambda m: m["labels"]["ner"].reverse())), [],
        "the labels of task 'ner' differ from the data file's"),
    "--tasks naming none": ("mtl/cp/t", None, ["--tasks", ","], "--tasks: no task named in ','"),
    "--tasks twice": ("mtl/cp/t", None, ["--tasks", "ner,ner"], "--tasks: task 'ner' is named twice"),
    "--gold_columns without =": ("mtl/cp/t", None, ["--eval", "--gold_columns", "ner"],
                                 "--gold_columns: expected TASK=COLUMN with a column of 0 to 999 "
                                 "(e.g. ner=3), got 'ner'"),
    "--gold_columns missing a task": ("mtl/cp/t", None, ["--eval", "--gold_columns", "pos=1"],
                                      "--gold_columns: no column given for chunk, ner"),
    "--batch_size": ("mtl/cp/t", None, ["--batch_size", "0"], "--batch_size: must be at least 1, got 0"),
    "--device": ("mtl/cp/t", None, ["--device", "gpu"], "--device: expected cpu, cuda or cuda:N, got 'gpu'"),
    "--num_threads": ("mtl/cp/t", None, ["--num_threads", "-2"], "--num_threads: must be 0 or more, got -2"),
    "--format": ("mtl/cp/t", None, ["--format", "json"], "argument --format: invalid choice: 'json'"),
    "--model missing": ("mtl/cp/t", lambda f: f / "none.th", [], "model file not found"),
}


@pytest.mark.parametrize("case", MALFORMED_MODELS)
def test_a_malformed_model_or_argument_is_one_line(case, tiny_experiment, gold_file, capsys, tmp_path):
    source, damage, extra, message = MALFORMED_MODELS[case]
    folder = tmp_path / "run"
    shutil.copytree(tiny_experiment / source, folder)
    model = damage(folder) if damage else folder / "best.th"
    out = tmp_path / "out.conll"
    done = predict(capsys, "--model", str(model), "--input", str(gold_file), "--output", str(out), *extra)
    line = one_line_error(done, 2)
    assert line.endswith(message) or message in line, line
    assert not out.exists()
