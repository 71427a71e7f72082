"""A task as training sees it: its id (its position in the data file, which is its model head),
its labels, tag scheme and metric, and its three splits."""
from __future__ import annotations

from dataclasses import dataclass

from utils.data.datafile import PreparedData, Split, default_metric


@dataclass
class TaskData:
    """One task of a run."""

    task_id: int
    name: str
    scheme: str
    labels: list[str]
    train: Split
    dev: Split
    test: Split
    metric: str = ""                  # "accuracy" or "f1"; default: by scheme

    def __post_init__(self) -> None:
        self.metric = self.metric or default_metric(self.scheme)

    @classmethod
    def of(cls, data: PreparedData, task_id: int, **splits: Split) -> "TaskData":
        """Task `task_id` of a data file, with its own splits unless others are given."""
        name = data.tasks[task_id]
        parts = {**data.data[name], **splits}
        return cls(task_id, name, data.schemes[name], data.labels[name], parts["train"],
                   parts["dev"], parts["test"], data.metrics[name])
