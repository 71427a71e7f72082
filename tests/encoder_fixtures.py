"""A tiny random BERT the tests write themselves (no download): a WordPiece vocabulary, a
BertConfig of 2 small layers, random weights, the fast tokenizer saved beside them."""
from __future__ import annotations

from pathlib import Path

import pytest

from needs import need_module

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Cased words and word pieces: "Paris" is one piece, "Parisian" is "Paris" + "##ian", "EU" is
# "E" + "##U", "rejects" is "reject" + "##s"; a word of letters not here becomes [UNK].
PIECES = ["the", "The", "Paris", "##ian", "E", "##U", "reject", "##s", "German", "call", ".",
          ",", "to", "boycott", "British", "lamb", "a", "b", "c", "##a", "##b", "##c", "1", "##1",
          "Peter", "Blackburn", "BRUSSELS", "-", "DOCSTART", "of", "in", "and", "for", "on", "is",
          "was", "said", "##ed", "##ing", "##ly", "(", ")", "'", '"', ":", "##er"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """The tiny BERT, written once per test module that uses it."""
    need_module("transformers", "the encoder tests build a tiny BERT with it")
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert") / "bert")


def write_tiny_bert(folder: Path, max_positions: int = 64, seed: int = 0,
                    family: str = "bert") -> Path:
    """A 2-layer BERT (hidden 32, 4 heads; or a DistilBERT with `family="distilbert"`) with a
    random init and the vocabulary above."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + PIECES
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=False,
                                               model_max_length=max_positions)
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(seed)
    if family == "distilbert":
        config = transformers.DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=4,
                                               hidden_dim=48, max_position_embeddings=max_positions)
        transformers.DistilBertModel(config).save_pretrained(str(folder))
        return folder
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=48,
                                     max_position_embeddings=max_positions)
    transformers.BertModel(config).save_pretrained(str(folder))
    return folder


SENTENCES = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["BRUSSELS", "1996-08-22"],
    ["The", "Parisian", "said", "the", "call", "was", "a", "boycott", "."],
    ["a", "b", "c", "abc", "cab", "11", ",", "the", "lamb", "."],
]


def encoder_data(n_copies: int = 4):
    """Two tasks over SENTENCES (repeated): "pos" (plain: capitalised or not, or punctuation) and
    "ner" (bioes: capitalised words are one-token entities); word forms kept as written."""
    from utils.data.datafile import PreparedData, encode_split, index_of

    sentences = [list(s) for s in SENTENCES] * n_copies
    pos_labels, ner_labels = ["CAP", "LOW", "PUNCT"], ["O", "S-X", "B-X", "E-X"]
    pos = lambda s: [["PUNCT" if not w[0].isalnum() else "CAP" if w[0].isupper() else "LOW"
                      for w in sent] for sent in s]
    ner = lambda s: [["S-X" if w[0].isupper() else "O" for w in sent] for sent in s]
    types = sorted({w for s in sentences for w in s})
    forms = ["<pad>", "<unk>"] + types
    words = ["<pad>", "<unk>"] + sorted({w.lower() for w in types})
    chars = ["<pad>", "<unk>"] + sorted({c for w in types for c in w})
    wi, ci, fi = index_of(words), index_of(chars), index_of(forms)
    data = {"pos": {}, "ner": {}}
    for split in ("train", "dev", "test"):
        data["pos"][split] = encode_split(sentences, pos(sentences), wi, ci, index_of(pos_labels), fi)
        data["ner"][split] = encode_split(sentences, ner(sentences), wi, ci, index_of(ner_labels), fi)
    return PreparedData("tiny-encoder", ["pos", "ner"], {"pos": "plain", "ner": "bioes"}, words,
                        chars, {"pos": pos_labels, "ner": ner_labels}, None, data,
                        {"fixture": True}, layers={"pos": 1}, forms=forms)
