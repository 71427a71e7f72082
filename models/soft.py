"""Soft sharing (`--arch soft`): one BiLSTM stack per task, joined by cross-stitch units.

The paper compares with soft sharing but its code has none, and it does not say which soft-sharing
model it used. This is the common one for sequence labelling, cross-stitch networks (Misra et al.,
CVPR 2016): every task has its own BiLSTM stack (same sizes and init as the shared one); after
each layer l, task t's stack continues from the mix sum_s alpha_l[t, s] * h_s of all stacks'
outputs, one learned weight per layer and pair of tasks, starting at 0.9 for a task's own stack
and 0.1 / (tasks - 1) for each other one (rows sum to 1, as Misra et al. start them). The weights
are kept a convex combination: each row is the softmax of learned logits. Misra et al. learn the
weights themselves, with their own larger learning rate; under the paper's recipe (one SGD lr 0.1
with momentum, multi-task gradients clipped per element at 5) free weights, whose gradient sums
over every token and feature, grew without bound and the demo's soft run diverged in its first
epoch. A convex mix keeps the next layer's input within the range of the LSTM outputs. Word
embedding, char CNN and dropout are shared as in the base network; each task has its head (and
CRF). There is a stack for every task of the data file, also when `--tasks` trains fewer (the
heads are built the same way). A batch of any task runs through every stack, so a step costs
about one BiLSTM pass per task.

Parameter names: `stacks.<task>.<layer>.weight_ih_l0` (etc., as `lstm.<layer>.*`), `stitch.<layer>`
([tasks, tasks] logits, row t mixes for task t). No name contains "lstm": soft sharing is a baseline, not
pruned. `accept_state` starts every stack from a flat model's BiLSTM, so the baselines can all
start from the same init_weights.th.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import nn

from models.bilstm import BiLSTMLayer
from models.lstm_plan import Plan
from models.tagger import Tagger

SELF_WEIGHT = 0.9
_FLAT_LSTM = re.compile(r"^lstm\.(\d+)\.(.+)$")


def initial_stitch(n_tasks: int) -> torch.Tensor:
    """[n_tasks, n_tasks] mixing weights: SELF_WEIGHT on the diagonal, the rest of each row split
    evenly."""
    if n_tasks == 1:
        return torch.ones(1, 1)
    other = (1.0 - SELF_WEIGHT) / (n_tasks - 1)
    return torch.full((n_tasks, n_tasks), other).fill_diagonal_(SELF_WEIGHT)


def mixing_weights(logits: torch.Tensor) -> torch.Tensor:
    """The cross-stitch weights of one layer: each row a softmax, so non-negative and summing to 1."""
    return torch.softmax(logits, dim=1)


class SoftSharingTagger(Tagger):
    """Tagger whose encoder is one BiLSTM stack per task with cross-stitch units."""

    def build_encoder(self, input_size: int) -> None:
        config = self.config
        sizes = [input_size] + [2 * config.hidden_size] * config.n_layer
        self.stacks = nn.ModuleList(
            nn.ModuleList(BiLSTMLayer(sizes[i], config.hidden_size) for i in range(config.n_layer))
            for _ in config.n_labels)
        # logits whose row softmax is initial_stitch (log of weights that sum to 1)
        self.stitch = nn.ParameterList(nn.Parameter(initial_stitch(len(config.n_labels)).log())
                                       for _ in range(config.n_layer))

    def encode(self, x: torch.Tensor, lengths: torch.Tensor, plan: Plan, task_id: int) -> torch.Tensor:
        """Task `task_id`'s mix of the top layer's outputs of all stacks."""
        inputs = [x] * len(self.stacks)
        for layer in range(self.config.n_layer):
            outputs = torch.stack([stack[layer].run(inputs[t], lengths, plan)
                                   for t, stack in enumerate(self.stacks)])     # [tasks, B, T, F]
            alpha = mixing_weights(self.stitch[layer]).to(outputs.dtype)
            if layer == self.config.n_layer - 1:
                return torch.einsum("s,sbtf->btf", alpha[task_id], outputs)
            inputs = list(torch.einsum("rs,sbtf->rbtf", alpha, outputs))
        raise AssertionError("n_layer must be at least 1")

    def accept_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """A soft-sharing state as is; a flat model's state with its BiLSTM copied into every
        task's stack and the cross-stitch units at their start values."""
        if any(name.startswith("stacks.") for name in state):
            return state
        widened = {name: value for name, value in state.items() if not _FLAT_LSTM.match(name)}
        for name, value in state.items():
            match = _FLAT_LSTM.match(name)
            if match:
                for task in range(len(self.stacks)):
                    widened[f"stacks.{task}.{match.group(1)}.{match.group(2)}"] = value
        for layer, alpha in enumerate(self.stitch):
            widened[f"stitch.{layer}"] = alpha.detach().clone()
        return widened
