"""The tagger: stable parameter names, shapes, the hierarchical variant, CRF against brute force."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import synthetic_data  # noqa: E402

from models import ModelConfig, build_model, task_layers_for  # noqa: E402
from models.crf import CRF  # noqa: E402
from utils.batching import SplitIndex  # noqa: E402


# Tiny models: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**overrides) -> ModelConfig:
    values = dict(n_words=32, n_chars=14, n_labels=[3, 4], word_dim=8, hidden_size=6)
    values.update(overrides)
    return ModelConfig(**values)


def a_batch(n: int = 5):
    data = synthetic_data(n_train=n)
    return SplitIndex(data.data["pos"]["train"]).batch(torch.arange(n))


def test_parameter_names_are_stable_and_equal_across_archs():
    flat = build_model(tiny_config())
    hier = build_model(tiny_config(arch="hier-lstm", task_layers=[1, 2]))
    names = [n for n, _ in flat.named_parameters()]
    assert names == [n for n, _ in hier.named_parameters()]
    for expected in ("word_embed.weight", "char_cnn.conv.weight", "lstm.0.weight_ih_l0",
                     "lstm.0.weight_ih_l0_reverse", "lstm.1.weight_hh_l0", "heads.0.weight",
                     "heads.1.bias"):
        assert expected in names
    assert not any("lstm" in n for n in names if not n.startswith("lstm."))
    crf = build_model(tiny_config(crf=True))
    assert {"crfs.0.transitions", "crfs.1.start", "crfs.1.end"} <= {n for n, _ in crf.named_parameters()}


def test_forward_gives_emissions_per_task():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    batch = a_batch()
    assert model(batch, 0).shape == (5, batch.words.size(1), 3)
    assert model(batch, 1).shape == (5, batch.words.size(1), 4)
    pred = model.decode(model(batch, 1), batch, 1)
    assert [len(p) for p in pred] == batch.lengths.tolist()


def test_sentence_scores_do_not_depend_on_its_batch_mates():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    data = synthetic_data(n_train=6)
    index = SplitIndex(data.data["pos"]["train"])
    together = index.batch(torch.arange(6))
    with torch.no_grad():
        joint = model(together, 0)
        for row in range(6):
            sid = together_ids(index, together, row)
            alone = model(index.batch(torch.tensor([sid])), 0)[0]
            n = int(together.lengths[row])
            torch.testing.assert_close(joint[row, :n], alone[:n], atol=1e-5, rtol=1e-5)


def together_ids(index: SplitIndex, batch, row: int) -> int:
    """Which sentence sits in `row` of a batch built from all sentences (match words exactly)."""
    n = int(batch.lengths[row])
    for sid in range(len(index)):
        start, length = int(index.sent_start[sid]), int(index.lengths[sid])
        if length == n and torch.equal(index.split.words[start:start + n], batch.words[row, :n]):
            return sid
    raise AssertionError("sentence not found")


def test_hierarchical_pos_reads_layer_one():
    assert task_layers_for("hier-lstm", ["pos", "chunk", "ner"], 2) == [1, 2, 2]
    assert task_layers_for("lstm", ["pos", "chunk", "ner"], 2) == [2, 2, 2]
    torch.manual_seed(0)
    model = build_model(tiny_config(arch="hier-lstm", task_layers=[1, 2])).eval()
    batch = a_batch()
    with torch.no_grad():
        pos, ner = model(batch, 0), model(batch, 1)
        for p in model.lstm[1].parameters():
            p.add_(1.0)
        assert torch.equal(model(batch, 0), pos)          # POS ignores layer 2
        assert not torch.allclose(model(batch, 1), ner)   # NER reads it


def test_config_round_trip_and_checks():
    config = tiny_config(crf=True, arch="hier-lstm", task_layers=[1, 2])
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError):
        tiny_config(arch="transformer")
    with pytest.raises(ValueError):
        tiny_config(task_layers=[3, 2])


def test_build_model_copies_the_embedding():
    embedding = torch.randn(32, 8)
    model = build_model(tiny_config(), embedding)
    assert torch.equal(model.word_embed.weight.detach(), embedding)
    assert model.word_embed.weight.requires_grad
    with pytest.raises(ValueError):
        build_model(tiny_config(), torch.randn(31, 8))


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int]]:
    """log Z and the best path of one sentence by enumerating every label sequence."""
    n_labels = emissions.size(1)
    scores = {}
    for path in itertools.product(range(n_labels), repeat=length):
        s = crf.start[path[0]] + crf.end[path[-1]] + sum(emissions[i, p] for i, p in enumerate(path))
        s = s + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))
        scores[path] = s
    log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
    return log_z, list(max(scores, key=lambda p: float(scores[p].detach())))


def test_crf_matches_brute_force():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    lengths = torch.tensor([4, 3, 1])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    emissions = torch.randn(3, 4, 3)
    labels = torch.randint(3, (3, 4)) * mask
    nll_each = []
    best = crf.decode(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        log_z, path = brute_force(crf, emissions[b], n)
        gold = labels[b, :n].tolist()
        gold_score = (crf.start[gold[0]] + crf.end[gold[-1]]
                      + sum(emissions[b, i, g] for i, g in enumerate(gold))
                      + sum(crf.transitions[x, y] for x, y in zip(gold, gold[1:])))
        nll_each.append(log_z - gold_score)
        assert best[b] == path
    torch.testing.assert_close(crf.nll(emissions, labels, mask), torch.stack(nll_each).mean())


@pytest.mark.parametrize("training", [True, False])
def test_emissions_and_gradients_equal_on_both_lstm_paths(monkeypatch, training):
    import models.bilstm
    # No dropout: the packed path's output has other strides, so rand_like lays its draws out
    # differently and the masks would differ.
    model = build_model(tiny_config(dropout=0.0))
    model.train(training)
    batch = a_batch(8)
    assert len(set(batch.lengths.tolist())) > 1          # sentences of different lengths
    results = []
    for share in (1.0, -1.0):                            # padded path, then packed path
        monkeypatch.setattr(models.bilstm, "MAX_PADDING_SHARE", share)
        model.zero_grad(set_to_none=True)
        emissions = model(batch, 1)
        emissions[batch.mask].pow(2).sum().backward()
        results.append((emissions.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                             if p.grad is not None}))
    (padded, padded_grads), (packed, packed_grads) = results
    torch.testing.assert_close(padded, packed, rtol=0, atol=1e-5)
    assert padded_grads.keys() == packed_grads.keys()
    for name in packed_grads:
        torch.testing.assert_close(padded_grads[name], packed_grads[name], rtol=1e-4, atol=1e-6)
