"""Building the prepared data of a setting: vocabularies, vectors, index tensors, provenance.

Vocabulary (as the original code did it through fastNLP): the words of every task's train split
in their original case, plus, when pretrained vectors are given, the dev/test words whose
lower-cased form has a vector (so that their vector is used at test time). Characters come from
the train words; each task's labels from all of its splits. Tasks whose splits hold the very same
sentences share one copy of the word and character tensors in the file.
"""
from __future__ import annotations

from typing import Any

import torch

from utils.datafile import SPLITS, UNK_ID, PreparedData, Split, encode_split, index_of
from utils.embeddings import Vectors, embedding_matrix, load_vectors
from utils.paths import display_path
from utils.prepare_sources import SCHEMES, TASKS, Collected, Request, collect
from utils.readers.text import sha256_of
from utils.vocab import build_chars, build_labels, build_words, count_tokens


def prepare(request: Request, embedding: str, arguments: dict[str, Any]) -> PreparedData:
    """Read the corpora of `request.setting` and build its PreparedData."""
    return build(request, collect(request), embedding, arguments)


def build(request: Request, collected: Collected, embedding: str,
          arguments: dict[str, Any]) -> PreparedData:
    tasks = collected.tasks
    train_words = count_tokens(*(tasks[t].words["train"] for t in TASKS))
    other_words = count_tokens(*(tasks[t].words[s] for t in TASKS for s in SPLITS if s != "train"))
    vectors = load_vectors(embedding, set(train_words) | set(other_words))
    words = build_words(train_words, other_words, vectors.has if vectors else None)
    chars = build_chars(train_words)
    labels = {t: build_labels(tasks[t].tags["train"], [tasks[t].tags[s] for s in SPLITS[1:]])
              for t in TASKS}
    matrix, n_found = (embedding_matrix(words, vectors, request.seed) if vectors else (None, 0))
    data = encode_all(collected, index_of(words), index_of(chars), labels)
    provenance = make_provenance(collected, data, arguments, embedding, vectors, n_found,
                                 len(words), request.seed)
    return PreparedData(request.setting, list(TASKS), dict(SCHEMES), words, chars, labels,
                        matrix, data, provenance)


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
                    n_found: int, n_words: int, seed: int) -> dict[str, Any]:
    files = {display_path(path): path for path in collected.files}
    files.update(vectors.files if vectors else {})
    return {
        "created_by": "prepare-data.py",
        "arguments": dict(arguments),
        "sources": collected.sources,
        "sha256": {name: sha256_of(path) for name, path in files.items()},
        "counts": {task: {split: {"sentences": part.n_sentences, "tokens": part.n_tokens}
                          for split, part in splits.items()} for task, splits in data.items()},
        "conversions": list(collected.notes),
        "embedding": ({"source": vectors.source, "dim": vectors.dim, "words_with_vector": n_found,
                       "vocabulary": n_words, "lookup": "lower-cased", "seed": seed}
                      if vectors else {"source": embedding}),
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
    lines.append(f"vocabulary: {len(prepared.words):,} words, {len(prepared.chars):,} characters")
    emb = prepared.provenance.get("embedding", {})
    if prepared.embedding is None:
        lines.append(f"embedding: {emb.get('source', 'none')} (random initialisation)")
    else:
        share = 100.0 * emb["words_with_vector"] / max(emb["vocabulary"], 1)
        lines.append(f"embedding: {emb['source']}, {emb['dim']}d; {emb['words_with_vector']:,} of "
                     f"{emb['vocabulary']:,} words have a pretrained vector ({share:.1f}%)")
    return lines
