"""The benchmark's workload: real training and dev sentences sampled from a data file, the model's
configuration, and one mask per task at the densities of IMP rounds."""
from __future__ import annotations

import argparse

import torch

from models import ModelConfig, build_model, data_sizes
from utils.data.datafile import PreparedData, Split
from utils.sparsity.mask_stats import n_total
from utils.sparsity.pruning import full_mask, magnitude_prune, prunable_names, target_kept
from utils.training.tasks import TaskData

# IMP rounds (of 20, final rate 0.1) whose densities the three sparse-sharing masks take.
MASK_ROUNDS = (7, 10, 14)


def sample_split(split: Split, n_sentences: int, generator: torch.Generator) -> Split:
    """A random sample of sentences (drawn over the whole split, so lengths are representative)."""
    ids = torch.randperm(split.n_sentences, generator=generator)[:n_sentences]
    tokens = _ranges(torch.cumsum(split.sent_lengths, 0) - split.sent_lengths,
                     split.sent_lengths, ids)
    chars = _ranges(torch.cumsum(split.word_lengths, 0) - split.word_lengths,
                    split.word_lengths, tokens)
    return Split(split.words[tokens], split.labels[tokens], split.sent_lengths[ids],
                 split.chars[chars], split.word_lengths[tokens])


def _ranges(starts: torch.Tensor, lengths: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Concatenated index ranges [starts[i], starts[i] + lengths[i]) of the items `ids`."""
    sizes = lengths[ids]
    offsets = torch.cumsum(sizes, 0) - sizes
    within = torch.arange(int(sizes.sum())) - torch.repeat_interleave(offsets, sizes)
    return torch.repeat_interleave(starts[ids], sizes) + within


def sample_tasks(data: PreparedData, n_train: int, n_eval: int, seed: int) -> list[TaskData]:
    """Every task with a sample of its train and dev sentences (dev stands in for test)."""
    tasks = []
    for task_id, name in enumerate(data.tasks):
        train = sample_split(data.data[name]["train"], n_train, torch.Generator().manual_seed(seed))
        dev = sample_split(data.data[name]["dev"], n_eval, torch.Generator().manual_seed(seed))
        tasks.append(TaskData.of(data, task_id, train=train, dev=dev, test=dev))
    return tasks


def model_config(data: PreparedData, args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(**data_sizes(data, "cnn-lstm"), hidden_size=args.hidden, n_layer=args.layers,
                       crf=args.crf)


def task_masks(config: ModelConfig, n_tasks: int, seed: int) -> dict[int, dict[str, torch.Tensor]]:
    """One magnitude mask per task, at the densities of IMP rounds MASK_ROUNDS (different weights)."""
    model = build_model(config)
    names = prunable_names(model)
    start = full_mask(model, names)
    masks = {}
    for task_id in range(n_tasks):
        gen = torch.Generator().manual_seed(seed + task_id)
        scores = {name: torch.rand(start[name].shape, generator=gen) for name in names}
        keep = target_kept(n_total(start), 0.1, 20, MASK_ROUNDS[task_id % len(MASK_ROUNDS)])
        masks[task_id] = magnitude_prune(scores, start, keep)
    return masks

