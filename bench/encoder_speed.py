#!/usr/bin/env python
"""Speed of the tagger over a pretrained encoder: sentences per second of a training step and
of tagging, dense and through a task mask, and the masking's share of the step. Prints JSON.

    .venv/bin/python bench/encoder_speed.py --encoder DIR --threads 2
    .venv/bin/python bench/encoder_speed.py --encoder DIR --device cuda --batches 20

Sentences: the NER training sentences of --data (data/conll03.pt), drawn at random with a fixed
seed, in batches of --batch (32, the encoder presets' size) for training and --eval-batch for
tagging; the same batches for every method. A training step is forward, loss, backward, gradient
clipping (norm 1.0) and an AdamW step (`Trainer.train_epoch`'s pieces); the masked step runs the
forward through `masked_call` with a mask keeping --keep of the encoder's linear weights (a later
IMP round). Every method is warmed up once, then the methods are timed in turns --repeats times;
the best and the median repeat are kept. `mask_share` = 1 - masked / dense sentences per second,
the median over repeats of each repeat's pair (dense and masked ran back to back).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import machine_info  # noqa: E402
from models import build_model  # noqa: E402
from utils.data.datafile import load_data_file  # noqa: E402
from utils.data.subword_batching import index_for  # noqa: E402
from utils.errors import run_main  # noqa: E402
from utils.sparsity.masking import float_mask, masked_call  # noqa: E402
from utils.training.encoder_setup import encoder_config, encoder_data  # noqa: E402
from utils.training.optim import build_optimizer, clip_gradients, parameter_groups  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Encoder tagger speed, dense and masked; prints JSON.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", required=True, help="local Hugging Face model folder")
    p.add_argument("--data", default="data/conll03.pt", help="prepared data file")
    p.add_argument("--task", default="ner", help="the task whose sentences and head are used")
    p.add_argument("--batch", type=int, default=32, help="sentences per training batch")
    p.add_argument("--eval-batch", type=int, default=100, help="sentences per tagging batch")
    p.add_argument("--batches", type=int, default=4, help="batches per timed repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keep", type=float, default=0.3, help="share of prunable weights the mask keeps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    return p.parse_args()


def timed_in_turns(methods: dict[str, Callable[[], int]], repeats: int,
                   device: str) -> dict[str, list[float]]:
    """Sentences per second of each method (which returns the sentences it handled), every
    method warmed up once, then the methods timed in turns `repeats` times, so that a busy
    machine slows them alike."""
    for run in methods.values():
        run()
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            n = run()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            rates[name].append(n / (time.perf_counter() - start))
    return rates


def summary(rates: list[float]) -> dict[str, float]:
    return {"sentences_per_s": round(max(rates), 2),
            "median_sentences_per_s": round(statistics.median(rates), 2)}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    data = encoder_data(load_data_file(args.data), args.data, args.encoder)
    task_id = data.tasks.index(args.task)
    config = encoder_config(args.encoder, data, dropout=0.1, crf=False, pooling="first")
    torch.manual_seed(0)
    model = build_model(config).to(args.device)
    optimizer = build_optimizer("adamw(lr=1e-5, weight_decay=0.01)", parameter_groups(model))
    gen = torch.Generator().manual_seed(0)
    params = dict(model.named_parameters())
    mask = float_mask({name: torch.rand(params[name].shape, generator=gen) < args.keep
                       for name in model.prunable_names()}, args.device)
    index = index_for(data.data[args.task]["train"])
    order = torch.randperm(len(index), generator=gen)
    train = [index.batch(order[i * args.batch:(i + 1) * args.batch]).to(args.device)
             for i in range(args.batches)]
    tagging = [index.batch(order[i * args.eval_batch:(i + 1) * args.eval_batch]).to(args.device)
               for i in range(args.batches)]

    def step(masks: dict | None) -> Callable[[], int]:
        def run() -> int:
            model.train()
            for batch in train:
                model.loss(masked_call(model, masks, batch, task_id), batch, task_id).backward()
                clip_gradients(list(model.parameters()), "norm", 1.0)
                optimizer.step()
                optimizer.zero_grad()
            return sum(b.mask.size(0) for b in train)
        return run

    def tag(masks: dict | None) -> Callable[[], int]:
        @torch.no_grad()
        def run() -> int:
            model.eval()
            for batch in tagging:
                model.decode(masked_call(model, masks, batch, task_id), batch, task_id)
            return sum(b.mask.size(0) for b in tagging)
        return run

    rates = timed_in_turns({"train": step(None), "train_masked": step(mask), "tag": tag(None),
                            "tag_masked": tag(mask)}, args.repeats, args.device)
    results = {name: summary(values) for name, values in rates.items()}
    # each repeat's dense and masked runs went back to back: the median of their paired ratios
    share = lambda dense, masked: round(1 - statistics.median(
        m / d for d, m in zip(rates[dense], rates[masked])), 3)
    report = {"encoder": args.encoder, "model_type": config.model_type, "device": args.device,
              "threads": args.threads, "batch": args.batch, "eval_batch": args.eval_batch,
              "batches": args.batches, "repeats": args.repeats, "keep": args.keep,
              "subwords_per_sentence": round(float(sum(int(b.piece_mask.sum()) for b in train))
                                             / sum(b.mask.size(0) for b in train), 1),
              "machine": machine_info(torch.device(args.device), load_before), **results,
              "mask_share": {"train": share("train", "train_masked"),
                             "tag": share("tag", "tag_masked")}}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_main(main)
