"""What analyze.py expects of each saved file, checked when the file is read (utils.results.runs):
a file that does not fit is set aside and listed in the report, with the line and the field that
is wrong, and the rest of the experiment is still reported.

Only the fields the analysis reads are checked; others may hold anything.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from utils.errors import shown


class Kind(NamedTuple):
    fits: Callable[[Any], bool]
    description: str


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


WHOLE = Kind(lambda v: _int(v) and v >= 0, "a whole number")
NUMBER = Kind(_number, "a finite number")
TEXT = Kind(lambda v: isinstance(v, str), "text")
SCALAR = Kind(lambda v: v is None or isinstance(v, (int, float, str)), "a number or text")
SCORES = Kind(lambda v: isinstance(v, dict) and all(_number(s) for s in v.values()),
              "{task: finite number}")
NAMES = Kind(lambda v: isinstance(v, list) and bool(v) and all(isinstance(n, str) for n in v),
             "a non-empty list of task names")
TEXTS = Kind(lambda v: isinstance(v, dict) and all(isinstance(s, str) for s in v.values()),
             "{task: text}")
COUNTS = Kind(lambda v: isinstance(v, dict) and _int(v.get("total")),
              "{'total': whole number, ...}")
CHOICES = Kind(lambda v: isinstance(v, dict) and bool(v) and all(
    isinstance(row, dict) and WHOLE.fits(row.get("task_id")) and WHOLE.fits(row.get("round"))
    for row in v.values()), "{task: {'task_id': whole number, 'round': whole number, ...}}")

# args.json of train_single.py and of train_mtl.py (told apart by "mode"), a row of a pruning
# run's results.jsonl, a row of log.jsonl, results.json and selection.json: the fields required,
# then those that may be missing (but fit when present).
PRUNING_ARGS = ({"task_id": WHOLE, "pruning_iter": WHOLE}, {"seed": SCALAR})
MTL_ARGS = ({"mode": TEXT}, {"seed": SCALAR, "epochs": WHOLE})
ROUND_ROW = ({"round": WHOLE, "percent": NUMBER, "dev": NUMBER, "test": NUMBER},
             {"task": TEXT, "mask_file": TEXT})
LOG_ROW = ({"epoch": WHOLE, "dev": SCORES}, {})
RESULTS = ({"tasks": NAMES, "dev": SCORES, "test": SCORES, "parameters": COUNTS},
           {"seconds": NUMBER, "best_epoch": WHOLE, "metric": TEXTS})
SELECTION = ({"tasks": CHOICES}, {"rule": TEXT})

Spec = tuple[Mapping[str, Kind], Mapping[str, Kind]]


def problem(obj: Any, spec: Spec) -> str | None:
    """What is wrong with `obj` (a loaded JSON value) for `spec`, or None."""
    required, optional = spec
    if not isinstance(obj, dict):
        return "not a JSON object"
    for key, kind in required.items():
        if key not in obj:
            return f"no {key!r}"
        if not kind.fits(obj[key]):
            return f"{key!r} must be {kind.description}, got {shown(obj[key], 60)}"
    for key, kind in optional.items():
        if key in obj and not kind.fits(obj[key]):
            return f"{key!r} must be {kind.description}, got {shown(obj[key], 60)}"
    return None


def results_problem(obj: Any) -> str | None:
    """What is wrong with a results.json of train_mtl.py: its fields, and a score per task."""
    found = problem(obj, RESULTS)
    if found is None:
        lacking = [t for t in obj["tasks"] for split in ("dev", "test") if t not in obj[split]]
        if lacking:
            return f"'dev' and 'test' lack a score of {lacking[0]!r}, one of its 'tasks'"
    return found


def rows_problem(rows: Sequence[Any], spec: Spec) -> str | None:
    """The first row of a JSON-lines file that does not fit `spec`: "line N: ...", or None."""
    for number, row in enumerate(rows, start=1):
        found = problem(row, spec)
        if found:
            return f"line {number}: {found}"
    return None

