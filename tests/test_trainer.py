"""The training loop: learning, masks during training, resume, early stopping, optimizer strings,
batch schedules."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model import tiny_config  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402

from models import build_model  # noqa: E402
from torch.optim.optimizer import register_optimizer_step_post_hook  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.sparsity.mask_stats import n_total  # noqa: E402
from utils.sparsity.masking import zero_pruned_  # noqa: E402
from utils.sparsity.pruning import full_mask, magnitude_prune, prunable_names  # noqa: E402
from utils.training.config import TrainConfig  # noqa: E402
from utils.training.evaluator import Evaluator  # noqa: E402
from utils.training.lr_schedules import build_scheduler  # noqa: E402
from utils.training.optim import build_optimizer, parse_optim  # noqa: E402
from utils.training.tasks import TaskData  # noqa: E402
from utils.training.trainer import Trainer  # noqa: E402


# Tiny models: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def make_tasks(data, task_ids=(0,)):
    return [TaskData(i, data.tasks[i], data.schemes[data.tasks[i]], data.labels[data.tasks[i]],
                     **data.data[data.tasks[i]]) for i in task_ids]


def make_trainer(tmp_path, epochs=3, mask=None, task_ids=(0,), echo=lambda s: None, seed=3, **cfg):
    data = synthetic_data(n_train=60, n_eval=20)
    torch.manual_seed(0)
    model = build_model(tiny_config(n_words=len(data.words), n_chars=len(data.chars), dropout=0.1,
                                    hidden_size=16), data.embedding)
    config = TrainConfig(epochs=epochs, progress=False, **{"batch_size": 8, **cfg})
    masks = {t: mask(model) for t in task_ids} if mask else None
    trainer = Trainer(model, make_tasks(data, task_ids), config, seed=seed, masks=masks,
                      state_path=tmp_path / "state.th", log_path=tmp_path / "log.jsonl",
                      log_fields={"round": 0}, echo=echo)
    return trainer, model


def third_kept(model):
    names = prunable_names(model)
    full = full_mask(model, names)
    return magnitude_prune(dict(model.named_parameters()), full, n_total(full) // 3)


def test_training_learns_and_tests_the_selected_epoch(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=6, optim="adam(lr=0.02)")
    before = trainer.evaluate("dev")["pos"]
    result = trainer.fit()
    assert result.dev["pos"] > max(80.0, before + 20)
    assert result.test["pos"] > 75.0
    assert result.dev["pos"] == max(row["dev"]["pos"] for row in result.history)
    assert result.history[result.best_epoch - 1]["dev"]["pos"] == result.dev["pos"]
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6] and rows[0]["round"] == 0
    assert rows[1]["lr"] == pytest.approx(0.02 / 1.05)


class MaskProducts(TorchDispatchMode):
    """Counts the products that read one of `masks`' tensors."""

    def __init__(self, masks):
        super().__init__()
        self.pointers, self.count = {m.data_ptr() for mask in masks for m in mask.values()}, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.mul.Tensor and any(
                isinstance(a, torch.Tensor) and a.data_ptr() in self.pointers for a in args):
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_evaluation_masks_each_task_once_a_split_and_scores_its_subnetwork(tmp_path):
    seeds = iter(range(2))
    trainer, model = make_trainer(tmp_path, mask=lambda m: random_kept(m, next(seeds)),
                                  task_ids=(0, 1), eval_batch_size=4)
    assert all(len(trainer.evaluator.batches(t, "dev")) > 2 for t in trainer.tasks)
    predicted = {}
    with MaskProducts(trainer.masks.values()) as products:
        trainer.evaluator.all_scores("dev", predicted)
    assert products.count == sum(len(mask) for mask in trainer.masks.values())
    for task in trainer.tasks:     # the oracle: each task's weights set to zero by hand, no mask
        zeroed = copy.deepcopy(model)
        zero_pruned_(zeroed, trainer.masks[task.task_id])
        alone = {}
        Evaluator(zeroed, [task], {}, trainer.config).all_scores("dev", alone)
        assert alone[task.name] == predicted[task.name]


def random_kept(model, seed):
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    return {n: torch.rand(params[n].shape, generator=gen) < 0.5 for n in prunable_names(model)}


def test_pruned_weights_never_move_and_end_at_zero(tmp_path):
    trainer, model = make_trainer(tmp_path, epochs=2, mask=third_kept)
    mask = trainer.masks[0]
    params = dict(model.named_parameters())
    with torch.no_grad():                      # start with nonzero pruned weights on purpose
        for name in mask:
            params[name].add_(0.5)
    start = {n: params[n].detach().clone() for n in mask}
    moved = []

    def after_step(optimizer, args, kwargs):   # runs right after optimizer.step()
        for name, kept in mask.items():
            pruned = kept == 0
            changed = params[name].detach()[pruned] != start[name][pruned]
            moved.append(bool(changed.any()) and bool((params[name].detach()[pruned] != 0).any()))

    handle = register_optimizer_step_post_hook(after_step)
    try:
        trainer.fit()
    finally:
        handle.remove()
    assert moved and not any(moved)            # no pruned weight moved except to zero
    survivors = 0
    for name, kept in mask.items():
        assert torch.count_nonzero(params[name].detach()[kept == 0]) == 0
        survivors += int(torch.count_nonzero(params[name].detach()[kept == 1]))
    assert survivors > 0


class Crash(Exception):
    pass


@pytest.mark.parametrize("task_ids, schedule", [((0,), "bucketed"), ((0, 1), "re-seq-label"),
                                                ((0, 1), "temperature")])
def test_resume_after_a_crash_gives_the_same_run(tmp_path, task_ids, schedule):
    """Two tasks: the batch streams and the momentum on the other task's head carry over too."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    same = dict(epochs=4, mask=third_kept, task_ids=task_ids, batch_schedule=schedule)
    whole, model_a = make_trainer(tmp_path / "a", **same)
    expected = whole.fit()

    def crash_at_epoch_3(line):
        if "epoch 3/" in line:
            raise Crash
    crashing, _ = make_trainer(tmp_path / "b", echo=crash_at_epoch_3, **same)
    with pytest.raises(Crash):
        crashing.fit()
    resumed, model_b = make_trainer(tmp_path / "b", seed=999, **same)
    got = resumed.fit()
    assert (got.dev, got.test, got.best_epoch) == (expected.dev, expected.test, expected.best_epoch)
    for (name, a), (_, b) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert torch.equal(a, b), name
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]              # the crashed epoch's row was dropped, then redone


def test_patience_stops_early(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=30, optim="sgd(lr=0.0)", patience=2)
    result = trainer.fit()
    assert result.epochs == 3 and result.best_epoch == 1


def test_two_tasks_train_together(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2, task_ids=(0, 1), batch_schedule="seq-label",
                              optim="adam(lr=0.02)")
    result = trainer.fit()
    assert set(result.dev) == {"pos", "ner"} and set(result.test) == {"pos", "ner"}


def test_optimizer_strings_are_parsed_safely():
    assert parse_optim("sgd(lr=0.1, momentum=0.9)") == ("sgd", {"lr": 0.1, "momentum": 0.9})
    assert parse_optim("Adam(lr=1e-3, betas=(0.9, 0.99))") == ("adam", {"lr": 0.001, "betas": (0.9, 0.99)})
    assert parse_optim("adam") == ("adam", {})
    for bad in ("sgd(lr=__import__('os'))", "os.system('x')", "sgd(0.1)", "lion(lr=1)",
                "sgd(lr=0.1, foo=2)", "sgd(lr=", "[sgd]"):
        with pytest.raises(InputError):
            parse_optim(bad)
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = build_optimizer("sgd(lr=0.1, momentum=0.9)", [param])
    assert optimizer.param_groups[0]["momentum"] == 0.9
    with pytest.raises(InputError):
        build_optimizer("sgd(lr=-1)", [param])
    scheduler = build_scheduler("decay", optimizer)
    for epoch in range(1, 4):
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / (1 + 0.05 * epoch))


# (spec, torch's class and arguments, the mode build_optimizer must choose)
OPTIMIZER_CASES = [
    ("sgd(lr=0.1, momentum=0.9)", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}, "fused"),
    ("sgd(lr=0.1, momentum=0.9, nesterov=True)", torch.optim.SGD,
     {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "fused"),
    ("sgd(lr=0.1)", torch.optim.SGD, {"lr": 0.1}, "fused"),
    ("sgd(lr=0.1, momentum=0.9, dampening=0.5)", torch.optim.SGD,
     {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, "foreach"),
    ("adamw(lr=1e-3, weight_decay=0.01)", torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.01}, "fused"),
    ("adam(lr=1e-3)", torch.optim.Adam, {"lr": 1e-3}, "fused"),
    ("adagrad(lr=0.1)", torch.optim.Adagrad, {"lr": 0.1}, "foreach"),
]


@pytest.mark.parametrize("spec, torch_class, arguments, mode", OPTIMIZER_CASES)
def test_optimizers_take_torchs_per_tensor_steps(spec, torch_class, arguments, mode):
    """build_optimizer updates each tensor in one fused pass (SGD, Adam, AdamW) or all tensors
    per call (foreach); torch's per-tensor loop is the oracle, over 30 steps of random gradients
    on four tensors, one of which gets its first gradient at step 10 and skips step 20 (a task's
    head in multi-task training). foreach is bit for bit; fused differs in the last bits (a fused
    multiply-add) and not more."""
    torch.manual_seed(0)
    start = [torch.randn(50, 30), torch.randn(30), torch.randn(7, 3, 5), torch.randn(12)]
    ours = [torch.nn.Parameter(t.clone()) for t in start]
    theirs = [torch.nn.Parameter(t.clone()) for t in start]
    optimizers = build_optimizer(spec, ours), torch_class(theirs, **arguments, foreach=False)
    assert optimizers[0].defaults.get(mode) is True
    for step in range(30):
        for a, b in zip(ours, theirs):
            late = a is ours[-1] and (step < 10 or step == 20)
            a.grad = None if late else torch.randn_like(a)
            b.grad = None if late else a.grad.clone()
        for optimizer in optimizers:
            optimizer.step()
    for a, b, before in zip(ours, theirs, start):
        assert not torch.equal(a, before)
        if mode == "foreach":
            assert torch.equal(a, b)
        else:
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_a_task_loss_weight_scales_its_step(tmp_path):
    """One step of plain SGD (one batch of all 60 sentences, no clipping): a loss weight of 2
    moves every weight twice as far, the same dropout drawn."""
    moved = {}
    for weights in ({}, {0: 2.0}):
        (tmp_path / str(len(weights))).mkdir()
        trainer, model = make_trainer(tmp_path / str(len(weights)), epochs=1, batch_size=60,
                                      optim="sgd(lr=0.1)", clip=0.0, loss_weights=weights)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        trainer.train_epoch(trainer.optimizer, 1)
        moved[len(weights)] = {n: p.detach() - before[n] for n, p in model.named_parameters()}
    for name, delta in moved[0].items():
        assert torch.allclose(moved[1][name], 2 * delta, rtol=1e-3, atol=1e-6), name  # float32 steps
    assert any(delta.abs().sum() > 0 for delta in moved[0].values())
