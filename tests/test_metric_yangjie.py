"""The original's single-task pruning metric (--metric yangjie) on hand-made sequences whose spans
and scores are worked out by hand, beside conlleval's (= fastNLP SpanFPreRecMetric) on the same;
and which of the two selects the epoch."""
from __future__ import annotations

import pytest

from utils.data.tagschemes import get_spans
from utils.training.metrics import make_metric, make_metrics
from utils.training.yangjie_spans import DECODERS, tag_parts

# (tags, the original's spans, conlleval's spans); spans as (type, start, exclusive end)
BIO_CASES = [
    (["B-NP", "I-NP", "O", "B-VP"], [("NP", 0, 2), ("VP", 3, 4)], [("NP", 0, 2), ("VP", 3, 4)]),
    # an I-X after O starts nothing in the original, a chunk in conlleval
    (["O", "I-NP", "I-NP", "O"], [], [("NP", 1, 3)]),
    # an I of another type closes the span and starts nothing
    (["B-NP", "I-VP", "O"], [("NP", 0, 1)], [("NP", 0, 1), ("VP", 1, 2)]),
    # a chunk reaching the sentence end is kept as one token
    (["O", "B-NP", "I-NP", "I-NP"], [("NP", 1, 2)], [("NP", 1, 4)]),
    (["B-NP", "B-NP", "I-NP"], [("NP", 0, 1), ("NP", 1, 2)], [("NP", 0, 1), ("NP", 1, 3)]),
]
BIOES_CASES = [
    (["B-PER", "E-PER", "O", "S-LOC"], [("PER", 0, 2), ("LOC", 3, 4)],
     [("PER", 0, 2), ("LOC", 3, 4)]),
    # O does not close a span: B ... E is one span across it
    (["B-PER", "O", "E-PER"], [("PER", 0, 3)], [("PER", 0, 1), ("PER", 2, 3)]),
    # E without a B is ignored, and so is I
    (["E-LOC", "S-PER", "I-PER"], [("PER", 1, 2)], [("LOC", 0, 1), ("PER", 1, 2), ("PER", 2, 3)]),
    # E closes the open span whatever its type; the span keeps the B's type
    (["B-PER", "E-LOC"], [("PER", 0, 2)], [("PER", 0, 1), ("LOC", 1, 2)]),
    # an unclosed span at the end is kept as one token; S closes the open span first
    (["B-ORG", "I-ORG"], [("ORG", 0, 1)], [("ORG", 0, 2)]),
    (["B-PER", "S-LOC"], [("PER", 0, 1), ("LOC", 1, 2)], [("PER", 0, 1), ("LOC", 1, 2)]),
]


def original_spans(tags, scheme):
    """The original's decoding of one sentence, as the yangjie metric runs it."""
    return DECODERS[scheme]([tag_parts(t) for t in tags])


def test_the_original_compares_tags_upper_cased():
    assert original_spans(["b-np", "i-NP", "o"], "bio") == [("NP", 0, 2)]
    assert original_spans(["b-per", "e-Per"], "bioes") == [("PER", 0, 2)]


def conlleval(tags, scheme):
    return sorted((t, s, e) for t, s, e in get_spans(tags, scheme))


@pytest.mark.parametrize("tags, original, standard", BIO_CASES)
def test_bio_spans_by_hand(tags, original, standard):
    assert sorted(original_spans(tags, "bio")) == sorted(original)
    assert conlleval(tags, "bio") == sorted(standard)


@pytest.mark.parametrize("tags, original, standard", BIOES_CASES)
def test_bioes_spans_by_hand(tags, original, standard):
    assert sorted(original_spans(tags, "bioes")) == sorted(original)
    assert conlleval(tags, "bioes") == sorted(standard)


def score(kind, scheme, labels, gold, pred):
    index = {label: i for i, label in enumerate(labels)}
    metric = make_metric(scheme, labels, kind)
    metric.update([[index[t] for t in s] for s in gold], [[index[t] for t in s] for s in pred])
    return metric.result()


def test_bio_scores_by_hand():
    labels = ["O", "B-NP", "I-NP", "B-VP", "I-VP"]
    gold = [["B-NP", "I-NP", "O", "B-VP", "I-VP"], ["O", "B-NP"]]
    pred = [["B-NP", "I-NP", "O", "B-VP", "O"], ["O", "I-NP"]]
    # original: gold NP(0,2) VP(3,4) [end-shortened] | NP(1,2); pred NP(0,2) VP(3,4) | nothing
    #   -> 2 correct of 2 predicted, 3 gold: F1 = 2*2 / (2+3) = 0.8
    # conlleval: gold NP(0,2) VP(3,5) | NP(1,2); pred NP(0,2) VP(3,4) | NP(1,2)
    #   -> 2 correct of 3 predicted, 3 gold: F1 = 4/6
    original = score("yangjie", "bio", labels, gold, pred)
    assert (original["f"], original["pre"], original["rec"]) == pytest.approx((0.8, 1.0, 2 / 3))
    assert original["score"] == pytest.approx(80.0)
    assert score("conlleval", "bio", labels, gold, pred)["f"] == pytest.approx(4 / 6)


def test_bioes_scores_by_hand():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
    gold = [["B-PER", "E-PER", "O", "S-LOC"], ["B-PER", "I-PER", "E-PER"]]
    pred = [["B-PER", "O", "E-PER", "S-LOC"], ["B-PER", "I-PER", "E-PER"]]
    # original: gold PER(0,2) LOC(3,4) | PER(0,3); pred PER(0,3) LOC(3,4) | PER(0,3): 2 of 3, 3
    # conlleval: pred PER(0,1) PER(2,3) LOC(3,4) | PER(0,3): 2 of 4 predicted, 3 gold
    assert score("yangjie", "bioes", labels, gold, pred)["f"] == pytest.approx(4 / 6)
    assert score("conlleval", "bioes", labels, gold, pred)["f"] == pytest.approx(4 / 7)
    perfect = score("yangjie", "bioes", labels, gold, gold)
    assert perfect["f"] == 1.0 and perfect["score"] == 100.0


def test_every_metric_of_a_task_and_bad_names():
    assert set(make_metrics("plain", ["NN"])) == {"acc"}
    assert set(make_metrics("bioes", ["O", "S-X"])) == {"conlleval", "yangjie"}
    with pytest.raises(ValueError, match="yangjie"):
        make_metric("bio", ["O", "B-X"], "ncrf")
