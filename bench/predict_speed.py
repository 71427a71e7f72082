#!/usr/bin/env python
"""How long predict.py takes to tag N sentences (default 10,000) with a trained model.

    .venv/bin/python bench/predict_speed.py --model exp/conll03/mtl/cp/main/best.th --threads 1

The sentences are the first N of the CoNLL-2003 test, dev and train files, in that order (words
only, as raw text, one sentence per line), from ../shared/data/conll03 or --corpus. Each stage
runs the functions predict.py runs (utils/results/tagging.py): `load` (model, masks and data file),
`read` (the text lines), `encode` (word and character ids), `tag` (every task through its mask,
`Trainer.evaluate`), `write` (the CoNLL lines). read..write are timed --repeats times; each stage
keeps its best and median repeat. Prints one JSON object; --out also writes it to a file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.atomic import json_save_atomic  # noqa: E402
from utils.data.readers.columns import CONLL03_COLUMNS, read_column_file  # noqa: E402
from utils.data.readers.text import iter_lines  # noqa: E402
from utils.errors import InputError, run_main  # noqa: E402
from utils.paths import SHARED_DATA_DIR  # noqa: E402
from utils.results.input_layout import read_text  # noqa: E402
from utils.results.tagging import conll_lines, encode, load_trained, select_tasks, tag  # noqa: E402

STAGES = ("read", "encode", "tag", "write")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time predict.py's stages on N real sentences; prints JSON.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="best.th or best_[k]_[pct].th")
    p.add_argument("--sentences", type=int, default=10_000, help="how many sentences to tag")
    p.add_argument("--corpus", type=Path, default=SHARED_DATA_DIR / "conll03",
                   help="folder with the CoNLL-2003 test.txt, dev.txt and train.txt")
    p.add_argument("--tasks", default=None, help="comma-separated task names (default all)")
    p.add_argument("--batch_size", type=int, default=100, help="sentences per batch")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return p.parse_args()


def sentences_file(corpus: Path, n: int, folder: Path) -> Path:
    """The first n sentences of test, dev and train as raw text, one per line."""
    lines: list[str] = []
    for name in ("test.txt", "dev.txt", "train.txt"):
        read = read_column_file(corpus / name, CONLL03_COLUMNS, 4)
        lines += [" ".join(words) for words in read.words[:n - len(lines)]]
        if len(lines) == n:
            break
    if len(lines) < n:
        raise InputError(f"only {len(lines)} sentences in the CoNLL-2003 files", corpus)
    path = folder / "sentences.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_repeat(trained, task_ids: list[int], path: Path, args: argparse.Namespace) -> dict[str, float]:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    sentences = read_text(iter_lines(path), str(path))
    seconds["read"] = time.perf_counter() - started
    started = time.perf_counter()
    splits = encode(sentences, trained.data, task_ids, gold=False)
    seconds["encode"] = time.perf_counter() - started
    started = time.perf_counter()
    tags, _ = tag(trained, splits, args.batch_size, args.device)
    seconds["tag"] = time.perf_counter() - started
    started = time.perf_counter()
    text = "\n".join(conll_lines(sentences, tags)) + "\n"
    seconds["write"] = time.perf_counter() - started
    seconds["tokens"] = sum(map(len, sentences.words))
    seconds["output_chars"] = len(text)
    return seconds


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    trained = load_trained(args.model)
    load = time.perf_counter() - started
    task_ids = select_tasks(trained, args.tasks)
    with tempfile.TemporaryDirectory() as folder:
        path = sentences_file(args.corpus, args.sentences, Path(folder))
        repeats = [one_repeat(trained, task_ids, path, args) for _ in range(args.repeats)]
    best = {s: min(r[s] for r in repeats) for s in STAGES}
    median = {s: statistics.median(r[s] for r in repeats) for s in STAGES}
    tokens = int(repeats[0]["tokens"])
    total = sum(best.values())
    result = {
        "model": str(args.model), "tasks": [trained.data.tasks[t] for t in task_ids],
        "masked": [trained.data.tasks[t] for t in task_ids if t in trained.masks],
        "sentences": args.sentences, "tokens": tokens, "batch_size": args.batch_size,
        "threads": args.threads, "device": args.device, "repeats": args.repeats,
        "load_s": load, "best_s": best, "median_s": median, "total_best_s": total,
        "sentences_per_s": args.sentences / total, "tokens_per_s": tokens / total,
        "loadavg": list(os.getloadavg()), "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        json_save_atomic(result, args.out)


if __name__ == "__main__":
    run_main(main)
