"""Tag schemes: checking, IOB1/BIO/BIOES conversion and span decoding."""
from pathlib import Path

import pytest

from needs import need_corpus
from utils.data.readers.columns import CONLL03_COLUMNS, read_column_file
from utils.data.tagschemes import (SCHEMES, TagSchemeError, bio_to_bioes, bioes_to_bio, check_tags,
                                   get_spans, iob1_to_bio, looks_like_iob1)
from utils.paths import SHARED_DATA_DIR

CONLL03_DEV = SHARED_DATA_DIR / "conll03" / "dev.txt"


def read_conll_column(path: Path, column: int) -> list[list[str]]:
    """Sentences of one tag column of a CoNLL-2003 file, read by the project's reader."""
    name = {index: name for name, index in CONLL03_COLUMNS.items()}[column]
    return read_column_file(path, CONLL03_COLUMNS, 4).tags[name]


def test_schemes_listed():
    assert SCHEMES == ("plain", "bio", "bioes")


def test_bio_to_bioes_by_hand():
    bio = ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
    assert bio_to_bioes(bio) == ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"]


def test_bioes_to_bio_by_hand():
    assert bioes_to_bio(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O", "S-LOC"]) == \
        ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O", "B-LOC"]


@pytest.mark.parametrize("bio", [
    [], ["O"], ["B-X"], ["B-X", "B-X"], ["B-X", "I-X", "B-Y", "I-Y", "I-Y"], ["O", "B-X", "I-X"],
])
def test_round_trip_by_hand(bio):
    bioes = bio_to_bioes(bio)
    check_tags(bioes, "bioes")
    assert bioes_to_bio(bioes) == bio


@pytest.mark.parametrize("column", [2, 3], ids=["chunk", "ner"])
def test_round_trip_on_conll03_dev(column):
    need_corpus("conll03", "dev.txt")
    sentences = read_conll_column(CONLL03_DEV, column)
    assert len(sentences) == 3250
    for bio in sentences:
        check_tags(bio, "bio")
        assert not looks_like_iob1(bio)
        bioes = bio_to_bioes(bio)
        check_tags(bioes, "bioes")
        assert bioes_to_bio(bioes) == bio
        assert get_spans(bioes, "bioes") == get_spans(bio, "bio")


def test_iob1_to_bio_by_hand():
    iob1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-MISC", "I-ORG", "I-ORG"]
    assert looks_like_iob1(iob1)
    assert iob1_to_bio(iob1) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-MISC", "B-ORG", "I-ORG"]


def test_iob1_to_bio_keeps_bio():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]
    assert not looks_like_iob1(bio)
    assert iob1_to_bio(bio) == bio


def test_looks_like_iob1_only_on_chunk_starting_inside_tag():
    assert not looks_like_iob1([])
    assert not looks_like_iob1(["O", "O"])
    assert looks_like_iob1(["O", "I-X"])
    assert looks_like_iob1(["B-X", "I-Y"])


def test_bio_to_bioes_refuses_iob1_at_its_index():
    with pytest.raises(TagSchemeError) as err:
        bio_to_bioes(["B-X", "O", "I-X"])
    assert err.value.index == 2
    assert "iob1_to_bio" in str(err.value)


@pytest.mark.parametrize("tags, scheme, index", [
    (["O", "Q-PER"], "bio", 1),          # unknown prefix
    (["B-"], "bio", 0),                  # no type
    (["O", "O", "PER"], "bio", 2),       # no prefix
    (["O-PER"], "bio", 0),               # O with a type
    (["B-X", "E-X"], "bio", 1),          # E- is not bio
    (["S-X"], "bio", 0),                 # S- is not bio
    (["O", "I-X", "E-X"], "bioes", 1),   # I- starts a chunk
    (["E-X"], "bioes", 0),               # E- without B-
    (["S-X", "E-X"], "bioes", 1),        # S- closes its chunk already
    (["B-X", "O"], "bioes", 1),          # B- not continued
    (["B-X", "S-X"], "bioes", 1),        # S- inside an open chunk
    (["B-X", "B-X", "E-X"], "bioes", 1), # B- inside an open chunk
    (["B-X", "I-Y", "E-Y"], "bioes", 1), # type changes inside a chunk
    (["O", "B-X", "I-X"], "bioes", 2),   # sentence ends inside a chunk
    (["B-X"], "bioes", 0),               # lone B-
    (["O", "M-X"], "bioes", 1),          # unknown prefix
    (["O", ""], "plain", 1),             # empty tag
])
def test_check_tags_reports_violation_index(tags, scheme, index):
    with pytest.raises(TagSchemeError) as err:
        check_tags(tags, scheme)
    assert err.value.index == index
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("tags, scheme", [
    ([], "bio"), ([], "bioes"),
    (["NN", "NN|SYM", "O"], "plain"),
    (["O", "I-X", "I-Y", "B-Y"], "bio"),  # IOB1 is accepted as bio input
    (["S-X", "B-X", "I-X", "E-X", "O", "S-Y"], "bioes"),
])
def test_check_tags_accepts_valid(tags, scheme):
    check_tags(tags, scheme)


def test_unknown_scheme():
    with pytest.raises(ValueError):
        check_tags(["O"], "iobes")
    with pytest.raises(ValueError):
        get_spans(["O"], "bmes")


@pytest.mark.parametrize("tags, scheme, spans", [
    ([], "bio", []),
    (["O", "O"], "bio", []),
    (["B-X"], "bio", [("X", 0, 1)]),
    (["O", "B-X", "I-X"], "bio", [("X", 1, 3)]),                     # chunk at the end
    (["B-X", "B-X"], "bio", [("X", 0, 1), ("X", 1, 2)]),            # adjacent chunks of one type
    (["O", "I-X", "I-X"], "bio", [("X", 1, 3)]),                     # I- after O starts a chunk
    (["B-X", "I-Y"], "bio", [("X", 0, 1), ("Y", 1, 2)]),            # type change starts a chunk
    (["B-X", "E-X"], "bio", [("X", 0, 1), ("X", 1, 2)]),            # foreign prefix starts a chunk
    (["S-X", "B-Y", "E-Y"], "bioes", [("X", 0, 1), ("Y", 1, 3)]),
    (["B-X", "O"], "bioes", [("X", 0, 1)]),                          # unclosed B- is one token
    (["O", "E-X"], "bioes", [("X", 1, 2)]),                          # E- without B-
    (["S-X", "I-X", "E-X"], "bioes", [("X", 0, 1), ("X", 1, 3)]),   # S- does not continue
    (["B-X", "E-X", "E-X"], "bioes", [("X", 0, 2), ("X", 2, 3)]),   # E- does not continue
    (["B-X", "I-X", "B-X"], "bioes", [("X", 0, 2), ("X", 2, 3)]),
    (["NN", "VB"], "plain", [("NN", 0, 1), ("VB", 1, 2)]),
])
def test_get_spans_edge_cases(tags, scheme, spans):
    assert get_spans(tags, scheme) == spans
