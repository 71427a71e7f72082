#!/usr/bin/env python
"""Training and evaluation throughput on real batches, all measured in one run on the same shapes.

    .venv/bin/python bench/throughput.py --threads 2 --table
    python3 bench/throughput.py --device cuda --amp --batch 64 --out gpu.json

Measured, in tokens per second (tokens = real words, padding excluded):
- floor: a bare 2-layer BiLSTM (`nn.LSTM`) forward+backward on the same packed batches, inputs
  prepared beforehand: what the hardware gives for the dominant computation;
- floor_padded: the same bare stack run the way the model runs it (models/bilstm.py: on the CPU,
  padded batches one direction at a time, which reaches oneDNN's fused kernel; that is about twice
  the packed floor, so the model's step can beat `floor`, and `floor_padded` is the stricter one);
- single, single_masked, hard, sparse: `Trainer.train_epoch`, the training loop users run
  (batching, embeddings, char CNN, loss, clipping, optimizer, masks), over a sample of the training
  sentences; single = one task, hard = three tasks without masks, sparse = three task masks. Each
  uses its script's recipe (single: norm clipping; hard, sparse: value clipping) and a bucketed
  epoch (the multi-task schedule's epoch 2: its first epoch draws random batches, as the original);
- original_masking: the masking of the original code, as a peer written here: a deepcopy of the
  state dict before each batch, `masked_fill_` of the pruned weights, forward/backward,
  `load_state_dict` back, `masked_fill_` of the gradients; the same batches and optimizer;
- eval: `Trainer.evaluate` (forward, decoding, metric) and the forward-only floors of both kinds.
Methods are timed in turns (repeat 1 of every method, then repeat 2, ...) and each keeps its best
repeat, so a load change on a shared machine hits all of them alike. Ratios come as ratios of the
best rates (wall and CPU time) and as `ratios_paired`, the median over repeats of each repeat's
ratio (sparse runs right after hard, so a pair shares the machine's load of the moment).
`step_ms` gives the hard step in milliseconds and what each masking adds to it.
Prints one JSON object (or a table with --table); --out also writes the JSON to a file.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ModelConfig, build_model, data_sizes  # noqa: E402
from models.bilstm import BiLSTMLayer, padded_path_index  # noqa: E402
from utils.atomic import json_save_atomic  # noqa: E402
from utils.data.batching import SplitIndex, bucket_batches, eval_batches  # noqa: E402
from utils.data.datafile import PreparedData, Split, load_data_file  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402
from utils.training.optim import build_optimizer, clip_gradients, keep_zero_grads  # noqa: E402
from utils.sparsity.pruning import full_mask, magnitude_prune, n_total, prunable_names, target_kept  # noqa: E402
from utils.training.trainer import TaskData, TrainConfig, Trainer  # noqa: E402

FLOORS = ("floor", "floor_padded")
BUCKETED_EPOCH = 2          # seq-label's first epoch has random batches; later ones are bucketed
TRAIN_METHODS = ("floor", "floor_padded", "single", "single_masked", "hard", "sparse", "original_masking")
EVAL_METHODS = ("floor", "floor_padded", "single", "sparse")
# IMP rounds (of 20, final rate 0.1) whose densities the three sparse-sharing masks take.
MASK_ROUNDS = (7, 10, 14)


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
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--table", action="store_true", help="print a table instead of the JSON")
    args = p.parse_args(argv)
    for name in ("batch", "eval_batch", "steps", "eval_batches", "repeats", "hidden", "layers"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    return args


# ---- data ------------------------------------------------------------------------------------
def sample_split(split: Split, n_sentences: int, generator: torch.Generator) -> Split:
    """A random sample of sentences (drawn over the whole split, so lengths are representative)."""
    ids = torch.randperm(split.n_sentences, generator=generator)[:n_sentences]
    tokens = _ranges(torch.cumsum(split.sent_lengths, 0) - split.sent_lengths,
                     split.sent_lengths, ids)
    chars = _ranges(torch.cumsum(split.word_lengths, 0) - split.word_lengths,
                    split.word_lengths, tokens)
    return Split(split.words[tokens], split.labels[tokens], split.sent_lengths[ids],
                 split.chars[chars], split.word_lengths[tokens])


def _ranges(starts: torch.Tensor, lengths: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Concatenated index ranges [starts[i], starts[i] + lengths[i]) of the items `ids`."""
    sizes = lengths[ids]
    offsets = torch.cumsum(sizes, 0) - sizes
    within = torch.arange(int(sizes.sum())) - torch.repeat_interleave(offsets, sizes)
    return torch.repeat_interleave(starts[ids], sizes) + within


def sample_tasks(data: PreparedData, n_train: int, n_eval: int, seed: int) -> list[TaskData]:
    """Every task with a sample of its train and dev sentences (dev stands in for test)."""
    tasks = []
    for task_id, name in enumerate(data.tasks):
        train = sample_split(data.data[name]["train"], n_train, torch.Generator().manual_seed(seed))
        dev = sample_split(data.data[name]["dev"], n_eval, torch.Generator().manual_seed(seed))
        tasks.append(TaskData(task_id, name, data.schemes[name], data.labels[name], train, dev, dev))
    return tasks


# ---- models and masks ------------------------------------------------------------------------
def model_config(data: PreparedData, args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(**data_sizes(data, "cnn-lstm"), hidden_size=args.hidden, n_layer=args.layers,
                       crf=args.crf)


def task_masks(config: ModelConfig, n_tasks: int, seed: int) -> dict[int, dict[str, torch.Tensor]]:
    """One magnitude mask per task, at the densities of IMP rounds MASK_ROUNDS (different weights)."""
    model = build_model(config)
    names = prunable_names(model)
    start = full_mask(model, names)
    masks = {}
    for task_id in range(n_tasks):
        gen = torch.Generator().manual_seed(seed + task_id)
        scores = {name: torch.rand(start[name].shape, generator=gen) for name in names}
        keep = target_kept(n_total(start), 0.1, 20, MASK_ROUNDS[task_id % len(MASK_ROUNDS)])
        masks[task_id] = magnitude_prune(scores, start, keep)
    return masks


# ---- timing ----------------------------------------------------------------------------------
Timing = tuple[float, float, float | None]   # wall seconds, process CPU seconds, peak MiB


def timed(fn: Callable[[], Any], device: torch.device) -> Timing:
    """Wall and CPU seconds of one call, and the peak device memory in MiB (None on CPU).

    With one thread, CPU seconds are what the call costs on an idle core even when other work
    shares the machine (wall seconds then include the time others held the core)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    fn()
    peak = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    return time.perf_counter() - start, time.process_time() - cpu_start, peak


def autocast(args: argparse.Namespace, device: torch.device):
    if not args.amp:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# ---- the runs --------------------------------------------------------------------------------
class Bench:
    """Builds every method once; `train(name, seed)` / `evaluate(name)` run one timed repeat."""

    def __init__(self, data: PreparedData, args: argparse.Namespace, device: torch.device) -> None:
        self.args, self.device = args, device
        self.config = model_config(data, args)
        self.tasks = sample_tasks(data, args.steps * args.batch, args.eval_batches * args.eval_batch,
                                  args.seed)
        names = [t.name for t in self.tasks]
        if args.task not in names:
            raise InputError(f"--task must be one of {', '.join(names)}, got {args.task!r}")
        # The task of the single-task runs and floors (--task).
        self.single_tasks = single = [t for t in self.tasks if t.name == args.task]
        masks = task_masks(self.config, len(self.tasks), args.seed)
        self.masks = masks
        self.trainers = {
            "single": self._trainer(data, single, None, "single"),
            "single_masked": self._trainer(data, single, {single[0].task_id: masks[single[0].task_id]},
                                           "single"),
            "hard": self._trainer(data, self.tasks, None, "seq-label"),
            "sparse": self._trainer(data, self.tasks, masks, "seq-label"),
        }
        self.original = OriginalMasking(self._trainer(data, self.tasks, None, "seq-label"), masks)
        self.floors = {"floor": LstmFloor(self.config, device, packed=True),
                       "floor_padded": LstmFloor(self.config, device, packed=False)}

    def _trainer(self, data: PreparedData, tasks: list[TaskData], masks, schedule: str) -> Trainer:
        torch.manual_seed(self.args.seed)
        model = build_model(self.config, data.embedding)
        # Each script's clipping: norm in single-task pruning, value in multi-task training.
        config = TrainConfig(epochs=1, optim=self.args.optim, batch_size=self.args.batch,
                             eval_batch_size=self.args.eval_batch, schedule=schedule,
                             clip_type="norm" if schedule == "single" else "value",
                             device=str(self.device), progress=False)
        trainer = Trainer(model, tasks, config, seed=self.args.seed, masks=masks, echo=lambda _: None)
        trainer.optimizer = build_optimizer(config.optim, [p for p in model.parameters()
                                                           if p.requires_grad])
        return trainer

    def train_steps(self, name: str) -> int:
        """Training batches of one epoch of `name` (bucketing makes ceil(sentences / batch))."""
        return sum(math.ceil(t.train.n_sentences / self.args.batch) for t in self._train_tasks(name))

    def train_tokens(self, name: str) -> int:
        return sum(t.train.n_tokens for t in self._train_tasks(name))

    def _train_tasks(self, name: str) -> list[TaskData]:
        if name.startswith("single") or name in FLOORS:
            return self.single_tasks
        return self.tasks

    def eval_tokens(self, name: str) -> int:
        tasks = self.tasks if name == "sparse" else self.single_tasks
        return sum(t.dev.n_tokens for t in tasks)

    def train(self, name: str, seed: int) -> Timing:
        """One epoch over the sample, batches drawn from `seed` (the same shapes for every method)."""
        if name in FLOORS:
            floor = self.floors[name]
            batches = floor.prepare_train(self.trainers["single"], seed, self.args.batch)
            with autocast(self.args, self.device):
                return timed(lambda: floor.train(batches), self.device)
        runner = self.original if name == "original_masking" else self.trainers[name]
        runner.generator.manual_seed(seed)
        with autocast(self.args, self.device):
            if name == "original_masking":
                return timed(self.original.epoch, self.device)
            return timed(lambda: runner.train_epoch(runner.optimizer, BUCKETED_EPOCH, name), self.device)

    def evaluate(self, name: str) -> Timing:
        if name in FLOORS:
            floor, trainer = self.floors[name], self.trainers["single"]
            batches = floor.prepare_eval(trainer.evaluation_batches(trainer.tasks[0], "dev"))
            with autocast(self.args, self.device):
                return timed(lambda: floor.forward(batches), self.device)
        trainer = self.trainers[name]
        with autocast(self.args, self.device):
            return timed(lambda: trainer.evaluate("dev"), self.device)


class LstmFloor:
    """A bare BiLSTM stack of the model's shape on inputs prepared beforehand.

    packed=True: one `nn.LSTM` (all layers) on packed batches, the issue's definition of the floor.
    packed=False: the same stack run as the model runs it on this device (`BiLSTMLayer.run`: padded
    batches, one direction at a time on the CPU), the fastest bare LSTM known here.
    """

    def __init__(self, config: ModelConfig, device: torch.device, packed: bool) -> None:
        self.input_size = config.word_dim + config.char_filters
        self.device, self.packed = device, packed
        if packed:
            self.lstm = nn.LSTM(self.input_size, config.hidden_size, num_layers=config.n_layer,
                                bidirectional=True, batch_first=True).to(device)
        else:
            sizes = [self.input_size] + [2 * config.hidden_size] * config.n_layer
            self.lstm = nn.ModuleList(BiLSTMLayer(sizes[i], config.hidden_size)
                                      for i in range(config.n_layer)).to(device)

    def _input(self, batch, requires_grad: bool) -> tuple:
        x = torch.randn(tuple(batch.words.shape) + (self.input_size,))
        if self.packed:
            packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=True)
            data = packed.data.to(self.device).requires_grad_(requires_grad)
            return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                  packed.unsorted_indices), None
        x = x.to(self.device).requires_grad_(requires_grad)
        reversal = padded_path_index(batch.lengths, x.size(1), self.device)
        return x, batch.lengths, reversal

    def _run(self, inputs: tuple) -> torch.Tensor:
        if self.packed:
            return self.lstm(inputs[0])[0].data
        x, lengths, reversal = inputs
        for layer in self.lstm:
            x = layer.run(x, lengths, reversal)
        return x

    def prepare_train(self, trainer: Trainer, seed: int, batch_size: int) -> list[tuple]:
        """The inputs of the batches `trainer` draws from `seed` (same ids, same shapes)."""
        generator = torch.Generator().manual_seed(seed)
        index = trainer.train_index[trainer.tasks[0].task_id]
        ids = bucket_batches(index.lengths, batch_size, generator, trainer.config.bucket_chunks)
        return [self._input(index.batch(i), True) for i in ids]

    def prepare_eval(self, batches: list) -> list[tuple]:
        return [self._input(b, False) for b in batches]

    def train(self, inputs: list[tuple]) -> None:
        self.lstm.train()
        for x in inputs:
            self._run(x).sum().backward()

    @torch.no_grad()
    def forward(self, inputs: list[tuple]) -> None:
        self.lstm.eval()
        for x in inputs:
            self._run(x)


class OriginalMasking:
    """The original code's masking around the same loop: copy, mask, step, restore, mask grads."""

    def __init__(self, trainer: Trainer, masks: dict[int, dict[str, torch.Tensor]]) -> None:
        self.trainer = trainer
        self.generator = trainer.generator
        device = trainer.config.device
        self.pruned = {t: {n: (~m).to(device) for n, m in mask.items()} for t, mask in masks.items()}
        self.had_grad: set[str] = set()

    def epoch(self) -> None:
        tr, cfg = self.trainer, self.trainer.config
        model, optimizer = tr.model, tr.optimizer
        model.train()
        params = dict(model.named_parameters())
        optimizer.zero_grad()
        for task_id, ids in tr.schedule.epoch(BUCKETED_EPOCH):
            batch = tr.train_index[task_id].batch(ids).to(cfg.device)
            pruned = self.pruned[task_id]
            saved = copy.deepcopy(model.state_dict())
            with torch.no_grad():
                for name, off in pruned.items():
                    params[name].masked_fill_(off, 0.0)
            loss = model.loss(model(batch, task_id), batch, task_id)
            loss.backward()
            model.load_state_dict(saved)
            for name, off in pruned.items():
                params[name].grad.masked_fill_(off, 0.0)
            keep_zero_grads(params, self.had_grad)
            clip_gradients(list(params.values()), cfg.clip_type, cfg.clip)
            optimizer.step()
            optimizer.zero_grad()
            float(loss.detach())


# ---- report ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda but torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data_file(args.data)
    load_before = os.getloadavg()
    bench = Bench(data, args, device)
    runs: dict[str, dict[str, list]] = {"train": {m: [] for m in TRAIN_METHODS},
                                        "eval": {m: [] for m in EVAL_METHODS}}
    for name in TRAIN_METHODS:                      # warm-up: allocator, caches, kernels
        bench.train(name, args.seed)
    for name in EVAL_METHODS:
        bench.evaluate(name)
    for repeat in range(args.repeats):
        for name in TRAIN_METHODS:
            runs["train"][name].append(bench.train(name, args.seed + 1 + repeat))
        for name in EVAL_METHODS:
            runs["eval"][name].append(bench.evaluate(name))
    tokens = {"train": {m: bench.train_tokens(m) for m in TRAIN_METHODS},
              "eval": {m: bench.eval_tokens(m) for m in EVAL_METHODS}}
    summary = {table: {m: _summary(timings, tokens[table][m]) for m, timings in runs[table].items()}
               for table in runs}
    return {
        "machine": _machine(device, load_before),
        "config": _config(args, bench),
        "train": summary["train"],
        "eval": summary["eval"],
        "ratios": _ratios(summary, "tokens_per_s"),
        "ratios_cpu_time": _ratios(summary, "tokens_per_cpu_s"),
        "ratios_paired": _paired_ratios(runs, tokens),
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


def _paired_ratios(runs: dict[str, dict[str, list[Timing]]],
                   tokens: dict[str, dict[str, int]]) -> dict[str, float]:
    """Median over repeats of each repeat's wall-time ratio. The two methods of a repeat ran
    minutes apart at most, so on a shared machine this is steadier than a ratio of two bests."""
    ratios = {}
    for k, (table, m, n) in RATIO_PAIRS.items():
        per_repeat = sorted((tokens[table][m] / a[0]) / (tokens[table][n] / b[0])
                            for a, b in zip(runs[table][m], runs[table][n]))
        ratios[k] = round(statistics.median(per_repeat), 3)
    return ratios


def _step_ms(train_runs: dict[str, list[Timing]], steps: int) -> dict[str, float]:
    """Milliseconds per three-task step: hard sharing's (median repeat), and what each masking
    adds to it, the median over repeats of the same repeat's difference (`sparse_extra` is the
    masking cost of sparse sharing in absolute terms, which the ratios express relative to hard)."""
    hard = [seconds for seconds, _, _ in train_runs["hard"]]
    step_ms = {"hard": round(statistics.median(hard) / steps * 1e3, 3)}
    for method in ("sparse", "original_masking"):
        extra = [run[0] - hard_seconds for run, hard_seconds in zip(train_runs[method], hard)]
        step_ms[f"{method}_extra"] = round(statistics.median(extra) / steps * 1e3, 3)
    return step_ms


def _machine(device: torch.device, load_before: tuple[float, ...]) -> dict[str, Any]:
    info = {"cpu": _cpu_name(), "cores": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "device": str(device),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _config(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    return {"data": args.data, "batch": args.batch, "eval_batch": args.eval_batch,
            "steps": args.steps, "repeats": args.repeats, "amp": args.amp, "task": args.task,
            "tasks": [t.name for t in bench.tasks], "optim": args.optim,
            "model": {"word_dim": cfg.word_dim, "n_words": cfg.n_words, "char_filters": cfg.char_filters,
                      "hidden": cfg.hidden_size, "layers": cfg.n_layer, "crf": cfg.crf},
            "mask_density": [round(sum(int(k.sum()) for k in m.values()) /
                                   sum(k.numel() for k in m.values()), 4)
                             for m in bench.masks.values()]}


def table(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    lines = [f"{m.get('gpu', m['cpu'])} | torch {m['torch']} | {m['torch_threads']} threads | "
             f"batch {c['batch']} | amp {c['amp']} | load {m['load_avg_before'][0]}",
             f"{'train':<18}{'tokens/s':>12}{'median':>12}{'per CPU s':>12}{'peak MiB':>10}"]
    lines += [_row(name, row) for name, row in result["train"].items()]
    lines.append(f"{'eval':<18}{'tokens/s':>12}{'median':>12}{'per CPU s':>12}{'peak MiB':>10}")
    lines += [_row(name, row) for name, row in result["eval"].items()]
    lines.append(f"{'ratio':<30}{'wall':>8}{'CPU':>8}{'paired':>8}")
    lines += [f"{k:<30}{v:>8.3f}{result['ratios_cpu_time'][k]:>8.3f}"
              f"{result['ratios_paired'][k]:>8.3f}" for k, v in result["ratios"].items()]
    step = result["step_ms"]
    lines.append(f"ms per 3-task step: hard {step['hard']:.2f}, sparse masking "
                 f"{step['sparse_extra']:+.2f}, original masking {step['original_masking_extra']:+.2f}")
    lines.append(f"peak RSS {result['peak_rss_mb']} MiB")
    return "\n".join(lines)


def _row(name: str, row: dict[str, Any]) -> str:
    return (f"{name:<18}{row['tokens_per_s']:>12.0f}{row['median_tokens_per_s']:>12.0f}"
            f"{row['tokens_per_cpu_s']:>12.0f}{_mb(row['peak_mb']):>10}")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> None:
    args = parse_args()
    result = run(args)
    if args.out:
        json_save_atomic(result, args.out)
    print(table(result) if args.table else json.dumps(result, indent=1))


if __name__ == "__main__":
    run_main(main)
