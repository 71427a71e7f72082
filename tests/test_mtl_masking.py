"""Multi-task training through task masks, with the real trainer on a small synthetic corpus.

Every optimizer step is observed by wrapping `model.loss` (called once per training batch, after
the forward pass and before the step): consecutive snapshots of the weights give each step's change.
"""
from __future__ import annotations

import torch

from models import ModelConfig, build_model
from test_model_fixtures import synthetic_data
from utils.data.batching import SplitIndex
from utils.sparsity.masking import float_mask, masked_call, union_masks, zero_pruned_
from utils.sparsity.pruning import prunable_names
from utils.training.config import TrainConfig
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer


def _tasks(data):
    return [TaskData(i, t, data.schemes[t], data.labels[t], data.data[t]["train"],
                     data.data[t]["dev"], data.data[t]["test"]) for i, t in enumerate(data.tasks)]


def _model(data, seed: int = 0):
    torch.manual_seed(seed)
    config = ModelConfig(n_words=len(data.words), n_chars=len(data.chars),
                         n_labels=[len(data.labels[t]) for t in data.tasks], word_dim=8, char_dim=4,
                         char_filters=4, hidden_size=6, n_layer=2, dropout=0.5)
    return build_model(config, data.embedding)


def _disjoint_masks(model, seed: int = 1):
    """Task 0 keeps 40% of every prunable tensor, task 1 another 40%, nobody the last 20%."""
    gen = torch.Generator().manual_seed(seed)
    masks = {0: {}, 1: {}}
    for name in prunable_names(model):
        param = dict(model.named_parameters())[name]
        rank = torch.rand(param.shape, generator=gen)
        masks[0][name] = rank < 0.4
        masks[1][name] = (rank >= 0.4) & (rank < 0.8)
    return masks


def _record_steps(model):
    """[(task_id, loss, weights before the step)] for every training batch."""
    steps = []
    original = model.loss

    def loss(emissions, batch, task_id):
        value = original(emissions, batch, task_id)
        steps.append((task_id, float(value.detach()), {n: p.detach().clone() for n, p in model.named_parameters()}))
        return value

    model.loss = loss
    return steps


def _train(model, data, masks, optim: str, epochs: int = 1):
    config = TrainConfig(epochs=epochs, optim=optim, batch_size=8, batch_schedule="seq-label", progress=False)
    if masks:      # as train_mtl.py starts: weights that no task keeps are zero
        zero_pruned_(model, union_masks(list(masks.values())))
    steps = _record_steps(model)
    Trainer(model, _tasks(data), config, seed=0, masks=masks, echo=lambda line: None).fit()
    return steps


def test_each_task_moves_only_its_own_subnetwork_and_both_move_the_shared_weights():
    data = synthetic_data(n_train=32, n_eval=8)
    model = _model(data)
    masks = _disjoint_masks(model)
    steps = _train(model, data, masks, optim="sgd(lr=0.5)")          # no momentum: exact check
    assert {task for task, _, _ in steps} == {0, 1}
    moved_shared = {0: False, 1: False}
    moved_own = {0: False, 1: False}
    for (task, _, before), (_, _, after) in zip(steps, steps[1:]):
        other = 1 - task
        for name, kept in masks[task].items():
            change = after[name] - before[name]
            assert torch.all(change[~kept] == 0), f"task {task} changed weights outside its mask in {name}"
            moved_own[task] |= bool(change[kept].abs().sum() > 0)
        assert torch.equal(after[f"heads.{other}.weight"], before[f"heads.{other}.weight"])
        for name in ("word_embed.weight", "lstm.0.bias_ih_l0", "char_cnn.char_embed.weight"):
            moved_shared[task] |= not torch.equal(after[name], before[name])
    assert moved_own == {0: True, 1: True}
    assert moved_shared == {0: True, 1: True}


def test_gradients_outside_the_mask_are_zero_and_unkept_weights_stay_zero_under_momentum():
    data = synthetic_data(n_train=32, n_eval=8)
    model = _model(data)
    masks = _disjoint_masks(model)
    steps = _train(model, data, masks, optim="sgd(lr=0.1, momentum=0.9)")
    nobody = {name: ~(masks[0][name] | masks[1][name]) for name in masks[0]}
    for _, _, weights in steps[1:]:                # after at least one step
        for name, unkept in nobody.items():
            assert torch.all(weights[name][unkept] == 0)
    params = dict(model.named_parameters())
    for task in (0, 1):
        # one batch of this task through the trainer's masked forward: exact zero gradient outside
        model.zero_grad()
        batch = SplitIndex(data.data[data.tasks[task]]["train"]).batch(torch.arange(8))
        emissions = masked_call(model, float_mask(masks[task], "cpu"), batch, task)
        model.loss(emissions, batch, task).backward()
        for name, kept in masks[task].items():
            assert torch.all(params[name].grad[~kept] == 0)
            assert params[name].grad[kept].abs().sum() > 0


def test_hard_sharing_equals_sparse_sharing_with_full_masks():
    data = synthetic_data(n_train=24, n_eval=8)
    hard_model, sparse_model = _model(data), _model(data)
    full = {t: {name: torch.ones_like(p, dtype=torch.bool) for name, p in sparse_model.named_parameters()
                if name in prunable_names(sparse_model)} for t in (0, 1)}
    hard = _train(hard_model, data, None, optim="sgd(lr=0.1, momentum=0.9)", epochs=2)
    sparse = _train(sparse_model, data, full, optim="sgd(lr=0.1, momentum=0.9)", epochs=2)
    assert [(t, loss) for t, loss, _ in hard] == [(t, loss) for t, loss, _ in sparse]
    for name, param in hard_model.state_dict().items():
        assert torch.equal(param, sparse_model.state_dict()[name]), name
