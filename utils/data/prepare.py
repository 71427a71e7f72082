"""Building the prepared data of a task set: vocabularies, vectors, index tensors, provenance.

Vocabularies as the original code built them through fastNLP (utils.data.vocab): one embedding row per
lower-cased form of the words of the task set's `vocabulary_from` splits (train by default; every
split in `ptb`, as the original's ptb vocabulary had no dev/test distinction), plus the other
forms that have a pretrained vector; characters from the same words; each task's labels from all
of its splits, in the order the original fed them to fastNLP (`label_scan`). Tasks whose splits
hold the very same sentences share one copy of the word and character tensors in the file.
"""
from __future__ import annotations

from typing import Any

import torch

from utils.data.checks import chance_levels, check_tasks
from utils.data.collect import Collected, TaskSplits, collect
from utils.data.datafile import PAD, SPLITS, UNK, UNK_ID, PreparedData, Split, encode_split, index_of
from utils.data.embeddings import Vectors, load_vectors, pretrained_rows
from utils.data.readers.text import sha256_of
from utils.data.taskset import TaskSet
from utils.data.vocab import (build_chars, build_labels, count_tokens, embedding_rows, lower_forms,
                              word_types)
from utils.paths import display_path



def prepare(task_set: TaskSet, embedding: str | None = None,
            arguments: dict[str, Any] | None = None) -> PreparedData:
    """Read the corpora of `task_set` and build its PreparedData; `embedding` (default the task
    set's) names the vectors, `arguments` are recorded in the provenance."""
    return build(task_set, collect(task_set), embedding or task_set.embedding, arguments or {})


def build(task_set: TaskSet, collected: Collected, embedding: str,
          arguments: dict[str, Any]) -> PreparedData:
    tasks = collected.tasks
    where = {t.name: f"{t.key} in {task_set.source}" for t in task_set.tasks}
    warnings = check_tasks({t: tasks[t].words for t in tasks}, {t: tasks[t].tags for t in tasks},
                           where)
    sentence_sets = distinct_sentence_sets(collected)
    types = word_types(count_tokens(*(sents for _, sents in sentence_sets)))
    entry_splits = task_set.vocabulary_from
    entry = set(count_tokens(*(sents for split, sents in sentence_sets if split in entry_splits)))
    vectors = load_vectors(embedding, lower_forms(types))
    words = embedding_rows(types, entry, list(vectors.vectors) if vectors else None)
    chars = build_chars(types, entry)
    labels = {t: build_labels(*(tasks[t].tags[split] for split in label_scan(tasks[t])))
              for t in tasks}
    matrix = pretrained_rows(words, vectors) if vectors else None
    forms = [PAD, UNK] + types
    data = encode_all(collected, index_of(words), index_of(chars), labels, index_of(forms))
    provenance = make_provenance(collected, data, arguments, embedding, vectors, matrix,
                                 len(words), entry_splits)
    provenance["task_set"] = task_set_record(task_set)
    provenance["warnings"] = warnings
    provenance["chance_dev"] = chance_levels({t: tasks[t].tags for t in tasks},
                                             {t.name: t.metric for t in task_set.tasks})
    return PreparedData(task_set.name, list(tasks),
                        {t.name: t.train_scheme for t in task_set.tasks}, words, chars, labels,
                        matrix, data, provenance, {t.name: t.metric for t in task_set.tasks},
                        {t.name: t.layer for t in task_set.tasks}, forms)


def label_scan(task: TaskSplits) -> tuple[str, ...]:
    """The order in which the original fed a task's splits to its label Vocabulary (equal counts
    go to the label seen first): train, dev, test as read; a dev split drawn from train was cut off
    after train and test were read (the original's ptb chunking), so it comes last."""
    return ("train", "test", "dev") if task.dev_drawn else SPLITS


def task_set_record(task_set: TaskSet) -> dict[str, Any]:
    """The task set as the data file keeps it: where from, and every task's description."""
    return {"source": task_set.source, "trainer": task_set.trainer,
            "tasks": {t.name: {"corpus": t.corpus_label, "format": t.format,
                               "word_column": t.word_column, "tag_column": t.tag_column,
                               "scheme": t.scheme, "train_scheme": t.train_scheme,
                               "metric": t.metric, "layer": t.layer, "loss_weight": t.loss_weight}
                      for t in task_set.tasks},
            "table": task_set.table}


def distinct_sentence_sets(collected: Collected) -> list[tuple[str, list[list[str]]]]:
    """(split, sentences) of every task and split, each sentence set once, in task order and
    train, dev, test within a task (the order the vocabularies count words in)."""
    seen, sets = set(), []
    for task in collected.tasks:
        for split in SPLITS:
            sentences = collected.tasks[task].words[split]
            if id(sentences) not in seen:
                seen.add(id(sentences))
                sets.append((split, sentences))
    return sets


def encode_all(collected: Collected, word_index: dict[str, int], char_index: dict[str, int],
               labels: dict[str, list[str]],
               form_index: dict[str, int] | None = None) -> dict[str, dict[str, Split]]:
    """Every task's splits as tensors; the same sentences are encoded once and shared."""
    encoded: dict[int, Split] = {}
    data: dict[str, dict[str, Split]] = {}
    for task in collected.tasks:
        label_index = index_of(labels[task])
        data[task] = {}
        for split in SPLITS:
            words, tags = collected.tasks[task].words[split], collected.tasks[task].tags[split]
            known = encoded.get(id(words))
            if known is None:
                data[task][split] = encode_split(words, tags, word_index, char_index, label_index,
                                                 form_index)
                encoded[id(words)] = data[task][split]
            else:
                label_ids = torch.tensor([label_index[tag] for sent in tags for tag in sent],
                                         dtype=torch.long)
                data[task][split] = Split(known.words, label_ids, known.sent_lengths,
                                          known.chars, known.word_lengths, known.forms)
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
    width = max([6] + [len(t) for t in prepared.tasks])
    lines = [f"{'task':<{width}} {'split':<6} {'sentences':>10} {'tokens':>10} {'unk %':>6}"]
    for task in prepared.tasks:
        for split, part in prepared.data[task].items():
            unk = 100.0 * float((part.words == UNK_ID).float().mean()) if part.n_tokens else 0.0
            lines.append(f"{task:<{width}} {split:<6} {part.n_sentences:>10,} {part.n_tokens:>10,} "
                         f"{unk:>6.2f}")
    sizes = ", ".join(f"{t} {len(prepared.labels[t])} ({prepared.schemes[t]}, "
                      f"{prepared.metrics[t]})" for t in prepared.tasks)
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
