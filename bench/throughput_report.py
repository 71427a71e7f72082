"""The benchmark's report: rates, ratios and step times from the timed runs, the machine and the
configuration, as one JSON-ready dict (`result`) or a text table (`table`).

Rates are tokens per second of each method's best repeat (and of its median one). Ratios come as
ratios of the best rates (wall and CPU time) and as `ratios_paired`, the median over repeats of
each repeat's ratio (sparse runs right after hard, so a pair shares the machine's load of the
moment). `step_ms` gives the hard step in milliseconds and what each masking adds to it.
"""
from __future__ import annotations

import argparse
import resource
import statistics
from typing import Any

import torch

from machine import machine_info
from throughput_runs import EVAL_METHODS, TRAIN_METHODS, Bench, Runs, Timing


def result(args: argparse.Namespace, bench: Bench, runs: Runs,
           load_before: tuple[float, ...]) -> dict[str, Any]:
    """Everything the benchmark prints, from the timed `runs` of `bench`."""
    tokens = {"train": {m: bench.train_tokens(m) for m in TRAIN_METHODS},
              "eval": {m: bench.eval_tokens(m) for m in EVAL_METHODS}}
    summary = {table: {m: _summary(timings, tokens[table][m]) for m, timings in runs[table].items()}
               for table in runs}
    paired = _paired_ratios(runs, tokens)
    return {
        "machine": {**machine_info(bench.device, load_before),
                    "lstm_costs": bench.trainers["single"].lstm_costs,
                    "heap": bench.trainers["single"].heap},
        "config": _config(args, bench),
        "train": summary["train"],
        "eval": summary["eval"],
        "ratios": _ratios(summary, "tokens_per_s"),
        "ratios_cpu_time": _ratios(summary, "tokens_per_cpu_s"),
        "ratios_paired": {k: round(statistics.median(v), 3) for k, v in paired.items()},
        "ratios_paired_range": {k: [round(v[0], 3), round(v[-1], 3)] for k, v in paired.items()},
        "step_ms": _step_ms(runs["train"], bench.train_steps("hard")),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _summary(runs: list[Timing], tokens: int) -> dict[str, Any]:
    seconds = sorted(s for s, _, _ in runs)
    cpu_seconds = min(c for _, c, _ in runs)
    peaks = [p for _, _, p in runs if p is not None]
    return {"tokens_per_s": round(tokens / seconds[0], 1),
            "median_tokens_per_s": round(tokens / seconds[(len(seconds) - 1) // 2], 1),
            "tokens_per_cpu_s": round(tokens / cpu_seconds, 1),
            "tokens": tokens, "best_seconds": round(seconds[0], 4),
            "peak_mb": round(max(peaks), 1) if peaks else None}


# name: (table, method, other method); the ratio of the method's rate to the other's.
RATIO_PAIRS = {
    "sparse_over_hard": ("train", "sparse", "hard"),
    "sparse_over_original_masking": ("train", "sparse", "original_masking"),
    # The most sparse/original can reach: masking that costs nothing.
    "hard_over_original_masking": ("train", "hard", "original_masking"),
    # How many times as long a random-batch epoch takes as a bucketed one of the same sentences.
    "hard_over_hard_random": ("train", "hard", "hard_random"),
    "sparse_over_sparse_random": ("train", "sparse", "sparse_random"),
    "sparse_random_over_hard_random": ("train", "sparse_random", "hard_random"),
    "single_over_floor": ("train", "single", "floor"),
    "single_masked_over_single": ("train", "single_masked", "single"),
    "hard_over_floor": ("train", "hard", "floor"),
    "sparse_over_floor": ("train", "sparse", "floor"),
    "single_over_floor_padded": ("train", "single", "floor_padded"),
    "hard_over_floor_padded": ("train", "hard", "floor_padded"),
    "sparse_over_floor_padded": ("train", "sparse", "floor_padded"),
    "eval_single_over_floor": ("eval", "single", "floor"),
    "eval_sparse_over_floor": ("eval", "sparse", "floor"),
    "eval_single_over_floor_padded": ("eval", "single", "floor_padded"),
    "eval_sparse_over_floor_padded": ("eval", "sparse", "floor_padded"),
}


def _ratios(summary: dict[str, dict[str, dict]], field: str) -> dict[str, float]:
    """Ratios of the best rates: by wall time, or by process CPU time (robust to load with
    --threads 1)."""
    return {k: round(summary[table][m][field] / summary[table][n][field], 3)
            for k, (table, m, n) in RATIO_PAIRS.items()}


def _paired_ratios(runs: Runs, tokens: dict[str, dict[str, int]]) -> dict[str, list[float]]:
    """Each repeat's wall-time ratio, lowest first. The two methods of a repeat ran minutes apart
    at most, so on a shared machine their median is steadier than a ratio of two bests, and
    their range shows how far one repeat can stray."""
    return {k: sorted((tokens[table][m] / a[0]) / (tokens[table][n] / b[0])
                      for a, b in zip(runs[table][m], runs[table][n]))
            for k, (table, m, n) in RATIO_PAIRS.items()}


def _step_ms(train_runs: dict[str, list[Timing]], steps: int) -> dict[str, float]:
    """Milliseconds per three-task step: hard sharing's (median repeat; `hard_random` on random
    batches), and what each masking adds to it, the median over repeats of the same repeat's
    difference (`sparse_extra` is the masking cost of sparse sharing in absolute terms, which the
    ratios express relative to hard)."""
    hard = [seconds for seconds, _, _ in train_runs["hard"]]
    step_ms = {"hard": round(statistics.median(hard) / steps * 1e3, 3)}
    random = [seconds for seconds, _, _ in train_runs["hard_random"]]
    step_ms["hard_random"] = round(statistics.median(random) / steps * 1e3, 3)
    for method in ("sparse", "original_masking"):
        extra = [run[0] - hard_seconds for run, hard_seconds in zip(train_runs[method], hard)]
        step_ms[f"{method}_extra"] = round(statistics.median(extra) / steps * 1e3, 3)
    return step_ms


def _config(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    return {"data": args.data, "batch": args.batch, "eval_batch": args.eval_batch,
            "steps": args.steps, "repeats": args.repeats, "amp": args.amp, "task": args.task,
            "tasks": [t.name for t in bench.tasks], "optim": args.optim, "bucketing": args.bucketing,
            "model": {"word_dim": cfg.word_dim, "n_words": cfg.n_words, "char_filters": cfg.char_filters,
                      "hidden": cfg.hidden_size, "layers": cfg.n_layer, "crf": cfg.crf},
            "mask_density": [round(sum(int(k.sum()) for k in m.values()) /
                                   sum(k.numel() for k in m.values()), 4)
                             for m in bench.masks.values()]}


def _range(bounds: list[float]) -> str:
    return f"{bounds[0]:.3f} to {bounds[1]:.3f}"


def table(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    lines = [f"{m.get('gpu', m['cpu'])} | torch {m['torch']} | {m['torch_threads']} threads | "
             f"batch {c['batch']} | amp {c['amp']} | load {m['load_avg_before'][0]}",
             f"{'train':<18}{'tokens/s':>12}{'median':>12}{'per CPU s':>12}{'peak MiB':>10}"]
    lines += [_row(name, row) for name, row in result["train"].items()]
    lines.append(f"{'eval':<18}{'tokens/s':>12}{'median':>12}{'per CPU s':>12}{'peak MiB':>10}")
    lines += [_row(name, row) for name, row in result["eval"].items()]
    lines.append(f"{'ratio':<30}{'wall':>8}{'CPU':>8}{'paired':>8}{'range':>16}")
    lines += [f"{k:<30}{v:>8.3f}{result['ratios_cpu_time'][k]:>8.3f}"
              f"{result['ratios_paired'][k]:>8.3f}{_range(result['ratios_paired_range'][k]):>16}"
              for k, v in result["ratios"].items()]
    step = result["step_ms"]
    lines.append(f"ms per 3-task step: hard {step['hard']:.2f} (random batches "
                 f"{step['hard_random']:.2f}), sparse masking "
                 f"{step['sparse_extra']:+.2f}, original masking {step['original_masking_extra']:+.2f}")
    lines.append(f"peak RSS {result['peak_rss_mb']} MiB")
    return "\n".join(lines)


def _row(name: str, row: dict[str, Any]) -> str:
    return (f"{name:<18}{row['tokens_per_s']:>12.0f}{row['median_tokens_per_s']:>12.0f}"
            f"{row['tokens_per_cpu_s']:>12.0f}{_mb(row['peak_mb']):>10}")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
