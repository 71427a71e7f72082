#!/usr/bin/env python
"""Which BiLSTM plan is fastest for the batches training and evaluation really run, and the cost
model's constants fitted to them.

    .venv/bin/python bench/lstm_kernels.py --threads 1 --table
    .venv/bin/python bench/lstm_kernels.py --threads 2 --out kernels.json

Batches of real CoNLL-2003 sentence lengths (--task's train and dev splits of --data), drawn as
the schedules draw them: random (`seq-label`'s first epoch, every `re-seq-label` epoch), tight
buckets and fastNLP's buckets at --batch, and evaluation's length-sorted batches at each
--eval-batch; each with gradients (forward + backward, training) and without (forward,
evaluation). Each batch runs through a bare BiLSTM stack of the model's shape in three plans
(models/lstm_plan.py): `packed`, `padded` (one group) and `plan` (what `batch_plan` chooses), in
turns, best of --repeats. Per kind: seconds of each, `best_of_two` (per batch the faster of packed
and padded) and the plan over it; `fit`: the constants of `KernelCosts` fitted to all timings of
a gradient mode, to compare with the constants in use (`model_costs`: this machine's fit or the
defaults, as SPARSE_SHARING_LSTM_COSTS says; models/lstm_costs_cache.py). Timed by process CPU
time with one thread (steady on a shared machine), else by wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ModelConfig, data_sizes  # noqa: E402
from models.bilstm import BiLSTMLayer  # noqa: E402
from models.lstm_calibration import BareStack, fit_costs  # noqa: E402
from models.lstm_costs_cache import fit_plan_to_machine  # noqa: E402
from models.lstm_plan import COSTS, PACKED, Plan, batch_plan, padded_plan  # noqa: E402
from utils.atomic import json_save_atomic  # noqa: E402
from utils.data.batching import (bucket_batches, eval_order, fastnlp_bucket_batches,  # noqa: E402
                                 random_batches)
from utils.data.datafile import load_data_file  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402

PLANS = ("packed", "padded", "plan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/conll03.pt", help="prepared data file")
    p.add_argument("--task", default="ner", help="whose train and dev sentences")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--batch", type=int, default=10, help="training batch size (paper: 10)")
    p.add_argument("--eval-batch", type=int, nargs="+", default=[100, 256],
                   help="evaluation batch sizes (train_mtl.py's default 100, the benchmark's 256)")
    p.add_argument("--batches", type=int, default=40, help="batches per kind (at most)")
    p.add_argument("--repeats", type=int, default=3, help="timed turns; the best one counts")
    p.add_argument("--hidden", type=int, default=200, help="LSTM hidden size per direction")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--table", action="store_true", help="print a table instead of the JSON")
    args = p.parse_args(argv)
    for name in ("batch", "batches", "repeats", "hidden", "layers"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1")
    if min(args.eval_batch) < 1:
        raise InputError("--eval-batch sizes must be at least 1")
    return args


def kinds(train_lengths: torch.Tensor, dev_lengths: torch.Tensor,
          args: argparse.Namespace) -> dict[str, list[torch.Tensor]]:
    """Batches of lengths (longest first) per kind, as the schedules and evaluation draw them."""
    generator = torch.Generator().manual_seed(args.seed)
    draws = {
        f"random-{args.batch}": random_batches(len(train_lengths), args.batch, generator),
        f"tight-{args.batch}": bucket_batches(train_lengths, args.batch, generator),
        f"fastnlp-{args.batch}": fastnlp_bucket_batches(train_lengths, args.batch,
                                                        np.random.RandomState(args.seed)),
    }
    batches = {k: [train_lengths[ids] for ids in v[:args.batches]] for k, v in draws.items()}
    for size in args.eval_batch:
        sorted_batches = [dev_lengths[ids] for ids in eval_order(dev_lengths).split(size)]
        stride = max(1, len(sorted_batches) // args.batches)    # spread over the whole split
        batches[f"eval-{size}"] = sorted_batches[::stride][:args.batches]
    return {k: [torch.sort(b, descending=True).values for b in v] for k, v in batches.items()}


def plans(lengths: torch.Tensor, grad: bool) -> dict[str, Plan]:
    with torch.set_grad_enabled(grad):
        chosen = batch_plan(lengths, torch.device("cpu"))
    return {"packed": PACKED, "padded": padded_plan(lengths, [0], torch.device("cpu")), "plan": chosen}


def measure(stack: BareStack, batches: list[torch.Tensor], grad: bool, repeats: int) -> list[dict[str, Any]]:
    """Per batch: its shape, its plan's groups and the best seconds of each plan (the chosen plan
    is timed only where it is neither of the other two)."""
    rows = []
    for lengths in batches:
        candidates = plans(lengths, grad)
        shapes = {k: _groups(plan) for k, plan in candidates.items()}
        same = next((k for k in ("packed", "padded") if shapes[k] == shapes["plan"]), None)
        timed = [k for k in PLANS if k != "plan" or same is None]
        times = {k: [] for k in timed}
        stack.seconds(lengths, candidates["padded"], grad)          # warm-up (allocator, kernels)
        for _ in range(repeats):
            for k in timed:
                times[k].append(stack.seconds(lengths, candidates[k], grad))
        best = {k: min(v) for k, v in times.items()}
        best["plan"] = best[same] if same else best["plan"]
        rows.append({"lengths": lengths.tolist(), "groups": shapes["plan"], **best})
    return rows


def _groups(plan: Plan) -> list[tuple[int, int, int]]:
    return [(g.start, g.end, g.width) for g in plan]


def summary(rows: list[dict[str, Any]], grad: bool) -> dict[str, Any]:
    rows_x_steps = sum(len(r["lengths"]) * r["lengths"][0] for r in rows)
    seconds = {k: round(sum(r[k] for r in rows), 4) for k in PLANS}
    seconds["best_of_two"] = round(sum(min(r["packed"], r["padded"]) for r in rows), 4)
    plans_chosen: dict[str, int] = {}
    for r in rows:
        name = "packed" if not r["groups"] else f"{len(r['groups'])} group" + "s" * (len(r["groups"]) > 1)
        plans_chosen[name] = plans_chosen.get(name, 0) + 1
    return {"grad": grad, "batches": len(rows),
            "padding": round(1 - sum(sum(r["lengths"]) for r in rows) / rows_x_steps, 3),
            "seconds": seconds,
            "plan_over_best_of_two": round(seconds["plan"] / seconds["best_of_two"], 3),
            "plan_over_padded": round(seconds["plan"] / seconds["padded"], 3),
            "plan_over_packed": round(seconds["plan"] / seconds["packed"], 3),
            "plans": plans_chosen}


def fit(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """KernelCosts fitted to timed rows (models.lstm_calibration.fit_costs: relative least
    squares), in units of the fitted cost of one padded row-step, which is given in microseconds
    (`row_step_us`). The chosen multi-group plans count as padded runs of their groups. Timings
    too few or too noisy for a fit (a row-step fitted at or below zero) give `{"unusable": why}`
    instead: the measurements above it still stand."""
    padded, packed = [], []
    for r in rows:
        lengths = r["lengths"]
        packed.append((lengths, r["packed"]))
        padded.append(([(len(lengths), lengths[0])], r["padded"]))
        if len(r["groups"]) > 1:
            padded.append(([(end - start, width) for start, end, width in r["groups"]], r["plan"]))
    try:
        costs, row_step = fit_costs(padded, packed)
    except ValueError as err:
        return {"unusable": str(err)}
    return {**{k: round(v, 2) for k, v in asdict(costs).items()}, "row_step_us": round(row_step * 1e6, 3)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data_file(args.data)
    if args.task not in data.tasks:
        raise InputError(f"--task must be one of {', '.join(data.tasks)}, got {args.task!r}")
    splits = data.data[args.task]
    one_thread = torch.get_num_threads() == 1
    torch.manual_seed(args.seed)
    config = ModelConfig(**data_sizes(data, "cnn-lstm"))
    input_size = config.word_dim + config.char_filters
    stack = BareStack(input_size, args.hidden, args.layers,
                      time.process_time if one_thread else time.perf_counter)
    # The constants runs on this machine use (SPARSE_SHARING_LSTM_COSTS: auto, calibrate, default).
    in_use = fit_plan_to_machine(input_size, args.hidden, args.layers, "cpu", print_note)
    load_before = os.getloadavg()
    all_rows: dict[bool, list] = {True: [], False: []}
    result: dict[str, Any] = {"kinds": {}}
    for name, batches in kinds(splits["train"].sent_lengths, splits["dev"].sent_lengths, args).items():
        for grad in (True, False):
            rows = measure(stack, batches, grad, args.repeats)
            all_rows[grad] += rows
            result["kinds"][f"{name} {'grad' if grad else 'no grad'}"] = summary(rows, grad)
    result["fit"] = {"grad": fit(all_rows[True]), "no grad": fit(all_rows[False])}
    result["model_costs"] = {"grad": asdict(COSTS[True]), "no grad": asdict(COSTS[False]),
                             "source": in_use["source"]}
    result["machine"] = {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                         "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                         "clock": "process CPU time" if one_thread else "wall time",
                         "load_avg_before": [round(x, 2) for x in load_before],
                         "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    return result


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"torch {m['torch']} | {m['cpu_capability']} | {m['torch_threads']} threads | "
             f"{m['clock']} | load {m['load_avg_before'][0]}",
             f"{'kind':<22}{'padding':>8}{'packed':>9}{'padded':>9}{'plan':>9}{'best2':>9}"
             f"{'plan/best2':>11}  plans"]
    for name, k in result["kinds"].items():
        s = k["seconds"]
        lines.append(f"{name:<22}{k['padding']:>8.2f}{s['packed']:>9.3f}{s['padded']:>9.3f}"
                     f"{s['plan']:>9.3f}{s['best_of_two']:>9.3f}{k['plan_over_best_of_two']:>11.3f}  "
                     + ", ".join(f"{n} {c}" for n, c in k["plans"].items()))
    for mode in ("grad", "no grad"):
        lines.append(f"fit, {mode}: {json.dumps(result['fit'][mode])}")
        lines.append(f"model ({result['model_costs']['source']}), {mode}: "
                     f"{json.dumps(result['model_costs'][mode])}")
    return "\n".join(lines)


def print_note(text: str) -> None:
    print(text, file=sys.stderr)


def main() -> None:
    args = parse_args()
    result = run(args)
    if args.out:
        json_save_atomic(result, args.out)
    print(table(result) if args.table else json.dumps(result, indent=1))


if __name__ == "__main__":
    run_main(main)
