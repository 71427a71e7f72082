"""Our char CNN, BiLSTM and CRF against fastNLP 0.5.0's own modules, the ones the original code
called (the test oracle; fastNLP is never imported at run time): with the same weights and
inputs, the same outputs and gradients to 1e-6 (absolute, and relative for values above 1: sums
of float32 products in another order). Also the initial values each module starts from.
"""
from __future__ import annotations

import math

import pytest
import torch

from models.bilstm import BiLSTMLayer
from models.lstm_plan import PACKED, padded_plan
from models.char_cnn import CharCNN
from models.crf import CRF
from utils.data.datafile import encode_split, index_of
from utils.data.vocab import build_chars, count_tokens, word_types

pytestmark = pytest.mark.usefixtures("one_thread", "fastnlp")
TOL = dict(rtol=1e-6, atol=1e-6)
WORDS = ["The", "wine", "Pinot", "noir", "is", "cheap", ",", "Zürich", "1996-08-22", "aa", "qx"]


def fastnlp_vocab(words: list[str]):
    from fastNLP import Vocabulary

    vocab = Vocabulary()
    vocab.add_word_lst(words)
    vocab.build_vocab()
    return vocab


def gradients(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters() if p.grad is not None]


# ---- char CNN ------------------------------------------------------------------------------

@pytest.mark.parametrize("markers", [False, True], ids=["cnn-lstm", "hier-lstm"])
def test_char_cnn_equals_cnn_char_embedding(markers):
    """cnn-lstm calls CNNCharEmbedding with include_word_start_end=False, the hierarchical model
    with the default True; dropout 0 here (its placement: test_parity_conll03.py)."""
    from fastNLP.embeddings import CNNCharEmbedding

    torch.manual_seed(0)
    vocab = fastnlp_vocab(WORDS)
    theirs = CNNCharEmbedding(vocab, embed_size=30, char_emb_size=30, filter_nums=[30],
                              kernel_sizes=[3], word_dropout=0, dropout=0.0,
                              include_word_start_end=markers)
    types = word_types(count_tokens([WORDS]))
    chars = build_chars(types, entry=set(WORDS))
    assert chars == [theirs.char_vocab.to_word(i) for i in range(len(theirs.char_vocab))]
    ours = CharCNN(len(chars), 30, 30, 3, dropout=0.0, word_markers=markers)
    with torch.no_grad():
        ours.char_embed.weight.copy_(theirs.char_embedding.weight)
        ours.conv.weight.copy_(theirs.convs[0].weight)
        ours.conv.bias.copy_(theirs.convs[0].bias)
        ours.fc.weight.copy_(theirs.fc.weight)
        ours.fc.bias.copy_(theirs.fc.bias)
    # the words of WORDS, one "sentence"; chars padded to the longest, as the batches do
    split = encode_split([WORDS], [["O"] * len(WORDS)], {}, index_of(chars), {"O": 0})
    lengths = split.word_lengths
    mask = torch.arange(int(lengths.max())).unsqueeze(0) < lengths.unsqueeze(1)
    char_ids = torch.zeros(mask.shape, dtype=torch.long).masked_scatter(mask, split.chars)
    out_theirs = theirs(torch.tensor([[vocab.to_index(w) for w in WORDS]]))[0]
    out_ours = ours(char_ids, mask)
    # Equal to float32 rounding: ours takes the ReLU after the max, which changes no value and
    # no gradient (here some filters' maxima are negative, so the ReLU's zero gradients are
    # exercised too), and sums each window as one matrix product rather than oneDNN's conv1d.
    conv = ours.conv(ours.char_embed(char_ids).transpose(1, 2))
    assert (conv.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(2) < 0).any()
    torch.testing.assert_close(out_ours, out_theirs, rtol=1e-6, atol=1e-6)
    weights = torch.randn(out_ours.shape, generator=torch.Generator().manual_seed(1))
    (out_theirs * weights).sum().backward()
    (out_ours * weights).sum().backward()
    for g_ours, g_theirs in zip(gradients(ours), gradients(theirs)):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_convolve_is_torchs_conv1d(kernel, dtype, tolerance):
    """The char CNN's convolution as a matrix product against torch's conv1d (oneDNN on the CPU),
    values and gradients: the same sums (float64), and in float32 apart from the order of a
    sum's terms (the weight gradient sums 99 products here)."""
    from models.char_cnn import convolve

    torch.manual_seed(kernel)
    conv = torch.nn.Conv1d(7, 5, kernel, padding=kernel // 2).to(dtype)
    x = torch.randn(11, 9, 7, dtype=dtype, requires_grad=True)
    weights = torch.randn(11, 9, 5, dtype=dtype)
    theirs = conv(x.transpose(1, 2)).transpose(1, 2)
    expected = torch.autograd.grad((theirs * weights).sum(), [x, conv.weight, conv.bias])
    ours = convolve(x, conv)
    torch.testing.assert_close(ours, theirs, rtol=tolerance, atol=tolerance)
    got = torch.autograd.grad((ours * weights).sum(), [x, conv.weight, conv.bias])
    for g_ours, g_theirs in zip(got, expected):
        torch.testing.assert_close(g_ours, g_theirs, rtol=tolerance, atol=tolerance)


def test_char_embedding_init_is_fastnlps():
    embed = CharCNN(5000, 30, 30, 3, dropout=0.5).char_embed.weight.detach()
    bound = math.sqrt(3 / 30)
    assert embed.abs().max() <= bound and embed[0].abs().sum() > 0      # no zero padding row
    assert abs(float(embed.std()) - bound / math.sqrt(3)) < 0.01 * bound


# ---- BiLSTM --------------------------------------------------------------------------------

@pytest.mark.parametrize("starts", [[0], [0, 1, 3], None], ids=["padded-path", "grouped-path",
                                                                 "packed-path"])
def test_bilstm_equals_fastnlp_lstm(starts):
    """fastNLP.modules.LSTM(num_layers=2, bidirectional) = our two BiLSTM layers (no dropout
    between them), on each of our paths: padded, padded in groups (rows 0 and 1-2 each of one
    length, rows 3-4 of two) and packed."""
    from fastNLP.modules import LSTM

    torch.manual_seed(0)
    theirs = LSTM(12, 8, num_layers=2, bidirectional=True, batch_first=True)
    layers = [BiLSTMLayer(12, 8), BiLSTMLayer(16, 8)]
    with torch.no_grad():
        for k, layer in enumerate(layers):
            for name, param in layer.named_parameters():
                param.copy_(getattr(theirs.lstm, name.replace("_l0", f"_l{k}")))
    lengths = torch.tensor([7, 6, 6, 3, 1])
    x = torch.randn(5, 7, 12)
    mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    weights = torch.randn(5, 7, 16) * mask.unsqueeze(2)
    x_theirs, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_theirs, _ = theirs(x_theirs, lengths)
    plan = PACKED if starts is None else padded_plan(lengths, starts, x.device)
    out_ours = layers[1].run(layers[0].run(x_ours, lengths, plan), lengths, plan)
    torch.testing.assert_close(out_ours * mask.unsqueeze(2), out_theirs * mask.unsqueeze(2), **TOL)
    (out_theirs * weights).sum().backward()
    (out_ours * weights).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, **TOL)
    for k, layer in enumerate(layers):
        for name, param in layer.named_parameters():
            reference = getattr(theirs.lstm, name.replace("_l0", f"_l{k}")).grad
            torch.testing.assert_close(param.grad, reference, **TOL)


def test_bilstm_init_is_fastnlps():
    """Forget-gate quarter of both bias vectors 1, other biases 0; xavier-uniform weights."""
    from fastNLP.modules import LSTM

    ours = BiLSTMLayer(80, 200)
    theirs = LSTM(80, 200, bidirectional=True, batch_first=True).lstm
    for name, param in ours.named_parameters():
        reference = getattr(theirs, name)
        if name.startswith("bias"):
            expected = torch.zeros(800)
            expected[200:400] = 1.0
            assert torch.equal(param.detach(), expected) and torch.equal(reference.detach(), expected)
            continue
        fan_out, fan_in = param.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        for weight in (param.detach(), reference.detach()):
            assert weight.abs().max() <= bound
            assert abs(float(weight.std()) - bound / math.sqrt(3)) < 0.02 * bound


# ---- CRF -----------------------------------------------------------------------------------

def test_crf_equals_conditional_random_field():
    """ConditionalRandomField(n) as the original builds it: no start/end scores, no constraints."""
    from fastNLP.modules import ConditionalRandomField

    torch.manual_seed(0)
    theirs = ConditionalRandomField(5)
    ours = CRF(5)
    with torch.no_grad():
        ours.transitions.copy_(theirs.trans_m)
    lengths = torch.tensor([6, 6, 4, 2, 1])
    mask = torch.arange(6).unsqueeze(0) < lengths.unsqueeze(1)
    logits = torch.randn(5, 6, 5)
    labels = torch.randint(5, (5, 6)) * mask
    e_theirs, e_ours = (logits.log_softmax(-1).detach().requires_grad_() for _ in range(2))
    loss_theirs = theirs(e_theirs, labels, mask).mean()
    loss_ours = ours.nll(e_ours, labels, mask)
    torch.testing.assert_close(loss_ours, loss_theirs, **TOL)
    loss_theirs.backward()
    loss_ours.backward()
    torch.testing.assert_close(e_ours.grad, e_theirs.grad, **TOL)
    torch.testing.assert_close(ours.transitions.grad, theirs.trans_m.grad, **TOL)
    paths, _ = theirs.viterbi_decode(e_theirs.detach(), mask, unpad=True)
    assert ours.decode(e_ours.detach(), mask) == paths


def test_crf_init_is_fastnlps():
    """Transitions xavier-normal: std sqrt(2 / (n + n))."""
    from fastNLP.modules import ConditionalRandomField

    expected = math.sqrt(2 / 1000)
    assert abs(float(CRF(500).transitions.detach().std()) - expected) < 0.02 * expected
    assert abs(float(ConditionalRandomField(500).trans_m.detach().std()) - expected) < 0.02 * expected
