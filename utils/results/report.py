"""analyze.py's report: every figure with its CSV, the Markdown tables and report.md, written to
a temporary folder beside the output and moved into place at the end, so an interrupted report
never leaves a half-written folder and an old report is replaced whole; only a folder analyze.py
made (its marker, utils/owned.py) is ever replaced."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from utils.atomic import replacing_folder
from utils.errors import InputError, shorten
from utils.owned import check_ours
from utils.results import analysis, plots
from utils.results.results_table import METRIC_NAMES, format_markdown
from utils.results.runs import Experiment, Selection, discover
from utils.training.fingerprint import content_changes
from utils.training.run_dir import INPUTS_KEY

REPORT = "report.md"
REPORT_KIND = "report"      # the marker of analyze.py's folders (utils/owned.py)


@dataclass
class Report:
    """What goes into report.md, section by section, and the files written so far."""

    folder: Path
    sections: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # "<file>: why", files set aside

    def add(self, *lines: str) -> None:
        """A block of report.md; a heading as its first line gets a blank line after it."""
        if len(lines) > 1 and lines[0].startswith("#") and lines[1]:
            lines = (lines[0], "", *lines[1:])
        self.sections.append("\n".join(lines))

    def csv(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        (self.folder / name).write_text(buffer.getvalue(), encoding="utf-8")
        self.files.append(name)

    def figure(self, name: str, draw: Callable[[Path], None]) -> str:
        draw(self.folder / name)
        self.files.append(name)
        return f"![{name}]({name})"


def _csv_value(value: Any) -> Any:
    return f"{value:.4f}" if isinstance(value, float) else value


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def _names(labels: Sequence[str], stem: str) -> list[str]:
    """One file stem per item: `stem` alone when there is one item, else `stem_<label>`."""
    return [stem] if len(labels) == 1 else [f"{stem}_{_slug(label)}" for label in labels]


# ---- sections -------------------------------------------------------------------------------
def runs_section(report: Report, exp: Experiment) -> None:
    rows = [["kind", "run", "what", "seed", "status"]]
    changed = []
    for run in exp.pruning:
        rows.append(["pruning", exp.relative(run.path), run.task, str(run.seed), run.status()])
        changed += _changed_inputs(exp, run.path, run.args.get(INPUTS_KEY))
    for sel in exp.selections:
        chosen = ", ".join(f"{t} round {k}" for t, k in sel.rounds.items())
        rows.append(["masks", exp.relative(sel.path), chosen, "", sel.summary.get("rule", "")])
        changed += _changed_inputs(exp, sel.path, sel.summary.get(INPUTS_KEY), gone_ok=True)
    for run in exp.mtl:
        rows.append(["multi-task", exp.relative(run.path), f"{run.mode}: {', '.join(run.tasks)}",
                     str(run.seed), run.status()])
        changed += _changed_inputs(exp, run.path, run.args.get(INPUTS_KEY))
    report.add("## Runs found", "", format_markdown(rows))
    if changed:
        report.add("Built from inputs that have changed since (their numbers are those of the "
                   "inputs as they were; train them again to have the new ones):", "",
                   "\n".join(f"- {line}" for line in changed))


def _changed_inputs(exp: Experiment, path: Path, recorded: Any, gone_ok: bool = False) -> list[str]:
    """"`run`: what changed" for an artifact whose recorded inputs (utils/built_from.py) no longer
    hold what they held; nothing when none were recorded."""
    if not isinstance(recorded, dict):
        return []
    try:
        changes = content_changes(recorded, gone_ok=gone_ok)
    except (InputError, OSError) as err:
        changes = [f"its inputs cannot be read ({err})"]
    return [f"`{exp.relative(path)}`: {shorten('; '.join(changes), 400)}"] if changes else []


def pruning_section(report: Report, sets: Sequence[analysis.PruningSet]) -> None:
    report.add("## Pruning curves",
               "Dev and test score of each task's pruning round against the percent of prunable "
               "weights it keeps; the ringed point is the round prepare-masks.sh chose.")
    for pset, stem in zip(sets, _names([s.label for s in sets], "pruning_curves")):
        rows = analysis.pruning_curve_rows(pset)
        if not rows:
            report.add(f"{pset.label}: no finished round yet.")
            continue
        tasks = list(pset.runs)
        report.csv(f"{stem}.csv", rows)
        image = report.figure(f"{stem}.png", lambda p: plots.pruning_curves(
            rows, tasks, f"Pruning curves, {pset.label}", p))
        table = [["round", "% kept"] + [f"{t} dev / test" for t in tasks]]
        for k in sorted({r["round"] for r in rows}):
            cells = {r["task"]: r for r in rows if r["round"] == k}
            table.append([str(k), _fmt(next(iter(cells.values()))["percent_kept"])]
                         + [_pruning_cell(cells.get(t)) for t in tasks])
        chosen = "" if pset.selection is None else (
            " Chosen (marked *): " + ", ".join(f"{t} round {k}" for t, k in pset.selection.rounds.items())
            + f" ({pset.selection.summary.get('rule', '')}).")
        report.add(f"### {pset.label}", "", image, "", format_markdown(table), "",
                   f"Data: `{stem}.csv`.{chosen}")


def _pruning_cell(row: dict | None) -> str:
    if row is None:
        return "-"
    return f"{_fmt(row['dev'])} / {_fmt(row['test'])}" + (" *" if row["chosen"] else "")


def _readable_rows(exp: Experiment, items: Sequence[Any], rows: Callable[[Any], list[dict[str, Any]]],
                   then: str = "left out of the overlap") -> list[tuple[Any, list[dict[str, Any]]]]:
    """(item, its rows) for every item with rows; an item whose rows need a file that cannot be
    used is left out (and the file listed with the skipped ones)."""
    found = []
    for item in items:
        try:
            item_rows = rows(item)
        except InputError as err:
            exp.unreadable.append((Path(str(err.path)), f"{err.message} ({then})"))
            continue
        if item_rows:
            found.append((item, item_rows))
    return found


def overlap_rounds_section(report: Report, exp: Experiment,
                           sets: Sequence[analysis.PruningSet]) -> None:
    usable = _readable_rows(exp, sets, analysis.overlap_round_rows)
    if not usable:
        return
    report.add("## Overlap across pruning rounds",
               "For every pair of tasks, the overlap ratio of their masks at each round "
               "(weights kept by both / kept by either; for a set of more tasks, kept by all of "
               "them / kept by any, averaged over the sets of that size), and the share of "
               "prunable weights all tasks keep. Dotted, and in brackets: what masks of the same "
               "densities drawn independently would give; above it, the tasks keep the same "
               "weights more often than chance. The CSV has every pair and every set size.")
    for (pset, rows), stem in zip(usable, _names([s.label for s, _ in usable], "overlap_rounds")):
        tasks = list(pset.runs)
        report.csv(f"{stem}.csv", rows)
        image = report.figure(f"{stem}.png", lambda p: plots.overlap_rounds(
            rows, tasks, f"Mask overlap across rounds, {pset.label}", p))
        shown = plots.overlap_columns(rows[0], len(tasks))
        table = [["round", "% kept"] + [f"{label} (indep.)" for label, _ in shown]
                 + ["kept by all (indep.)"]]
        for r in rows:
            table.append([str(r["round"]), _fmt(r["percent_kept"])]
                         + [f"{_fmt(r[key])} ({_fmt(r[f'independent_{key}'])})" for _, key in shown]
                         + [f"{_fmt(r['all'])} ({_fmt(r['independent_all'])})"])
        report.add(f"### {pset.label}", "", image, "", format_markdown(table), "",
                   f"Overlap ratios and the share kept by all, in percent. Data: `{stem}.csv`.")


def chosen_section(report: Report, exp: Experiment) -> list[Selection]:
    """The overlap of each selection's masks per tensor; returns the selections whose masks
    could be read."""
    found = _readable_rows(exp, [s for s in exp.selections if len(s.rounds) > 1],
                           analysis.chosen_overlap_rows)
    usable = [s for s, _ in found]
    if not usable:
        return usable
    report.add("## Overlap of the chosen masks",
               "Per parameter tensor and overall, in percent of the tensor's prunable weights: kept "
               "by each task, by both tasks of each pair, by all, by one task only (private), by none "
               "(pruned). The heatmap gives the overlap ratio of each pair (kept by both / kept by either) "
               "and of larger sets of tasks (kept by all / kept by any, averaged over the sets of a "
               "size).")
    chosen_rows = {id(s): rows for s, rows in found}
    for sel, stem in zip(usable, _names([exp.relative(s.path) for s in usable], "chosen_masks")):
        rows = chosen_rows[id(sel)]
        tasks = list(sel.rounds)
        report.csv(f"{stem}.csv", rows)
        image = report.figure(f"{stem}.png", lambda p: plots.overlap_heatmap(
            rows, tasks, f"Overlap of the chosen masks ({exp.relative(sel.path)})", p))
        ratios = ("iou:", "subset_iou:")
        keys = [k for k in rows[0] if k not in ("tensor", "weights") and not k.startswith(ratios)]
        shares = [["tensor", "weights"] + [k.replace(":", " ") for k in keys]]
        shares += [[r["tensor"], f"{r['weights']:,}"] + [_fmt(r[k], 1) for k in keys] for r in rows]
        ious = [k for k in rows[0] if k.startswith("iou:")]
        ious += [k for k in rows[0] if k.startswith("subset_iou:") and int(k.split(":")[1]) > 2]
        ratio = [["tensor"] + [k.replace("subset_iou:", "sets of ").replace(":", " ") for k in ious]]
        ratio += [[r["tensor"]] + [_fmt(r[k], 1) for k in ious] for r in rows]
        report.add(f"### `{exp.relative(sel.path)}`", "", image, "", format_markdown(shares), "",
                   format_markdown(ratio), "", f"Data: `{stem}.csv`.")
    return usable


def places_section(report: Report, exp: Experiment, selections: Sequence[Selection]) -> None:
    """For an encoder's chosen masks (of `selections`, whose masks chosen_section could read):
    the overlap per layer and matrix kind, attention against feed-forward (nothing for the
    BiLSTM tagger)."""
    found = _readable_rows(exp, selections, analysis.chosen_place_rows, "left out of the overlap per layer")
    if not found:
        return
    report.add("## Where in the encoder the tasks share",
               "The chosen masks per encoder layer (as numbered in the parameter names, 0 nearest "
               "the embeddings) and matrix kind: attention query, key, value and output, "
               "feed-forward in and out, each block and the whole layer, in percent of the weights "
               "there. Heat maps: the share each task keeps, the share each pair keeps (both) and "
               "the share all tasks keep; the bottom row pools the layers. Line plot and table: "
               "the overlap ratio of all tasks (kept by all / kept by any) in attention and in "
               "feed-forward, and in brackets what independent masks of the same densities would "
               "give.")
    stems = _names([exp.relative(s.path) for s, _ in found], "chosen_masks_by_layer")
    for (sel, rows), stem in zip(found, stems):
        tasks = list(sel.rounds)
        report.csv(f"{stem}.csv", rows)
        image = report.figure(f"{stem}.png", lambda p: plots.place_heatmaps(
            rows, tasks, f"Where the chosen masks share ({exp.relative(sel.path)})", p))
        ratio = f"subset_iou:{len(tasks)}"
        table = [["layer", "weights"] + [f"kept {t}" for t in tasks]
                 + [f"kept by all: {part}" for part in ("attention", "feed-forward", "all")]
                 + [f"ratio of all: {part} (indep.)" for part in ("attention", "feed-forward")]]
        cell = {(r["layer"], r["part"]): r for r in rows}
        for layer in dict.fromkeys(r["layer"] for r in rows):
            whole = cell[layer, "all"]
            table.append([str(layer), f"{whole['weights']:,}"]
                         + [_fmt(whole[f"kept:{t}"], 1) for t in tasks]
                         + [_fmt(cell[layer, part]["all"], 1) if (layer, part) in cell else "-"
                            for part in ("attention", "feed-forward", "all")]
                         + [f"{_fmt(cell[layer, part][ratio], 1)} "
                            f"({_fmt(cell[layer, part][f'independent_{ratio}'], 1)})"
                            if (layer, part) in cell else "-" for part in ("attention", "feed-forward")])
        report.add(f"### `{exp.relative(sel.path)}`", "", image, "", format_markdown(table), "",
                   f"Percent of the weights of each layer or block. Data (every layer, kind and "
                   f"block; every pair): `{stem}.csv`.")


def comparison_section(report: Report, exp: Experiment,
                       found: Sequence[analysis.Method]) -> list[str]:
    """The table and chart of the finished multi-task runs; returns the notes on missing runs."""
    tasks = analysis.comparison_tasks(found)
    notes = analysis.missing_notes(found, tasks)
    finished = [m for m in found if m.by_seed]
    if not finished:
        report.add("## Method comparison", "", "No finished multi-task run.", "",
                   *[f"- {n}" for n in notes])
        return notes
    rows = [row for m in finished for row in analysis.seed_rows(m, tasks)]
    columns = [f"test:{t}" for t in tasks] + ["avg:test", "avg:dev", "parameters", "minutes"]
    summary = {m.label: analysis.summarize([r for r in rows if r["method"] == m.label], columns)
               for m in finished}
    for row in rows:
        row["runs"] = " ".join(exp.relative(Path(p)) for p in row["runs"].split())
    report.csv("comparison.csv", rows)
    image = report.figure("comparison.png", lambda p: plots.comparison_bars(
        summary, tasks, "Test score at the epoch selected on dev", p))
    metrics = {t: r.results["metric"].get(t, "") for m in finished for rs in m.by_seed.values()
               for r in rs for t in r.results.get("metric", {})}
    table = [["test score (%)"] + list(summary)]
    for task in tasks:
        label = f"{task} ({METRIC_NAMES.get(metrics.get(task, ''), metrics.get(task, '?'))})"
        table.append([label] + [_mean_cell(summary[m].get(f"test:{task}")) for m in summary])
    table.append(["avg (test)"] + [_mean_cell(summary[m].get("avg:test")) for m in summary])
    table.append(["avg (dev)"] + [_mean_cell(summary[m].get("avg:dev")) for m in summary])
    table.append(["parameters"] + [_count_cell(summary[m].get("parameters")) for m in summary])
    table.append(["seeds"] + [str(len(m.by_seed)) for m in finished])
    table.append(["train minutes"] + [_mean_cell(summary[m].get("minutes"), 1) for m in summary])
    report.add("## Method comparison",
               "Every finished train_mtl.py run, grouped by method; per task the test score at the "
               "epoch with the best mean dev score. Several seeds: mean ± standard deviation. The "
               "single-task column joins one run per task; its parameters are their sum.",
               "", image, "", format_markdown(table), "",
               "Data (one row per method and seed): `comparison.csv`.",
               *([""] + [f"- {n}" for n in notes] if notes else []))
    return notes


def _mean_cell(cell: tuple | None, digits: int = 2) -> str:
    if cell is None:
        return "-"
    mean, spread, _ = cell
    return _fmt(mean, digits) + ("" if spread is None else f" ± {_fmt(spread, digits)}")


def _count_cell(cell: tuple | None) -> str:
    return "-" if cell is None else f"{round(cell[0]):,}"


def training_section(report: Report, exp: Experiment, found: Sequence[analysis.Method]) -> None:
    rows = analysis.training_curve_rows(found, exp)
    if not rows:
        return
    tasks = list(dict.fromkeys(analysis.comparison_tasks(found) + [r["task"] for r in rows]))
    report.csv("training_curves.csv", rows)
    image = report.figure("training_curves.png", lambda p: plots.training_curves(
        rows, tasks, "Dev score per epoch of the multi-task runs", p))
    report.add("## Training curves", "", image, "", "Data: `training_curves.csv` (from each run's "
               "log.jsonl).")


def commands_section(report: Report, exp: Experiment, commands: dict[str, Callable[[dict], str]]) -> None:
    """The command of every run, rebuilt from its args.json (preset values written out)."""
    lines = ["## How the runs were made",
             "Rebuilt from each run's args.json: every value that differs from the script's default, "
             "so the preset's values are written out.", ""]
    presets = sorted({str(r.args.get("preset")) for r in exp.pruning + exp.mtl if r.args.get("preset")})
    if presets:
        lines += [f"Presets: {', '.join(presets)}.", ""]
    lines.append("```bash")
    for run in exp.pruning:
        lines.append(f"# {exp.relative(run.path)}: {run.status()}")
        lines.append(commands["train_single.py"](run.args))
    for sel in exp.selections:
        lines.append(f"# {exp.relative(sel.path)}: prepare-masks.sh, {sel.summary.get('rule', '?')}")
    for run in exp.mtl:
        lines.append(f"# {exp.relative(run.path)}: {run.status()}")
        lines.append(commands["train_mtl.py"](run.args))
    lines.append("```")
    report.add(*lines)


# ---- the whole report ---------------------------------------------------------------------------
def write_report(exp_dir: Path, out: Path, commands: dict[str, Callable[[dict], str]]) -> Report:
    """Analyse `exp_dir` and write the report into `out` (replacing an earlier report there: only
    a folder analyze.py made, utils/owned.py)."""
    if not exp_dir.is_dir():
        raise InputError("no such experiment folder", exp_dir)
    check_ours(out, REPORT_KIND, "a report folder of analyze.py")
    exp = discover(exp_dir, skip=[out])
    if exp.empty:
        raise InputError("no runs found: no args.json of train_single.py or train_mtl.py and no "
                         "selection.json of prepare-masks.sh below this folder", exp_dir)
    with replacing_folder(out, REPORT_KIND) as staging:
        report = Report(staging)
        build(report, exp, commands)
        (staging / REPORT).write_text("\n\n".join(report.sections) + "\n", encoding="utf-8")
        report.files.append(REPORT)
    report.folder = out
    return report


def build(report: Report, exp: Experiment, commands: dict[str, Callable[[dict], str]]) -> None:
    report.add(f"# Results of `{exp.root}`",
               "Written by `analyze.py` from the saved runs only (nothing is trained). Scores are "
               "percent, in each task's metric: token accuracy (acc) or span F1, as the tables "
               "name it.")
    runs_section(report, exp)
    notes_at = len(report.sections)
    sets = analysis.pruning_sets(exp)
    if sets:
        pruning_section(report, sets)
        overlap_rounds_section(report, exp, sets)
    places_section(report, exp, chosen_section(report, exp))
    found = analysis.methods(exp)
    if found:
        comparison_section(report, exp, found)
        training_section(report, exp, found)
    commands_section(report, exp, commands)
    report.skipped = [f"{exp.relative(p)}: {why}" for p, why in exp.unreadable]
    if exp.unreadable:     # listed under the runs, also those found unusable while drawing
        report.sections.insert(notes_at, "\n".join(f"- skipped `{exp.relative(p)}`: {why}"
                                                    for p, why in exp.unreadable))
