"""The prepared data file `data/<setting>.pt`: its layout, how to build it, save it and load it.

Layout (plain dicts, lists, strings, numbers and tensors only, so that
`torch.load(path, weights_only=True)` reads it without unpickling any object):

    format_version  int, FORMAT_VERSION
    setting         the task set's name ("conll03", "ptb", "ontonotes" or a user's own)
    tasks           the task names, e.g. ["pos", "chunk", "ner"]; a task's position is its task_id
    schemes         {task: "plain" | "bio" | "bioes"}  (plain = one tag per token, e.g. POS)
    metrics         {task: "accuracy" | "f1"}  (token accuracy, or span F1 for bio/bioes tags)
    layers          {task: int or None}  the BiLSTM layer the task reads in hierarchical
                    sharing (1 = the lowest), None = the top layer
    words           the word embedding's rows: the lower-cased form of each; 0 = PAD, 1 = UNK
                    (a token's row: `word_row`; which forms get rows: utils.data.vocab)
    chars           list of character strings; 0 = PAD, 1 = UNK
    forms           (optional) every word type as written, case kept; 0 = PAD, 1 = UNK: what a
                    pretrained transformer encoder reads (files written before it lack it)
    labels          {task: list of label strings}  (no padding label)
    embedding       float tensor [n, dim]: the initial vectors of the first n rows (PAD, UNK and
                    the forms with a pretrained vector); None without vectors. The model
                    initialises the other rows.
    data            {task: {split: Split}} with split in "train", "dev", "test", and a Split:
        words         int64 [n_tokens]     embedding rows of all tokens, concatenated
        labels        int64 [n_tokens]     label ids, aligned with words
        sent_lengths  int64 [n_sentences]  tokens per sentence
        chars         int64 [n_chars]      char ids of all tokens, concatenated
        word_lengths  int64 [n_tokens]     chars per token (at least 1)
        forms         int64 [n_tokens]     (optional, with `forms`) the token's form as written
    provenance      dict of plain values: sources, sha256, counts, arguments, conversions, the
                    task-set file it was prepared from (`task_set`: its name, sha256, table)
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from utils.atomic import torch_save_atomic
from utils.errors import InputError
from utils.paths import check_path_kind

FORMAT_VERSION = 3
# What each version changed, for the message that refuses an older file.
FORMAT_CHANGES = {2: "one embedding row per lower-cased form and fastNLP's characters",
                  3: "label ids in the original's order, fastNLP's Vocabulary over every split, "
                     "where version 2 ordered them by train frequency (models trained on a "
                     "version-2 file must be trained again); task sets: each task's metric and "
                     "hierarchical layer"}
PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
SPLITS = ("train", "dev", "test")
SPLIT_FIELDS = ("words", "labels", "sent_lengths", "chars", "word_lengths")


@dataclass
class Split:
    """One task's split as flat tensors (see the module docstring)."""

    words: torch.Tensor
    labels: torch.Tensor
    sent_lengths: torch.Tensor
    chars: torch.Tensor
    word_lengths: torch.Tensor
    forms: torch.Tensor | None = None

    @property
    def n_sentences(self) -> int:
        return int(self.sent_lengths.numel())

    @property
    def n_tokens(self) -> int:
        return int(self.words.numel())

    def subset(self, n_sentences: int | None) -> "Split":
        """The first `n_sentences` sentences (for demos and tests); None: all of them."""
        if n_sentences is None:
            return self
        n_sentences = min(n_sentences, self.n_sentences)
        n_tok = int(self.sent_lengths[:n_sentences].sum())
        n_chr = int(self.word_lengths[:n_tok].sum())
        return Split(self.words[:n_tok], self.labels[:n_tok], self.sent_lengths[:n_sentences],
                     self.chars[:n_chr], self.word_lengths[:n_tok],
                     None if self.forms is None else self.forms[:n_tok])

    def to_dict(self) -> dict[str, torch.Tensor]:
        fields = {name: getattr(self, name) for name in SPLIT_FIELDS}
        return fields if self.forms is None else {**fields, "forms": self.forms}


def word_row(word: str, rows: Mapping[str, int]) -> int:
    """The embedding row of a token: the row of its lower-cased form, else UNK's.

    The one place this mapping lives: prepare-data.py encodes every corpus token with it (through
    `encode_split`), and tagging new text must use it too. `rows` maps each row's form to its
    index (`index_of(data.words)`). It gives the row fastNLP's `StaticEmbedding(lower=True)` gives
    (tests/test_parity_conll03.py)."""
    return rows.get(word.lower(), UNK_ID)


def encode_split(sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
                 word_index: Mapping[str, int], char_index: Mapping[str, int],
                 label_index: Mapping[str, int],
                 form_index: Mapping[str, int] | None = None) -> Split:
    """Turn token and tag lists into a Split: rows by `word_row` (`word_index` = the rows' index),
    unknown chars map to UNK; with `form_index`, each token's form as written too."""
    words, labels, lengths, chars, word_lengths = [], [], [], [], []
    forms = [form_index.get(token, UNK_ID) for tokens in sentences for token in tokens] \
        if form_index is not None else None
    for tokens, sent_tags in zip(sentences, tags):
        lengths.append(len(tokens))
        for token, tag in zip(tokens, sent_tags):
            words.append(word_row(token, word_index))
            labels.append(label_index[tag])
            ids = [char_index.get(c, UNK_ID) for c in token] or [UNK_ID]
            chars.extend(ids)
            word_lengths.append(len(ids))
    as_long = lambda values: torch.tensor(values, dtype=torch.long)
    return Split(as_long(words), as_long(labels), as_long(lengths), as_long(chars),
                 as_long(word_lengths), None if forms is None else as_long(forms))


@dataclass
class PreparedData:
    """A loaded data file."""

    setting: str
    tasks: list[str]
    schemes: dict[str, str]
    words: list[str]
    chars: list[str]
    labels: dict[str, list[str]]
    embedding: torch.Tensor | None
    data: dict[str, dict[str, Split]]
    provenance: dict[str, Any]
    metrics: dict[str, str] = field(default_factory=dict)          # default: by scheme
    layers: dict[str, int | None] = field(default_factory=dict)    # default: the top layer
    forms: list[str] = field(default_factory=list)                 # empty in older files

    def __post_init__(self) -> None:
        self.metrics = {t: self.metrics.get(t, default_metric(self.schemes[t])) for t in self.tasks}
        self.layers = {t: self.layers.get(t) for t in self.tasks}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "setting": self.setting,
            "tasks": list(self.tasks),
            "schemes": dict(self.schemes),
            "words": list(self.words),
            "chars": list(self.chars),
            "labels": {t: list(v) for t, v in self.labels.items()},
            "metrics": dict(self.metrics),
            "layers": dict(self.layers),
            "embedding": self.embedding,
            "data": {t: {s: split.to_dict() for s, split in splits.items()}
                     for t, splits in self.data.items()},
            "provenance": self.provenance,
            **({"forms": list(self.forms)} if self.forms else {}),
        }

    def subset(self, n_train: int | None, n_eval: int | None) -> "PreparedData":
        """A copy keeping the first sentences of every split (demo preset, tests); None: all."""
        data = {t: {s: split.subset(n_train if s == "train" else n_eval)
                    for s, split in splits.items()} for t, splits in self.data.items()}
        return PreparedData(self.setting, self.tasks, self.schemes, self.words, self.chars,
                            self.labels, self.embedding, data, dict(self.provenance),
                            self.metrics, self.layers, self.forms)


def save_data_file(prepared: PreparedData, path: str | os.PathLike) -> None:
    """Write the data file atomically (no half-written file on failure)."""
    torch_save_atomic(prepared.to_dict(), path)


def replace_data_file(prepared: PreparedData, path: str | os.PathLike, overwrite: bool) -> bool:
    """Write the data file, unless one is there already: the same content is left as it is
    (False), other content is replaced only with `overwrite` (runs trained on a data file read
    their inputs through it: replacing it would change what they were built from)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError("expected a data file here, found a folder", path)
    if path.exists() and not overwrite:
        buffer = io.BytesIO()
        torch.save(prepared.to_dict(), buffer)
        if path.stat().st_size == buffer.tell() and path.read_bytes() == buffer.getvalue():
            return False
        raise InputError("exists and would change (other corpora, task set or arguments); the "
                         "runs trained on it were built from it as it is: pass --overwrite to "
                         "replace it, or write it to another folder (--out)", path)
    save_data_file(prepared, path)
    return True


def load_data_file(path: str | os.PathLike) -> PreparedData:
    """Load and check a data file written by `save_data_file`."""
    check_path_kind(path, "file", must_exist=False, noun="data file")
    if not os.path.isfile(path):
        raise InputError("data file not found; run prepare-data.py first", path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt or foreign file
        raise InputError(f"not a prepared data file ({type(err).__name__})", path) from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        found = raw.get("format_version") if isinstance(raw, dict) else None
        raise InputError(f"expected data format version {FORMAT_VERSION}, found {found}"
                         f"{_older(found)}; run prepare-data.py again", path)
    problem = layout_problem(raw)
    if problem:
        raise InputError(f"not a complete data file: {problem}; run prepare-data.py again", path)
    data = {t: {s: Split(**{f: split[f] for f in SPLIT_FIELDS}, forms=split.get("forms"))
                for s, split in splits.items()}
            for t, splits in raw["data"].items()}
    return PreparedData(raw["setting"], raw["tasks"], raw["schemes"], raw["words"],
                        raw["chars"], raw["labels"], raw["embedding"], data, raw["provenance"],
                        raw["metrics"], raw["layers"], raw.get("forms", []))


_TOP_LEVEL = ("setting", "tasks", "schemes", "metrics", "layers", "words", "chars", "labels",
              "embedding", "data", "provenance")
SCHEMES = ("plain", "bio", "bioes")
METRICS = ("accuracy", "f1")


def default_metric(scheme: str) -> str:
    """Token accuracy for plain tags, span F1 for chunks."""
    return "accuracy" if scheme == "plain" else "f1"


def _older(found: Any) -> str:
    """", an older one; since then: ...": what changed since an older version `found`, else ""."""
    if not isinstance(found, int) or not 0 < found < FORMAT_VERSION:
        return ""
    changes = [FORMAT_CHANGES[v] for v in range(found + 1, FORMAT_VERSION + 1) if v in FORMAT_CHANGES]
    return f", an older one; since then: {'; '.join(changes)}"


def layout_problem(raw: dict[str, Any]) -> str | None:
    """What is missing or inconsistent in a loaded data file (see the module docstring), or None.
    Checks every part training reads: a file cut short or edited by hand fails here, in one
    line, instead of deep inside training."""
    missing = [key for key in _TOP_LEVEL if key not in raw]
    if missing:
        return f"no {', '.join(missing)}"
    if not isinstance(raw["tasks"], list) or not raw["tasks"]:
        return "'tasks' is not a list of task names"
    for part in ("schemes", "metrics", "layers", "labels", "data"):
        absent = [t for t in raw["tasks"] if t not in raw[part]]
        if absent:
            return f"{part} lacks task(s) {', '.join(absent)}"
    for task in raw["tasks"]:
        scheme, metric, layer = raw["schemes"][task], raw["metrics"][task], raw["layers"][task]
        if scheme not in SCHEMES or metric not in METRICS or (metric == "f1" and scheme == "plain"):
            return f"task {task!r} has scheme {scheme!r} and metric {metric!r}"
        if layer is not None and (not isinstance(layer, int) or layer < 1):
            return f"task {task!r} reads layer {layer!r} (expected None or 1, 2, ...)"
    embedding = raw["embedding"]
    if embedding is not None and (not isinstance(embedding, torch.Tensor) or embedding.dim() != 2
                                  or embedding.size(0) > len(raw["words"])):
        return f"the embedding is not a [n, dim] tensor with n <= {len(raw['words'])} (its rows)"
    if embedding is not None and not (embedding.is_floating_point() and bool(torch.isfinite(embedding).all())):
        return "the embedding holds values that are not finite numbers (start values must be)"
    for task in raw["tasks"]:
        for split in SPLITS:
            problem = _split_problem(raw["data"][task].get(split), len(raw["words"]),
                                     len(raw["chars"]), len(raw["labels"][task]),
                                     len(raw.get("forms", [])))
            if problem:
                return f"data[{task!r}][{split!r}]: {problem}"
    return None


def _split_problem(split: Any, n_words: int, n_chars: int, n_labels: int,
                   n_forms: int = 0) -> str | None:
    if not isinstance(split, dict):
        return "missing"
    absent = [f for f in SPLIT_FIELDS if not isinstance(split.get(f), torch.Tensor)]
    if absent:
        return f"no tensor {', '.join(absent)}"
    if any(split[f].dim() != 1 or split[f].dtype != torch.long for f in SPLIT_FIELDS):
        return "every field must be a 1-d int64 tensor"
    n_tokens = split["words"].numel()
    if (split["labels"].numel() != n_tokens or int(split["sent_lengths"].sum()) != n_tokens
            or split["word_lengths"].numel() != n_tokens
            or int(split["word_lengths"].sum()) != split["chars"].numel()):
        return "the lengths do not add up (words, labels, sent_lengths, chars, word_lengths)"
    if split["sent_lengths"].numel() == 0:
        return "no sentences (training reads the train, dev and test sentences of every task)"
    if int(split["sent_lengths"].min()) < 1 or int(split["word_lengths"].min()) < 1:
        return "a sentence of no words or a word of no characters"
    checks = [("words", n_words), ("chars", n_chars), ("labels", n_labels)]
    if n_forms:
        forms = split.get("forms")
        if not isinstance(forms, torch.Tensor) or forms.dtype != torch.long or forms.dim() != 1 \
                or forms.numel() != n_tokens:
            return "forms must be a 1-d int64 tensor with one entry per token"
        checks.append(("forms", n_forms))
    for name, size in checks:
        values = split[name]
        if values.numel() and not (0 <= int(values.min()) and int(values.max()) < size):
            return f"{name} ids outside 0..{size - 1}"
    return None


def index_of(items: Iterable[str]) -> dict[str, int]:
    """Map each string of a vocabulary list to its position."""
    return {item: i for i, item in enumerate(items)}
