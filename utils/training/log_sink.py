"""Where a run reports its epochs: one line (`echo`), a row of log.jsonl, TensorBoard scalars.

The rows of a pruning round carry `fields` ({"round": k}); its TensorBoard steps are
epoch + ROUND_STRIDE * k, so that the rounds of one run follow each other on one axis.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from utils.atomic import append_jsonl, json_text, read_jsonl, text_save_atomic
from utils.training.tensorboard import check_tensorboard, open_writer

ROUND_STRIDE = 1000     # more than the epochs of any round


class LogSink:
    """The log of one run (or of one pruning round: `fields`)."""

    def __init__(self, echo: Callable[[str], None], path: str | os.PathLike | None = None,
                 fields: Mapping[str, Any] | None = None,
                 tensorboard_dir: str | os.PathLike | None = None) -> None:
        self.echo, self.path, self.fields = echo, path, dict(fields or {})
        if tensorboard_dir is not None:
            check_tensorboard(tensorboard_dir)          # before anything is written
        self.tensorboard_dir = tensorboard_dir
        self.writer = None                                 # opened by `open`

    @property
    def prefix(self) -> str:
        """"round 2 ": the fields, for the lines and messages."""
        return "".join(f"{k} {v} " for k, v in self.fields.items())

    def note(self, text: str) -> None:
        self.echo(self.prefix + text)

    def open(self) -> None:
        self.writer = open_writer(self.tensorboard_dir)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def epoch(self, row: dict[str, Any], epochs: int, others: Mapping[str, Mapping[str, float]]) -> None:
        """Report one epoch's row (`others`: per task, the scores of the metrics that do not
        select, shown in brackets)."""
        dev = " ".join(f"{name} {score:.2f}{_bracketed(others.get(name, {}))}"
                       for name, score in row["dev"].items())
        self.note(f"epoch {row['epoch']}/{epochs} loss {row['loss']:.4f} lr {row['lr']:.4g} "
                  f"dev {dev} (best epoch {row['best_epoch']}) {row['epoch_seconds']:.1f}s")
        if self.path is not None:
            append_jsonl(row, self.path)
        if self.writer is not None:
            step = row["epoch"] + ROUND_STRIDE * int(self.fields.get("round", 0))
            self.writer.add_scalar("train/loss", row["loss"], step)
            for name, score in row["dev"].items():
                self.writer.add_scalar(f"dev/{name}", score, step)

    def trim(self, last_epoch: int) -> None:
        """Drop this run's rows of epochs after `last_epoch` (written just before a crash)."""
        if self.path is None or not os.path.isfile(self.path):
            return
        rows = read_jsonl(self.path)
        mine = lambda r: all(r.get(k) == v for k, v in self.fields.items())
        kept = [r for r in rows if not (mine(r) and r.get("epoch", 0) > last_epoch)]
        if len(kept) != len(rows):
            text_save_atomic("".join(json_text(r) + "\n" for r in kept), self.path)


def _bracketed(scores: Mapping[str, float]) -> str:
    """" (conlleval 84.30)", or "" without scores."""
    return f" ({', '.join(f'{n} {s:.2f}' for n, s in scores.items())})" if scores else ""
