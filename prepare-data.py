#!/usr/bin/env python
"""Raw corpora -> data/<setting>.pt, the prepared data file every training script reads.

    prepare-data.py --type conll03
    prepare-data.py --type ptb --pos-train PATH/TO/train.pos
    prepare-data.py --type ontonotes --embedding glove.6B.100d.txt
    prepare-data.py --tasks my-tasks.toml

A setting is a task-set file: its tasks, their corpora, columns, tag schemes and metrics
(docs/own-tasks.md). `--type NAME` takes the one shipped as settings/NAME.toml. A corpus path is a
folder with the split files or the split files separated by commas; relative paths are looked up
beside the task-set file, in the working folder, in data/raw/ and in ../shared/data/.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from utils.atomic import remove_stale_temps
from utils.data.datafile import replace_data_file
from utils.data.prepare import prepare, summary_lines
from utils.data.taskset import (TaskSet, builtin_path, builtin_settings, load_task_set,
                                with_chunk_check, with_corpus, with_seed, with_train_file)
from utils.errors import ArgumentParser, InputError, run_main
from utils.locks import locked_folder
from utils.paths import display_path

TASK_PATH_OPTIONS = ("pos", "chunk", "ner")   # the original's --pos/--chunk/--ner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--type", choices=builtin_settings(),
                       help="a setting shipped with the project (settings/<type>.toml)")
    which.add_argument("--tasks", metavar="FILE.toml", help="a task-set file of your own")
    parser.add_argument("--corpus", action="append", default=[], metavar="TASK=PATH",
                        help="the corpus of TASK instead of the file's (a path given for one task "
                             "also serves the tasks that share its corpus); repeatable")
    parser.add_argument("--train", action="append", default=[], metavar="TASK=FILE",
                        help="the train file of TASK instead of its corpus's; repeatable")
    for task in TASK_PATH_OPTIONS:
        parser.add_argument(f"--{task}", metavar="PATH", help=f"the same as --corpus {task}=PATH "
                            "(the original's interface)")
    parser.add_argument("--pos-train", metavar="FILE", help="the same as --train pos=FILE (ptb: "
                        "the WSJ POS train file, sections 00-18)")
    parser.add_argument("--chunk-check", metavar="PATH",
                        help="for chunks derived from parse trees (ontonotes): the CoNLL-2000 "
                             "folder to measure them against, or 'none'")
    parser.add_argument("--embedding", default=None,
                        help="word vectors: a GloVe/word2vec/fastText text file (.txt or .vec, "
                             ".gz ok), 'glove-6b-50d' or 'none' (default: the task set's, else "
                             "glove-6b-50d)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the dev split of a corpus without a dev file (default: the "
                             "task set's, else 1)")
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a data file of this name whose content would change")
    return parser.parse_args(argv)


def pairs(values: list[str], option: str) -> dict[str, str]:
    """["pos=a", "ner=b"] -> {"pos": "a", "ner": "b"}."""
    out = {}
    for value in values:
        task, sep, path = value.partition("=")
        if not sep or not task or not path:
            raise InputError(f"expected TASK=PATH, got {value!r}", option)
        out[task] = path
    return out


def task_set_of(args: argparse.Namespace) -> TaskSet:
    """The task set named by --type or --tasks, with the command line's corpora and seed."""
    task_set = load_task_set(builtin_path(args.type) if args.type else args.tasks)
    corpora = pairs(args.corpus, "--corpus")
    corpora.update({task: getattr(args, task) for task in TASK_PATH_OPTIONS
                    if getattr(args, task) is not None})
    train = pairs(args.train, "--train")
    if args.pos_train is not None:
        train["pos"] = args.pos_train
    task_set = with_train_file(with_corpus(task_set, corpora), train)
    if args.chunk_check is not None:
        task_set = with_chunk_check(task_set, args.chunk_check)
    return with_seed(task_set, args.seed)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder", args.out)
    task_set = task_set_of(args)
    prepared = prepare(task_set, args.embedding,
                       {k: v for k, v in vars(args).items() if k != "overwrite"})
    for task, source in prepared.provenance["sources"].items():
        print(f"{task}: {source['corpus']} from {source['found_in']}")
    for note in prepared.provenance["conversions"]:
        print(f"note: {note}")
    for warning in prepared.provenance["warnings"]:
        print(f"warning: {warning}")
    agreement = prepared.provenance.get("chunk_agreement")
    if isinstance(agreement, dict):
        print(f"derived chunks vs CoNLL-2000 gold: {100 * agreement['agreement']:.2f}% of "
              f"{agreement['tokens']:,} tokens in {agreement['matched_sentences']:,} "
              "shared sentences")
    elif agreement:
        print(f"derived chunks vs CoNLL-2000 gold: {agreement}")
    path = out / f"{task_set.name}.pt"
    out.mkdir(parents=True, exist_ok=True)
    with locked_folder(out):           # one writer of data files here at a time, so a temp file of
        remove_stale_temps(out, path.name)   # this one found now was left by a killed run
        written = replace_data_file(prepared, path, args.overwrite)
    print("\n".join(summary_lines(prepared)))
    print(f"{'wrote' if written else 'unchanged (the same content):'} {display_path(path)} in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_main(main)
