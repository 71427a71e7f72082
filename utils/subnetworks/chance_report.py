"""The words for a task whose pruning learned nothing (mask_select's `at_chance`): one module
without torch, so the results table can say them without importing the mask code."""
from __future__ import annotations


def chance_lines(flagged: dict[str, dict], prefix: str) -> list[str]:
    """One line per task that stayed at chance level in every pruning round."""
    return [f"{prefix}{name}: dev {row['best_dev']:.2f} at best, its chance level "
            f"{row['chance']:.2f}, in every pruning round: it learned nothing, and its mask was "
            "chosen without a signal (more epochs or sentences, or leave the task out)"
            for name, row in flagged.items()]
