"""Metrics: accuracy and span F1, checked by hand and against fastNLP 0.5.0 on CoNLL-2003 dev."""
from pathlib import Path

import numpy as np
import pytest
import torch

from needs import need_corpus, need_module
from utils.data.readers.columns import CONLL03_COLUMNS, read_column_file
from utils.data.tagschemes import bio_to_bioes, get_spans
from utils.paths import SHARED_DATA_DIR
from utils.training.metrics import AccuracyMetric, SpanF1Metric, make_metric

CONLL03_DEV = SHARED_DATA_DIR / "conll03" / "dev.txt"

@pytest.fixture
def corpus_and_fastnlp():
    """The CoNLL-2003 dev file and fastNLP (the oracle), or a skip (a failure under CI=true)."""
    need_corpus("conll03", "dev.txt")
    need_module("fastNLP", "the metric oracle")


needs_corpus = pytest.mark.usefixtures("corpus_and_fastnlp")
NOISE_LEVELS = (0.0, 0.05, 0.2, 0.5)


def read_conll_column(path: Path, column: int) -> list[list[str]]:
    """Sentences of one tag column of a CoNLL-2003 file, read by the project's reader."""
    name = {index: name for name, index in CONLL03_COLUMNS.items()}[column]
    return read_column_file(path, CONLL03_COLUMNS, 4).tags[name]


def dev_tags(task: str) -> list[list[str]]:
    column = {"pos": 1, "chunk": 2, "ner": 3, "ner-bioes": 3}[task]
    sentences = read_conll_column(CONLL03_DEV, column)
    return [bio_to_bioes(s) for s in sentences] if task == "ner-bioes" else sentences


def fastnlp_vocab(sentences: list[list[str]]):
    """A fastNLP tag Vocabulary (no pad/unk) and our label list in the same id order."""
    from fastNLP import Vocabulary
    vocab = Vocabulary(unknown=None, padding=None)
    for sentence in sentences:
        vocab.add_word_lst(sentence)
    vocab.build_vocab()
    return vocab, [vocab.to_word(i) for i in range(len(vocab))]


def corrupt(gold: list[list[int]], n_labels: int, rate: float, seed: int) -> list[list[int]]:
    """Replace each label, with probability `rate`, by a uniformly random label."""
    rng = np.random.default_rng(seed)
    pred = []
    for sentence in gold:
        ids = np.array(sentence)
        hit = rng.random(ids.size) < rate
        ids[hit] = rng.integers(0, n_labels, int(hit.sum()))
        pred.append(ids.tolist())
    return pred


def padded_batches(gold, pred, batch_size=512):
    """(pred, target, seq_len) tensors in fastNLP's layout, zero-padded."""
    for first in range(0, len(gold), batch_size):
        g, p = gold[first:first + batch_size], pred[first:first + batch_size]
        lengths = torch.tensor([len(s) for s in g])
        target = torch.zeros(len(g), int(lengths.max()), dtype=torch.long)
        prediction = torch.zeros_like(target)
        for row, (gs, ps) in enumerate(zip(g, p)):
            target[row, :len(gs)] = torch.tensor(gs)
            prediction[row, :len(ps)] = torch.tensor(ps)
        yield prediction, target, lengths


def encode(sentences, labels):
    index = {label: i for i, label in enumerate(labels)}
    return [[index[t] for t in s] for s in sentences]


@needs_corpus
@pytest.mark.parametrize("task, scheme", [("chunk", "bio"), ("ner", "bio"), ("ner-bioes", "bioes")])
def test_span_f1_equals_fastnlp_on_conll03_dev(task, scheme):
    from fastNLP import SpanFPreRecMetric
    tags = dev_tags(task)
    vocab, labels = fastnlp_vocab(tags)
    gold = encode(tags, labels)
    for seed, rate in enumerate(NOISE_LEVELS):
        pred = corrupt(gold, len(labels), rate, seed)
        oracle = SpanFPreRecMetric(vocab, encoding_type=scheme)
        for p, t, n in padded_batches(gold, pred):
            oracle.evaluate(p, t, n)
        expected = oracle.get_metric()
        ours = make_metric(scheme, labels)
        for first in range(0, len(gold), 700):  # accumulates over several updates
            ours.update(gold[first:first + 700], pred[first:first + 700])
        got = ours.result()
        for key in ("f", "pre", "rec"):
            assert got[key] == pytest.approx(expected[key], abs=1e-6), (task, rate, key)
        assert got["score"] == pytest.approx(100 * got["f"])
        if rate == 0.0:
            assert got["f"] == 1.0
        else:
            assert got["f"] < 1.0


@needs_corpus
@pytest.mark.parametrize("task, scheme", [("ner", "bio"), ("ner-bioes", "bioes")])
def test_get_spans_decodes_like_fastnlp(task, scheme):
    from fastNLP.core.metrics import _bio_tag_to_spans, _bioes_tag_to_spans
    oracle = _bio_tag_to_spans if scheme == "bio" else _bioes_tag_to_spans
    tags = dev_tags(task)
    _, labels = fastnlp_vocab(tags)
    pred = corrupt(encode(tags, labels), len(labels), 0.3, seed=7)
    for sentence in pred:
        strings = [labels[i] for i in sentence]
        ours = [(t.lower(), (s, e)) for t, s, e in get_spans(strings, scheme)]
        assert ours == oracle(strings)


@needs_corpus
def test_accuracy_equals_fastnlp_on_conll03_pos():
    from fastNLP import AccuracyMetric as FastAccuracy
    tags = dev_tags("pos")
    _, labels = fastnlp_vocab(tags)
    gold = encode(tags, labels)
    for seed, rate in enumerate(NOISE_LEVELS):
        pred = corrupt(gold, len(labels), rate, seed)
        oracle = FastAccuracy()
        for p, t, n in padded_batches(gold, pred):
            oracle.evaluate(p, t, n)
        ours = make_metric("plain", labels)
        ours.update(gold, pred)
        got = ours.result()
        assert got["acc"] == pytest.approx(oracle.get_metric()["acc"], abs=1e-6)
        assert got["score"] == pytest.approx(100 * got["acc"])


@needs_corpus
def test_input_forms_agree():
    tags = dev_tags("ner-bioes")
    _, labels = fastnlp_vocab(tags)
    gold = encode(tags, labels)
    pred = corrupt(gold, len(labels), 0.2, seed=3)
    as_lists = make_metric("bioes", labels)
    as_lists.update(gold, pred)
    as_tensors = make_metric("bioes", labels)
    as_tensors.update([torch.tensor(s) for s in gold], [torch.tensor(s) for s in pred])
    assert as_lists.result() == as_tensors.result()


BIO = ["O", "B-X", "I-X", "B-Y", "I-Y"]
BIOES = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"]


def ids(tags, labels):
    return [labels.index(t) for t in tags]


@pytest.mark.parametrize("gold, pred, tp, n_gold, n_pred", [
    # I-X after O starts a chunk, as B-X would
    (["O", "B-X", "I-X"], ["O", "I-X", "I-X"], 1, 1, 1),
    # a type change inside a chunk splits it
    (["B-X", "I-X", "O"], ["B-X", "I-Y", "O"], 0, 1, 2),
    # a chunk at the end of one sentence does not run into the next sentence
    (["B-X", "I-X"], ["B-X", "I-X"], 1, 1, 1),
], ids=["iob1-start", "type-change", "sentence-end"])
def test_span_counts_bio_by_hand(gold, pred, tp, n_gold, n_pred):
    metric = SpanF1Metric(BIO, "bio")
    metric.update([ids(gold, BIO), ids(["I-X"], BIO)], [ids(pred, BIO), ids(["I-X"], BIO)])
    assert (metric.true_positives, metric.n_gold, metric.n_pred) == (tp + 1, n_gold + 1, n_pred + 1)


@pytest.mark.parametrize("gold, pred, tp, n_gold, n_pred", [
    (["B-X", "E-X", "O"], ["O", "E-X", "O"], 0, 1, 1),          # E- without B- is a chunk of its own
    (["S-X", "O", "O"], ["B-X", "O", "O"], 1, 1, 1),             # unclosed B- is a one-token chunk
    (["B-X", "I-X", "E-X"], ["B-X", "E-X", "E-X"], 0, 1, 2),     # E- closes nothing: E-X starts anew
    (["S-X", "S-X", "O"], ["S-X", "I-X", "O"], 2, 2, 2),         # I- after S- starts a new chunk
    (["S-X", "S-X", "O"], ["S-X", "E-X", "E-X"], 2, 2, 3),       # E- after S- or E- starts anew
    (["B-Y", "E-Y", "S-X"], ["B-Y", "I-Y", "S-X"], 2, 2, 2),     # unclosed B-Y I-Y is the chunk 0..2
], ids=["orphan-E", "unclosed-B", "E-E", "S-I", "S-E-E", "unclosed-B-I"])
def test_span_counts_bioes_by_hand(gold, pred, tp, n_gold, n_pred):
    metric = SpanF1Metric(BIOES, "bioes")
    metric.update([ids(gold, BIOES)], [ids(pred, BIOES)])
    assert (metric.true_positives, metric.n_gold, metric.n_pred) == (tp, n_gold, n_pred)


def test_span_result_values_and_reset():
    metric = make_metric("bio", BIO)
    # gold chunks: X 0..2, Y 3..4, Y 5..6; predicted: X 0..2, Y 3..5
    metric.update([ids(["B-X", "I-X", "O", "B-Y", "O", "B-Y"], BIO)],
                  [ids(["B-X", "I-X", "O", "B-Y", "I-Y", "O"], BIO)])
    result = metric.result()
    assert result["pre"] == pytest.approx(1 / 2)
    assert result["rec"] == pytest.approx(1 / 3)
    assert result["f"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert result["score"] == pytest.approx(100 * result["f"])
    metric.reset()
    assert metric.result() == {"score": 0.0, "f": 0.0, "pre": 0.0, "rec": 0.0}


def test_empty_sentences_are_allowed():
    metric = make_metric("bio", BIO)
    metric.update([[], ids(["B-X"], BIO), []], [[], ids(["B-X"], BIO), []])
    assert metric.result()["f"] == 1.0
    accuracy = make_metric("plain", ["NN", "VB"])
    accuracy.update([[], [0, 1]], [[], [0, 0]])
    assert accuracy.result() == {"score": 50.0, "acc": 0.5}


def test_make_metric_kinds_and_bad_input():
    assert isinstance(make_metric("plain", ["NN"]), AccuracyMetric)
    assert isinstance(make_metric("bioes", BIOES), SpanF1Metric)
    assert make_metric("plain", ["NN"]).result() == {"score": 0.0, "acc": 0.0}
    with pytest.raises(ValueError):
        make_metric("iob", BIO)
    metric = make_metric("bio", BIO)
    with pytest.raises(ValueError, match="sentence 1"):
        metric.update([[0], [1, 2]], [[0], [1]])
    with pytest.raises(ValueError, match="out of range"):
        metric.update([[0]], [[len(BIO)]])
