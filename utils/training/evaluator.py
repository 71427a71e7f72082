"""Scoring the tasks on a split: every metric of each task (utils.training.metrics.make_metrics),
and the one that selects the epoch: accuracy, or the configured span F1. Each task runs through its
own mask; the length-sorted batches of a split are built on first use and kept."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from utils.data.batching import eval_batches, in_split_order
from utils.data.subword_batching import index_for
from utils.sparsity.masking import call_with_weights, masked_weights
from utils.training.config import TrainConfig
from utils.training.metrics import make_metrics
from utils.training.tasks import TaskData

Scores = dict[str, dict[str, float]]          # {task: {metric: percent}}


class Evaluator:
    """Scores `model` on the tasks' splits; `masks` are float masks by task id (masking.float_mask)."""

    def __init__(self, model: nn.Module, tasks: Sequence[TaskData],
                 masks: Mapping[int, Mapping[str, torch.Tensor]], config: TrainConfig) -> None:
        self.model, self.tasks, self.masks, self.config = model, list(tasks), masks, config
        self._batches: dict[tuple[int, str], list] = {}

    @torch.no_grad()
    def all_scores(self, split: str, predictions: dict[str, list] | None = None) -> Scores:
        """Every metric of every task on `split`; a dict given as `predictions` receives each
        task's predicted label ids per sentence, in split order."""
        self.model.eval()
        scores = {}
        for task in self.tasks:
            metrics = make_metrics(task.scheme, task.labels, task.metric)
            decoded = []
            # The task's masked weights once for the split, not once a batch (no gradients here).
            mask = self.masks.get(task.task_id)
            weights = masked_weights(self.model, mask) if mask else {}
            for batch in self.batches(task, split):
                batch = batch.to(self.config.device)
                emissions = call_with_weights(self.model, weights, batch, task.task_id)
                pred = self.model.decode(emissions, batch, task.task_id)
                gold = [row[:n] for row, n in zip(batch.labels.tolist(), batch.lengths.tolist())]
                for metric in metrics.values():
                    metric.update(gold, pred)
                decoded.extend(pred)
            scores[task.name] = {name: float(m.result()["score"]) for name, m in metrics.items()}
            if predictions is not None:
                predictions[task.name] = in_split_order(decoded, getattr(task, split).sent_lengths)
        return scores

    def selection_scores(self, scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Each task's score in the metric that selects the epoch: accuracy, or the span F1."""
        return {name: task_scores.get("acc", task_scores.get(self.config.metric))
                for name, task_scores in scores.items()}

    def other_scores(self, scores: Mapping[str, float]) -> dict[str, float]:
        """The scores of the metrics that do not select (for the log line)."""
        return {name: score for name, score in scores.items() if name not in ("acc", self.config.metric)}

    def batches(self, task: TaskData, split: str) -> list:
        """The length-sorted batches of one task's split, built on first use and kept."""
        key = (task.task_id, split)
        if key not in self._batches:
            self._batches[key] = eval_batches(index_for(getattr(task, split)),
                                              self.config.eval_batch_size,
                                              self.config.eval_max_positions)
        return self._batches[key]
