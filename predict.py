#!/usr/bin/env python
"""Tag text with a trained model (a BiLSTM tagger, or one over a pretrained encoder: its folder as
the checkpoint records it, docs/encoders.md): every task through its own mask (see docs/analysis.md). Input: raw text (one sentence per line, whitespace-tokenised) or a CoNLL file (words in
the first column); output: CoNLL columns, the word and one tag per task."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from utils.atomic import text_save_atomic
from utils.cli_args import HelpFormatter, setup_torch
from utils.data.datafile import UNK_ID
from utils.data.readers.text import iter_lines
from utils.errors import ArgumentParser, InputError, run_main
from utils.paths import display_path
from utils.results.results_table import METRIC_NAMES
from utils.results.tagging import (FORMATS, conll_lines, detect_format, encode, gold_columns,
                                   load_trained, read_input, select_tasks, tag)
from utils.training.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description="Tag raw text or a CoNLL file with a model trained by train_mtl.py "
                    "(exp/<setting>/mtl/cp/<name>/best.th) or a pruning round of train_single.py "
                    "(exp/<setting>/single/cp/<task_id>/best_[k]_[pct].th, with the mask beside it). "
                    "Writes CoNLL columns: the word, then one tag per task (in the data file's tag "
                    "schemes, e.g. chunks BIO2, NER BIOES), a blank line after each sentence. "
                    "-DOCSTART- lines and blank lines of the input are not repeated.",
        formatter_class=HelpFormatter)
    add = p.add_argument
    add("--model", required=True, type=Path, help="best.th or best_[k]_[pct].th")
    add("--input", required=True, help="text or CoNLL file, UTF-8; - reads standard input")
    add("--output", default="-", help="output file; - writes standard output")
    add("--format", choices=FORMATS, default="auto",
        help="text: one sentence per line; conll: words in the first column, blank lines between "
             "sentences; auto: conll when the lines look like columns (-DOCSTART-, or the same "
             "number of fields on every token line; always with --eval)")
    add("--tasks", default=None, help="comma-separated task names, e.g. pos,ner; default every task "
        "the model was trained on")
    add("--eval", action="store_true", help="score the predictions against the gold columns of a "
        "CoNLL input (the metric training reports: POS accuracy, chunk/NER span F1)")
    add("--gold_columns", default=None, help="where --eval finds each task's gold tags, e.g. "
        "pos=1,chunk=2,ner=3 (0 = the word); default: each task's tag column in its corpus, as "
        "its task-set file names it (conll03: pos=1,chunk=2,ner=3)")
    add("--data_path", default=None, help="the data file the model was trained on (its vocabulary); "
        "default the one named in the run's args.json")
    add("--batch_size", type=int, default=TrainConfig.eval_batch_size,
        help="sentences per batch (training evaluates with this size)")
    add("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    add("--num_threads", type=int, default=0, help="CPU threads; 0 = every core this process may use")
    add("--overwrite", action="store_true", help="replace an existing --output file")
    return p


def main() -> None:
    args = build_parser().parse_args()
    if args.batch_size < 1:
        raise InputError(f"must be at least 1, got {args.batch_size}", "--batch_size")
    if args.output != "-" and Path(args.output).exists() and not args.overwrite:
        raise InputError("exists; pass --overwrite to replace it", args.output)
    setup_torch(args.num_threads, args.device)
    trained = load_trained(args.model, args.data_path)
    task_ids = select_tasks(trained, args.tasks)
    names = [trained.data.tasks[t] for t in task_ids]
    shown = display_path(args.input)
    lines = list(iter_lines(args.input, expected="text or CoNLL lines"))
    fmt = args.format if args.format != "auto" else "conll" if args.eval else detect_format(lines)
    if args.eval and fmt != "conll":
        raise InputError("--eval needs a CoNLL file with gold columns, not --format text", shown)
    columns = gold_columns(args.gold_columns, names, trained.data) if args.eval else None
    sentences = read_input(lines, shown, fmt, columns)
    if not sentences.words:
        raise InputError("no sentences found", shown)
    started = time.perf_counter()
    splits = encode(sentences, trained.data, task_ids, gold=args.eval,
                    encoder=getattr(trained.model.config, "encoder", None))
    tags, scores = tag(trained, splits, args.batch_size, args.device)
    seconds = time.perf_counter() - started
    text = "\n".join(conll_lines(sentences, tags)) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        text_save_atomic(text, args.output)
    report = sys.stderr if args.output == "-" else sys.stdout
    first = next(iter(splits.values()))
    unknown = 100.0 * float((first.words == UNK_ID).float().mean())
    print(f"tagged {first.n_sentences:,} sentences ({first.n_tokens:,} tokens, {unknown:.1f}% unknown "
          f"words) from {shown} ({fmt}) with {trained.source}: {', '.join(names)} in {seconds:.1f} s",
          file=report)
    if args.eval:
        for name, score in scores.items():
            metric = METRIC_NAMES[trained.data.metrics[name]]
            print(f"{name} {score:.2f} ({metric})", file=report)


if __name__ == "__main__":
    run_main(main)
