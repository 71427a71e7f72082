"""Soft sharing (`--arch soft`): cross-stitch units between one BiLSTM stack per task."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import synthetic_data  # noqa: E402

import train_mtl  # noqa: E402
from models import ModelConfig, build_model  # noqa: E402
from models.soft import initial_stitch, mixing_weights  # noqa: E402
from utils.data.batching import SplitIndex  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.training.checkpoint import save_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def config(arch: str, **overrides) -> ModelConfig:
    values = dict(n_words=32, n_chars=13, n_labels=[3, 4], word_dim=8, hidden_size=6, arch=arch,
                  dropout=0.0, word_dropout=0.0)
    return ModelConfig(**{**values, **overrides})


def a_batch():
    return SplitIndex(synthetic_data(n_train=8).data["ner"]["train"]).batch(torch.arange(8))


def test_cross_stitch_starts_near_identity_with_rows_summing_to_one():
    expected = torch.tensor([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    torch.testing.assert_close(initial_stitch(3), expected)
    assert initial_stitch(1).tolist() == [[1.0]]
    names = [n for n, _ in build_model(config("soft")).named_parameters()]
    assert "stacks.1.0.weight_ih_l0_reverse" in names and "stitch.1" in names
    assert not any(n.startswith("lstm") for n in names)
    model = build_model(config("soft"))
    for logits in model.stitch:                         # the model starts from those weights
        torch.testing.assert_close(mixing_weights(logits), initial_stitch(2))


def test_the_mix_stays_convex_whatever_the_logits():
    """Free cross-stitch weights grew without bound under SGD lr 0.1 with momentum (the demo's
    soft run diverged in its first epoch); the softmax rows cannot."""
    logits = torch.tensor([[40.0, -3.0, 1e3], [-7.0, 0.0, 2.5], [1e4, 1e4, -1e4]])
    alpha = mixing_weights(logits)
    assert (alpha >= 0).all()
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones(3))


def test_each_task_runs_its_own_stack_when_the_units_do_not_mix():
    torch.manual_seed(0)
    soft = build_model(config("soft")).eval()
    flat = build_model(config("cnn-lstm")).eval()
    batch = a_batch()
    with torch.no_grad():
        for logits in soft.stitch:                      # softmax rows = the identity
            logits.copy_(torch.zeros(2, 2).masked_fill_(~torch.eye(2, dtype=torch.bool), -torch.inf))
        for task in (0, 1):
            own = f"stacks.{task}."
            state = {(f"lstm.{n[len(own):]}" if n.startswith(own) else n): p
                     for n, p in soft.state_dict().items() if not n.startswith(("stacks", "stitch"))
                     or n.startswith(own)}
            flat.load_state_dict(state)
            torch.testing.assert_close(soft(batch, task), flat(batch, task), rtol=0, atol=1e-6)


def test_a_tasks_loss_trains_the_other_stacks_and_the_units():
    torch.manual_seed(0)
    soft = build_model(config("soft"))
    batch = a_batch()
    soft.loss(soft(batch, 1), batch, 1).backward()
    assert soft.stacks[0][0].weight_ih_l0.grad.abs().sum() > 0      # task 0's stack, from task 1
    assert all(alpha.grad[1].abs().sum() > 0 for alpha in soft.stitch)


def test_flat_start_weights_start_every_stack_and_give_the_flat_models_scores():
    torch.manual_seed(0)
    flat = build_model(config("cnn-lstm")).eval()
    soft = build_model(config("soft")).eval()
    soft.load_state_dict(soft.accept_state(flat.state_dict()))
    for stack in soft.stacks:
        assert torch.equal(stack[1].weight_hh_l0, flat.lstm[1].weight_hh_l0)
    batch = a_batch()
    with torch.no_grad():           # identical stacks, rows of the units summing to one
        torch.testing.assert_close(soft(batch, 1), flat(batch, 1), rtol=0, atol=1e-5)
    assert soft.accept_state(soft.state_dict()) is not None


def test_train_mtl_soft_mode(tmp_path, monkeypatch):
    data_file = tmp_path / "tiny.pt"
    save_data_file(synthetic_data(n_train=30, n_eval=10), data_file)
    init = tmp_path / "init.th"
    flat_config = ModelConfig(n_words=32, n_chars=13, n_labels=[3, 4], word_dim=8, hidden_size=8)
    save_weights(init, build_model(flat_config), flat_config)
    args = ["train_mtl.py", "--data_path", str(data_file), "--save_dir", str(tmp_path / "mtl"),
            "--arch", "soft", "--init_weights", str(init), "--hidden_size", "8", "--epochs", "1",
            "--batch_size", "8", "--num_threads", "1"]
    monkeypatch.setattr(sys, "argv", args)
    train_mtl.main()
    results = json.loads((tmp_path / "mtl" / "cp" / "soft" / "results.json").read_text())
    assert results["mode"] == "soft" and results["arch"] == "soft"
    flat = sum(p.numel() for p in build_model(flat_config).parameters())
    stack = sum(p.numel() for n, p in build_model(flat_config).named_parameters()
                if n.startswith("lstm."))
    params = results["parameters"]
    assert params["model"] == flat + stack + 2 * 2 * 2          # a second stack, two 2x2 units
    head = {t: 8 * 2 * n + n for t, n in (("pos", 3), ("ner", 4))}
    # every task runs every stack (the units mix them): all but the other task's head
    assert params["per_task"] == {"pos": params["model"] - head["ner"],
                                  "ner": params["model"] - head["pos"]}
    monkeypatch.setattr(sys, "argv", args + ["--masks_path", str(tmp_path), "--exp_name", "x"])
    with pytest.raises(InputError, match="soft sharing .* takes no masks"):
        train_mtl.main()
