#!/usr/bin/env python
"""Tag text with a trained model (a BiLSTM tagger, or one over a pretrained encoder: its folder as
the checkpoint records it, docs/encoders.md): every task through its own mask (see
docs/analysis.md). Input: raw text (one sentence per line, whitespace-tokenised), a column file or
a CoNLL-U file, read as the task set read the model's corpora (utils/results/input_layout.py);
output: CoNLL columns, the word and one tag per task."""
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
from utils.paths import check_path_kind, display_path
from utils.results.results_table import METRIC_NAMES
from utils.results.input_layout import FORMATS, gold_columns, input_layout, read_input, text_warning
from utils.results.tagging import conll_lines, encode, load_trained, select_tasks, tag
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
        help="text: one sentence per line; conll: whitespace-separated columns, blank lines between "
             "sentences; conllu: CoNLL-U (comments skipped, the syntactic words); auto: conllu or "
             "conll when the lines look like it (conll for --eval otherwise)")
    add("--word_column", default=None,
        help="the column of the words: 0-based for conll, a name (form, lemma) for conllu; default "
             "the word column of the task set the model was trained on (else 0, or form)")
    add("--tasks", default=None, help="comma-separated task names, e.g. pos,ner; default every task "
        "the model was trained on")
    add("--eval", action="store_true", help="score the predictions against the gold columns of a "
        "CoNLL input (the metric training reports: POS accuracy, chunk/NER span F1)")
    add("--gold_columns", default=None, help="where --eval finds each task's gold tags, e.g. "
        "pos=1,chunk=2,ner=3 (0-based), or xpos=xpos for conllu; default: each task's tag column "
        "in its corpus, as its task-set file names it (conll03: pos=1,chunk=2,ner=3)")
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
    if args.output != "-" and check_path_kind(args.output, "file", "--output", must_exist=False).exists() \
            and not args.overwrite:
        raise InputError("exists; pass --overwrite to replace it", args.output)
    setup_torch(args.num_threads, args.device)
    trained = load_trained(args.model, args.data_path)
    task_ids = select_tasks(trained, args.tasks)
    names = [trained.data.tasks[t] for t in task_ids]
    shown = display_path(args.input)
    lines = list(iter_lines(args.input, expected="text or CoNLL lines"))
    described = trained.data.provenance.get("task_set", {}).get("tasks", {})
    layout = input_layout(args.format, args.word_column, lines, described, names, args.eval)
    fmt = layout.format
    if args.eval and fmt == "text":
        raise InputError("--eval needs a CoNLL file with gold columns, not --format text", shown)
    if fmt == "text" and text_warning(lines, shown):
        print(text_warning(lines, shown), file=sys.stderr)
    columns = gold_columns(args.gold_columns, names, described, fmt) if args.eval else None
    sentences = read_input(lines, shown, layout, columns)
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
