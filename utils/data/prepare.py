"""Building the prepared data of a setting: vocabularies, vectors, index tensors, provenance.

Vocabularies as the original code built them through fastNLP (utils.data.vocab): one embedding row per
lower-cased form of the train words, plus the dev/test forms that have a pretrained vector (in
`ptb`, every word's form, as the original's ptb vocabulary had no dev/test distinction);
characters from the same words (train; `ptb`: all); each task's labels from all of its splits, in the
order the original fed them to fastNLP (`LABEL_SCAN`). Tasks whose splits hold the very same
sentences share one copy of the word and character tensors in the file.
"""
from __future__ import annotations

from typing import Any

import torch

from utils.data.datafile import SPLITS, UNK_ID, PreparedData, Split, encode_split, index_of
from utils.data.embeddings import Vectors, load_vectors, pretrained_rows
from utils.data.prepare_sources import SCHEMES, TASKS, Collected, Request, collect
from utils.data.readers.text import sha256_of
from utils.data.vocab import (build_chars, build_labels, count_tokens, embedding_rows, lower_forms,
                              word_types)
from utils.paths import display_path

# Splits whose words get embedding rows and characters without a pretrained vector.
ENTRY_SPLITS = {"ptb": SPLITS}
DEFAULT_ENTRY_SPLITS = ("train",)
# The order in which the original fed a task's splits to its label Vocabulary (equal counts go to
# the label seen first): train, dev, test; ptb's chunk cut its dev split from train after train
# and test were read, so dev came last.
LABEL_SCAN = {("ptb", "chunk"): ("train", "test", "dev")}


def prepare(request: Request, embedding: str, arguments: dict[str, Any]) -> PreparedData:
    """Read the corpora of `request.setting` and build its PreparedData."""
    return build(request, collect(request), embedding, arguments)


def build(request: Request, collected: Collected, embedding: str,
          arguments: dict[str, Any]) -> PreparedData:
    tasks = collected.tasks
    sentence_sets = distinct_sentence_sets(collected)
    types = word_types(count_tokens(*(sents for _, sents in sentence_sets)))
    entry_splits = ENTRY_SPLITS.get(request.setting, DEFAULT_ENTRY_SPLITS)
    entry = set(count_tokens(*(sents for split, sents in sentence_sets if split in entry_splits)))
    vectors = load_vectors(embedding, lower_forms(types))
    words = embedding_rows(types, entry, list(vectors.vectors) if vectors else None)
    chars = build_chars(types, entry)
    labels = {t: build_labels(*(tasks[t].tags[split]
                                for split in LABEL_SCAN.get((request.setting, t), SPLITS)))
              for t in TASKS}
    matrix = pretrained_rows(words, vectors) if vectors else None
    data = encode_all(collected, index_of(words), index_of(chars), labels)
    provenance = make_provenance(collected, data, arguments, embedding, vectors, matrix,
                                 len(words), entry_splits)
    return PreparedData(request.setting, list(TASKS), dict(SCHEMES), words, chars, labels,
                        matrix, data, provenance)


def distinct_sentence_sets(collected: Collected) -> list[tuple[str, list[list[str]]]]:
    """(split, sentences) of every task and split, each sentence set once, in task order and
    train, dev, test within a task (the order the vocabularies count words in)."""
    seen, sets = set(), []
    for task in TASKS:
        for split in SPLITS:
            sentences = collected.tasks[task].words[split]
            if id(sentences) not in seen:
                seen.add(id(sentences))
                sets.append((split, sentences))
    return sets


def encode_all(collected: Collected, word_index: dict[str, int], char_index: dict[str, int],
               labels: dict[str, list[str]]) -> dict[str, dict[str, Split]]:
    """Every task's splits as tensors; the same sentences are encoded once and shared."""
    encoded: dict[int, Split] = {}
    data: dict[str, dict[str, Split]] = {}
    for task in TASKS:
        label_index = index_of(labels[task])
        data[task] = {}
        for split in SPLITS:
            words, tags = collected.tasks[task].words[split], collected.tasks[task].tags[split]
            known = encoded.get(id(words))
            if known is None:
                data[task][split] = encode_split(words, tags, word_index, char_index, label_index)
                encoded[id(words)] = data[task][split]
            else:
                label_ids = torch.tensor([label_index[tag] for sent in tags for tag in sent],
                                         dtype=torch.long)
                data[task][split] = Split(known.words, label_ids, known.sent_lengths,
                                          known.chars, known.word_lengths)
    return data


def make_provenance(collected: Collected, data: dict[str, dict[str, Split]],
                    arguments: dict[str, Any], embedding: str, vectors: Vectors | None,
                    matrix: torch.Tensor | None, n_rows: int,
                    entry_splits: tuple[str, ...]) -> dict[str, Any]:
    files = {display_path(path): path for path in collected.files}
    files.update(vectors.files if vectors else {})
    rows = {"rows": n_rows, "lookup": "lower-cased",
            "own_rows_without_vector": f"words of {', '.join(entry_splits)}"}
    return {
        "created_by": "prepare-data.py",
        "arguments": dict(arguments),
        "sources": collected.sources,
        "sha256": {name: sha256_of(path) for name, path in files.items()},
        "counts": {task: {split: {"sentences": part.n_sentences, "tokens": part.n_tokens}
                          for split, part in splits.items()} for task, splits in data.items()},
        "conversions": list(collected.notes),
        "embedding": ({"source": vectors.source, "dim": vectors.dim,
                       "rows_with_vector": len(matrix) - 2, **rows}
                      if vectors else {"source": embedding, **rows}),
        **collected.extra,
    }


def summary_lines(prepared: PreparedData) -> list[str]:
    """A table of sentences, tokens and unknown words per task and split, then the sizes."""
    lines = [f"{'task':<6} {'split':<6} {'sentences':>10} {'tokens':>10} {'unk %':>6}"]
    for task in prepared.tasks:
        for split, part in prepared.data[task].items():
            unk = 100.0 * float((part.words == UNK_ID).float().mean()) if part.n_tokens else 0.0
            lines.append(f"{task:<6} {split:<6} {part.n_sentences:>10,} {part.n_tokens:>10,} "
                         f"{unk:>6.2f}")
    sizes = ", ".join(f"{t} {len(prepared.labels[t])} ({prepared.schemes[t]})"
                      for t in prepared.tasks)
    lines.append(f"labels: {sizes}")
    lines.append(f"vocabulary: {len(prepared.words):,} embedding rows (lower-cased forms), "
                 f"{len(prepared.chars):,} characters")
    emb = prepared.provenance.get("embedding", {})
    if prepared.embedding is None:
        lines.append(f"embedding: {emb.get('source', 'none')} (random initialisation)")
    else:
        found = emb["rows_with_vector"]
        share = 100.0 * found / max(emb["rows"], 1)
        lines.append(f"embedding: {emb['source']}, {emb['dim']}d; {found:,} of {emb['rows']:,} "
                     f"rows have a pretrained vector ({share:.1f}%)")
    return lines
