#!/usr/bin/env python
"""Raw corpora -> data/<setting>.pt, the prepared data file every training script reads.

    prepare-data.py --type conll03
    prepare-data.py --type ptb --pos-train PATH/TO/train.pos
    prepare-data.py --type ontonotes --embedding glove.6B.100d.txt

A corpus path is a folder with the split files or the split files separated by commas; without
one, data/raw/<corpus>/ and then ../shared/data/<corpus>/ are searched. See docs/data.md.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from utils.atomic import remove_stale_temps
from utils.data.datafile import save_data_file
from utils.data.prepare import prepare, summary_lines
from utils.data.prepare_sources import Request
from utils.errors import InputError, run_main
from utils.locks import locked_folder
from utils.paths import display_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", required=True, choices=("conll03", "ptb", "ontonotes"),
                        help="the data setting")
    parser.add_argument("--pos", help="POS corpus: CoNLL-2003, WSJ .pos or OntoNotes (conll03 and "
                        "ontonotes: a path given for one task serves the others)")
    parser.add_argument("--chunk", help="chunk corpus: conll03 folder, CoNLL-2000, or OntoNotes")
    parser.add_argument("--ner", help="NER corpus: conll03 folder (conll03, ptb) or OntoNotes")
    parser.add_argument("--pos-train", help="ptb: the WSJ POS train file (sections 00-18)")
    parser.add_argument("--chunk-check", help="ontonotes: CoNLL-2000 folder to measure the derived "
                        "chunks against (default: looked up), or 'none'")
    parser.add_argument("--embedding", default="glove-6b-50d",
                        help="GloVe/word2vec text file (.gz ok), 'glove-6b-50d' or 'none'")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the ptb chunk dev split (the vectors of words without a "
                             "pretrained one are drawn by each training run, from its seed)")
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder", args.out)
    request = Request(args.type, args.pos, args.chunk, args.ner, args.pos_train,
                      args.chunk_check, args.seed)
    prepared = prepare(request, args.embedding, vars(args))
    for task, source in prepared.provenance["sources"].items():
        print(f"{task}: {source['corpus']} from {source['found_in']}")
    for note in prepared.provenance["conversions"]:
        print(f"note: {note}")
    agreement = prepared.provenance.get("chunk_agreement")
    if isinstance(agreement, dict):
        print(f"chunk rule vs CoNLL-2000 gold: {100 * agreement['agreement']:.2f}% of "
              f"{agreement['tokens']:,} tokens in {agreement['matched_sentences']:,} "
              "shared sentences")
    elif agreement:
        print(f"chunk rule vs CoNLL-2000 gold: {agreement}")
    path = out / f"{args.type}.pt"
    out.mkdir(parents=True, exist_ok=True)
    with locked_folder(out):           # one writer of data files here at a time, so a temp file of
        remove_stale_temps(out, path.name)   # this one found now was left by a killed run
        save_data_file(prepared, path)
    print("\n".join(summary_lines(prepared)))
    print(f"wrote {display_path(path)} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_main(main)
