"""Chunks from parse bits: the rule on small trees, and agreement with CoNLL-2000 on real data."""
from __future__ import annotations

import pytest

from utils.data.chunk_agreement import chunk_agreement
from utils.data.parse_chunks import ParseBitError, chunks_from_parse
from utils.data.readers.columns import CONLL2000_COLUMNS, read_column_file
from utils.data.tagschemes import check_tags

CASES = {
    "simple clause": ("DT JJ NN VBZ .", ["(TOP(S(NP*", "*", "*)", "(VP*)", "*))"],
                      "B-NP I-NP I-NP B-VP O"),
    "function tags": ("PRP VBD", ["(S(NP-SBJ-1*)", "(VP*))"], "B-NP B-VP"),
    "preposition": ("IN DT NN", ["(PP*", "(NP*", "*))"], "B-PP B-NP I-NP"),
    "verb chain": ("VBZ VBN VBG", ["(VP*", "(VP*", "(VP*)))"], "B-VP I-VP I-VP"),
    "adverb in a verb chain": ("VBZ RB RB VBN", ["(VP*", "*", "(ADVP*)", "(VP*))"],
                               "B-VP I-VP I-VP I-VP"),
    "adverb after the verb": ("VBD RB", ["(VP*", "(ADVP*))"], "B-VP B-ADVP"),
    "word after the verb": ("VBP RB RB JJ", ["(VP*", "*", "(ADJP*", "*))"],
                            "B-VP O B-ADJP I-ADJP"),
    "to-infinitive": ("VBD TO VB", ["(VP*", "(S(VP*", "(VP*))))"], "B-VP I-VP I-VP"),
    "gerund clause": ("VBN VBG", ["(VP*", "(S(VP*)))"], "B-VP B-VP"),
    "possessive": ("DT NN POS JJ NNS", ["(NP(NP*", "*", "*)", "*", "*)"],
                   "B-NP I-NP B-NP I-NP I-NP"),
    "coordinated phrases": ("NNS CC NNS", ["(NP(NP*)", "*", "(NP*))"], "B-NP O B-NP"),
    "flat coordination": ("NNS CC NNS", ["(NP*", "*", "*)"], "B-NP I-NP I-NP"),
    "comma inside": ("NNP , NNP", ["(NP*", "*", "*)"], "B-NP I-NP I-NP"),
    "comma at the end": ("NNP ,", ["(NP*", "*)"], "B-NP O"),
    "adjective before the head": ("DT RB JJ NN", ["(NP*", "(ADJP*", "*)", "*)"],
                                  "B-NP I-NP I-NP I-NP"),
    "adverb after the head": ("NNS RB", ["(NP*", "(ADVP*))"], "B-NP B-ADVP"),
    "quantity": ("IN CD CD NNS", ["(NP(QP*", "*", "*)", "*)"], "B-NP I-NP I-NP I-NP"),
    "NML outside a noun phrase": ("CD NNS JJ", ["(ADJP(NML*", "*)", "*)"], "B-NP I-NP B-ADJP"),
    "relative pronoun": ("WDT PRP VBD", ["(SBAR(WHNP*)", "(S(NP*)", "(VP*)))"],
                         "B-NP B-NP B-VP"),
    "subordinator": ("IN PRP VBD", ["(SBAR*", "(S(NP*)", "(VP*)))"], "B-SBAR B-NP B-VP"),
    "no gold tree": ("XX XX VERB", ["(TOP*", "*", "*)"], "O O O"),
    "particle": ("VBD RP", ["(VP*", "(PRT*))"], "B-VP B-PRT"),
}


@pytest.mark.parametrize("name", CASES)
def test_rule_on_small_trees(name):
    pos, bits, expected = CASES[name]
    tags = chunks_from_parse(pos.split(), bits)
    assert tags == expected.split()
    check_tags(tags, "bio")


@pytest.mark.parametrize("bits, index", [
    (["(NP*", "*"], 1),        # left open
    (["(NP*)", "*)"], 1),      # closes more than is open
    (["(NP"], 0),              # no '*'
    (["(NP*x)"], 0),           # text after '*'
    (["(*)"], 0),              # phrase without a label
    (["(NP**)"], 0),           # two '*'
])
def test_broken_parse_bits(bits, index):
    with pytest.raises(ParseBitError) as err:
        chunks_from_parse(["NN"] * len(bits), bits)
    assert err.value.index == index


def test_chunk_agreement_counts_matched_sentences_once():
    gold = [(["A", "(", "b", ")"], ["B-NP", "O", "B-NP", "O"]), (["c"], ["B-VP"])]
    derived = [(["A", "-LRB-", "b", "-RRB-"], ["B-NP", "O", "I-NP", "O"]),
               (["A", "-LRB-", "b", "-RRB-"], ["B-NP", "O", "B-NP", "O"]),
               (["d"], ["B-NP"])]
    result = chunk_agreement(derived, gold)
    assert (result.sentences, result.tokens, result.agreeing) == (1, 4, 3)
    assert result.to_dict()["agreement"] == 0.75


def test_agreement_with_conll2000_on_real_data(shared_data, ontonotes_splits):
    """The rule against the CoNLL-2000 gold chunks on the WSJ sentences both corpora hold."""
    gold = []
    for split in ("train", "test"):
        read = read_column_file(shared_data / "conll2000" / f"{split}.txt", CONLL2000_COLUMNS, 3)
        gold.extend(zip(read.words, read.tags["chunk"]))
    gold_keys = {tuple(words) for words, _ in gold}
    derived = []
    for read, _ in ontonotes_splits.values():
        for words, pos, bits in zip(read.words, read.tags["pos"], read.tags["parse"]):
            key = tuple({"-LRB-": "(", "-RRB-": ")"}.get(w, w) for w in words)
            if key in gold_keys:
                derived.append((words, chunks_from_parse(pos, bits)))
    result = chunk_agreement(derived, gold)
    assert result.sentences > 6000 and result.tokens > 140000
    assert result.rate >= 0.95, result.to_dict()


def test_every_dev_sentence_gives_valid_bio(ontonotes_splits):
    read, _ = ontonotes_splits["development"]
    for pos, bits in zip(read.tags["pos"], read.tags["parse"]):
        check_tags(chunks_from_parse(pos, bits), "bio")
