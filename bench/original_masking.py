"""The original code's masking, written here as the benchmark's peer: around every batch a deepcopy
of the state dict, `masked_fill_` of the pruned weights, forward and backward, `load_state_dict`
back, `masked_fill_` of the gradients; the same loop, batches and optimizer as the trainer's."""
from __future__ import annotations

import copy

import torch

from utils.training.optim import clip_gradients, keep_zero_grads
from utils.training.trainer import Trainer


class OriginalMasking:
    """The original code's masking around the same loop: copy, mask, step, restore, mask grads."""

    def __init__(self, trainer: Trainer, masks: dict[int, dict[str, torch.Tensor]]) -> None:
        self.trainer = trainer
        self.generator = trainer.generator
        device = trainer.config.device
        self.pruned = {t: {n: (~m).to(device) for n, m in mask.items()} for t, mask in masks.items()}
        self.had_grad: set[str] = set()

    def epoch(self, epoch: int) -> None:
        """One epoch of the trainer's schedule (`epoch` picks its kind of batches)."""
        tr, cfg = self.trainer, self.trainer.config
        model, optimizer = tr.model, tr.optimizer
        model.train()
        params = dict(model.named_parameters())
        optimizer.zero_grad()
        for task_id, ids in tr.schedule.epoch(epoch):
            batch = tr.train_index[task_id].batch(ids).to(cfg.device)
            pruned = self.pruned[task_id]
            saved = copy.deepcopy(model.state_dict())
            with torch.no_grad():
                for name, off in pruned.items():
                    params[name].masked_fill_(off, 0.0)
            loss = model.loss(model(batch, task_id), batch, task_id)
            loss.backward()
            model.load_state_dict(saved)
            for name, off in pruned.items():
                params[name].grad.masked_fill_(off, 0.0)
            keep_zero_grads(params, self.had_grad)
            clip_gradients(list(params.values()), cfg.clip_type, cfg.clip)
            optimizer.step()
            optimizer.zero_grad()
            float(loss.detach())
