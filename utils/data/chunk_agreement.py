"""How well chunks derived from OntoNotes parses agree with the CoNLL-2000 gold chunks.

Both corpora hold Wall Street Journal sentences. A sentence is matched when its words are the
same in both (brackets compared as written in CoNLL-2000: `-LRB-` = `(` and so on); the figure is
the share of tokens of the matched sentences whose derived tag equals the gold tag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LCB-": "{", "-RCB-": "}", "-LSB-": "[", "-RSB-": "]"}


@dataclass
class Agreement:
    sentences: int
    tokens: int
    agreeing: int

    @property
    def rate(self) -> float:
        return self.agreeing / self.tokens if self.tokens else 0.0

    def to_dict(self) -> dict:
        return {"matched_sentences": self.sentences, "tokens": self.tokens,
                "agreeing_tokens": self.agreeing, "agreement": round(self.rate, 4)}


def sentence_key(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(BRACKETS.get(word, word) for word in words)


def chunk_agreement(derived: Iterable[tuple[Sequence[str], Sequence[str]]],
                    gold: Iterable[tuple[Sequence[str], Sequence[str]]]) -> Agreement:
    """Token agreement of `derived` (words, chunk tags) with `gold` (words, chunk tags) on the
    sentences both contain; each gold sentence is used once."""
    gold_by_key = {}
    for words, tags in gold:
        gold_by_key.setdefault(sentence_key(words), tags)
    sentences = tokens = agreeing = 0
    for words, tags in derived:
        gold_tags = gold_by_key.pop(sentence_key(words), None)
        if gold_tags is None:
            continue
        sentences += 1
        tokens += len(tags)
        agreeing += sum(a == b for a, b in zip(tags, gold_tags))
    return Agreement(sentences, tokens, agreeing)
