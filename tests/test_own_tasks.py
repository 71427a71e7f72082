"""A setting of one's own: a task-set file written here, over corpora written here, through
prepare-data.py and its errors, the whole demo pipeline (run_tasks.sh), analyze.py and predict.py;
and the built-in settings giving the same data file by every road."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from experiment_fixtures import in_process  # noqa: E402
from task_sets import builtin_task_set, write_task_set  # noqa: E402

from utils.data.datafile import load_data_file  # noqa: E402
from utils.data.prepare import prepare  # noqa: E402
from utils.data.taskset import load_task_set  # noqa: E402
from utils.training.mtl_setup import loss_weights  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORDS = ["the", "cat", "sat", "on", "a", "mat", "Paris", "is", "big", "John", "saw", "Mary"]


def chunk_corpus(folder: Path, n_train: int = 40) -> Path:
    """`word POS chunk` columns, IOB1 chunks, train and test only (no dev file)."""
    rows = lambda i: [f"{WORDS[i % 12]} NN I-NP", f"{WORDS[(i + 3) % 12]} VBD I-VP",
                      f"{WORDS[(i + 5) % 12]} NN I-NP", f"{WORDS[(i + 7) % 12]} NN B-NP"]
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", 12)):
        (folder / f"{split}.txt").write_text("\n\n".join("\n".join(rows(i)) for i in range(n)) + "\n",
                                             encoding="utf-8")
    return folder


def entity_corpus(folder: Path) -> Path:
    """`word entity` columns in IOB2, its own sentences, train/dev/test as eng.* files."""
    rows = lambda i: [f"{WORDS[(i + 6) % 12]} B-LOC", f"{WORDS[(i + 1) % 12]} O",
                      f"{WORDS[(i + 9) % 12]} B-PER", f"{WORDS[(i + 11) % 12]} I-PER"]
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 30), ("testa", 10), ("testb", 10)):
        text = "-DOCSTART- O\n\n" + "\n\n".join("\n".join(rows(i)) for i in range(n)) + "\n"
        (folder / f"eng.{split}").write_text(text, encoding="utf-8")
    return folder


TINY = """\
name = "tiny"
embedding = "none"

[[tasks]]
name = "chunk"
corpus = "chunks"
tag_column = 2
scheme = "iob1"
dev_share = 0.25

[[tasks]]
name = "ent"
corpus = "entities"
tag_column = 1
scheme = "bio"
train_scheme = "bioes"
layer = 1
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    """tiny.toml beside its two corpora."""
    chunk_corpus(tmp_path / "chunks")
    entity_corpus(tmp_path / "entities")
    return write_task_set(tmp_path / "tiny.toml", TINY)


def test_prepare_a_two_corpus_task_set(tiny, tmp_path, capsys):
    done = in_process("prepare-data.py", "--tasks", str(tiny), "--out", str(tmp_path / "data"),
                      capsys=capsys)
    assert done.returncode == 0, done.stderr
    data = load_data_file(tmp_path / "data" / "tiny.pt")
    assert (data.setting, data.tasks) == ("tiny", ["chunk", "ent"])
    assert data.schemes == {"chunk": "bio", "ent": "bioes"}
    assert data.metrics == {"chunk": "f1", "ent": "f1"} and data.layers == {"chunk": None, "ent": 1}
    counts = data.provenance["counts"]
    assert counts["chunk"]["dev"]["sentences"] == 10 and counts["chunk"]["train"]["sentences"] == 30
    assert counts["ent"]["dev"] == {"sentences": 10, "tokens": 40}
    chunk = data.data["chunk"]["train"]
    assert [data.labels["chunk"][i] for i in chunk.labels[:4].tolist()] == ["B-NP", "B-VP", "B-NP", "B-NP"]
    assert data.embedding is None
    assert data.provenance["task_set"]["tasks"]["ent"]["tag_column"] == 1
    assert "chunk: IOB1 -> BIO2 converted" in done.stdout and "ent: BIO2 -> BIOES" in done.stdout
    assert "chunk  train" in done.stdout and "labels: chunk" in done.stdout


def bad_corpus_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Mistakes in the corpora a task set names, each in a corpus folder of its own:
    {case: (task-set text, the expected one-line error as a regular expression)}."""
    train = (tmp_path / "entities" / "eng.train").read_text(encoding="utf-8")
    cases = {}

    def case(name: str, content: bytes, line: str, toml: str = TINY) -> None:
        folder = entity_corpus(tmp_path / "broken" / name)
        (folder / "eng.train").write_bytes(content)
        cases[name] = (toml.replace('corpus = "entities"', f'corpus = "broken/{name}"'), line)

    case("iob1-in-bio", train.replace("B-PER", "I-PER", 1).encode(),
         r"eng.train:5: tag 'I-PER' starts a chunk, which IOB2 \(bio\) writes B-PER; declare "
         r"scheme = \"iob1\".* \(task 'ent': tasks\[1\].scheme in .*tiny.toml\)")
    case("bioes-in-bio", train.replace("I-PER", "E-PER", 1).encode(),
         r"eng.train:6: tag 'E-PER' has prefix 'E'; bio allows B-/I- and O \(bio scheme\)")
    case("short-row", train.replace("big O", "big", 1).encode(),
         r"eng.train:\d+: expected 2 columns \(word ent\), found 1 \(task 'ent': tasks\[1\].tag_column")
    case("column-out-of-range", train.encode(),
         r"eng.train:3: expected at least 4 columns \(word - - ent\), found 2 \(task 'ent': "
         r"tasks\[1\].tag_column", toml=TINY.replace("tag_column = 1", "tag_column = 3"))
    case("not-utf8", train.encode().replace(b"Paris", b"Par\xffis", 1),
         r"eng.train:\d+: byte 0xff is not UTF-8 text")
    case("wrong-encoding", train.replace("Paris", "Zürich", 1).encode(),
         r"eng.train:\d+: byte 0xc3 is not ascii text",
         toml=TINY.replace("layer = 1", 'layer = 1\nencoding = "ascii"'))
    cases["no-corpus"] = (TINY.replace('corpus = "chunks"', 'corpus = "nowhere"'),
                          r"nowhere: no such file or folder \(looked for .*nowhere.*\) "
                          r"\(task 'chunk': tasks\[0\].corpus")
    cases["missing-test"] = (TINY.replace('corpus = "chunks"', 'files = {train = "chunks/train.txt"}'),
                             r"tasks\[0\].corpus: missing; .*\(missing test\)")
    return cases


def test_every_corpus_mistake_is_one_line_and_writes_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    for name, (text, message) in bad_corpus_cases(tmp_path).items():
        toml = write_task_set(tmp_path / "tiny.toml", text)
        done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(out), capsys=capsys)
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, done.stderr)
        assert re.search(message, lines[0]), (name, lines[0])
        assert not out.exists() or not any(out.iterdir()), name


def test_builtin_settings_give_one_data_file_by_every_road(shared_data, tmp_path, capsys):
    """--type conll03, --tasks settings/conll03.toml and a file of one's own naming the corpus
    files one by one: the same vocabularies and tensors (as the original's `--type conll03 --pos`
    interface always gave)."""
    corpus = shared_data / "conll03"
    own = write_task_set(tmp_path / "mine.toml", "\n".join([
        'name = "conll03"'] + [
        f'[[tasks]]\nname = "{name}"\nfiles = {{train = "{corpus}/train.txt", dev = "{corpus}/dev.txt", '
        f'test = "{corpus}/test.txt"}}\ntag_column = {column}\nscheme = "{scheme}"\n'
        f'train_scheme = "{train}"\n' + ("layer = 1\n" if name == "pos" else "")
        for name, column, scheme, train in (("pos", 1, "plain", "plain"), ("chunk", 2, "bio", "bio"),
                                            ("ner", 3, "bio", "bioes"))]))
    roads = {"--type": ["--type", "conll03", "--pos", str(corpus)],
             "--tasks": ["--tasks", str(REPO / "settings" / "conll03.toml")],
             "own": ["--tasks", str(own)]}
    files = {}
    for road, args in roads.items():
        out = tmp_path / road.strip("-")
        done = in_process("prepare-data.py", *args, "--embedding", "none", "--out", str(out),
                          capsys=capsys)
        assert done.returncode == 0, done.stderr
        files[road] = torch.load(out / "conll03.pt", weights_only=True)
    first = files["--type"]
    for road, other in files.items():
        assert_same_data(first, other, road)


def assert_same_data(a: dict, b: dict, road: str) -> None:
    for key in ("setting", "tasks", "schemes", "metrics", "layers", "words", "chars", "labels"):
        assert a[key] == b[key], (road, key)
    for task in a["tasks"]:
        for split, fields in a["data"][task].items():
            for name, tensor in fields.items():
                assert torch.equal(tensor, b["data"][task][split][name]), (road, task, split, name)


def test_ptb_by_its_file_and_by_the_original_interface(shared_data, tmp_path):
    dev_pos = str(shared_data / "wsj_ptb" / "dev.pos")
    by_type = prepare(builtin_task_set("ptb", train={"pos": dev_pos}), "none")
    own = write_task_set(tmp_path / "ptb.toml", (REPO / "settings" / "ptb.toml").read_text()
                         .replace('corpus = "wsj_ptb"', f'corpus = "{shared_data / "wsj_ptb"}"\n'
                                  f'files = {{train = "{dev_pos}"}}'))
    by_file = prepare(load_task_set(own), "none")
    assert_same_data(by_type.to_dict(), by_file.to_dict(), "ptb")


def run_tasks(toml: Path, mode: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PRESET": "demo", "CORES": "2", "THREADS": "1",
                "TRAIN_ARGS": "--hidden_size 8 --epochs 1 --batch_size 8 --optim adam(lr=0.01)",
                "SINGLE_ARGS": "--pruning_iter 1", **env}
    return subprocess.run(["bash", str(REPO / "run_tasks.sh"), str(toml), mode], cwd=toml.parent,
                          capture_output=True, text=True, env=full_env, timeout=900)


def test_a_two_task_setting_through_the_whole_demo_pipeline(tiny, tmp_path, capsys):
    """prepare -> single -> prepare-masks auto -> baselines table -> analyze.py -> predict.py
    --eval, for a setting the test wrote itself."""
    data, exp = tmp_path / "data" / "tiny.pt", tmp_path / "exp" / "tiny-demo"
    done = run_tasks(tiny, "demo", DATA=str(data), DEMO_EXP=str(exp))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("tiny: demo, preset demo")
    assert "prepare-data.py --tasks" in done.stdout
    for task_id in (0, 1):
        assert (exp / "mtl" / "mask" / f"{task_id}.th").is_file()
    assert not (exp / "mtl" / "mask" / "2.th").exists()
    table = done.stdout[done.stdout.index("test score (%)"):].splitlines()
    assert table[0].split()[3:] == ["single", "hard", "soft", "hier", "sparse"]
    assert [row.split()[0] for row in table[2:6]] == ["chunk", "ent", "avg", "avg"]
    for name in ("demo", "demo-hard", "demo-soft", "demo-hier", "demo-single-chunk", "demo-single-ent"):
        assert (exp / "mtl" / "cp" / name / "results.json").is_file(), name
    hier = json.loads((exp / "mtl" / "cp" / "demo-hier" / "results.json").read_text())
    assert set(hier["parameters"]["per_task"]) == {"chunk", "ent"}
    # ent reads layer 1 in hierarchical sharing (its `layer`): the second BiLSTM layer is chunk's
    assert hier["parameters"]["per_task"]["ent"] < hier["parameters"]["per_task"]["chunk"]
    selection = json.loads((exp / "mtl" / "mask" / "selection.json").read_text())
    assert list(selection["tasks"]) == ["chunk", "ent"] and list(selection["overlap"]) == ["chunk-ent"]

    done = in_process("analyze.py", str(exp), capsys=capsys)
    assert done.returncode == 0, done.stderr
    report = (exp / "report" / "report.md").read_text()
    assert "chunk-ent" in report and "| chunk (F1) |" in report and "| ent (F1) |" in report

    predict_eval_equals_the_runs_test_score(exp, tmp_path, capsys)    # the default gold column: 1


def predict_eval_equals_the_runs_test_score(exp: Path, tmp_path: Path, capsys) -> Path:
    """predict.py --eval of the demo's sparse run on the entity test file scores what the run's
    results.json reported for it; the tagged file written."""
    gold = tmp_path / "entities" / "eng.testb"
    done = in_process("predict.py", "--model", str(exp / "mtl" / "cp" / "demo" / "best.th"),
                      "--input", str(gold), "--tasks", "ent", "--eval", "--num_threads", "1",
                      "--output", str(tmp_path / "tagged.conll"), capsys=capsys)
    assert done.returncode == 0, done.stderr
    reported = json.loads((exp / "mtl" / "cp" / "demo" / "results.json").read_text())["test"]["ent"]
    assert f"ent {reported:.2f} (F1)" in done.stdout
    return tmp_path / "tagged.conll"


def test_hierarchical_layers_come_from_the_task_set():
    from test_model_fixtures import synthetic_data
    from utils.errors import InputError
    from utils.training.mtl_setup import task_layers

    data = synthetic_data(n_train=4, n_eval=2)
    data.layers = {"pos": None, "ner": 2}
    assert task_layers(data, "hier-lstm", 3) == [3, 2]       # None: the top layer
    assert task_layers(data, "cnn-lstm", 3) == [3, 3]        # flat sharing reads the top
    data.layers = {"pos": 1, "ner": 3}
    with pytest.raises(InputError, match=r"--n_layer: in hierarchical sharing ner reads layer 3 "
                       r"\(the task set's `layer`\), but the BiLSTM has 2 layer\(s\)"):
        task_layers(data, "hier-lstm", 2)


def test_a_span_task_scored_by_token_accuracy():
    from test_model_fixtures import synthetic_data
    from utils.training.metrics import make_metrics
    from utils.training.tasks import TaskData

    data = synthetic_data(n_train=4, n_eval=2)
    data.metrics["ner"] = "accuracy"
    task = TaskData.of(data, 1)
    assert (task.scheme, task.metric) == ("bioes", "accuracy")
    metrics = make_metrics(task.scheme, task.labels, task.metric)
    assert list(metrics) == ["acc"]
    metrics["acc"].update([[0, 1, 2, 3]], [[0, 1, 1, 3]])     # 3 of 4 tokens right
    assert metrics["acc"].result()["score"] == pytest.approx(75.0)
    assert list(make_metrics("bioes", task.labels, "f1")) == ["conlleval", "yangjie"]


def test_tasks_are_named_by_id_or_by_name():
    from test_model_fixtures import synthetic_data
    from utils.training.mtl_setup import check_task_ids, task_id_of

    data = synthetic_data(n_train=4, n_eval=2)
    assert check_task_ids(["ner", "0"], data) == [0, 1] and check_task_ids([], data) == [0, 1]
    assert task_id_of("ner", data, "--task_id") == 1 and task_id_of(1, data, "--task_id") == 1


# ---- CoNLL-U ------------------------------------------------------------------------------------
def conllu_sentence(sent_id: str, i: int) -> str:
    """One sentence with comments, a multiword range (4-5 "can't" = "ca" + "n't") and, every
    third sentence, an empty node; its syntactic words are WORDS[i], WORDS[i+1], "ca", "n't"."""
    first, second = WORDS[i % 12], WORDS[(i + 1) % 12]
    rows = [f"# sent_id = {sent_id}", f"# text = {first} {second} can't",
            f"1\t{first}\t_\tDET\tDT\tDefinite=Def\t2\tdet\t_\t_",
            f"2\t{second}\t_\tNOUN\tNN\tNumber=Sing\t0\troot\t_\t_",
            "3-4\tcan't\t_\t_\t_\t_\t_\t_\t_\t_",
            "3\tca\tcan\tAUX\tMD\t_\t2\taux\t_\t_",
            "4\tn't\tnot\tPART\tRB\tPolarity=Neg\t2\tadvmod\t_\t_"]
    if i % 3 == 0:
        rows.append("4.1\tmissing\t_\t_\t_\t_\t_\t_\t2:dep\t_")
    return "\n".join(rows) + "\n\n"


def ud_corpus(folder: Path) -> Path:
    """A UD-style treebank: en_tiny-ud-{train,dev,test}.conllu."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 12), ("dev", 4), ("test", 4)):
        text = "# newdoc id = doc1\n" + "".join(conllu_sentence(f"{split}-{i}", i) for i in range(n))
        (folder / f"en_tiny-ud-{split}.conllu").write_text(text, encoding="utf-8")
    return folder


UD = """\
name = "ud"
embedding = "none"

[[tasks]]
name = "xpos"
corpus = "treebank"
format = "conllu"
tag_column = "xpos"
scheme = "plain"

[[tasks]]
name = "polarity"
corpus = "treebank"
format = "conllu"
word_column = "form"
tag_column = "feats:Polarity"
scheme = "plain"
"""


def test_a_conllu_treebank_gives_its_syntactic_words(tmp_path, capsys):
    ud_corpus(tmp_path / "treebank")
    toml = write_task_set(tmp_path / "ud.toml", UD)
    done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(tmp_path / "data"),
                      capsys=capsys)
    assert done.returncode == 0, done.stderr
    data = load_data_file(tmp_path / "data" / "ud.pt")
    assert data.provenance["counts"]["xpos"]["train"] == {"sentences": 12, "tokens": 48}
    dev = data.data["xpos"]["dev"]
    words = [data.words[i] for i in dev.words[:8].tolist()]
    # worked by hand: the range 3-4 is left out, its words "ca" and "n't" are in; the empty node too
    assert words == ["the", "cat", "ca", "n't", "cat", "sat", "ca", "n't"]
    assert [data.labels["xpos"][i] for i in dev.labels[:4].tolist()] == ["DT", "NN", "MD", "RB"]
    assert [data.labels["polarity"][i] for i in data.data["polarity"]["dev"].labels[:4].tolist()] \
        == ["_", "_", "_", "Neg"]
    assert data.data["polarity"]["dev"].words is dev.words          # one corpus, read once
    assert data.provenance["sentence_ids"]["xpos"]["test"] == ["test-0", "test-1", "test-2", "test-3"]
    assert data.provenance["task_set"]["tasks"]["xpos"]["tag_column"] == "xpos"
    assert loss_weights(data) == {}
    # feats:Polarity is '_' on 3 of 4 words: warned, printed and kept; chance: always '_', 75%
    assert data.provenance["warnings"] == [
        f"polarity: most of its train tags are '_' (CoNLL-U's empty value; a CoNLL-U file read as "
        f"columns gives it to its multiword-token lines) (tasks[1] in {toml})"]
    assert "warning: polarity: most of its train tags are '_'" in done.stdout
    assert data.provenance["chance_dev"] == {"xpos": 25.0, "polarity": 75.0}
    weighted = write_task_set(tmp_path / "ud.toml", UD + "loss_weight = 0.25\n")
    assert loss_weights(prepare(load_task_set(weighted), "none")) == {1: 0.25}


def test_a_corpus_format_mistake_blames_the_format_not_a_column(tmp_path, capsys):
    ud_corpus(tmp_path / "treebank")
    dev = ud_corpus(tmp_path / "broken") / "en_tiny-ud-dev.conllu"
    dev.write_text(dev.read_text().replace("\t", " ", 9))     # line 4: spaces, not tabs
    as_columns = UD.replace('format = "conllu"\ntag_column = "xpos"', 'tag_column = 4')
    for text, message in [
            (as_columns, r"en_tiny-ud-train.conllu:1: a comment line, which the task does not declare: "
                         r"set comment_prefix = \"#\" .* or format = \"conllu\" for CoNLL-U \(task "
                         r"'xpos': tasks\[0\].comment_prefix in"),
            (UD.replace('corpus = "treebank"', 'corpus = "broken"', 1),
             r"en_tiny-ud-dev.conllu:4: expected 10 tab-separated CoNLL-U columns \(id form lemma "
             r"upos xpos feats head deprel deps misc\), found 1 \(task 'xpos': tasks\[0\].format in")]:
        toml = write_task_set(tmp_path / "ud.toml", text)
        done = in_process("prepare-data.py", "--tasks", str(toml), "--out", str(tmp_path / "out"),
                          capsys=capsys)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert re.search(message, done.stderr), done.stderr
        assert not (tmp_path / "out").exists()


def predict_scores(stdout: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in stdout.splitlines()[1:]}


def test_predict_reads_the_input_as_the_task_set_does(tmp_path, capsys):
    """A CoNLL-U task and a column task whose words are in column 1: predict.py --eval on the
    test files, read by their task set's format and word column, equals training's scores."""
    ud_corpus(tmp_path / "treebank")
    folder = tmp_path / "shifted"          # `id word tag`: the words in column 1
    folder.mkdir()
    for split, n in (("train", 12), ("test", 4)):
        (folder / f"{split}.txt").write_text("".join(
            f"{j + 1} {WORDS[(i + j) % 12]} {'N' if j % 2 else 'D'}\n" + ("\n" if j == 2 else "")
            for i in range(n) for j in range(3)))
    text = UD.replace('name = "polarity"', 'name = "shape"').replace(
        'corpus = "treebank"\nformat = "conllu"\nword_column = "form"\ntag_column = "feats:Polarity"',
        'corpus = "shifted"\nword_column = 1\ntag_column = 2\ndev_share = 0.25')
    toml = write_task_set(tmp_path / "ud.toml", text)
    data = tmp_path / "data" / "ud.pt"
    assert in_process("prepare-data.py", "--tasks", str(toml), "--out", str(data.parent),
                      capsys=capsys).returncode == 0
    done = in_process("train_mtl.py", "--data_path", str(data), "--save_dir", str(tmp_path / "mtl"),
                      "--exp_name", "m", "--hidden_size", "8", "--epochs", "2", "--batch_size", "4",
                      "--optim", "adam(lr=0.03)", "--num_threads", "1", "--preset", "demo",
                      "--train_subset", "0", "--eval_subset", "0", capsys=capsys)
    assert done.returncode == 0, done.stderr
    model = tmp_path / "mtl" / "cp" / "m" / "best.th"
    reported = json.loads((model.parent / "results.json").read_text())["test"]
    for task, test_file in (("xpos", tmp_path / "treebank" / "en_tiny-ud-test.conllu"),
                            ("shape", folder / "test.txt")):
        done = in_process("predict.py", "--model", str(model), "--input", str(test_file), "--eval",
                          "--tasks", task, "--num_threads", "1", "--output", str(tmp_path / f"{task}.out"),
                          capsys=capsys)
        assert done.returncode == 0, done.stderr
        assert predict_scores(done.stdout) == {task: pytest.approx(reported[task], abs=0.005 + 1e-9)}
        assert done.stdout.startswith(f"tagged 4 sentences ({4 * 4 if task == 'xpos' else 4 * 3} tokens")
    tagged = (tmp_path / "xpos.out").read_text().split("\n\n")[0].splitlines()
    assert [row.split()[0] for row in tagged] == ["the", "cat", "ca", "n't"]
    # without --eval: CoNLL-U recognised; read as text on request, with a warning
    conllu = str(tmp_path / "treebank" / "en_tiny-ud-test.conllu")
    done = in_process("predict.py", "--model", str(model), "--input", conllu, "--num_threads", "1",
                      capsys=capsys)
    assert done.returncode == 0 and "(conllu)" in done.stderr and done.stdout.count("\n\n") == 4
    done = in_process("predict.py", "--model", str(model), "--input", conllu, "--format", "text",
                      "--num_threads", "1", capsys=capsys)
    assert done.returncode == 0 and done.stderr.startswith(
        "warning: ") and "looks like CoNLL-U but is read as text" in done.stderr
    # the user's own layout: words in another column
    lemmas = in_process("predict.py", "--model", str(model), "--input", conllu, "--word_column",
                        "lemma", "--num_threads", "1", capsys=capsys)
    assert lemmas.returncode == 0 and [r.split()[0] for r in lemmas.stdout.splitlines()[:4]] == \
        ["_", "_", "can", "not"]
    for args, message in ((["--word_column", "FORM"], "--word_column: expected a CoNLL-U column name"),
                          (["--format", "conll", "--word_column", "form"],
                           "--word_column: expected a 0-based column number"),
                          (["--eval", "--gold_columns", "xpos=4"], "expected TASK=COLUMN with a CoNLL-U column name")):
        done = in_process("predict.py", "--model", str(model), "--input", conllu, "--tasks", "xpos",
                          *args, capsys=capsys)
        assert done.returncode == 2 and message in done.stderr, done.stderr
