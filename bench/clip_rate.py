#!/usr/bin/env python
"""How often gradient-norm clipping fires in a pruned round, with and without the pruned weights'
gradients in the norm.

    .venv/bin/python bench/clip_rate.py --run exp/conll03/single/cp/2 --round 4 --threads 1

In the original's single-task pruning the pruned weights are zeroed after every step but their
gradients are not masked, so they count in the norm that `clip_grad_norm_(5)` compares with 5.
Here a pruned weight's gradient is exactly zero. This trains round `--round` of a pruning run
(its init_weights.th rewound through the round's mask) with the single-task recipe (SGD, norm
clipping at --clip, lr decay), following either this project's clipping (`--follow here`) or the
original's (`--follow original`: the scale computed from the norm that includes the pruned
gradients). At every step it computes both norms: `here` over the masked gradients, `original`
over the same gradients plus the pruned weights' (the gradients of the masked products). Prints
one JSON object: steps, how many steps each norm exceeds the threshold, the median norms and clip
scales, and the mean clip scale (the factor on the lr that clipping amounts to).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch
from torch.func import functional_call

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ModelConfig, build_model  # noqa: E402
from utils.data.batching import SplitIndex  # noqa: E402
from utils.data.datafile import load_data_file  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402
from utils.sparsity.masking import float_mask  # noqa: E402
from utils.sparsity.pruning import rewind_  # noqa: E402
from utils.torch_files import load  # noqa: E402
from utils.training.checkpoint import load_weights, seed_everything  # noqa: E402
from utils.training.optim import build_optimizer  # noqa: E402
from utils.training.schedules import make_schedule  # noqa: E402
from utils.training.tasks import TaskData  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a train_single.py run folder")
    p.add_argument("--round", type=int, required=True, help="pruning round whose mask to train")
    p.add_argument("--data", default="data/conll03.pt", help="the run's data file")
    p.add_argument("--task_id", type=int, help="task of the run (default: from its args.json)")
    p.add_argument("--steps", type=int, default=0, help="steps to train; 0 = one epoch")
    p.add_argument("--follow", choices=["here", "original"], default="here",
                   help="whose clipping the trajectory follows")
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--optim", default="sgd(lr=0.1, momentum=0.9)")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def round_mask(run: Path, k: int) -> dict[str, torch.Tensor]:
    found = sorted(run.glob(f"{k}_*.th"))
    if not found:
        raise InputError(f"no mask file {k}_*.th", run)
    return load(found[0], "mask file")["mask"]


def total_norm(tensors) -> float:
    return math.sqrt(sum(float(t.detach().pow(2).sum()) for t in tensors))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    recorded = json.loads((args.run / "args.json").read_text()) if (args.run / "args.json").is_file() else {}
    task_id = args.task_id if args.task_id is not None else recorded.get("task_id", 0)
    data = load_data_file(args.data)
    state, config = load_weights(args.run / "init_weights.th")
    model = build_model(ModelConfig.from_dict(config))
    model.load_state_dict(state)
    mask = round_mask(args.run, args.round)
    rewind_(model, {n: v.clone() for n, v in model.state_dict().items()}, mask)
    kept = float_mask(mask, "cpu")
    task = TaskData.of(data, task_id)
    index = SplitIndex(task.train)
    seed_everything(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    schedule = make_schedule("bucketed", {task_id: index.lengths}, args.batch, generator)
    params = [p for p in model.parameters() if p.requires_grad]
    named = dict(model.named_parameters())
    optimizer = build_optimizer(args.optim, params)
    model.train()
    norms = {"here": [], "original": []}
    scales = {"here": [], "original": []}
    for step, (_, ids) in enumerate(schedule.epoch(1)):
        if args.steps and step >= args.steps:
            break
        batch = index.batch(ids)
        products = {n: named[n] * m for n, m in kept.items()}
        for product in products.values():
            product.retain_grad()
        emissions = functional_call(model, products, (batch, task_id))
        loss = model.loss(emissions, batch, task_id)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        unmasked = [p.grad for n, p in named.items() if p.grad is not None and n not in kept]
        masked = [named[n].grad for n in kept]
        norms["here"].append(total_norm(unmasked + masked))
        norms["original"].append(total_norm(unmasked + [products[n].grad for n in kept]))
        for who in norms:
            scales[who].append(min(1.0, args.clip / (norms[who][-1] + 1e-6)))
        scale = scales[args.follow][-1]
        if scale < 1.0:
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(scale)
        optimizer.step()
        with torch.no_grad():                # the pruned weights back to zero, as the original
            for n, m in kept.items():
                named[n].mul_(m)
    steps = len(norms["here"])
    report = {"run": str(args.run), "round": args.round, "percent_kept": round(
        100 * sum(float(m.sum()) for m in kept.values()) / sum(m.numel() for m in kept.values()), 2),
        "follow": args.follow, "steps": steps, "clip": args.clip}
    for who in norms:
        fired = [s for s in scales[who] if s < 1.0]
        report[who] = {"fired": len(fired), "fired_percent": round(100 * len(fired) / max(steps, 1), 1),
                       "median_norm": round(statistics.median(norms[who]), 3),
                       "max_norm": round(max(norms[who]), 3),
                       "median_scale_when_fired": round(statistics.median(fired), 3) if fired else None,
                       "mean_scale": round(statistics.fmean(scales[who]), 4)}
    ratios = [o / h for o, h in zip(norms["original"], norms["here"]) if h > 0]
    report["median_norm_ratio_original_to_here"] = round(statistics.median(ratios), 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
