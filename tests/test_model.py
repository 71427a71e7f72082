"""The tagger: stable parameter names, shapes, the architectures, CRF against brute force."""
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
from utils.data.batching import SplitIndex  # noqa: E402
from utils.sparsity.pruning import prunable_names  # noqa: E402


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
    for expected in ("word_embed.weight", "char_cnn.char_embed.weight", "char_cnn.conv.weight",
                     "char_cnn.fc.weight", "lstm.0.weight_ih_l0", "lstm.0.weight_ih_l0_reverse",
                     "lstm.1.weight_hh_l0", "heads.0.weight", "heads.1.bias"):
        assert expected in names
    assert not any("lstm" in n for n in names if not n.startswith("lstm."))
    crf = build_model(tiny_config(crf=True))
    assert [n for n, _ in crf.named_parameters() if n.startswith("crfs.")] == \
        ["crfs.0.transitions", "crfs.1.transitions"]        # no start/end scores, as fastNLP's


def test_default_need_cut_prunes_what_the_original_pruned():
    """The original pruned parameters whose fastNLP name contains "lstm" or "conv", biases not:
    the BiLSTM weights and `char.convs.0.weight`, not `char.fc.weight`. The same here."""
    names = prunable_names(build_model(tiny_config()))
    assert names == ["char_cnn.conv.weight"] + [
        f"lstm.{k}.weight_{m}_l0{r}" for k in (0, 1) for r in ("", "_reverse") for m in ("ih", "hh")]


def test_architectures():
    sizes = dict(n_words=32, n_chars=14, n_labels=[3, 4], word_dim=8, hidden_size=6)
    assert ModelConfig(**sizes, arch="lstm").arch == "cnn-lstm"           # the old name
    assert ModelConfig(**sizes).word_dropout == 0.01
    random_lstm = build_model(ModelConfig(**sizes, arch="random-lstm"), torch.ones(32, 8))
    assert random_lstm.char_cnn is None and random_lstm.config.word_dropout == 0.0
    assert not torch.equal(random_lstm.word_embed.weight[2:].detach(), torch.ones(30, 8))
    assert random_lstm.lstm[0].input_size == 8                           # words only
    assert build_model(ModelConfig(**sizes)).lstm[0].input_size == 8 + 30
    hier = build_model(ModelConfig(**sizes, arch="hier-lstm", task_layers=[1, 2]))
    assert hier.char_cnn.word_markers and not build_model(ModelConfig(**sizes)).char_cnn.word_markers


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
    assert task_layers_for("hier-lstm", [1, None, None], 2) == [1, 2, 2]
    assert task_layers_for("hier-lstm", [None, 2, 1, 3], 3) == [3, 2, 1, 3]
    assert task_layers_for("lstm", [1, None, None], 2) == [2, 2, 2]
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
        build_model(tiny_config(), torch.randn(33, 8))
    first_rows = torch.randn(5, 8)                       # the data file's pretrained rows
    model = build_model(tiny_config(), first_rows)
    assert torch.equal(model.word_embed.weight[:5].detach(), first_rows)


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int]]:
    """log Z and the best path of one sentence by enumerating every label sequence."""
    n_labels = emissions.size(1)
    scores = {}
    for path in itertools.product(range(n_labels), repeat=length):
        s = sum(emissions[i, p] for i, p in enumerate(path))
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
        gold_score = (sum(emissions[b, i, g] for i, g in enumerate(gold))
                      + sum(crf.transitions[x, y] for x, y in zip(gold, gold[1:])))
        nll_each.append(log_z - gold_score)
        assert best[b] == path
    torch.testing.assert_close(crf.nll(emissions, labels, mask), torch.stack(nll_each).mean())


def _plans(lengths: torch.Tensor) -> dict:
    """Every way to run the batch: one padded group, a group per length, packed."""
    from models.lstm_plan import PACKED, padded_plan

    by_length = [0] + [i for i in range(1, len(lengths)) if lengths[i] != lengths[i - 1]]
    return {"padded": padded_plan(lengths, [0], lengths.device),
            "by-length": padded_plan(lengths, by_length, lengths.device), "packed": PACKED}


@pytest.mark.parametrize("training", [True, False])
def test_emissions_and_gradients_equal_on_every_lstm_path(monkeypatch, training):
    import models.tagger
    # No dropout: the packed path's output has other strides, so rand_like lays its draws out
    # differently and the masks would differ.
    model = build_model(tiny_config(dropout=0.0, word_dropout=0.0))
    model.train(training)
    batch = a_batch(8)
    assert len(set(batch.lengths.tolist())) > 1          # sentences of different lengths
    results = {}
    for name, plan in _plans(batch.lengths).items():
        monkeypatch.setattr(models.tagger, "batch_plan", lambda lengths, device, plan=plan: plan)
        model.zero_grad(set_to_none=True)
        emissions = model(batch, 1)
        emissions[batch.mask].pow(2).sum().backward()
        results[name] = (emissions.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                              if p.grad is not None})
    packed, packed_grads = results.pop("packed")
    for padded, padded_grads in results.values():
        torch.testing.assert_close(padded, packed, rtol=0, atol=1e-5)
        assert padded_grads.keys() == packed_grads.keys()
        for name in packed_grads:
            torch.testing.assert_close(padded_grads[name], packed_grads[name], rtol=1e-4, atol=1e-6)


def test_word_dropout_replaces_real_tokens_by_unk_never_padding():
    from models.word_embedding import WordEmbedding

    embed = WordEmbedding(50, 4, word_dropout=0.3, dropout=0.0).train()
    with torch.no_grad():
        embed.weight[1] = 7.0                            # UNK's vector, recognisable
    words = torch.randint(2, 50, (200, 50))
    words[:, 40:] = 0                                    # padding
    torch.manual_seed(0)
    out = embed(words)
    dropped = (out == 7.0).all(dim=2)
    assert not dropped[:, 40:].any()
    assert abs(float(dropped[:, :40].float().mean()) - 0.3) < 0.02
    assert torch.equal(embed.eval()(words), embed.weight[words])        # none at test time


def test_initial_values_are_the_originals():
    torch.manual_seed(0)
    model = build_model(tiny_config(hidden_size=200, n_words=3000), torch.ones(5, 8))
    weight = model.word_embed.weight.detach()
    assert torch.equal(weight[:5], torch.ones(5, 8))     # the data file's pretrained rows
    bound = (3 / 8) ** 0.5                               # StaticEmbedding: uniform +-sqrt(3/dim)
    assert weight[5:].abs().max() <= bound and abs(float(weight[5:].std()) - bound / 3 ** 0.5) < 0.02
    assert torch.equal(build_model(tiny_config()).word_embed.weight[0].detach(), torch.zeros(8))
    for head in model.heads:                             # xavier-uniform, zero bias
        n_out, n_in = head.weight.shape
        assert head.weight.abs().max() <= (6 / (n_in + n_out)) ** 0.5
        assert not head.bias.any()


def test_dropout_sits_where_the_original_has_it():
    """On the word vectors, on the char embeddings and the char CNN's output, and once on the
    output of the BiLSTM layer a task reads; never between the BiLSTM layers."""
    from models.dropout import Dropout

    batch = a_batch(6)
    n_tokens, width, steps = batch.chars.size(0), batch.chars.size(1), batch.words.size(1)
    for arch, task_id in (("cnn-lstm", 1), ("hier-lstm", 0), ("hier-lstm", 1)):
        layers = task_layers_for(arch, [1, None], 2)
        model = build_model(tiny_config(arch=arch, task_layers=layers))
        calls = []
        for name, module in model.named_modules():
            if isinstance(module, Dropout):
                module.register_forward_hook(
                    lambda m, i, o, name=name: calls.append((name, tuple(o.shape))))
        model.train()(batch, task_id)
        chars = width + 2 if arch == "hier-lstm" else width        # hier: the <bow>/<eow> markers
        assert calls == [("word_embed.dropout", (6, steps, 8)),
                         ("char_cnn.dropout", (n_tokens, chars, 30)),
                         ("char_cnn.dropout", (n_tokens, 30)), ("dropout", (6, steps, 12))], arch


def test_weights_of_an_earlier_model_are_a_one_line_input_error(tmp_path):
    from utils.training.checkpoint import load_into
    from utils.errors import InputError

    model = build_model(tiny_config())
    earlier = {n: v for n, v in model.state_dict().items() if not n.startswith("char_cnn.fc.")}
    with pytest.raises(InputError, match=r"w.th: weights do not fit this model: Missing key"):
        load_into(model, earlier, tmp_path / "w.th")


def test_the_data_layer_writes_the_ids_the_models_read():
    """models/inputs.py is the models' own contract; the data files must use its ids."""
    from models import inputs
    from utils.data import datafile
    from utils.data.batching import Batch

    assert (datafile.PAD_ID, datafile.UNK_ID) == (inputs.PAD_ID, inputs.UNK_ID)
    assert set(inputs.TaggerInput.__annotations__) <= set(Batch.__dataclass_fields__)
