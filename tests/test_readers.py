"""Corpus readers: column files, OntoNotes, split-file lookup, tag-scheme normalisation."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import utils.paths
from utils.data.collect import split_off_dev
from utils.data.readers.columns import (CONLL03_COLUMNS, CONLL2000_COLUMNS, WSJ_POS_COLUMNS,
                                        read_column_file)
from utils.data.readers.locate import locate
from utils.data.readers.ontonotes import BracketError, ReadReport, brackets_to_bioes, read_ontonotes
from utils.data.readers.schemes import tags_in_scheme
from utils.errors import InputError

# ---- column files -------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_column_file_sentences_lines_and_docstart(tmp_path):
    path = write(tmp_path / "a.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
                 "\n\n-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n")
    read = read_column_file(path, CONLL03_COLUMNS, 4)
    assert read.words == [["EU", "rejects"], ["Peter"]]
    assert read.tags["ner"] == [["B-ORG", "O"], ["B-PER"]]
    assert read.tags["chunk"] == [["B-NP", "B-VP"], ["B-NP"]]
    assert read.first_lines == [3, 8]
    assert read.where(0, 1) == (str(path), 4)
    assert (read.n_sentences, read.n_tokens) == (2, 3)


def test_column_file_gz_and_crlf(tmp_path):
    path = tmp_path / "a.pos.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"The DT\r\ncat NN\r\n\r\n")
    read = read_column_file(path, WSJ_POS_COLUMNS, 2)
    assert read.words == [["The", "cat"]] and read.tags["pos"] == [["DT", "NN"]]


@pytest.mark.parametrize("text, message", [
    ("The DT\ncat NN B-NP\n", r"a.txt:2: expected 2 columns \(word pos\), found 3"),
    ("", "a.txt:1: file is empty"),
    ("\n \n\n", "a.txt:1: file is empty"),
    ("-DOCSTART- O\n\n", "a.txt:1: no sentences found"),
])
def test_column_file_errors(tmp_path, text, message):
    path = write(tmp_path / "a.txt", text)
    with pytest.raises(InputError, match=message):
        read_column_file(path, WSJ_POS_COLUMNS, 2)


def test_column_file_non_utf8_and_missing(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"The DT\n\xe9t\xe9 NN\n")
    with pytest.raises(InputError, match=r"a.txt:2: byte 0xe9 is not UTF-8"):
        read_column_file(path, WSJ_POS_COLUMNS, 2)
    with pytest.raises(InputError, match="missing.txt: file not found"):
        read_column_file(tmp_path / "missing.txt", WSJ_POS_COLUMNS, 2)


# ---- real corpora: the paper's Table 1 ----------------------------------------------------

@pytest.mark.parametrize("split, sentences, tokens", [
    ("train", 14041, 203621), ("dev", 3250, 51362), ("test", 3453, 46435)])
def test_conll03_counts(shared_data, split, sentences, tokens):
    read = read_column_file(shared_data / "conll03" / f"{split}.txt", CONLL03_COLUMNS, 4)
    assert (read.n_sentences, read.n_tokens) == (sentences, tokens)
    if split != "test":
        assert any("NN|SYM" in tags for tags in read.tags["pos"])


@pytest.mark.parametrize("split, sentences, tokens", [
    ("train", 8936, 211727), ("test", 2012, 47377)])
def test_conll2000_counts(shared_data, split, sentences, tokens):
    read = read_column_file(shared_data / "conll2000" / f"{split}.txt", CONLL2000_COLUMNS, 3)
    assert (read.n_sentences, read.n_tokens) == (sentences, tokens)


@pytest.mark.parametrize("split, sentences, tokens", [
    ("dev", 5527, 131768), ("test", 5462, 129654)])
def test_wsj_counts(shared_data, split, sentences, tokens):
    read = read_column_file(shared_data / "wsj_ptb" / f"{split}.pos", WSJ_POS_COLUMNS, 2)
    assert (read.n_sentences, read.n_tokens) == (sentences, tokens)


@pytest.mark.parametrize("split, sentences, tokens, pt_sentences", [
    # The paper's 1,903,815 train tokens: the v12 train file has 1,903,816, one of them in a
    # one-token sentence whose row lost a column (nw/p2.5_c2e_0034); the reader drops it.
    ("train", 94291, 1903815, 21520),
    ("development", 13900, 279495, 1780),
    ("test", 10348, 204235, 1869)])
def test_ontonotes_counts(ontonotes_splits, split, sentences, tokens, pt_sentences):
    read, report = ontonotes_splits[split]
    assert (read.n_sentences, read.n_tokens) == (sentences, tokens)
    assert report.dropped_genres == {"pt": pt_sentences}
    if split == "train":
        assert report.malformed == ["../shared/data/ontonotes/train.gold_conll.gz:610067"]
    else:
        assert report.malformed == []


def test_ontonotes_ner_converts_on_real_data(ontonotes_splits):
    read, _ = ontonotes_splits["development"]
    entities = 0
    for cells in read.tags["ner"]:
        tags = brackets_to_bioes(cells)
        entities += sum(tag[0] in "BS" for tag in tags)
    assert entities == sum(cell.startswith("(") for cells in read.tags["ner"] for cell in cells)
    assert entities > 10000


# ---- OntoNotes reader on small files --------------------------------------------------------

def onto_row(doc: str, index: int, word: str, pos: str, parse: str, ner: str = "*",
             extra: int = 0) -> str:
    return "  ".join([doc, "0", str(index), word, pos, parse, "-", "-", "-", "Speaker#1", ner]
                     + ["*"] * extra + ["-"])


ONTO_DOC = "\n".join([
    "#begin document (nw/wsj/00/wsj_0001); part 000",
    onto_row("nw/wsj/00/wsj_0001", 0, "Pierre", "NNP", "(TOP(S(NP*", "(PERSON*"),
    onto_row("nw/wsj/00/wsj_0001", 1, "Vinken", "NNP", "*)", "*)"),
    onto_row("nw/wsj/00/wsj_0001", 2, "sleeps", "VBZ", "(VP*)))", "*"),
    "",
    "#end document",
    "#begin document (pt/nt/40/nt_4001); part 000",
    onto_row("pt/nt/40/nt_4001", 0, "Amen", "UH", "(TOP(INTJ*))"),
    "",
    "#end document",
    "#begin document (nw/p2.5_c2e/00/p2.5_c2e_0034); part 000",
    "nw/p2.5_c2e/00/p2.5_c2e_0034   0   0    XX  *   -   -   -   -   *   *   -",
    "",
    onto_row("nw/p2.5_c2e/00/p2.5_c2e_0034", 0, "Yes", "UH", "(TOP(INTJ*))", "(CARDINAL)"),
    "",
    "#end document",
]) + "\n"


def test_ontonotes_small_file(tmp_path):
    path = tmp_path / "train.gold_conll.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(ONTO_DOC)
    report = ReadReport()
    read = read_ontonotes([path], ("pt",), report)
    assert read.words == [["Pierre", "Vinken", "sleeps"], ["Yes"]]
    assert read.tags["pos"] == [["NNP", "NNP", "VBZ"], ["UH"]]
    assert read.tags["parse"][0] == ["(TOP(S(NP*", "*)", "(VP*)))"]
    assert [brackets_to_bioes(c) for c in read.tags["ner"]] == [["B-PERSON", "E-PERSON", "O"],
                                                               ["S-CARDINAL"]]
    assert read.first_lines == [2, 14]
    assert report.dropped_genres == {"pt": 1}
    assert report.malformed == [f"{path}:12"]


@pytest.mark.parametrize("lines, message", [
    (["#begin document (nw/a/00/a_1); part 000", "nw/a/00/a_1 0 0 x NN"], "x.gold_conll:2: expected at least 12 columns"),
    (["#begin document (nw/a/00/a_1); part 000", onto_row("nw/a/00/a_1", 0, "a", "DT", "(TOP(NP*"),
      onto_row("nw/a/00/a_1", 1, "b", "NN", "*))", extra=1)], "x.gold_conll:3: expected 12 columns like"),
    ([onto_row("nw/a/00/a_1", 0, "a", "DT", "(TOP(NP*))")], "x.gold_conll:1: token row before"),
    (["#begin document nw; part 000"], "x.gold_conll:1: expected '#begin document"),
])
def test_ontonotes_errors(tmp_path, lines, message):
    path = write(tmp_path / "x.gold_conll", "\n".join(lines) + "\n")
    with pytest.raises(InputError, match=message):
        read_ontonotes([path])


@pytest.mark.parametrize("cells, tags", [
    ([], []),
    (["*", "(GPE)", "*"], ["O", "S-GPE", "O"]),
    (["(ORG*", "*", "*)", "(DATE*", "*)"], ["B-ORG", "I-ORG", "E-ORG", "B-DATE", "E-DATE"]),
    (["(WORK_OF_ART*", "*)"], ["B-WORK_OF_ART", "E-WORK_OF_ART"]),
])
def test_brackets_to_bioes(cells, tags):
    assert brackets_to_bioes(cells) == tags


@pytest.mark.parametrize("cells, index", [
    (["(ORG*", "(GPE)"], 1), (["*", "*)"], 1), (["(ORG*", "*"], 0), (["ORG"], 0), (["(*"], 0),
])
def test_brackets_to_bioes_errors(cells, index):
    with pytest.raises(BracketError) as err:
        brackets_to_bioes(cells)
    assert err.value.index == index


# ---- finding split files --------------------------------------------------------------------

def test_locate_folder_list_and_missing(tmp_path):
    for name in ("train.txt", "dev.txt", "test.txt"):
        write(tmp_path / "c" / name, "a NN B-NP O\n")
    found = locate(str(tmp_path / "c"), {}, tmp_path)
    assert found.origin == str(tmp_path / "c") and found.files["dev"] == [tmp_path / "c" / "dev.txt"]
    listed = ",".join(str(tmp_path / "c" / n) for n in ("test.txt", "dev.txt", "train.txt"))
    assert locate(listed, {}, tmp_path).files["train"] == [tmp_path / "c" / "test.txt"]
    two = locate(listed.rsplit(",", 1)[0], {}, tmp_path)       # train,test: no dev
    assert sorted(two.files) == ["test", "train"] and two.files["test"] == [tmp_path / "c" / "dev.txt"]
    with pytest.raises(InputError, match="expected 3 comma-separated files"):
        locate(listed + "," + listed, {}, tmp_path)
    # files named one by one win over the folder's
    other = write(tmp_path / "elsewhere.conll", "b NN B-NP O\n")
    assert locate(str(tmp_path / "c"), {"dev": str(other)}, tmp_path).files["dev"] == [other]
    (tmp_path / "c" / "dev.txt").unlink()
    assert "dev" not in locate(str(tmp_path / "c"), {}, tmp_path).files
    (tmp_path / "c" / "test.txt").unlink()
    with pytest.raises(InputError, match="c: missing the test split: no file named test\\*/testb\\*"):
        locate(str(tmp_path / "c"), {}, tmp_path)
    with pytest.raises(InputError, match="not one file"):
        locate(str(tmp_path / "c" / "train.txt"), {}, tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        locate(str(tmp_path / "nothing"), {}, tmp_path)


@pytest.mark.parametrize("names, split, found", [
    (["eng.train", "eng.testa", "eng.testb"], "dev", "eng.testa"),
    (["train.pos", "dev.pos", "test.pos", "README"], "test", "test.pos"),
    (["train.gold_conll.gz", "development.gold_conll.gz", "test.gold_conll.gz"], "dev",
     "development.gold_conll.gz"),
    (["Train.TXT", "valid.txt", "test.txt", ".train.swp", "train.txt~"], "train", "Train.TXT"),
])
def test_locate_split_names(tmp_path, names, split, found):
    for name in names:
        write(tmp_path / "c" / name, "a NN\n")
    assert locate("c", {}, tmp_path).files[split] == [tmp_path / "c" / found]


def test_locate_refuses_two_files_for_one_split(tmp_path):
    for name in ("train.txt", "train.txt.gz", "test.txt"):
        write(tmp_path / "c" / name, "a NN\n")
    with pytest.raises(InputError, match=r"two files for the train split \(train.txt, train.txt.gz\)"):
        locate("c", {}, tmp_path)


def test_locate_relative_paths_in_order(tmp_path, monkeypatch):
    """Beside the task-set file, the working folder, data/raw/, ../shared/data/."""
    beside, cwd, raw, shared = (tmp_path / name for name in ("beside", "cwd", "raw", "shared"))
    for folder in (beside, cwd, raw, shared):
        write(folder / "conll2000" / "train.txt", "a NN B-NP\n")
        write(folder / "conll2000" / "test.txt", "a NN B-NP\n")
    monkeypatch.setattr(utils.paths, "RAW_DATA_DIR", raw)
    monkeypatch.setattr(utils.paths, "SHARED_DATA_DIR", shared)
    monkeypatch.chdir(cwd)
    for folder in (beside, cwd, raw, shared):
        assert locate("conll2000", {}, beside).files["train"] == [folder / "conll2000" / "train.txt"]
        for name in ("train.txt", "test.txt"):
            (folder / "conll2000" / name).unlink()
        (folder / "conll2000").rmdir()
    with pytest.raises(InputError, match=r"conll2000: no such file or folder \(looked for .*beside"):
        locate("conll2000", {}, beside)


def test_locate_ontonotes_release_tree(tmp_path):
    root = tmp_path / "conll-2012" / "v4" / "data"
    for split in ("train", "development", "test"):
        for lang, name in (("english", "b"), ("english", "a"), ("chinese", "c")):
            write(root / split / "data" / lang / "annotations" / "nw" / f"{name}.v4_gold_conll",
                  ONTO_DOC)
    found = locate(str(tmp_path / "conll-2012"), {}, tmp_path, conll2012=True)
    assert [p.name for p in found.files["dev"]] == ["a.v4_gold_conll", "b.v4_gold_conll"]
    assert all("english" in p.parts for p in found.files["train"])
    read = read_ontonotes(found.files["test"])
    assert read.n_sentences == 4 and read.files[0].endswith("a.v4_gold_conll")


# ---- tag schemes of read columns ------------------------------------------------------------

def test_iob1_column_is_converted_and_reported(tmp_path):
    path = write(tmp_path / "eng.train", "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n"
                 "German JJ I-NP I-MISC\n\nPeter NNP I-NP I-PER\nPaul NNP I-NP B-PER\n")
    read = read_column_file(path, CONLL03_COLUMNS, 4)
    chunk, notes = tags_in_scheme(read, "chunk", "bio")
    assert chunk == [["B-NP", "B-VP", "B-NP"], ["B-NP", "I-NP"]]
    assert notes == [f"chunk: IOB1 -> BIO2 converted ({path})"]
    ner, notes = tags_in_scheme(read, "ner", "bioes")
    assert ner == [["S-ORG", "O", "S-MISC"], ["S-PER", "S-PER"]]
    assert notes[0].startswith("ner: IOB1 -> BIO2") and notes[1] == "ner: BIO2 -> BIOES"


def test_bioes_column_to_bio_and_its_errors(tmp_path):
    path = write(tmp_path / "a.txt", "a DT B-NP\nb NN E-NP\nc VBZ S-VP\n")
    read = read_column_file(path, CONLL2000_COLUMNS, 3)
    assert tags_in_scheme(read, "chunk", "bio") == ([["B-NP", "I-NP", "B-VP"]],
                                                     ["chunk: BIOES -> BIO2"])
    bad = write(tmp_path / "b.txt", "a DT B-NP\nb NN E-NP\nc VBZ I-VP\n")
    with pytest.raises(InputError, match=r"b.txt:3: .*bioes"):
        tags_in_scheme(read_column_file(bad, CONLL2000_COLUMNS, 3), "chunk", "bio")


def test_split_off_dev_draws_as_fastnlp_dataset_split():
    """The original's ptb chunk dev set: fastNLP 0.5.0's DataSet.split(0.1) after set_seed(1)."""
    from fastNLP import DataSet

    np_state = np.random.get_state()
    try:
        for n, share, seed in ((8936, 0.1, 1), (25, 0.3, 7)):
            np.random.seed(seed)
            train_set, dev_set = DataSet({"index": list(range(n))}).split(share)
            train, dev = split_off_dev(n, share, seed)
            assert dev == list(dev_set["index"]) and train == list(train_set["index"])
    finally:
        np.random.set_state(np_state)
    train, dev = split_off_dev(8936, 0.1, seed=1)
    assert len(dev) == 893 and sorted(train + dev) == list(range(8936))
    assert split_off_dev(8936, 0.1, seed=2)[1] != dev


# ---- CoNLL-U ----------------------------------------------------------------------------------
CONLLU = ("# newdoc id = d1\n"
          "# sent_id = s1\n"
          "# text = I don't know.\n"
          "1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing\t3\tnsubj\t_\t_\n"
          "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
          "2\tdo\tdo\tAUX\tVBP\tMood=Ind\t4\taux\t_\t_\n"
          "3\tn't\tnot\tPART\tRB\tPolarity=Neg\t4\tadvmod\t_\t_\n"
          "4\tknow\tknow\tVERB\tVB\tVerbForm=Inf\t0\troot\t_\tSpaceAfter=No\n"
          "4.1\tknows\t_\t_\t_\t_\t_\t_\t0:root\t_\n"
          "5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n"
          "\n"
          "# text = Go\n"
          "1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
          "\n")


def test_conllu_gives_the_syntactic_words_with_named_columns(tmp_path):
    from utils.data.readers.conllu import read_conllu_file
    path = write(tmp_path / "en-ud-train.conllu", CONLLU)
    read = read_conllu_file(path, {"x": "xpos", "u": "upos", "case": "feats:Case", "rel": "deprel"})
    # worked by hand: the range 2-3 (don't) gives only its surface form, 2 and 3 are the words;
    # the empty node 4.1 is not in the basic tree
    assert read.words == [["I", "do", "n't", "know", "."], ["Go"]]
    assert read.tags["x"] == [["PRP", "VBP", "RB", "VB", "."], ["VB"]]
    assert read.tags["u"] == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["VERB"]]
    assert read.tags["case"] == [["Nom", "_", "_", "_", "_"], ["_"]]
    assert read.tags["rel"][0] == ["nsubj", "aux", "advmod", "root", "punct"]
    assert read.sentence_ids == ["s1", None]
    assert read.where(0, 1) == (str(path), 6) and read.where(0, 4) == (str(path), 10)
    assert read.where(1) == (str(path), 13)
    lemmas = read_conllu_file(path, {}, word_column="lemma")
    assert lemmas.words[0] == ["I", "do", "not", "know", "."]
    drawn = read.select([1, 0])
    assert drawn.sentence_ids == [None, "s1"] and drawn.where(1, 4) == (str(path), 10)


@pytest.mark.parametrize("text, message", [
    ("1\tI\t_\tPRON\tPRP\t_\n", r"a.conllu:1: expected 10 tab-separated CoNLL-U columns"),
    ("1 I _ PRON PRP _ 0 root _ _\n", r"a.conllu:1: expected 10 tab-separated CoNLL-U columns"),
    ("1\tI\t_\tX\tX\t_\t0\troot\t_\t_\n# late = comment\n2\tam\t_\tX\tX\t_\t0\tx\t_\t_\n",
     r"a.conllu:2: a comment line inside a sentence"),
    ("1\tI\t_\tX\tX\t_\t0\troot\t_\t_\n3\tam\t_\tX\tX\t_\t0\tx\t_\t_\n",
     r"a.conllu:2: word ID 3 where 2 was expected"),
    ("one\tI\t_\tX\tX\t_\t0\troot\t_\t_\n", r"a.conllu:1: expected a word ID \(1, 2, ...\)"),
    ("# sent_id = 1\n\n", r"a.conllu:1: no sentences found; expected CoNLL-U word lines"),
])
def test_conllu_errors(tmp_path, text, message):
    from utils.data.readers.conllu import read_conllu_file
    path = write(tmp_path / "a.conllu", text)
    with pytest.raises(InputError, match=message):
        read_conllu_file(path, {"x": "xpos"})


def test_comment_lines_in_column_files(tmp_path):
    path = write(tmp_path / "a.txt", "# doc 1\n# sent 1\nThe DT\n# #\ncat NN\n\n#x\nDogs NNS\n")
    with pytest.raises(InputError, match=r"a.txt:1: a comment line, which the task does not "
                                         r"declare: set comment_prefix = \"#\""):
        read_column_file(path, WSJ_POS_COLUMNS, 2)
    read = read_column_file(path, WSJ_POS_COLUMNS, 2, comment_prefix="#")
    # inside a sentence a `#` line is a token (PTB has the word #)
    assert read.words == [["The", "#", "cat"], ["Dogs"]] and read.where(0, 2) == (str(path), 5)
    conllu = write(tmp_path / "b.conllu", CONLLU)
    with pytest.raises(InputError, match=r"b.conllu:1: a comment line, .* or format = \"conllu\""):
        read_column_file(conllu, {"pos": 4}, None)


def test_ud_file_names_give_their_split(tmp_path):
    for name in ("en_ewt-ud-train.conllu", "en_ewt-ud-dev.conllu", "en_ewt-ud-test.conllu"):
        write(tmp_path / "ud" / name, CONLLU)
    found = locate(str(tmp_path / "ud"), {}, tmp_path)
    assert {split: [p.name for p in files] for split, files in found.files.items()} == {
        "train": ["en_ewt-ud-train.conllu"], "dev": ["en_ewt-ud-dev.conllu"],
        "test": ["en_ewt-ud-test.conllu"]}
