"""The tagger under bf16 autocast (the `--amp` path of the benchmark and of GPU training)."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import synthetic_data  # noqa: E402

import models.bilstm as bilstm  # noqa: E402
from models import ModelConfig, build_model  # noqa: E402
from models.lstm_plan import PACKED, padded_plan  # noqa: E402
from utils.data.batching import SplitIndex  # noqa: E402


def test_forward_and_backward_under_bf16_autocast():
    data = synthetic_data(n_train=6)
    batch = SplitIndex(data.data["pos"]["train"]).batch(torch.arange(6))
    model = build_model(ModelConfig(n_words=len(data.words), n_chars=len(data.chars),
                                    n_labels=[len(data.labels["pos"])], word_dim=8, hidden_size=6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emissions = model(batch, 0)
        loss = model.loss(emissions, batch, 0)
    loss.backward()
    assert emissions.shape[:2] == batch.words.shape
    assert torch.isfinite(loss)
    assert model.char_cnn.conv.weight.grad.abs().sum() > 0


def test_bilstm_runs_in_float32_where_the_cpu_has_no_low_precision_lstm(monkeypatch):
    # Without oneDNN's bf16 LSTM kernel the op fails under autocast; the layer then runs in
    # float32 and gives exactly the float32 outputs of its (bf16-rounded) input, on both paths.
    monkeypatch.setattr(bilstm, "cpu_lstm_supports", lambda dtype: dtype == torch.float32)
    torch.manual_seed(0)
    layer = bilstm.BiLSTMLayer(5, 4)
    x = torch.randn(3, 6, 5).bfloat16()
    lengths = torch.tensor([6, 4, 2])
    for plan in (padded_plan(lengths, [0], x.device), padded_plan(lengths, [0, 1, 2], x.device),
                 PACKED):
        expected = layer.run(x.float(), lengths, plan)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = layer.run(x, lengths, plan)
        assert got.dtype == torch.float32
        assert torch.equal(got, expected)
