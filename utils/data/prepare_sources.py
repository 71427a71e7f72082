"""Reading the corpora of each data setting into sentences and tags per task and split.

| setting   | pos                    | chunk                                  | ner                     |
|-----------|------------------------|----------------------------------------|-------------------------|
| conll03   | CoNLL-2003 column 2    | CoNLL-2003 column 3                    | CoNLL-2003 column 4     |
| ptb       | WSJ `.pos` files       | CoNLL-2000 (dev: seeded 10% of train)  | CoNLL-2003 column 4     |
| ontonotes | OntoNotes POS          | chunks from the OntoNotes parse bits   | OntoNotes NER brackets  |

Chunks end up in BIO2 and NER in BIOES; OntoNotes drops the `pt` genre (no NER annotation).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from utils.data.chunk_agreement import chunk_agreement
from utils.data.datafile import SPLITS
from utils.data.parse_chunks import ParseBitError, chunks_from_parse
from utils.data.readers.columns import (CONLL03_COLUMNS, CONLL2000_COLUMNS, WSJ_POS_COLUMNS,
                                        read_column_file)
from utils.data.readers.locate import CorpusFiles, locate
from utils.data.readers.ontonotes import BracketError, ReadReport, brackets_to_bioes, read_ontonotes
from utils.data.readers.schemes import raise_at, tags_in_scheme
from utils.data.readers.sentences import TaggedSentences
from utils.errors import InputError
from utils.paths import display_path, find_corpus_dir

TASKS = ("pos", "chunk", "ner")
SCHEMES = {"pos": "plain", "chunk": "bio", "ner": "bioes"}
DROPPED_GENRES = ("pt",)
NO_PARSE_TAGS = {"XX", "VERB"}  # the only POS tags of OntoNotes v12 sentences without a gold tree
CHUNK_DEV_SHARE = 0.1
ONE_CORPUS_SETTINGS = ("conll03", "ontonotes")


@dataclass
class Request:
    """What the user asked for (the arguments of prepare-data.py that choose the inputs)."""

    setting: str
    pos: str | None = None
    chunk: str | None = None
    ner: str | None = None
    pos_train: str | None = None
    chunk_check: str | None = None   # CoNLL-2000 for the ontonotes agreement check; "none": skip
    seed: int = 1


@dataclass
class TaskSplits:
    """One task: words and tags per split."""

    words: dict[str, list[list[str]]] = field(default_factory=dict)
    tags: dict[str, list[list[str]]] = field(default_factory=dict)


@dataclass
class Collected:
    """All tasks of a setting, with what provenance needs: sources, files, notes, extras."""

    tasks: dict[str, TaskSplits] = field(default_factory=lambda: {t: TaskSplits() for t in TASKS})
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_source(self, task: str, corpus: str, located: CorpusFiles) -> None:
        self.sources[task] = {"corpus": corpus, "found_in": located.origin,
                              "files": {s: [display_path(p) for p in f]
                                        for s, f in located.files.items()}}
        for files in located.files.values():
            self.files.extend(p for p in files if p not in self.files)

    def add_notes(self, notes: list[str]) -> None:
        self.notes.extend(n for n in notes if n not in self.notes)


class _ReadOnce:
    """Reads each file (set) once, however many tasks use it."""

    def __init__(self) -> None:
        self.cache: dict[tuple, Any] = {}

    def columns(self, path: Path, columns: dict[str, int], n_columns: int) -> TaggedSentences:
        key = ("columns", path.resolve(), n_columns)
        if key not in self.cache:
            self.cache[key] = read_column_file(path, columns, n_columns)
        return self.cache[key]

    def ontonotes(self, paths: list[Path]) -> tuple[TaggedSentences, ReadReport]:
        key = ("ontonotes",) + tuple(p.resolve() for p in paths)
        if key not in self.cache:
            report = ReadReport()
            self.cache[key] = (read_ontonotes(paths, DROPPED_GENRES, report), report)
        return self.cache[key]


def collect(request: Request) -> Collected:
    """Sentences and tags per task and split for `request.setting`."""
    collectors = {"conll03": _collect_conll03, "ptb": _collect_ptb,
                  "ontonotes": _collect_ontonotes}
    if request.setting not in collectors:
        raise InputError(f"unknown data setting {request.setting!r}; expected one of "
                         f"{', '.join(collectors)}")
    if request.setting in ONE_CORPUS_SETTINGS:
        request = one_corpus(request)
    collected = Collected()
    collectors[request.setting](request, collected, _ReadOnce())
    return collected


def one_corpus(request: Request) -> Request:
    """conll03 and ontonotes read all tasks from one corpus: a path given for one task serves
    the tasks given none."""
    given = [path for path in (request.pos, request.chunk, request.ner) if path is not None]
    if not given:
        return request
    return replace(request, pos=request.pos or given[0], chunk=request.chunk or given[0],
                   ner=request.ner or given[0])


def _set_task(collected: Collected, task: str, split: str, sentences: TaggedSentences,
              column: str, tags: list[list[str]] | None = None) -> None:
    tags, notes = tags_in_scheme(sentences, column, SCHEMES[task], tags)
    collected.tasks[task].words[split] = sentences.words
    collected.tasks[task].tags[split] = tags
    collected.add_notes(notes)


def _conll03_task(request: Request, collected: Collected, reader: _ReadOnce, task: str,
                  given: str | None) -> None:
    located = locate("conll03", given, SPLITS)
    collected.add_source(task, "CoNLL-2003", located)
    for split in SPLITS:
        sentences = reader.columns(located.files[split][0], CONLL03_COLUMNS, 4)
        _set_task(collected, task, split, sentences, task)


def _collect_conll03(request: Request, collected: Collected, reader: _ReadOnce) -> None:
    for task in TASKS:
        _conll03_task(request, collected, reader, task, getattr(request, task))


def _collect_ptb(request: Request, collected: Collected, reader: _ReadOnce) -> None:
    _ptb_pos(request, collected, reader)
    _ptb_chunk(request, collected, reader)
    _conll03_task(request, collected, reader, "ner", request.ner)


def _ptb_pos(request: Request, collected: Collected, reader: _ReadOnce) -> None:
    located = locate("wsj_ptb", request.pos, SPLITS, optional=("train",))
    if request.pos_train is not None:
        located.files["train"] = [Path(request.pos_train)]
    if "train" not in located.files:
        folder = request.pos or located.origin
        raise InputError(f"no WSJ POS train file (train.pos) in {folder}: pass it with "
                         "--pos-train FILE (sections 00-18); for experiments, "
                         "--pos-train ../shared/data/wsj_ptb/dev.pos can stand in")
    collected.add_source("pos", "WSJ Penn Treebank", located)
    train, dev = (p.resolve() for p in (located.files["train"][0], located.files["dev"][0]))
    if train == dev:
        collected.add_notes(["pos: the dev file stands in for the train file"])
    for split in SPLITS:
        sentences = reader.columns(located.files[split][0], WSJ_POS_COLUMNS, 2)
        _set_task(collected, "pos", split, sentences, "pos")


def _ptb_chunk(request: Request, collected: Collected, reader: _ReadOnce) -> None:
    located = locate("conll2000", request.chunk, ("train", "test"))
    collected.add_source("chunk", "CoNLL-2000", located)
    full = reader.columns(located.files["train"][0], CONLL2000_COLUMNS, 3)
    train, dev = split_off_dev(full.n_sentences, CHUNK_DEV_SHARE, request.seed)
    _set_task(collected, "chunk", "train", full.select(train), "chunk")
    _set_task(collected, "chunk", "dev", full.select(dev), "chunk")
    test = reader.columns(located.files["test"][0], CONLL2000_COLUMNS, 3)
    _set_task(collected, "chunk", "test", test, "chunk")
    collected.add_notes([f"chunk: dev = {len(dev)} of the {full.n_sentences} CoNLL-2000 train "
                         f"sentences, drawn with seed {request.seed}; "
                         f"train = the other {len(train)}"])


def split_off_dev(n_sentences: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    """Sentence indices (train, dev): a seeded random `share` of them for dev, order kept."""
    n_dev = round(n_sentences * share)
    dev = set(random.Random(seed).sample(range(n_sentences), n_dev))
    return ([i for i in range(n_sentences) if i not in dev], sorted(dev))


def _collect_ontonotes(request: Request, collected: Collected, reader: _ReadOnce) -> None:
    derived_chunks = []
    for task in TASKS:
        located = locate("ontonotes", getattr(request, task), SPLITS)
        collected.add_source(task, "OntoNotes 5.0 (CoNLL-2012)", located)
        for split in SPLITS:
            sentences, report = reader.ontonotes(located.files[split])
            _note_ontonotes_report(collected, split, sentences, report)
            if task == "pos":
                _set_task(collected, task, split, sentences, "pos")
            elif task == "chunk":
                chunks = derive_chunks(sentences)
                _set_task(collected, task, split, sentences, task, chunks)
                derived_chunks.extend(zip(sentences.words, chunks))
            else:
                _set_task(collected, task, split, sentences, task, ner_to_bioes(sentences))
    collected.add_notes(["chunk: derived from the parse bits (utils/data/parse_chunks.py), BIO2",
                         "ner: OntoNotes brackets -> BIOES"])
    _check_chunk_agreement(request, collected, reader, derived_chunks)


def _note_ontonotes_report(collected: Collected, split: str, sentences: TaggedSentences,
                           report: ReadReport) -> None:
    reading = collected.extra.setdefault("ontonotes_reading", {})
    if split in reading:
        return
    unparsed = sum(all(tag in NO_PARSE_TAGS for tag in tags) for tags in sentences.tags["pos"])
    reading[split] = {"dropped_genre_sentences": dict(report.dropped_genres),
                      "dropped_malformed_sentences": list(report.malformed),
                      "sentences_without_tree": unparsed}
    for where in report.malformed:
        collected.add_notes([f"{split}: dropped the sentence at {where} (a row lost a column)"])
    if unparsed:
        collected.add_notes([f"{split}: {unparsed} sentences have no gold tree (POS XX/VERB "
                             "only, a flat TOP); their chunk tags are all O"])


def derive_chunks(sentences: TaggedSentences) -> list[list[str]]:
    """Chunk tags of every sentence from its parse bits; a broken tree is an error at its line."""
    chunks = []
    for index, (pos, bits) in enumerate(zip(sentences.tags["pos"], sentences.tags["parse"])):
        try:
            chunks.append(chunks_from_parse(pos, bits))
        except ParseBitError as err:
            raise_at(sentences, index, err.index, str(err))
    return chunks


def ner_to_bioes(sentences: TaggedSentences) -> list[list[str]]:
    """BIOES tags of every sentence from its NER brackets; bad brackets are an error."""
    tags = []
    for index, cells in enumerate(sentences.tags["ner"]):
        try:
            tags.append(brackets_to_bioes(cells))
        except BracketError as err:
            raise_at(sentences, index, err.index, str(err))
    return tags


def _check_chunk_agreement(request: Request, collected: Collected, reader: _ReadOnce,
                           derived: list) -> None:
    if request.chunk_check == "none":
        collected.extra["chunk_agreement"] = "not measured (--chunk-check none)"
        return
    if request.chunk_check is None and find_corpus_dir("conll2000") is None:
        collected.extra["chunk_agreement"] = "not measured (CoNLL-2000 not found)"
        return
    located = locate("conll2000", request.chunk_check, ("train", "test"))
    gold = []
    for split in ("train", "test"):
        path = located.files[split][0]
        sentences = reader.columns(path, CONLL2000_COLUMNS, 3)
        gold.extend(zip(sentences.words, sentences.tags["chunk"]))
        if path not in collected.files:
            collected.files.append(path)
    agreement = chunk_agreement(derived, gold).to_dict()
    agreement["conll2000"] = located.origin if located.origin != "given" else request.chunk_check
    collected.extra["chunk_agreement"] = agreement
