"""Small data fixtures for the model, trainer and pruning tests (plus a check of the fixtures).

`synthetic_data` builds a PreparedData with two tasks whose labels follow from the words (so a
model can learn them); `conll03_sample` reads the first sentences of ../shared/data/conll03.
Other test files import these with `from test_model_fixtures import ...`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from needs import need_corpus
from utils.data.datafile import PreparedData, encode_split, index_of
from utils.paths import SHARED_DATA_DIR

CONLL03 = SHARED_DATA_DIR / "conll03"


def synthetic_data(n_train: int = 60, n_eval: int = 20, seed: int = 0, word_dim: int = 8,
                   vocab: int = 30) -> PreparedData:
    """Two tasks: "pos" (plain: word id mod 3) and "ner" (bioes: words 0..5 are one-token
    entities, the rest O). Sentences of 1 to 12 words drawn at random."""
    gen = torch.Generator().manual_seed(seed)
    word_list = [f"w{i}" for i in range(vocab)]
    pos_labels, ner_labels = ["A", "B", "C"], ["O", "S-X", "B-X", "E-X"]

    def sentences(n: int) -> list[list[str]]:
        lengths = torch.randint(1, 13, (n,), generator=gen).tolist()
        return [[word_list[i] for i in torch.randint(vocab, (k,), generator=gen).tolist()]
                for k in lengths]

    def pos_tags(sents):
        return [[pos_labels[int(w[1:]) % 3] for w in s] for s in sents]

    def ner_tags(sents):
        return [["S-X" if int(w[1:]) < 6 else "O" for w in s] for s in sents]

    words = ["<pad>", "<unk>"] + word_list
    chars = ["<pad>", "<unk>"] + sorted({c for w in word_list for c in w})
    wi, ci = index_of(words), index_of(chars)
    splits = {"train": sentences(n_train), "dev": sentences(n_eval), "test": sentences(n_eval)}
    data = {
        "pos": {s: encode_split(x, pos_tags(x), wi, ci, index_of(pos_labels)) for s, x in splits.items()},
        "ner": {s: encode_split(x, ner_tags(x), wi, ci, index_of(ner_labels)) for s, x in splits.items()},
    }
    embedding = torch.randn(len(words), word_dim, generator=gen)
    return PreparedData("synthetic", ["pos", "ner"], {"pos": "plain", "ner": "bioes"}, words, chars,
                        {"pos": pos_labels, "ner": ner_labels}, embedding, data,
                        {"fixture": True, "task_set": {"tasks": {
                            "pos": column_task(1, "plain"), "ner": column_task(2, "bioes")}}},
                        layers={"pos": 1})      # as settings/conll03.toml: POS reads layer 1


def column_task(tag_column: int, scheme: str) -> dict:
    """A task of the task-set record of a data file (utils.data.prepare.task_set_record): tags in
    `tag_column` of a column file (the layout the tests write their CoNLL files in)."""
    return {"format": "columns", "word_column": 0, "tag_column": tag_column, "scheme": scheme}


def with_chunk_copy(data: PreparedData) -> PreparedData:
    """The fixture with a third task between pos and ner: chunk, a copy of pos (the scripts'
    three tasks of conll03)."""
    data.tasks = ["pos", "chunk", "ner"]
    data.schemes["chunk"], data.labels["chunk"], data.data["chunk"] = (
        "plain", data.labels["pos"], data.data["pos"])
    data.metrics["chunk"], data.layers["chunk"] = "accuracy", None
    data.provenance["task_set"]["tasks"] = {"pos": column_task(1, "plain"),
                                            "chunk": column_task(2, "plain"),
                                            "ner": column_task(3, "bioes")}
    return data


def read_conll03(path: Path, n_sentences: int) -> list[list[list[str]]]:
    """The first sentences of a CoNLL-2003 file as rows of [word, pos, chunk, ner]."""
    sentences, current = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            cols = line.split()
            if not cols or cols[0] == "-DOCSTART-":
                if current:
                    sentences.append(current)
                    current = []
                    if len(sentences) == n_sentences:
                        break
                continue
            current.append(cols)
    return sentences


def conll03_sample(n_train: int = 200, n_eval: int = 100) -> PreparedData:
    """POS, chunk and NER on the first sentences of the real CoNLL-2003 files (BIO tags)."""
    need_corpus("conll03")
    raw = {"train": read_conll03(CONLL03 / "train.txt", n_train),
           "dev": read_conll03(CONLL03 / "dev.txt", n_eval),
           "test": read_conll03(CONLL03 / "test.txt", n_eval)}
    tasks = ["pos", "chunk", "ner"]
    all_rows = [row for sents in raw.values() for s in sents for row in s]
    words = ["<pad>", "<unk>"] + sorted({r[0].lower() for r in all_rows})    # one row per form
    chars = ["<pad>", "<unk>"] + sorted({c for r in all_rows for c in r[0]})
    labels = {t: sorted({r[1 + i] for r in all_rows}) for i, t in enumerate(tasks)}
    wi, ci = index_of(words), index_of(chars)
    data = {t: {split: encode_split([[r[0] for r in s] for s in sents],
                                    [[r[1 + i] for r in s] for s in sents], wi, ci, index_of(labels[t]))
                for split, sents in raw.items()} for i, t in enumerate(tasks)}
    return PreparedData("conll03-sample", tasks, {"pos": "plain", "chunk": "bio", "ner": "bio"},
                        words, chars, labels, None, data, {"fixture": True})


def test_synthetic_data_is_consistent():
    data = synthetic_data()
    for task in data.tasks:
        split = data.data[task]["train"]
        assert split.n_sentences == 60
        assert int(split.sent_lengths.sum()) == split.n_tokens
        assert int(split.word_lengths.sum()) == split.chars.numel()
        assert int(split.labels.max()) < len(data.labels[task])


def test_conll03_sample_reads_real_sentences():
    data = conll03_sample(5, 5)
    first = data.data["ner"]["train"]
    assert first.n_sentences == 5
    assert [data.words[i] for i in first.words[:3].tolist()] == ["eu", "rejects", "german"]
    assert [data.labels["ner"][i] for i in first.labels[:3].tolist()] == ["B-ORG", "O", "B-MISC"]
