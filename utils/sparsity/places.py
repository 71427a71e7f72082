"""Where a prunable weight sits in the network, read from its parameter name: its layer and the
kind of matrix it is. One table of name patterns serves every network the project prunes:

- a pretrained encoder (models hold the Hugging Face model as attribute `encoder`, so names start
  with `encoder.`): BERT, RoBERTa and XLM-R name a layer's matrices `encoder.encoder.layer.<i>.`
  + `attention.self.{query,key,value}`, `attention.output.dense`, `intermediate.dense`,
  `output.dense`; DistilBERT `encoder.transformer.layer.<i>.` + `attention.{q,k,v,out}_lin`,
  `ffn.lin{1,2}`. Kinds: attention-q/k/v/output (block "attention"), feed-forward-in/out (block
  "feed-forward");
- the BiLSTM tagger (models/tagger.py): `lstm.<i>.weight_ih_l0[_reverse]` (input-hidden) and
  `weight_hh_l0[_reverse]` (hidden-hidden), both directions pooled, block "BiLSTM"; the char CNN's
  `char_cnn.conv.weight` and `char_cnn.fc.weight` (block "char CNN", below the layers: no index).

Layer indices are those of the names: 0 is the layer nearest the input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

ENCODER_PREFIX = "encoder."      # the attribute that holds the Hugging Face model
_BERT = r"encoder\.encoder\.layer\.(\d+)\."
_DISTILBERT = r"encoder\.transformer\.layer\.(\d+)\."


@dataclass(frozen=True)
class Place:
    layer: int | None            # as in the name; None: below the stacked layers (the char CNN)
    kind: str                    # the matrix, e.g. "attention-q", "feed-forward-in", "input-hidden"
    block: str                   # what it belongs to: "attention", "feed-forward", "BiLSTM", "char CNN"


# (pattern of the whole name, kind, block), in the order tables and figures show the kinds.
_TABLE = tuple((re.compile(pattern), kind, block) for pattern, kind, block in (
    (_BERT + r"attention\.self\.query\.weight", "attention-q", "attention"),
    (_DISTILBERT + r"attention\.q_lin\.weight", "attention-q", "attention"),
    (_BERT + r"attention\.self\.key\.weight", "attention-k", "attention"),
    (_DISTILBERT + r"attention\.k_lin\.weight", "attention-k", "attention"),
    (_BERT + r"attention\.self\.value\.weight", "attention-v", "attention"),
    (_DISTILBERT + r"attention\.v_lin\.weight", "attention-v", "attention"),
    (_BERT + r"attention\.output\.dense\.weight", "attention-output", "attention"),
    (_DISTILBERT + r"attention\.out_lin\.weight", "attention-output", "attention"),
    (_BERT + r"intermediate\.dense\.weight", "feed-forward-in", "feed-forward"),
    (_DISTILBERT + r"ffn\.lin1\.weight", "feed-forward-in", "feed-forward"),
    (_BERT + r"output\.dense\.weight", "feed-forward-out", "feed-forward"),
    (_DISTILBERT + r"ffn\.lin2\.weight", "feed-forward-out", "feed-forward"),
    (r"char_cnn\.conv\.weight", "char-conv", "char CNN"),
    (r"char_cnn\.fc\.weight", "char-fc", "char CNN"),
    (r"lstm\.(\d+)\.weight_ih_l0(?:_reverse)?", "input-hidden", "BiLSTM"),
    (r"lstm\.(\d+)\.weight_hh_l0(?:_reverse)?", "hidden-hidden", "BiLSTM"),
))
KINDS = tuple(dict.fromkeys(kind for _, kind, _ in _TABLE))
BLOCKS = tuple(dict.fromkeys(block for _, _, block in _TABLE))


# The stacked layer of any parameter (weights, biases, LayerNorms) by the start of its name.
_LAYER_PREFIXES = tuple(re.compile(prefix) for prefix in (_BERT, _DISTILBERT, r"lstm\.(\d+)\."))


def layer_of(name: str) -> int | None:
    """The layer (as in the name) of any parameter of the stacked layers; None outside them
    (embeddings, the char CNN, heads, a pooler)."""
    for prefix in _LAYER_PREFIXES:
        found = prefix.match(name)
        if found:
            return int(found.group(1))
    return None


def place(name: str) -> Place:
    """The layer and kind of the prunable weight `name`; ValueError naming it if no pattern fits."""
    for pattern, kind, block in _TABLE:
        found = pattern.fullmatch(name)
        if found:
            return Place(int(found.group(1)) if pattern.groups else None, kind, block)
    raise ValueError(
        f"cannot place parameter {name!r} in the network: it is no prunable weight matrix of a "
        "BERT, RoBERTa, XLM-R or DistilBERT encoder (e.g. "
        "'encoder.encoder.layer.0.attention.self.query.weight') or of the BiLSTM tagger "
        "(e.g. 'lstm.0.weight_ih_l0')")


def is_encoder(names: Iterable[str]) -> bool:
    """Whether these parameter names are an encoder model's (they start with `encoder.`)."""
    return any(name.startswith(ENCODER_PREFIX) for name in names)
