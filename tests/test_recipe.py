"""The training recipe of each script, as the original's: lr schedules stepped per epoch (constant
in multi-task training), value or norm clipping, gradient accumulation, gradients zeroed rather
than freed (momentum keeps moving a task's head on other tasks' steps)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

sys.path.insert(0, str(Path(__file__).parent))
from test_model import tiny_config  # noqa: E402
from test_model_fixtures import synthetic_data  # noqa: E402
from test_trainer import make_tasks  # noqa: E402

import train_mtl  # noqa: E402
import train_single  # noqa: E402
from models import build_model  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.training.config import TrainConfig  # noqa: E402
from utils.training.lr_schedules import lr_factor, parse_scheduler  # noqa: E402
from utils.training.optim import clip_gradients  # noqa: E402
from utils.training.schedules import make_schedule  # noqa: E402
from utils.training.trainer import Trainer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def trainer_for(task_ids=(0, 1), dropout=0.1, **cfg) -> Trainer:
    data = synthetic_data(n_train=40, n_eval=12)
    torch.manual_seed(0)
    # dropout 0 also switches word dropout off, so that gradients can be recomputed exactly
    model = build_model(tiny_config(n_words=len(data.words), n_chars=len(data.chars),
                                    dropout=dropout, word_dropout=None if dropout else 0.0,
                                    hidden_size=8), data.embedding)
    config = TrainConfig(**{"epochs": 3, "batch_size": 8, "progress": False, **cfg})
    return Trainer(model, make_tasks(data, task_ids), config, seed=5, echo=lambda line: None)


class StepRecorder:
    """Records, before every optimizer step, the lr and a copy of every gradient."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.grads: list[dict[int, torch.Tensor]] = []

    def __call__(self, optimizer, args, kwargs) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])
        self.grads.append({id(p): p.grad.detach().clone() for g in optimizer.param_groups
                           for p in g["params"] if p.grad is not None})

    def __enter__(self) -> "StepRecorder":
        self.handle = register_optimizer_step_pre_hook(self)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


# ---- the scripts' defaults -------------------------------------------------------------------
def test_each_script_defaults_to_the_original_recipe():
    mtl = train_mtl.build_parser().parse_args([])
    assert (mtl.scheduler, mtl.clip_type, mtl.clip, mtl.metric) == ("fix", "value", 5.0, "conlleval")
    assert mtl.accumulation_steps == 1 and mtl.trainer == "seq-label"
    single = train_single.build_parser().parse_args([])
    assert (single.scheduler, single.clip_type, single.clip, single.metric) == ("decay", "norm", 5.0,
                                                                                "yangjie")
    # both bucket as the original did: fastNLP's BucketSampler (its src/trainer.py, once a task's
    # first random pass is used up, and its train_single.py's Trainer)
    assert mtl.bucketing == single.bucketing == "fastnlp"


# ---- lr schedules ----------------------------------------------------------------------------
def test_lr_factors_of_the_three_schedules():
    assert [lr_factor("fix")(e) for e in range(4)] == [1.0] * 4
    assert [lr_factor("decay")(e) for e in range(3)] == pytest.approx([1, 1 / 1.05, 1 / 1.1])
    warm = lr_factor("inverse_sqrt(warmup=4)")
    assert [warm(e) for e in (0, 2, 4, 16)] == pytest.approx([0.0, 0.5, 1.0, 0.5])
    assert parse_scheduler("inverse_sqrt") == ("inverse_sqrt", {})
    for bad in ("cosine", "decay(rate=0.1)", "inverse_sqrt(warmup=0)", "inverse_sqrt(warmup=2.5)",
                "fix(", "inverse_sqrt(4000)"):
        with pytest.raises(InputError, match="--scheduler"):
            parse_scheduler(bad)


def test_multi_task_lr_is_constant_in_every_step_of_every_epoch():
    trainer = trainer_for(optim="sgd(lr=0.05, momentum=0.9)", scheduler="fix", clip_type="value",
                          batch_schedule="seq-label")
    with StepRecorder() as steps:
        result = trainer.fit()
    assert len(steps.lrs) == 3 * (5 + 5) and set(steps.lrs) == {0.05}
    assert [row["lr"] for row in result.history] == [0.05] * 3


def test_decay_changes_the_lr_between_epochs_not_within_one():
    trainer = trainer_for(task_ids=(0,), optim="sgd(lr=0.1)", scheduler="decay")
    with StepRecorder() as steps:
        trainer.fit()
    per_epoch = [steps.lrs[i:i + 5] for i in range(0, 15, 5)]
    for e, lrs in enumerate(per_epoch):
        assert len(set(lrs)) == 1 and lrs[0] == pytest.approx(0.1 / (1 + 0.05 * e))


def test_a_per_step_schedule_logs_each_epochs_largest_lr():
    """Linear warm-up over 3 of 15 steps (0.2 x 3 epochs x 5 batches), then decay to 0: by hand,
    step s runs at 0.1 * s / 3 up to s = 3, then 0.1 * (15 - s) / 12."""
    trainer = trainer_for(task_ids=(0,), optim="sgd(lr=0.1)", scheduler="linear(warmup=0.2)")
    with StepRecorder() as steps:
        result = trainer.fit()
    assert steps.lrs[:5] == pytest.approx([0.0, 0.1 / 3, 0.2 / 3, 0.1, 0.1 * 11 / 12])
    assert [row["lr"] for row in result.history] == pytest.approx([0.1, 0.1 * 10 / 12, 0.1 * 5 / 12])


# ---- clipping --------------------------------------------------------------------------------
def test_value_clipping_equals_torch_and_differs_from_norm_clipping():
    torch.manual_seed(0)
    grads = [torch.randn(6, 4) * 10, torch.randn(5) * 10, torch.tensor([5.0, -5.0, 5.5, -7.25, 1e30])]
    value, norm, ref = ([torch.nn.Parameter(torch.zeros_like(g)) for g in grads] for _ in range(3))
    for params in (value, norm, ref):
        for p, g in zip(params, grads):
            p.grad = g.clone()
    clip_gradients(value, "value", 5.0)
    clip_gradients(norm, "norm", 5.0)
    torch.nn.utils.clip_grad_value_(ref, 5.0)
    for a, b in zip(value, ref):
        assert torch.equal(a.grad, b.grad)
    assert max(float(p.grad.abs().max()) for p in value) == 5.0
    assert not torch.equal(value[0].grad, norm[0].grad)
    with pytest.raises(ValueError, match="value"):
        clip_gradients(value, "sideways", 5.0)


def test_multi_task_steps_see_every_gradient_element_clipped_to_the_value():
    threshold = 2 ** -10                               # small enough to fire on every step
    trainer = trainer_for(optim="sgd(lr=0.05, momentum=0.9)", scheduler="fix", clip_type="value",
                          clip=threshold, batch_schedule="seq-label")
    with StepRecorder() as steps:
        trainer.train_epoch(torch.optim.SGD(trainer.model.parameters(), lr=0.05, momentum=0.9), 1)
    assert steps.grads
    tops = [max(float(g.abs().max()) for g in step.values()) for step in steps.grads]
    assert max(tops) <= threshold and min(tops) == threshold


# ---- accumulation ----------------------------------------------------------------------------
def batch_gradient(trainer: Trainer, task_id: int, ids: torch.Tensor) -> dict[int, torch.Tensor]:
    model = trainer.model
    model.zero_grad(set_to_none=True)
    batch = trainer.train_index[task_id].batch(ids)
    model.loss(model(batch, task_id), batch, task_id).backward()
    return {id(p): p.grad.detach().clone() for p in model.parameters() if p.grad is not None}


def test_accumulation_divides_the_loss_and_steps_every_k_batches():
    """40 sentences, batch 8: 5 batches an epoch; k = 2. lr 0 keeps the weights (and dropout 0, word
    dropout included, the gradients) fixed, so each step's gradient must be the mean of its batches' gradients."""
    trainer = trainer_for(task_ids=(0,), dropout=0.0, optim="sgd(lr=0.0)", accumulation_steps=2,
                          clip=0.0)
    optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.0)
    trainer.generator.manual_seed(11)
    replay = make_schedule("bucketed", {0: trainer.train_index[0].lengths}, 8,
                           torch.Generator().manual_seed(11))
    batches = [ids for _, ids in replay.epoch(1)] + [ids for _, ids in replay.epoch(2)]
    with StepRecorder() as steps:
        trainer.train_epoch(optimizer, 1)
        trainer.train_epoch(optimizer, 2)
    # steps after global batches 2, 4 | 6, 8, 10; batch 5's gradient is dropped at epoch 2's start
    assert len(steps.grads) == 5 and trainer.state.steps == 10
    grads = [batch_gradient(trainer, 0, ids) for ids in batches]
    expected = [(grads[0], grads[1]), (grads[2], grads[3]), (grads[5],), (grads[6], grads[7]),
                (grads[8], grads[9])]
    for got, parts in zip(steps.grads, expected):
        for key, value in got.items():
            want = sum(part[key] for part in parts) / 2
            assert torch.allclose(value, want, atol=1e-6)


# ---- gradients zeroed, not freed --------------------------------------------------------------
class FixedOrder:
    """A schedule that gives the listed (task_id, ids) batches, whatever the epoch."""

    def __init__(self, items) -> None:
        self.items = items

    def epoch(self, epoch):
        return iter(self.items)

    def n_batches(self) -> int:
        return len(self.items)


def test_momentum_moves_a_task_head_on_another_tasks_step():
    """As with the original's zero_grad (zeros, not None): after task 1 stepped once, task 1's
    head keeps moving on task 0's steps (SGD momentum), while the weights only task 0 reads move
    and task 1's loss plays no part there."""
    trainer = trainer_for(optim="sgd(lr=0.1, momentum=0.9)", scheduler="fix", clip_type="value")
    ids = torch.arange(8)
    trainer.schedule = FixedOrder([(1, ids), (0, ids), (0, ids)])
    head = trainer.model.heads[1].weight
    seen = []
    with StepRecorder() as steps:
        optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.1, momentum=0.9)
        hook = optimizer.register_step_post_hook(lambda *a: seen.append(head.detach().clone()))
        trainer.train_epoch(optimizer, 1)
        hook.remove()
    assert len(steps.grads) == 3
    assert not torch.equal(seen[0], seen[1]) and not torch.equal(seen[1], seen[2])
    # the steps of task 0 give task 1's head a zero gradient: its move is momentum alone
    assert float(steps.grads[1][id(head)].abs().max()) == 0.0
    moved = seen[2] - seen[1]
    assert torch.allclose(moved, 0.9 * (seen[1] - seen[0]), atol=1e-7)


def test_a_step_count_of_whole_epochs_without_accumulation():
    trainer = trainer_for(task_ids=(0,))
    optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.01)
    with StepRecorder() as steps:
        trainer.train_epoch(optimizer, 1)
    assert len(steps.grads) == math.ceil(40 / 8) == trainer.state.steps
