"""Evaluation metrics: token accuracy (plain tags) and chunk span F1 (bio / bioes tags).

Both accumulate over `update` calls and are computed with numpy over all tokens of a batch at
once, so evaluating a whole dev set (~50k tokens) takes milliseconds.

Span F1 is micro-averaged over chunk types and equals fastNLP 0.5.0 `SpanFPreRecMetric`
(encoding_type "bio" / "bioes"), the metric the paper's code reported; on well-formed tags it is
conlleval's F1. Ill-formed predictions are decoded as fastNLP decodes them (see
`utils.data.tagschemes.get_spans`, the same rule one sentence at a time): a tag continues the current
chunk only if it is I-X (bio) or I-X/E-X (bioes) right after a B-X or I-X of the same type X;
O is outside; every other tag starts a new chunk. So an I-X after O or after another type starts
a chunk (as in conlleval), an E-X or I-X without a B-X starts one, a B-X followed by O is a
one-token chunk, and an E-X closes nothing (an I-X after it starts a new chunk). As in fastNLP,
chunk types are compared case-insensitively and a tag's prefix is its first character.
"""
from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Protocol, Sequence

import numpy as np
import torch

from utils.data.tagschemes import SCHEMES
from utils.training.yangjie_spans import DECODERS, tag_parts

# prefix codes of the span decoder
_OUT, _BEGIN, _INSIDE, _END, _SINGLE, _OTHER = range(6)
_PREFIX_CODES = {"o": _OUT, "b": _BEGIN, "i": _INSIDE, "e": _END, "s": _SINGLE}


class Metric(Protocol):
    """What the training loop uses: reset, add sentences, read {"score": percent, ...}."""

    def reset(self) -> None: ...

    def update(self, gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]]) -> None: ...

    def result(self) -> dict[str, float]: ...


SPAN_METRICS = ("conlleval", "yangjie")


def make_metric(scheme: str, labels: list[str], span: str = "conlleval") -> "AccuracyMetric | SpanF1Metric":
    """The task's metric: accuracy for "plain" tags; for "bio" / "bioes" the span F1 named by
    `span`: "conlleval" (= fastNLP SpanFPreRecMetric) or "yangjie" (the original's pruning metric)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if span not in SPAN_METRICS:
        raise ValueError(f"unknown span metric {span!r}; expected one of {', '.join(SPAN_METRICS)}")
    if scheme == "plain":
        return AccuracyMetric(len(labels))
    return YangJieSpanMetric(labels, scheme) if span == "yangjie" else SpanF1Metric(labels, scheme)


def make_metrics(scheme: str, labels: list[str],
                 metric: str = "") -> dict[str, "AccuracyMetric | SpanF1Metric"]:
    """Every metric of a task, by name: {"acc": ...} for plain tags or a task scored by
    `metric` "accuracy", else one per span metric."""
    if scheme == "plain" or metric == "accuracy":
        return {"acc": AccuracyMetric(len(labels))}
    return {span: make_metric(scheme, labels, span) for span in SPAN_METRICS}


def _flatten(gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]],
             n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate per-sentence label ids; return (gold, pred, sentence lengths) as int64 arrays."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    lengths = np.fromiter((len(s) for s in gold), dtype=np.int64, count=len(gold))
    pred_lengths = np.fromiter((len(s) for s in pred), dtype=np.int64, count=len(pred))
    if not np.array_equal(lengths, pred_lengths):
        bad = int(np.flatnonzero(lengths != pred_lengths)[0])
        raise ValueError(f"sentence {bad}: {lengths[bad]} gold labels but {pred_lengths[bad]} predicted")
    gold_flat, pred_flat = _concat(gold), _concat(pred)
    _check_ids(gold_flat, pred_flat, n_labels)
    return gold_flat, pred_flat, lengths


def _check_ids(gold_flat: np.ndarray, pred_flat: np.ndarray, n_labels: int) -> None:
    for name, ids in (("gold", gold_flat), ("predicted", pred_flat)):
        if ids.size and (ids.min() < 0 or ids.max() >= n_labels):
            raise ValueError(f"{name} label id out of range 0..{n_labels - 1}")


def _concat(sentences: Sequence[Sequence[int]]) -> np.ndarray:
    if len(sentences) and all(isinstance(s, torch.Tensor) for s in sentences):
        return torch.cat([s.reshape(-1) for s in sentences]).cpu().numpy().astype(np.int64)
    return np.fromiter(chain.from_iterable(sentences), dtype=np.int64)


class AccuracyMetric:
    """Token accuracy. result(): {"score": percent, "acc": fraction}."""

    def __init__(self, n_labels: int) -> None:
        self.n_labels = n_labels
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]]) -> None:
        """Add sentences: label ids per sentence (lists or 1-D tensors of equal lengths)."""
        self._count(*_flatten(gold, pred, self.n_labels))

    def _count(self, gold_flat: np.ndarray, pred_flat: np.ndarray, _lengths: np.ndarray) -> None:
        self.correct += int(np.count_nonzero(gold_flat == pred_flat))
        self.total += int(gold_flat.size)

    def result(self) -> dict[str, float]:
        acc = self.correct / self.total if self.total else 0.0
        return {"score": 100.0 * acc, "acc": acc}


class SpanF1Metric:
    """Micro span F1 over chunk types. result(): {"score": F1 percent, "f", "pre", "rec": fractions}."""

    def __init__(self, labels: list[str], scheme: str) -> None:
        if scheme not in ("bio", "bioes"):
            raise ValueError(f"span F1 needs a bio or bioes scheme, got {scheme!r}")
        self.labels = list(labels)
        self.scheme = scheme
        prefixes, types = _label_table(self.labels)
        self._prefix = prefixes
        self._type = types
        self._continuing = np.array([_INSIDE] if scheme == "bio" else [_INSIDE, _END])
        self.reset()

    def reset(self) -> None:
        self.true_positives = 0
        self.n_gold = 0
        self.n_pred = 0

    def update(self, gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]]) -> None:
        """Add sentences: label ids per sentence (lists or 1-D tensors of equal lengths)."""
        self._count(*_flatten(gold, pred, len(self.labels)))

    def _count(self, gold_flat: np.ndarray, pred_flat: np.ndarray, lengths: np.ndarray) -> None:
        sentence_start = np.zeros(gold_flat.size, dtype=bool)
        offsets = np.cumsum(lengths) - lengths
        sentence_start[offsets[lengths > 0]] = True
        gold_start, gold_end = self._decode(gold_flat, sentence_start)
        pred_start, pred_end = self._decode(pred_flat, sentence_start)
        both = gold_start & pred_start
        same = both & (gold_end == pred_end) & (self._type[gold_flat] == self._type[pred_flat])
        self.true_positives += int(np.count_nonzero(same))
        self.n_gold += int(np.count_nonzero(gold_start))
        self.n_pred += int(np.count_nonzero(pred_start))

    def _decode(self, ids: np.ndarray, sentence_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per token: whether a chunk starts there, and (where one does) its exclusive end."""
        prefix, types = self._prefix[ids], self._type[ids]
        follows_open = np.zeros(ids.size, dtype=bool)
        follows_open[1:] = np.isin(prefix[:-1], (_BEGIN, _INSIDE)) & (types[1:] == types[:-1])
        continues = np.isin(prefix, self._continuing) & follows_open & ~sentence_start
        starts = (prefix != _OUT) & ~continues
        # a chunk runs from its start up to the next token that does not continue it
        breaks = np.append(np.flatnonzero(~continues), ids.size)
        ends = np.zeros(ids.size, dtype=np.int64)
        start_positions = np.flatnonzero(starts)
        ends[start_positions] = breaks[np.searchsorted(breaks, start_positions, side="right")]
        return starts, ends

    def result(self) -> dict[str, float]:
        tp = self.true_positives
        pre = tp / self.n_pred if self.n_pred else 0.0
        rec = tp / self.n_gold if self.n_gold else 0.0
        f = 2 * tp / (self.n_pred + self.n_gold) if tp else 0.0
        return {"score": 100.0 * f, "f": f, "pre": pre, "rec": rec}


def _label_table(labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per label id: its prefix code and an id of its (lower-cased) chunk type, as fastNLP reads them."""
    type_ids: dict[str, int] = {}
    prefixes, types = [], []
    for label in labels:
        lowered = label.lower()
        prefixes.append(_PREFIX_CODES.get(lowered[:1], _OTHER))
        types.append(type_ids.setdefault(lowered[2:], len(type_ids)))
    return np.array(prefixes, dtype=np.int64), np.array(types, dtype=np.int64)


class YangJieSpanMetric(SpanF1Metric):
    """Span F1 counted as SpanF1Metric counts it, on spans decoded by the original code's pruning
    metric (utils.training.yangjie_spans), one sentence at a time in Python."""

    def __init__(self, labels: list[str], scheme: str) -> None:
        super().__init__(labels, scheme)
        self.decode = DECODERS[scheme]
        self.parts = [tag_parts(label) for label in self.labels]
        self.outside = np.array([kind == "O" for kind, _ in self.parts])

    def _count(self, gold_flat: np.ndarray, pred_flat: np.ndarray, lengths: np.ndarray) -> None:
        ends = np.cumsum(lengths)
        # sentences all O in gold and prediction have no spans: skip them in bulk
        inside = np.add.reduceat(~self.outside[gold_flat] | ~self.outside[pred_flat],
                                 ends - lengths) if gold_flat.size else np.zeros(0)
        for end, n, busy in zip(ends.tolist(), lengths.tolist(), (inside > 0).tolist()):
            if not (busy and n):
                continue
            gold = Counter(self.decode([self.parts[i] for i in gold_flat[end - n:end].tolist()]))
            pred = Counter(self.decode([self.parts[i] for i in pred_flat[end - n:end].tolist()]))
            self.true_positives += sum((gold & pred).values())
            self.n_gold += sum(gold.values())
            self.n_pred += sum(pred.values())
