"""The report's figures, drawn with matplotlib's Agg backend (no display needed) from the rows of
utils.results.analysis. Every function writes one PNG; a task keeps its colour in every figure."""
from __future__ import annotations

import os
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
from matplotlib.ticker import EngFormatter, FixedLocator, FuncFormatter, NullLocator  # noqa: E402

COLORS = plt.get_cmap("tab10").colors
PERCENT_TICKS = (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1)
MAX_ROUND_TICKS = 8       # up to this many rounds, each round's percent is a tick
SEED_STYLES = ("-", "--", "-.", ":")
MAX_PAIRS = 6             # more pairs than this (over 4 tasks): subset sizes instead of each pair
DPI = 130


def _save(fig: plt.Figure, path: str | os.PathLike) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)


def _percent_axis(ax: plt.Axes, values: Sequence[float]) -> None:
    """Log-scaled percent kept, 100% on the left and the sparsest round on the right."""
    ax.set_xscale("log")
    low, high = min(values), max(values)
    ax.set_xlim(high * 1.15, low / 1.15)
    distinct = sorted({round(v, 2) for v in values})
    ticks = distinct if len(distinct) <= MAX_ROUND_TICKS else [
        t for t in PERCENT_TICKS if low / 1.15 <= t <= high * 1.15]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("prunable weights kept (log scale)")
    ax.grid(True, alpha=0.3)


def task_colors(tasks: Sequence[str]) -> dict[str, Any]:
    return {t: COLORS[i % len(COLORS)] for i, t in enumerate(tasks)}


def pruning_curves(rows: Sequence[dict], tasks: Sequence[str], title: str, path) -> None:
    """Dev (left) and test (right) score against percent kept, one line per task; the round
    chosen by prepare-masks.sh ringed."""
    colors = task_colors(tasks)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, split in zip(axes, ("dev", "test")):
        for task in tasks:
            mine = sorted((r for r in rows if r["task"] == task), key=lambda r: r["round"])
            x, y = [r["percent_kept"] for r in mine], [r[split] for r in mine]
            ax.plot(x, y, "o-", color=colors[task], label=task, markersize=4)
            for r in mine:
                if r["chosen"]:
                    ax.plot(r["percent_kept"], r[split], "o", markersize=13, markerfacecolor="none",
                            markeredgecolor=colors[task], markeredgewidth=2)
        _percent_axis(ax, [r["percent_kept"] for r in rows])
        ax.set_ylabel(f"{split} score (%)")
        ax.set_title(f"{split}")
    chosen = plt.Line2D([], [], marker="o", markersize=11, markerfacecolor="none",
                        markeredgecolor="gray", markeredgewidth=2, linestyle="none")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[1].legend(handles + [chosen], labels + ["chosen mask"], loc="best", fontsize=9)
    fig.suptitle(title)
    _save(fig, path)


def overlap_columns(row: dict, n_tasks: int) -> list[tuple[str, str]]:
    """(label, key) of the overlap ratios a figure or table shows for `n_tasks` tasks: every pair
    (up to MAX_PAIRS pairs), then the mean over the subsets of each larger size (`subset_iou:k`;
    of size 2 too when the pairs are too many to show one by one)."""
    pairs = [key.split(":", 1)[1] for key in row if key.startswith("iou:")]
    shown = [(pair, f"iou:{pair}") for pair in pairs] if len(pairs) <= MAX_PAIRS else []
    first = 3 if shown else 2
    return shown + [(f"{k} tasks" if k < n_tasks else f"all {k}", f"subset_iou:{k}")
                    for k in range(first, n_tasks + 1)]


def overlap_rounds(rows: Sequence[dict], tasks: Sequence[str], title: str, path) -> None:
    """Left: the overlap ratio per round of each pair of task masks (over 4 tasks: the mean over
    the subsets of each size); dotted: independent masks of the same densities. Right: the share
    of prunable weights every task keeps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    x = [r["percent_kept"] for r in rows]
    for i, (label, key) in enumerate(overlap_columns(rows[0], len(tasks))):
        color = COLORS[(len(tasks) + i) % len(COLORS)]
        left.plot(x, [r[key] for r in rows], "o-", color=color, label=label, markersize=4)
        left.plot(x, [r[f"independent_{key}"] for r in rows], ":", color=color)
    left.plot([], [], ":", color="gray", label="independent masks")
    left.set_ylabel("overlap ratio: by all / by any (%)")
    left.set_title("pairs and larger sets of tasks (a set: mean over the sets of its size)")
    left.legend(fontsize=8)
    right.plot(x, [r["all"] for r in rows], "o-", color="black", label="kept by all tasks", markersize=4)
    right.plot(x, [r["independent_all"] for r in rows], ":", color="black", label="independent masks")
    right.set_ylabel("prunable weights kept by all (%)")
    right.set_title(f"all {len(tasks)} tasks")
    right.legend(fontsize=9)
    for ax in (left, right):
        _percent_axis(ax, x)
        ax.set_ylim(bottom=0)
    fig.suptitle(title)
    _save(fig, path)


def _annotated_heatmap(ax: plt.Axes, values: list[list[float | None]], rows: Sequence[str],
                       columns: Sequence[str], vmax: float) -> Any:
    shown = [[float("nan") if v is None else v for v in row] for row in values]
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    tilted = len(columns) > 3           # long pair names would run into each other
    ax.set_xticks(range(len(columns)), columns, rotation=35 if tilted else 0,
                  ha="right" if tilted else "center")
    ax.set_yticks(range(len(rows)), rows)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v is not None:
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 * vmax else "black")
    return image


def overlap_heatmap(rows: Sequence[dict], tasks: Sequence[str], title: str, path) -> None:
    """Left: task x task overlap ratio (IoU, %) of the whole masks, the diagonal giving each task's
    share kept. Right: the overlap ratio per parameter tensor of the pairs (`overlap_columns`) and
    of the larger sets of tasks, all of them last."""
    overall = rows[-1]
    pair = lambda a, b: overall[f"iou:{a}-{b}"] if f"iou:{a}-{b}" in overall else overall[f"iou:{b}-{a}"]
    matrix = [[None if a == b else pair(a, b) for b in tasks] for a in tasks]
    shown = overlap_columns(overall, len(tasks))
    columns = [label for label, _ in shown]
    per_tensor = [[r[key] for _, key in shown] for r in rows]
    height = max(4.0, 0.38 * len(rows) + 1.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, height),
                                      gridspec_kw={"width_ratios": [1, 1.5]})
    vmax = max(max(v for row in per_tensor for v in row), 1.0)
    _annotated_heatmap(left, matrix, tasks, tasks, vmax)
    for i, task in enumerate(tasks):
        left.text(i, i, f"keeps\n{overall[f'kept:{task}']:.1f}%", ha="center", va="center",
                  fontsize=8, color="dimgray", style="italic")
    left.set_title("whole masks: overlap ratio (%)\ndiagonal: share each task keeps", fontsize=10)
    image = _annotated_heatmap(right, per_tensor, [r["tensor"] for r in rows], columns, vmax)
    right.set_title("overlap ratio (%) per parameter tensor", fontsize=10)
    fig.colorbar(image, ax=right, label="%")
    fig.suptitle(title)
    _save(fig, path)


def comparison_bars(summary: dict[str, dict[str, tuple]], tasks: Sequence[str], title: str, path) -> None:
    """Grouped bars: test score per task and the average, one bar per method (error bars: standard
    deviation over seeds); beside them the parameters each method uses."""
    methods = list(summary)
    groups = list(tasks) + ["avg"]
    keys = [f"test:{t}" for t in tasks] + ["avg:test"]
    width = 0.8 / max(len(methods), 1)
    fig, (scores, params) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 1.2]})
    for i, method in enumerate(methods):
        cells = [summary[method].get(k) for k in keys]
        xs = [g + (i - (len(methods) - 1) / 2) * width for g in range(len(groups))]
        heights = [c[0] if c else 0.0 for c in cells]
        errors = [c[1] or 0.0 if c else 0.0 for c in cells]
        bars = scores.bar(xs, heights, width, yerr=errors if any(errors) else None, capsize=2,
                          color=COLORS[i % len(COLORS)], label=method)
        for bar, c, err in zip(bars, cells, errors):
            if c:
                scores.annotate(f"{c[0]:.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height() + err),
                                ha="center", va="bottom", fontsize=7, rotation=90,
                                xytext=(0, 2), textcoords="offset points")
    scores.set_xticks(range(len(groups)), groups)
    scores.set_ylabel("test score (%), epoch selected on dev")
    tops = [c[0] + (c[1] or 0.0) for m in methods for c in (summary[m].get(k) for k in keys) if c]
    scores.set_ylim(0, max(tops + [100.0]) + 12)
    scores.legend(fontsize=8, ncol=min(len(methods), 4), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    scores.grid(True, axis="y", alpha=0.3)
    counts = [summary[m].get("parameters", (0.0,))[0] for m in methods]
    params.bar(range(len(methods)), counts, color=[COLORS[i % len(COLORS)] for i in range(len(methods))])
    params.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
    params.yaxis.set_major_formatter(EngFormatter())
    params.set_ylabel("parameters used")
    params.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)


def training_curves(rows: Sequence[dict], tasks: Sequence[str], title: str, path) -> None:
    """Dev score per epoch, one panel per task plus the mean the epoch is selected on; one colour
    per method, one line style per seed, crosses for unfinished runs, the selected epoch starred."""
    panels = list(tasks) + ["mean of tasks"]
    ncols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 3.6 * nrows), squeeze=False)
    runs = list(dict.fromkeys((r["method"], r["seed"], r["run"], r["finished"]) for r in rows))
    seeds = list(dict.fromkeys(str(r[1]) for r in runs))
    styles = {seed: SEED_STYLES[i % len(SEED_STYLES)] for i, seed in enumerate(seeds)}
    colors = {m: COLORS[i % len(COLORS)] for i, m in enumerate(dict.fromkeys(r[0] for r in runs))}
    for ax, panel in zip(axes.flat, panels):
        for method, seed, run, finished in runs:
            mine = [r for r in rows if r["run"] == run]
            epochs = sorted({r["epoch"] for r in mine})
            by_epoch = {e: [r for r in mine if r["epoch"] == e] for e in epochs}
            if panel in tasks:
                points = [(e, r["dev"], r["selected"]) for e in epochs for r in by_epoch[e] if r["task"] == panel]
            elif len({r["task"] for r in mine}) > 1:
                points = [(e, sum(r["dev"] for r in by_epoch[e]) / len(by_epoch[e]), by_epoch[e][0]["selected"])
                          for e in epochs]
            else:
                continue
            if not points:
                continue
            label = method + (f" seed {seed}" if len(seeds) > 1 else "") + ("" if finished else " (unfinished)")
            ax.plot([p[0] for p in points], [p[1] for p in points], linestyle=styles[str(seed)],
                    marker="o" if finished else "x", markersize=3 if finished else 6,
                    color=colors[method], label=label)
            for e, score, selected in points:
                if selected:
                    ax.plot(e, score, "*", color=colors[method], markersize=12)
        ax.set_title(panel)
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev score (%)")
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title + " (star: selected epoch)")
    _save(fig, path)


def place_columns(rows: Sequence[dict]) -> list[str]:
    """The parts (matrix kinds, then blocks, then "all") of the layers in `overlap_by_place` rows."""
    return list(dict.fromkeys(r["part"] for r in rows if r["layer"] == "all"))


def place_heatmaps(rows: Sequence[dict], tasks: Sequence[str], title: str, path) -> None:
    """Where in the encoder the tasks share, from `overlap_by_place` rows: one layer x part heat
    map (the bottom row: all layers) per statistic, in percent of the cell's weights: each task's
    share kept, each pair's share kept by both (up to MAX_PAIRS pairs), the share kept by all
    tasks; last, per layer, the overlap ratio of all tasks (kept by all / kept by any) in
    attention and in feed-forward, dotted: independent masks of the same densities."""
    layers = [layer for layer in dict.fromkeys(r["layer"] for r in rows) if layer != "all"] + ["all"]
    parts = place_columns(rows)
    cell = {(r["layer"], r["part"]): r for r in rows}
    pairs = [key for key in rows[-1] if key.startswith("both:")]
    panels = [(f"{t}: share kept", f"kept:{t}") for t in tasks]
    panels += [(f"{key[5:]}: kept by both", key) for key in pairs] if len(pairs) <= MAX_PAIRS else []
    panels += [(f"kept by all {len(tasks)} tasks", "all")] if len(tasks) > 2 or not pairs else []
    ncols = 3
    nrows = (len(panels) + 1 + ncols - 1) // ncols
    height = max(3.2, 0.3 * len(layers) + 1.6)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, height * nrows), squeeze=False)
    grids = {key: [[cell[(layer, part)][key] if (layer, part) in cell else None for part in parts]
                   for layer in layers] for _, key in panels}
    vmax = max([v for grid in grids.values() for line in grid for v in line if v is not None] + [1.0])
    names = [f"layer {layer}" if layer != "all" else "all layers" for layer in layers]
    for ax, (label, key) in zip(axes.flat, panels):
        _annotated_heatmap(ax, grids[key], names, parts, vmax)
        ax.set_title(label + " (%)", fontsize=10)
    _attention_against_feed_forward(list(axes.flat)[len(panels)], cell, layers[:-1], tasks)
    for ax in list(axes.flat)[len(panels) + 1:]:
        ax.axis("off")
    fig.suptitle(title)
    _save(fig, path)


def _attention_against_feed_forward(ax: plt.Axes, cell: dict, layers: Sequence[Any],
                                    tasks: Sequence[str]) -> None:
    key = f"subset_iou:{len(tasks)}"
    for i, block in enumerate(("attention", "feed-forward")):
        shown = [layer for layer in layers if (layer, block) in cell]
        color = COLORS[(len(tasks) + i) % len(COLORS)]
        ax.plot(shown, [cell[(layer, block)][key] for layer in shown], "o-", color=color, label=block)
        ax.plot(shown, [cell[(layer, block)][f"independent_{key}"] for layer in shown], ":", color=color)
    ax.plot([], [], ":", color="gray", label="independent masks")
    ax.set_xlabel("layer")
    ax.set_ylabel("kept by all / kept by any (%)")
    ax.set_title(f"overlap ratio of all {len(tasks)} tasks per layer", fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
