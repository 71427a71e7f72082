"""prepare-data.py end to end: the real CoNLL-2003 data, small corpora, and bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.data.datafile import FORMAT_VERSION, UNK_ID, load_data_file
from task_sets import builtin_task_set
from utils.data.prepare import prepare
from utils.data.readers.text import sha256_of
from utils.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "prepare-data.py"

CONLL03_TRAIN = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""
CONLL03_DEV = """Germany NNP B-NP B-LOC
's POS B-NP O
call NN I-NP O
"""
CONLL03_TEST = """Japan NNP B-NP B-LOC
wins VBZ B-VP O
"""


def run_prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def write_conll03(folder: Path, train: str = CONLL03_TRAIN, dev: str = CONLL03_DEV,
                  test: str = CONLL03_TEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("train.txt", train), ("dev.txt", dev), ("test.txt", test)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def conll03_args(folder: Path, out: Path) -> list[str]:
    return ["--type", "conll03", "--pos", str(folder), "--chunk", str(folder), "--ner",
            str(folder), "--embedding", "none", "--out", str(out)]


def test_small_conll03_end_to_end(tmp_path):
    corpus = write_conll03(tmp_path / "corpus")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".conll03.pt.k1ll3d.tmp").write_bytes(b"half a data file")   # a killed run's
    result = run_prepare(*conll03_args(corpus, tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["conll03.pt"]
    raw = torch.load(tmp_path / "out" / "conll03.pt", weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION
    data = load_data_file(tmp_path / "out" / "conll03.pt")
    assert data.tasks == ["pos", "chunk", "ner"]
    assert data.schemes == {"pos": "plain", "chunk": "bio", "ner": "bioes"}
    assert data.embedding is None
    # one row per lower-cased train form (no embedding: dev/test-only forms stay unknown)
    assert set(data.words) == {"<pad>", "<unk>", "eu", "rejects", "german", "call", ".",
                               "peter", "blackburn"}
    ner = data.data["ner"]["train"]
    assert ner.sent_lengths.tolist() == [5, 2]
    tags = [data.labels["ner"][i] for i in ner.labels.tolist()]
    assert tags == ["S-ORG", "O", "S-MISC", "O", "O", "B-PER", "E-PER"]
    dev = data.data["pos"]["dev"]
    assert [data.words[i] for i in dev.words.tolist()] == ["<unk>", "<unk>", "call"]
    assert dev.words.tolist()[:2] == [UNK_ID, UNK_ID]
    # labels seen only in dev/test are in the list too
    assert "POS" in data.labels["pos"]
    assert "S-LOC" in data.labels["ner"]
    assert data.provenance["counts"]["ner"]["train"] == {"sentences": 2, "tokens": 7}
    assert data.provenance["sources"]["pos"]["found_in"] == str(corpus)
    assert len(data.provenance["sha256"]) == 3
    assert "ner: BIO2 -> BIOES" in data.provenance["conversions"]
    assert "sentences" in result.stdout and "tokens" in result.stdout


def test_small_conll03_with_embedding_file(tmp_path):
    corpus = write_conll03(tmp_path / "corpus")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 3\neu 1 2 3\njapan 4 5 6\ngermany 7 8 9\n", encoding="utf-8")
    task_set = builtin_task_set("conll03", {"pos": str(corpus)})
    data = prepare(task_set, str(vectors), {"embedding": str(vectors)})
    # PAD, UNK, the forms with a vector in the file's order (dev/test forms too), then the other
    # train forms; a dev/test form without a vector ("wins") has no row
    assert data.words[:5] == ["<pad>", "<unk>", "eu", "japan", "germany"]
    assert "wins" not in data.words and "german" in data.words
    assert data.embedding.tolist() == [[0, 0, 0], [0, 0, 0], [1, 2, 3], [4, 5, 6], [7, 8, 9]]
    test = data.data["ner"]["test"]
    assert [data.words[i] for i in test.words.tolist()] == ["japan", "<unk>"]
    assert data.provenance["embedding"]["rows_with_vector"] == 3
    assert data.provenance["sha256"][str(vectors)] == sha256_of(vectors)


@pytest.fixture(scope="module")
def real_conll03(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    result = run_prepare("--type", "conll03", "--embedding", "none", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "conll03.pt", result


def test_real_conll03_counts_and_loading(real_conll03):
    path, result = real_conll03
    raw = torch.load(path, weights_only=True)
    counts = {"train": (14041, 203621), "dev": (3250, 51362), "test": (3453, 46435)}
    for task in ("pos", "chunk", "ner"):
        for split, (n_sent, n_tok) in counts.items():
            part = raw["data"][task][split]
            assert part["sent_lengths"].numel() == n_sent
            assert int(part["sent_lengths"].sum()) == part["words"].numel() == n_tok
            assert part["labels"].numel() == n_tok
            assert int(part["word_lengths"].sum()) == part["chars"].numel()
    assert "NN|SYM" in raw["labels"]["pos"]
    assert raw["embedding"] is None
    assert len(raw["words"]) == 2 + 21009 and len(raw["chars"]) == 82  # train forms; fastNLP's chars
    assert raw["provenance"]["sources"]["ner"]["found_in"] == "../shared/data/conll03"
    assert raw["provenance"]["sha256"]["../shared/data/conll03/train.txt"] == \
        "213953b5522fb7924802d883e50f027b2c6ffb5d4d0e63368ed82909f9b60423"
    assert "../shared/data/conll03" in result.stdout


# ---- bad input: one line "error: FILE:LINE: ...", exit code 2, no output file ---------------

def assert_input_error(result: subprocess.CompletedProcess, out: Path, where: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and where in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("train, where", [
    (CONLL03_TRAIN.replace("rejects VBZ B-VP O", "rejects VBZ O"), "train.txt:4:"),
    ("\n\n  \n", "train.txt:1:"),
    (CONLL03_TRAIN.replace("Peter NNP B-NP B-PER", "Peter NNP B-NP Q-PER"), "train.txt:9:"),
    # S- tags make the column BIOES; then "S-PER I-PER" breaks it at the I-PER line
    (CONLL03_TRAIN.replace("B-ORG", "S-ORG").replace("B-MISC", "S-MISC")
     .replace("Peter NNP B-NP B-PER", "Peter NNP B-NP S-PER"), "train.txt:10:"),
], ids=["columns", "blank", "prefix", "bioes"])
def test_bad_conll03_files(tmp_path, train, where):
    corpus = write_conll03(tmp_path / "corpus", train=train)
    out = tmp_path / "out"
    result = run_prepare(*conll03_args(corpus, out))
    file_name, line = where.split(":", 1)
    assert_input_error(result, out, f"{corpus / file_name}:{line}")


def test_non_utf8_byte(tmp_path):
    corpus = write_conll03(tmp_path / "corpus")
    (corpus / "dev.txt").write_bytes(b"Germany NNP B-NP B-LOC\nM\xfcnchen NNP I-NP I-LOC\n")
    out = tmp_path / "out"
    assert_input_error(run_prepare(*conll03_args(corpus, out)), out,
                       f"{corpus / 'dev.txt'}:2: byte 0xfc")


def test_missing_split_file(tmp_path):
    corpus = write_conll03(tmp_path / "corpus")
    (corpus / "test.txt").unlink()
    out = tmp_path / "out"
    result = run_prepare(*conll03_args(corpus, out))
    assert_input_error(result, out, f"{corpus}: missing the test split")


@pytest.mark.parametrize("version, changes", [
    (2, ["label ids in the original's order"]),
    (1, ["one embedding row per lower-cased form", "label ids in the original's order"])])
def test_an_older_data_file_is_refused_in_one_line_saying_what_changed(tmp_path, version, changes):
    path = tmp_path / "conll03.pt"
    torch.save({"format_version": version, "words": ["<pad>", "<unk>", "EU"]}, path)
    with pytest.raises(InputError) as refused:
        load_data_file(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: expected data format version {FORMAT_VERSION}, found "
                              f"{version}, an older one; since then: ")
    assert message.endswith("; run prepare-data.py again")
    assert all(change in message for change in changes)


def test_failure_keeps_an_existing_file_and_leaves_no_temp_file(tmp_path):
    corpus = write_conll03(tmp_path / "corpus")
    (corpus / "dev.txt").write_text("Germany NNP\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "conll03.pt").write_bytes(b"an earlier file")
    result = run_prepare(*conll03_args(corpus, out))
    assert result.returncode == 2
    assert (out / "conll03.pt").read_bytes() == b"an earlier file"
    assert sorted(p.name for p in out.iterdir()) == ["conll03.pt"]


# ---- ptb and ontonotes settings (in process) ----------------------------------------------

def write_ptb_corpora(root: Path) -> dict[str, Path]:
    wsj = root / "wsj"
    wsj.mkdir(parents=True)
    (wsj / "dev.pos").write_text("-DOCSTART- O\n\nThe DT\ncat NN\n", encoding="utf-8")
    (wsj / "test.pos").write_text("A DT\ndog NN\n", encoding="utf-8")
    train = root / "sections-00-18.pos"
    train.write_text("Some DT\ncats NNS\n\nrun VBP\n", encoding="utf-8")
    conll2000 = root / "conll2000"
    conll2000.mkdir()
    sentences = "".join(f"w{i} NN B-NP\nran VBD B-VP\n\n" for i in range(20))
    (conll2000 / "train.txt").write_text(sentences, encoding="utf-8")
    (conll2000 / "test.txt").write_text("x NN B-NP\n", encoding="utf-8")
    conll03 = write_conll03(root / "conll03")
    return {"wsj": wsj, "train": train, "conll2000": conll2000, "conll03": conll03}


def test_small_ptb(tmp_path):
    paths = write_ptb_corpora(tmp_path)
    task_set = builtin_task_set("ptb", {"pos": str(paths["wsj"]), "chunk": str(paths["conll2000"]),
                                        "ner": str(paths["conll03"])}, {"pos": str(paths["train"])},
                                seed=5)
    data = prepare(task_set, "none", {})
    # ptb: every word has a row, dev/test ones too (the original's ptb vocabulary had no
    # dev/test distinction); its characters count as well
    assert {"a", "dog", "japan", "wins", "x"} <= set(data.words)
    counts = data.provenance["counts"]
    assert counts["pos"]["train"] == {"sentences": 2, "tokens": 3}
    assert counts["pos"]["dev"] == {"sentences": 1, "tokens": 2}
    assert counts["chunk"]["dev"] == {"sentences": 2, "tokens": 4}      # 10% of 20
    assert counts["chunk"]["train"] == {"sentences": 18, "tokens": 36}
    assert counts["ner"]["train"] == {"sentences": 2, "tokens": 7}
    assert any("seed 5" in note for note in data.provenance["conversions"])
    assert data.provenance["sources"]["pos"]["files"]["train"] == [str(paths["train"])]


def test_ptb_without_wsj_train_says_how_to_pass_it(tmp_path):
    paths = write_ptb_corpora(tmp_path)
    task_set = builtin_task_set("ptb", {"pos": str(paths["wsj"]), "chunk": str(paths["conll2000"]),
                                        "ner": str(paths["conll03"])})
    with pytest.raises(InputError, match=r"wsj: missing the train split.*--train TASK=FILE.*"
                       r"task 'pos': tasks\[0\].corpus in settings/ptb.toml"):
        prepare(task_set, "none", {})


def test_small_ontonotes(tmp_path):
    from tests.test_readers import ONTO_DOC

    folder = tmp_path / "ontonotes"
    folder.mkdir()
    for split in ("train", "development", "test"):
        (folder / f"{split}.gold_conll").write_text(ONTO_DOC, encoding="utf-8")
    task_set = builtin_task_set("ontonotes", {"ner": str(folder)}, chunk_check="none")
    data = prepare(task_set, "none", {})
    assert data.provenance["counts"]["ner"]["dev"] == {"sentences": 2, "tokens": 4}
    train = {t: data.data[t]["train"] for t in data.tasks}
    decode = lambda task: [data.labels[task][i] for i in train[task].labels.tolist()]
    assert decode("pos") == ["NNP", "NNP", "VBZ", "UH"]
    assert decode("chunk") == ["B-NP", "I-NP", "B-VP", "B-INTJ"]
    assert decode("ner") == ["B-PERSON", "E-PERSON", "O", "S-CARDINAL"]
    # the three tasks share one copy of the words and characters
    assert train["pos"].words.data_ptr() == train["ner"].words.data_ptr()
    reading = data.provenance["conll2012_reading"][str(folder / "train.gold_conll")]
    assert reading["dropped_genre_sentences"] == {"pt": 1}
    assert reading["dropped_malformed_sentences"] == [f"{folder / 'train.gold_conll'}:12"]
    assert data.provenance["chunk_agreement"] == "not measured (--chunk-check none)"
    assert {data.provenance["sources"][t]["found_in"] for t in data.tasks} == {str(folder)}


def test_real_ptb_with_dev_standing_in_for_train(shared_data):
    task_set = builtin_task_set("ptb", train={"pos": str(shared_data / "wsj_ptb" / "dev.pos")})
    data = prepare(task_set, "none", {})
    counts = data.provenance["counts"]
    assert counts["pos"]["dev"] == {"sentences": 5527, "tokens": 131768}
    assert counts["pos"]["test"] == {"sentences": 5462, "tokens": 129654}
    chunk = counts["chunk"]
    assert chunk["train"]["sentences"] + chunk["dev"]["sentences"] == 8936
    assert chunk["train"]["tokens"] + chunk["dev"]["tokens"] == 211727
    assert chunk["dev"]["sentences"] == 893          # int(0.1 * 8936), as fastNLP's DataSet.split
    assert chunk["test"] == {"sentences": 2012, "tokens": 47377}
    assert counts["ner"]["test"] == {"sentences": 3453, "tokens": 46435}
    assert "pos: the dev file stands in for the train file" in data.provenance["conversions"]


# ---- checks that catch a wasted run -------------------------------------------------------------
def _task(words: list[list[str]], tags: list[list[str]], dev_tags: list[list[str]] | None = None):
    """One task's {split: sentences} of words and of tags (dev and test equal to train unless given)."""
    dev_tags = dev_tags or tags
    return ({"train": words, "dev": words, "test": words},
            {"train": tags, "dev": dev_tags, "test": tags})


def _checked(**tasks):
    from utils.data.checks import check_tasks
    return check_tasks({t: w for t, (w, _) in tasks.items()}, {t: g for t, (_, g) in tasks.items()},
                       {t: f"tasks[0] in my.toml" for t in tasks})


WORDS = [["The", "cat", "sat"], ["A", "dog", "ran", "off"]]
TAGS = [["DT", "NN", "VBD"], ["DT", "NN", "VBD", "RP"]]


@pytest.mark.parametrize("words, tags, message", [
    (WORDS, [["O"] * 3, ["O"] * 4], r"my.toml: task 't' has one label in its train split \('O'\): "
                                    r"nothing to learn; is tag_column right \(0-based\)\?"),
    ([["1", "2", "3"], ["1", "2", "3", "4"]], TAGS,
     r"my.toml: the words of task 't' are 1, 2, 3, ... in every sentence \(CoNLL-U's ID column\)"),
    ([["_"] * 3, ["_"] * 4], TAGS, r"my.toml: every word of task 't' is '_'"),
])
def test_a_task_that_cannot_be_meant_is_refused(words, tags, message):
    with pytest.raises(InputError, match=f"tasks\\[0\\] in {message}"):
        _checked(t=_task(words, tags))


def test_what_is_rarely_meant_is_warned():
    numbers = [["1999", "12", "the"], ["3,5", "2-1", "7", "x"]]
    assert _checked(t=_task(numbers, TAGS)) == [
        "t: 71% of its train words are numbers: is word_column right (0-based)? (tasks[0] in my.toml)"]
    empty = [["_", "_", "the"], ["_", "_", "cat", "_"]]
    assert "71% of its train words are '_'" in _checked(t=_task(empty, TAGS))[0]
    tiny = [["a", "b"] * 300, ["c", "A"] * 300]
    assert _checked(t=_task(tiny, [["X", "Y"] * 300] * 2)) == [
        "t: its 1,200 train words have 3 distinct forms: is word_column right (0-based)? "
        "(tasks[0] in my.toml)"]
    ranges = [["DT", "_", "VBD"], ["DT", "NN", "VBD", "RP"]]
    assert _checked(t=_task(WORDS, ranges))[0].startswith(
        "t: 1 train tags (14.3%) are '_' (CoNLL-U's empty value; a CoNLL-U file read as columns")
    unseen = [["DT", "NNS", "VBD"], ["DT", "JJ", "VBZ", "RP"]]
    assert _checked(t=_task(WORDS, TAGS, unseen)) == [
        "t: 3 dev tokens have labels never seen in train, which the model cannot predict: "
        "'NNS', 'JJ', 'VBZ'"]
    big = _task(WORDS * 6, TAGS * 6)
    assert _checked(big=big, t=_task(WORDS[:1], TAGS[:1])) == [
        "t: 3 train tokens, 7.1% of big's 42: the original's schedules give it about that share of "
        "the batches (see --trainer temperature and loss_weight in docs/own-tasks.md)"]
    assert _checked(t=_task(WORDS, TAGS)) == []


def test_chance_level_is_the_majority_label_or_no_span():
    from utils.data.checks import chance_levels
    tags = {"pos": {"train": [["NN", "NN", "DT"]], "dev": [["NN", "DT", "DT", "VB"]]},
            "ner": {"train": [["O", "B-PER"]], "dev": [["O"]]}}
    # worked by hand: NN is train's most frequent POS tag, 1 of the 4 dev tokens
    assert chance_levels(tags, {"pos": "accuracy", "ner": "f1"}) == {"pos": 25.0, "ner": 0.0}


def test_a_conllu_file_read_as_columns_from_one_is_refused_before_anything_is_written(tmp_path):
    """The one-based mistake: `word_column = 2, tag_column = 5` on CoNLL-U (comments stripped)
    reads the lemma and feats columns; feats of this corpus are all `_`: one label, refused."""
    rows = "\n\n".join("\n".join(f"{i}\tw{i}\t_\tNOUN\tNN\t_\t0\tdep\t_\t_" for i in range(1, 4))
                       for _ in range(5))
    for split in ("train", "test"):
        (tmp_path / "ud" / f"{split}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "ud" / f"{split}.txt").write_text(rows + "\n")
    toml = tmp_path / "ud.toml"
    toml.write_text('name = "ud"\nembedding = "none"\n[[tasks]]\nname = "pos"\ncorpus = "ud"\n'
                    'word_column = 2\ntag_column = 5\nscheme = "plain"\n')
    done = subprocess.run([sys.executable, "prepare-data.py", "--tasks", str(toml), "--out",
                           str(tmp_path / "out")], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and \
        len(done.stderr.splitlines()) == 1, done.stderr
    assert "every word of task 'pos' is '_'" in done.stderr and "tasks[0] in" in done.stderr
    assert not (tmp_path / "out").exists()
