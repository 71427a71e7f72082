#!/usr/bin/env python
"""Training and evaluation throughput on real batches, all measured in one run on the same shapes.

    .venv/bin/python bench/throughput.py --threads 2 --table
    python3 bench/throughput.py --device cuda --amp --batch 64 --out gpu.json

Measured, in tokens per second (tokens = real words, padding excluded):
- floor: a bare 2-layer BiLSTM (`nn.LSTM`) forward+backward on the same packed batches, inputs
  prepared beforehand: what the hardware gives for the dominant computation;
- floor_padded: the same bare stack run the way the model runs it (models/bilstm.py with the
  model's per-batch plan: on the CPU mostly padded batches one direction at a time, which reaches
  oneDNN's fused kernel; faster than the packed floor, so the model's step can beat `floor`, and
  `floor_padded` is the stricter one);
- single, single_masked, hard, sparse: `Trainer.train_epoch`, the training loop users run
  (batching, embeddings, char CNN, loss, clipping, optimizer, masks), over a sample of the training
  sentences; single = one task, hard = three tasks without masks, sparse = three task masks. Each
  uses its script's recipe (single: norm clipping; hard, sparse: value clipping) and a bucketed
  epoch (the multi-task schedule's epoch 2: its first epoch draws random batches, as the original);
- hard_random, sparse_random: the same trainers on random batches of the same sentences (the
  schedule's epoch 1, as `re-seq-label` draws every epoch), and their ratio to the bucketed epoch;
- original_masking: the masking of the original code, as a peer written here: a deepcopy of the
  state dict before each batch, `masked_fill_` of the pruned weights, forward/backward,
  `load_state_dict` back, `masked_fill_` of the gradients; the same batches and optimizer;
- eval: `Trainer.evaluate` (forward, decoding, metric) and the forward-only floors of both kinds.
Prints one JSON object (or a table with --table); --out also writes the JSON to a file.

The parts, one file each: the workload (throughput_sample.py), the bare LSTM floors
(lstm_floor.py), the original code's masking (original_masking.py), the timed runs
(throughput_runs.py) and the report (throughput_report.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from throughput_report import result, table  # noqa: E402
from throughput_runs import Bench, measure  # noqa: E402
from utils.atomic import json_save_atomic  # noqa: E402
from utils.data.datafile import load_data_file  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402
from utils.training.config import TrainConfig  # noqa: E402
from utils.training.schedules import BUCKETINGS  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/conll03.pt", help="prepared data file")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--amp", action="store_true", help="bf16 autocast around training and evaluation")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: torch's own choice)")
    p.add_argument("--batch", type=int, default=10, help="training batch size (paper: 10)")
    p.add_argument("--eval-batch", type=int, default=256, help="evaluation batch size")
    p.add_argument("--steps", type=int, default=100,
                   help="training batches per task per repeat (sample = steps x batch sentences)")
    p.add_argument("--eval-batches", type=int, default=4, help="evaluation batches per task")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed repeats; rates are the best one, paired ratios the median")
    p.add_argument("--hidden", type=int, default=200, help="LSTM hidden size per direction")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers")
    p.add_argument("--crf", action="store_true", help="CRF heads instead of softmax")
    p.add_argument("--task", default="ner", help="the task of the single-task runs")
    p.add_argument("--optim", default="sgd(lr=0.1, momentum=0.9)")
    p.add_argument("--bucketing", choices=BUCKETINGS, default=TrainConfig.bucketing,
                   help="how the bucketed epochs draw their batches (default: the training default)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--table", action="store_true", help="print a table instead of the JSON")
    args = p.parse_args(argv)
    for name in ("batch", "eval_batch", "steps", "eval_batches", "repeats", "hidden", "layers"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    return args



def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda but torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data_file(args.data)
    load_before = os.getloadavg()
    bench = Bench(data, args, device)
    return result(args, bench, measure(bench, args.repeats, args.seed), load_before)


def main() -> None:
    args = parse_args()
    result = run(args)
    if args.out:
        json_save_atomic(result, args.out)
    print(table(result) if args.table else json.dumps(result, indent=1))


if __name__ == "__main__":
    run_main(main)
