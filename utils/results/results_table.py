"""One table from several train_mtl.py runs: per task test score, averages, parameters.

A column is one or more run folders (each holding results.json); the single-task column joins
three runs, one per task, and its parameter count is the sum of the three separate models.

    python -m utils.results.results_table single=RUN_POS,RUN_CHUNK,RUN_NER hard=RUN soft=RUN hier=RUN \
        sparse=RUN [--out table.md] [--json table.json]

Over seeds: with `--seeds 1 2 3` every folder holds `{seed}`, which each seed replaces, and every
cell is the mean over the seeds +- their sample standard deviation (n - 1 in the denominator).
"""
from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from utils.atomic import json_save_atomic, text_save_atomic
from utils.errors import ArgumentParser, InputError, run_main
from utils.subnetworks.chance_report import chance_lines

METRIC_NAMES = {"accuracy": "acc", "f1": "F1"}


@dataclass
class Column:
    """Scores of one column, joined from its runs."""

    name: str
    test: dict[str, float] = field(default_factory=dict)
    dev: dict[str, float] = field(default_factory=dict)
    parameters: int = 0
    seconds: float = 0.0
    runs: list[str] = field(default_factory=list)

    def avg(self, split: str, tasks: Sequence[str]) -> float | None:
        scores = getattr(self, split)
        if not all(t in scores for t in tasks):
            return None
        return sum(scores[t] for t in tasks) / len(tasks)


def load_results(run_dir: Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise InputError("results.json not found (did the run finish?)", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", path, err.lineno) from None


def join_column(name: str, run_dirs: Sequence[Path]) -> tuple[Column, dict[str, str]]:
    """The column of these runs, and the metric name of every task they hold."""
    column, metrics = Column(name), {}
    for run_dir in run_dirs:
        results = load_results(run_dir)
        for task, score in results["test"].items():
            if task in column.test:
                raise InputError(f"task {task!r} appears in two runs of column {name!r}", run_dir)
            column.test[task] = float(score)
            column.dev[task] = float(results["dev"][task])
        metrics.update(results.get("metric", {}))
        column.parameters += int(results["parameters"]["total"])
        column.seconds += float(results.get("seconds", 0.0))
        column.runs.append(str(run_dir))
    return column, metrics


def _cell(values: Sequence[float | None], digits: int = 2) -> str:
    """One seed: the value; several: mean +- sample standard deviation; a missing one: "-"."""
    if any(v is None for v in values):
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _count_cell(values: Sequence[int]) -> str:
    if len(values) == 1:
        return f"{values[0]:,}"
    return f"{round(statistics.mean(values)):,} ± {round(statistics.stdev(values)):,}"


def table_rows(stacks: Sequence[Sequence[Column]], tasks: Sequence[str],
               metrics: dict[str, str]) -> list[list[str]]:
    """Header + one row per task + averages + parameters, as strings. Each stack is one column
    over the seeds (a single Column without seeds)."""
    rows = [["test score (%)"] + [s[0].name for s in stacks]]
    for task in tasks:
        label = f"{task} ({METRIC_NAMES.get(metrics.get(task, ''), metrics.get(task, '?'))})"
        rows.append([label] + [_cell([c.test.get(task) for c in s]) for s in stacks])
    rows.append(["avg (test)"] + [_cell([c.avg("test", tasks) for c in s]) for s in stacks])
    rows.append(["avg (dev)"] + [_cell([c.avg("dev", tasks) for c in s]) for s in stacks])
    rows.append(["parameters"] + [_count_cell([c.parameters for c in s]) for s in stacks])
    rows.append(["train minutes"] + [_cell([c.seconds / 60 for c in s], 1) for s in stacks])
    return rows


def format_text(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def parse_column(spec: str) -> tuple[str, list[Path]]:
    """"NAME=DIR[,DIR...]" -> (NAME, [DIR, ...])."""
    name, sep, dirs = spec.partition("=")
    if not sep or not name or not dirs:
        raise InputError(f"expected NAME=RUN_DIR[,RUN_DIR...], got {spec!r}", "results_table")
    return name, [Path(d) for d in dirs.split(",") if d]


def seed_spec(spec: str, seed: str) -> str:
    """A column spec with its `{seed}` placeholders filled in."""
    if "{seed}" not in spec:
        raise InputError(f"with --seeds every column's folders must hold {{seed}}, got {spec!r}",
                         "results_table")
    return spec.replace("{seed}", seed)


def column_json(column: Column, tasks: Sequence[str]) -> dict:
    return {"test": column.test, "dev": column.dev, "avg_test": column.avg("test", tasks),
            "avg_dev": column.avg("dev", tasks), "parameters": column.parameters,
            "seconds": column.seconds, "runs": column.runs}


def seeds_json(stack: Sequence[Column], seeds: Sequence[str], tasks: Sequence[str]) -> dict:
    """Mean and sample standard deviation over the seeds of every number, and each seed's own."""
    per_seed = {seed: column_json(c, tasks) for seed, c in zip(seeds, stack)}
    summary: dict = {"seeds": list(seeds)}
    for key in ("test", "dev"):
        common = [t for t in per_seed[seeds[0]][key] if all(t in p[key] for p in per_seed.values())]
        values = {t: [p[key][t] for p in per_seed.values()] for t in common}
        summary[key] = {t: statistics.mean(v) for t, v in values.items()}
        summary[f"{key}_std"] = {t: statistics.stdev(v) for t, v in values.items()}
    for key in ("avg_test", "avg_dev", "parameters", "seconds"):
        values = [p[key] for p in per_seed.values()]
        missing = any(v is None for v in values)
        summary[key] = None if missing else statistics.mean(values)
        summary[f"{key}_std"] = None if missing else statistics.stdev(values)
    summary["per_seed"] = per_seed
    return summary


def build(specs: Sequence[str], tasks: Sequence[str] | None = None,
          seeds: Sequence[str] | None = None) -> tuple[list[list[str]], dict]:
    """Rows of the table and its JSON form, from column specs (over `seeds` if given: at least
    two, each spec holding `{seed}`)."""
    if seeds is not None and len(seeds) < 2:
        raise InputError(f"--seeds needs at least two seeds, got {list(seeds)}", "results_table")
    stacks: list[list[Column]] = []
    metrics: dict[str, str] = {}
    for spec in specs:
        stack = []
        for filled in ([spec] if seeds is None else [seed_spec(spec, s) for s in seeds]):
            column, column_metrics = join_column(*parse_column(filled))
            stack.append(column)
            metrics.update(column_metrics)
        stacks.append(stack)
    if tasks is None:
        tasks = list(dict.fromkeys(t for s in stacks for c in s for t in c.test))
    rows = table_rows(stacks, tasks, metrics)
    if seeds is None:
        as_json = {s[0].name: column_json(s[0], tasks) for s in stacks}
    else:
        as_json = {s[0].name: seeds_json(s, seeds, tasks) for s in stacks}
    return rows, as_json


def chance_notes(specs: Sequence[str], seeds: Sequence[str] | None = None) -> list[str]:
    """The prepare-masks.sh warnings of the masks these runs trained with (their selection.json):
    a task whose dev score stayed at chance level in every pruning round."""
    flagged: dict[str, dict] = {}
    for spec in specs:
        for filled in ([spec] if seeds is None else [seed_spec(spec, s) for s in seeds]):
            for run_dir in parse_column(filled)[1]:
                masks = load_results(run_dir).get("masks_path")
                selection = Path(masks) / "selection.json" if isinstance(masks, str) else None
                if selection is not None and selection.is_file():
                    flagged.update(json.loads(selection.read_text(encoding="utf-8")).get("at_chance", {}))
    return chance_lines(flagged, "note: ")


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(description="Print one results table from train_mtl.py runs.",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("columns", nargs="+", help="NAME=RUN_DIR[,RUN_DIR...] per column, in order")
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="task rows, in order (default: the tasks found, in order)")
    parser.add_argument("--seeds", nargs="+", default=None,
                        help="build each column once per seed ({seed} in its folders) and show "
                             "mean ± sample standard deviation")
    parser.add_argument("--title", default=None, help="a line printed above the table")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as Markdown here")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    rows, as_json = build(args.columns, args.tasks, args.seeds)
    if args.title:
        print(args.title)
    print(format_text(rows))
    notes = chance_notes(args.columns, args.seeds)
    if notes:
        print("\n".join(notes))
    if args.out:
        text = (f"{args.title}\n\n" if args.title else "") + format_markdown(rows) + "\n"
        text += "".join(f"\n{note}\n" for note in notes)
        text_save_atomic(text, args.out)
    if args.json:
        json_save_atomic(as_json, args.json)


if __name__ == "__main__":
    run_main(main)
