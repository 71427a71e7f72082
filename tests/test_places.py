"""Where a mask's parameter sits in the network (utils/sparsity/places.py). The names come from the
networks themselves: `transformers`' own models of the four encoder families, built from tiny
random configs (no download), and our BiLSTM tagger; each prunable matrix must be placed at the
layer the model holds it in, as the kind its shape and the table written out here say."""
from __future__ import annotations

import math

import pytest
from torch import nn
from needs import need_module
from test_model import tiny_config

from models.build import build_model
from utils.sparsity.places import Place, is_encoder, place
from utils.sparsity.pruning import prunable_names

SIZES = dict(num_hidden_layers=3, hidden_size=8, num_attention_heads=2, intermediate_size=12,
             vocab_size=30, max_position_embeddings=16)
# Each family's linear weights of one layer (name inside the layer -> kind), written out by hand.
BERT_LAYER = {"attention.self.query.weight": "attention-q", "attention.self.key.weight": "attention-k",
              "attention.self.value.weight": "attention-v",
              "attention.output.dense.weight": "attention-output",
              "intermediate.dense.weight": "feed-forward-in", "output.dense.weight": "feed-forward-out"}
DISTILBERT_LAYER = {"attention.q_lin.weight": "attention-q", "attention.k_lin.weight": "attention-k",
                    "attention.v_lin.weight": "attention-v", "attention.out_lin.weight": "attention-output",
                    "ffn.lin1.weight": "feed-forward-in", "ffn.lin2.weight": "feed-forward-out"}


def encoder_model(family: str):
    """A tiny random `transformers` model of the family and the attribute path of its layers."""
    transformers = need_module("transformers", "the oracle of the encoders' parameter names")
    if family == "distilbert":
        config = transformers.DistilBertConfig(n_layers=3, dim=8, n_heads=2, hidden_dim=12,
                                               vocab_size=30, max_position_embeddings=16)
        return transformers.DistilBertModel(config), "transformer.layer", DISTILBERT_LAYER
    config_class, model_class = {
        "bert": (transformers.BertConfig, transformers.BertModel),
        "roberta": (transformers.RobertaConfig, transformers.RobertaModel),
        "xlm-roberta": (transformers.XLMRobertaConfig, transformers.XLMRobertaModel)}[family]
    return model_class(config_class(**SIZES)), "encoder.layer", BERT_LAYER


@pytest.mark.parametrize("family", ["bert", "roberta", "xlm-roberta", "distilbert"])
def test_every_linear_weight_of_an_encoder_layer_is_placed(family):
    model, layers_at, table = encoder_model(family)
    layers = model.get_submodule(layers_at)
    assert len(layers) == 3
    for index, layer in enumerate(layers):
        linear = {f"{name}.weight": module for name, module in layer.named_modules()
                  if isinstance(module, nn.Linear)}
        assert sorted(linear) == sorted(table), family        # transformers' names = the table
        for inside, module in linear.items():
            name = f"encoder.{layers_at}.{index}.{inside}"       # the model's `encoder` attribute
            assert name in dict(model.named_parameters(prefix="encoder"))
            kind = table[inside]
            assert place(name) == Place(index, kind, kind.rsplit("-", 1)[0])
            # feed-forward in: hidden 8 -> 12, out: 12 -> 8; attention: 8 -> 8
            assert tuple(module.weight.shape) == {"feed-forward-in": (12, 8),
                                                  "feed-forward-out": (8, 12)}.get(kind, (8, 8))
    assert is_encoder(name for name, _ in model.named_parameters(prefix="encoder"))


@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_what_an_encoder_does_not_prune_is_not_placed(family):
    model, _, _ = encoder_model(family)
    names = [f"encoder.{name}" for name, _ in model.named_parameters()]
    others = [n for n in names if "embeddings" in n or "LayerNorm" in n or "layer_norm" in n
              or n.endswith(".bias") or "pooler" in n]
    assert len(others) >= 3 + 2 * 3 * 2       # embeddings, and per layer its norms and biases
    for name in others + ["heads.0.weight", "crfs.1.transitions"]:
        with pytest.raises(ValueError, match=f"cannot place parameter '{name}' in the network"):
            place(name)


@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_every_parameter_of_an_encoder_layer_has_its_layer_and_a_hierarchical_count_uses_it(family):
    """layer_of: every parameter transformers holds in its layer i (weights, biases, norms) is in
    layer i, the rest in none; a task reading layer L (1-based) uses layers 0..L-1 only."""
    from utils.sparsity.mask_stats import parameter_counts
    from utils.sparsity.places import layer_of

    model, layers_at, _ = encoder_model(family)
    in_layer = {f"encoder.{layers_at}.{i}.{name}": i
                for i, layer in enumerate(model.get_submodule(layers_at))
                for name, _ in layer.named_parameters()}
    shapes = {f"encoder.{name}": p.shape for name, p in model.named_parameters()}
    assert len(in_layer) >= 3 * 10
    for name in shapes:
        assert layer_of(name) == in_layer.get(name), name
    shapes.update({"heads.0.weight": (5, 8), "heads.1.weight": (3, 8)})
    size = lambda names: sum(math.prod(shapes[n]) for n in names)
    below = [n for n in shapes if n.startswith("encoder.") and n not in in_layer]
    layer = {i: [n for n, at in in_layer.items() if at == i] for i in range(3)}
    counts = parameter_counts(shapes, [0, 1], {0: "pos", 1: "ner"}, task_layers=[1, 3])
    assert counts["per_task"] == {"pos": size(below + layer[0]) + 40,
                                  "ner": size(below + layer[0] + layer[1] + layer[2]) + 24}
    assert counts["shared_by_2"] == size(below + layer[0])
    assert counts["private"] == size(layer[1] + layer[2]) + 40 + 24


def test_the_bilstm_tagger_is_placed_by_layer_and_direction_pooled():
    model = build_model(tiny_config())
    placed = {name: place(name) for name in prunable_names(model)}
    assert placed["char_cnn.conv.weight"] == Place(None, "char-conv", "char CNN")
    for layer in (0, 1):
        for direction in ("", "_reverse"):
            assert placed[f"lstm.{layer}.weight_ih_l0{direction}"] == Place(layer, "input-hidden", "BiLSTM")
            assert placed[f"lstm.{layer}.weight_hh_l0{direction}"] == Place(layer, "hidden-hidden", "BiLSTM")
    assert len(placed) == 9
    assert place("char_cnn.fc.weight") == Place(None, "char-fc", "char CNN")   # --need_cut fc
    assert not is_encoder(name for name, _ in model.named_parameters())


@pytest.mark.parametrize("name", [
    "word_embed.weight", "lstm.0.bias_ih_l0", "lstm.x.weight_ih_l0", "lstm.0.weight_ih_l1",
    "encoder.encoder.layer.0.attention.self.query.bias", "encoder.layer.0.attention.self.query.weight",
    "encoder.encoder.layer.0.attention.output.LayerNorm.weight", "encoder.pooler.dense.weight",
    "encoder.transformer.layer.1.ffn.lin3.weight", "encoder.encoder.layer.2.output.dense.weight.extra",
    "", "lstm.0.weight_ih_l0_reverse_reverse"])
def test_a_name_that_is_no_prunable_matrix_is_an_error_naming_it(name):
    with pytest.raises(ValueError, match=f"cannot place parameter '{name}' in the network") as err:
        place(name)
    assert "\n" not in str(err.value)
