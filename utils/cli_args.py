"""Command-line arguments shared by train_single.py and train_mtl.py (one definition, one help)."""
from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import torch

from utils.errors import InputError
from utils.training.checkpoint import check_seed
from utils.training.lr_schedules import parse_scheduler
from utils.training.metrics import SPAN_METRICS
from utils.training.optim import CLIP_TYPES, check_optim
from utils.training.presets import preset_help
from utils.training.run_dir import check_run_name
from utils.training.schedules import BUCKETINGS, DEFAULT_BUCKETING


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default, except None: those arguments name their preset values instead."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Hyphenated values (cnn-lstm, re-seq-label) stay whole when the help is wrapped.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_training_arguments(parser: argparse.ArgumentParser, unit: str) -> None:
    """The training hyperparameters; unset ones take the preset's values.

    `unit` names one training run in the help texts ("round" of IMP, or "run").
    """
    add = parser.add_argument
    add("--epochs", type=int, help=f"training epochs per {unit} ({preset_help('epochs')})")
    add("--optim", help=f"optimizer and its arguments, e.g. \"adam(lr=0.001)\" ({preset_help('optim')})")
    add("--hidden_size", type=int, help=f"BiLSTM hidden units per direction ({preset_help('hidden_size')})")
    add("--n_layer", type=int, help=f"BiLSTM layers ({preset_help('n_layer')})")
    add("--dropout", type=float, help=f"dropout rate ({preset_help('dropout')})")
    add("--batch_size", type=int, help=f"sentences per training batch ({preset_help('batch_size')})")
    add("--patience", type=int, help=f"stop a {unit} after this many epochs without a better (mean) dev "
        f"score; 0 = never ({preset_help('patience')})")
    add("--train_subset", type=int, help="use only the first N training sentences of each task; "
        f"0 = all ({preset_help('train_subset')})")
    add("--eval_subset", type=int, help="use only the first N dev and test sentences; 0 = all "
        f"({preset_help('eval_subset')})")


def add_recipe_arguments(parser: argparse.ArgumentParser, *, scheduler: str, clip_type: str,
                         metric: str) -> None:
    """The parts of the training recipe whose defaults differ between the original's two scripts:
    the lr schedule and the clipping (and, here, the span metric that selects the epoch)."""
    add = parser.add_argument
    add("--scheduler", default=scheduler, help="lr schedule, stepped once per epoch: fix (constant), "
        "decay (lr / (1 + 0.05 * epoch)), inverse_sqrt(warmup=4000) (linear warm-up over that many "
        "epochs, then 1/sqrt); the original's choices")
    add("--clip_type", choices=CLIP_TYPES, default=clip_type, help="gradient clipping before each "
        "step: norm (rescale to a total 2-norm of at most --clip) or value (clamp every element "
        "to [-clip, clip])")
    add("--clip", type=float, default=5.0, help="clipping threshold; 0 = no clipping")
    add("--metric", choices=SPAN_METRICS, default=metric, help="span F1 that selects the epoch "
        "for chunking and NER (both are logged every epoch): conlleval (= fastNLP "
        "SpanFPreRecMetric, what the original's multi-task training reported) or yangjie (the "
        "original's single-task pruning metric, src/metric.py)")
    add("--bucketing", choices=BUCKETINGS, default=DEFAULT_BUCKETING, help="how bucketed batches are "
        "drawn: fastnlp (fastNLP 0.5.0's BucketSampler, as the original drew them) or tight "
        "(nearly equal lengths within 500-sentence chunks: less padding and faster epochs, but "
        "lower NER scores in the measured comparison, docs/differences.md)")


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """--encoder (a local Hugging Face model folder in place of the BiLSTM) and --pooling."""
    add = parser.add_argument
    add("--encoder", help="a local Hugging Face model folder (config, weights, fast tokenizer; "
        "BERT, RoBERTa, DistilBERT, XLM-R families) that replaces word embedding + char CNN + "
        "BiLSTM; the presets become the transformer recipe (AdamW, linear warm-up and decay, "
        "norm clip 1.0, batch 32; docs/encoders.md); needs `make encoder`")
    add("--pooling", choices=["first", "mean"], default="first", help="with --encoder: a word "
        "is read from its first subword, or from the mean of its subwords")


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The `dest` of every option written on the command line `argv` (a unique prefix counts, as
    argparse accepts it), so that a preset does not override what the user asked for."""
    written = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return {action.dest for action in parser._actions
            if any(option.startswith(w) and len(w) > 2 for option in action.option_strings
                   for w in written)}


# Arguments that may change between a run and its --resume without changing its results.
RESUME_MAY_CHANGE = ("resume", "overwrite", "num_threads", "device", "tensorboard", "evaluate",
                     "save_ep")


def resolve_run(values: dict, setting: str, stage: str, default_name: str) -> dict:
    """What both training scripts settle before any work: the experiment folder
    (exp/<setting>/<stage> unless --save_dir), the run name (`default_name` unless --exp_name),
    and the seed, optimizer and lr schedule, checked so that bad values fail at once."""
    values["save_dir"] = values["save_dir"] or str(Path("exp") / setting / stage)
    values["exp_name"] = check_run_name(default_name if values["exp_name"] is None
                                        else values["exp_name"])
    check_seed(values["seed"])
    check_optim(values["optim"])
    parse_scheduler(values["scheduler"])
    return values


def recipe_config(values: dict) -> dict:
    """The TrainConfig fields of the recipe arguments (add_recipe_arguments), from resolved values."""
    return {key: values[key] for key in ("scheduler", "clip_type", "clip", "metric", "bucketing")}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where and how a run executes: device, threads, resuming or replacing, TensorBoard."""
    add = parser.add_argument
    add("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    add("--num_threads", type=int, default=0,
        help="CPU threads for torch; 0 = every core this process may run on")
    add("--resume", action="store_true", help="continue an interrupted run in the same folder "
        "(same arguments and input files needed; after a divergence --optim may change)")
    add("--overwrite", action="store_true", help="replace an existing run in the same folder (it is "
        "deleted once the new run has started cleanly)")
    add("--tensorboard", help="also write TensorBoard events to this folder (needs tensorboard)")


def usable_cores() -> int:
    """Cores this process may run on: respects taskset/cgroup pinning, unlike os.cpu_count()."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def setup_torch(num_threads: int, device: str) -> None:
    """Set torch's CPU threads (0 = usable_cores()) and check that the device exists."""
    if num_threads < 0:
        raise InputError(f"must be 0 or more, got {num_threads}", "--num_threads")
    torch.set_num_threads(num_threads or usable_cores())
    check_device(device)


DEVICE_TYPES = ("cpu", "cuda")      # what the models and the training loop are written for


def check_device(device: str) -> None:
    """InputError naming --device unless `device` is cpu, cuda or cuda:N with GPU N on this
    machine, and a tensor can be made there."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise InputError(f"expected cpu, cuda or cuda:N, got {device!r}", "--device")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("CUDA is not available on this machine", "--device")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise InputError(f"no GPU {parsed.index} here: this machine shows {count} "
                             f"(cuda:0 to cuda:{count - 1})", "--device")
    try:
        torch.zeros(1, device=parsed).add_(1)
    except RuntimeError as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise InputError(f"cannot use {device}: {first[:200]}", "--device") from None
