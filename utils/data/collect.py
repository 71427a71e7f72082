"""Reading the corpora of a task set into words and tags per task and split.

Each task's corpus is located (utils.data.readers.locate), read, and its tag column brought into
the task's train scheme (utils.data.readers.schemes). A file is read once however many tasks use
it (with every column they need), so tasks over the same sentences share one list of words, which
the data file then stores once. A corpus without a dev file gives a seeded share of its train
sentences to dev.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from utils.data.chunk_agreement import chunk_agreement
from utils.data.readers.columns import UndeclaredComment, read_column_file
from utils.data.readers.conllu import read_conllu_file
from utils.data.readers.locate import CorpusFiles, find_path, locate
from utils.data.readers.ontonotes import ReadReport, read_ontonotes
from utils.data.readers.schemes import derived_tags, unparsed_sentences
from utils.data.readers.sentences import TaggedSentences
from utils.data.taskset import SPLITS, TaskSet, TaskSpec
from utils.errors import InputError
from utils.paths import display_path

CONLL2000_CHUNK_COLUMN = 2   # `word POS chunk`: what `check_chunks` names


@dataclass
class TaskSplits:
    """One task: words and tags per split."""

    words: dict[str, list[list[str]]] = field(default_factory=dict)
    tags: dict[str, list[list[str]]] = field(default_factory=dict)
    dev_drawn: bool = False       # dev drawn from train (the corpus has no dev file)


@dataclass
class Collected:
    """All tasks of a task set, with what provenance needs: sources, files, notes, extras."""

    tasks: dict[str, TaskSplits] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_source(self, task: TaskSpec, located: CorpusFiles) -> None:
        self.sources[task.name] = {"corpus": task.corpus_label, "found_in": located.origin,
                                   "files": {s: [display_path(p) for p in f]
                                             for s, f in located.files.items()}}
        for files in located.files.values():
            self.files.extend(p for p in files if p not in self.files)

    def add_notes(self, notes: list[str]) -> None:
        self.notes.extend(n for n in notes if n not in self.notes)


def collect(task_set: TaskSet) -> Collected:
    """Sentences and tags per task and split of every task of `task_set`, in task order."""
    located = {task.name: _locate(task, task_set) for task in task_set.tasks}
    reader = _Reader(task_set, located)
    collected = Collected()
    for task in task_set.tasks:
        collected.add_source(task, located[task.name])
        collected.tasks[task.name] = _read_task(task, task_set, located[task.name], reader,
                                                collected)
    collected.add_notes(reader.notes())
    collected.extra.update(reader.extra())
    return collected


def _locate(task: TaskSpec, task_set: TaskSet) -> CorpusFiles:
    try:
        return locate(task.corpus, task.files, task_set.base_dir, task.format == "conll2012")
    except InputError as err:
        raise _in_task(err, task, task_set, "corpus" if task.corpus else "files") from None


def _in_task(err: InputError, task: TaskSpec, task_set: TaskSet, key: str) -> InputError:
    """The error, with the task-set key it comes from."""
    return InputError(f"{err} (task {task.name!r}: {task.key}.{key} in {task_set.source})")


def _read_task(task: TaskSpec, task_set: TaskSet, located: CorpusFiles, reader: "_Reader",
               collected: Collected) -> TaskSplits:
    read = {split: reader.read(task, located.files[split]) for split in located.files}
    if "dev" not in read:
        read["train"], read["dev"] = reader.dev_split(task, located.files["train"], task_set.seed)
        collected.add_notes([f"{task.name}: dev = {read['dev'].n_sentences} of the "
                             f"{read['train'].n_sentences + read['dev'].n_sentences} train sentences "
                             f"({display_path(located.files['train'][0])}), drawn with seed "
                             f"{task_set.seed}; train = the other {read['train'].n_sentences}"])
    elif read["dev"] is read["train"]:
        collected.add_notes([f"{task.name}: the dev file stands in for the train file"])
    out = TaskSplits(dev_drawn="dev" not in located.files)
    for split in SPLITS:
        sentences = read[split]
        names = reader.column_names(task, located.files.get(split, located.files["train"]))
        try:
            tags, notes = derived_tags(sentences, task.name, task.scheme, task.train_scheme,
                                       names[task.tag_column], names.get(task.pos_column))
        except InputError as err:
            raise _in_task(err, task, task_set, "scheme") from None
        out.words[split], out.tags[split] = sentences.words, tags
        if sentences.sentence_ids:
            collected.extra.setdefault("sentence_ids", {}).setdefault(task.name, {})[split] = \
                sentences.sentence_ids
        collected.add_notes(notes)
        if task.scheme == "parse":
            _note_unparsed(collected, split, sentences, names[task.pos_column])
    if task.scheme == "parse" and task.check_chunks == "none":
        collected.extra.setdefault("chunk_agreement", "not measured (--chunk-check none)")
    elif task.scheme == "parse" and task.check_chunks:
        agreement, files = _chunk_agreement(task, task_set, out)
        collected.extra.setdefault("chunk_agreement", agreement)
        collected.files.extend(p for p in files if p not in collected.files)
    return out


def _note_unparsed(collected: Collected, split: str, sentences: TaggedSentences,
                   pos_column: str) -> None:
    unparsed = unparsed_sentences(sentences, pos_column)
    if unparsed:
        collected.add_notes([f"{split}: {unparsed} sentences have no gold tree (POS XX/VERB "
                             "only, a flat TOP); their chunk tags are all O"])


def _chunk_agreement(task: TaskSpec, task_set: TaskSet, derived: TaskSplits) -> tuple[Any, list[Path]]:
    """How often the derived chunks agree with a CoNLL-2000 corpus's gold chunks, and its files."""
    try:
        folder = find_path(task.check_chunks, task_set.base_dir)
    except InputError:
        return f"not measured ({task.check_chunks} not found)", []
    located = locate(str(folder), {}, task_set.base_dir)
    files = [located.files[split][0] for split in ("train", "test")]
    gold = []
    for path in files:
        read = read_column_file(path, {"chunk": CONLL2000_CHUNK_COLUMN}, None)
        gold.extend(zip(read.words, read.tags["chunk"]))
    pairs = [pair for split in SPLITS for pair in zip(derived.words[split], derived.tags[split])]
    agreement = chunk_agreement(pairs, gold).to_dict()
    agreement["conll2000"] = display_path(folder)
    return agreement, files


def split_off_dev(n_sentences: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    """Sentence indices (train, dev) as fastNLP 0.5.0's `DataSet.split(share)` draws them after
    `np.random.seed(seed)`: a shuffle of all indices, the first int(share * n) for dev, the rest
    for train, both in shuffled order."""
    order = list(range(n_sentences))
    np.random.RandomState(seed).shuffle(order)
    n_dev = int(share * n_sentences)
    return order[n_dev:], order[:n_dev]


class _Reader:
    """Reads each file (set) once, with the columns of every task that reads it."""

    def __init__(self, task_set: TaskSet, located: dict[str, CorpusFiles]) -> None:
        self.task_set = task_set
        self.names: dict[tuple, dict[int, str]] = {}     # file key -> {column: name}
        self.cache: dict[tuple, Any] = {}
        self.reports: dict[tuple, ReadReport] = {}
        for task in task_set.tasks:
            for files in located[task.name].files.values():
                names = self.names.setdefault(self._key(task, files), {})
                names.setdefault(task.tag_column, task.name)
                if task.pos_column is not None:
                    names.setdefault(task.pos_column, f"{task.name}-pos")

    @staticmethod
    def _key(task: TaskSpec, files: list[Path]) -> tuple:
        return (tuple(p.resolve() for p in files), task.format, task.encoding, task.word_column,
                task.columns, task.drop_genres, task.comment_prefix)

    def column_names(self, task: TaskSpec, files: list[Path]) -> dict[int, str]:
        """{column: the name its tags are read under} in these files."""
        return self.names[self._key(task, files)]

    def read(self, task: TaskSpec, files: list[Path]) -> TaggedSentences:
        key = self._key(task, files)
        if key not in self.cache:
            columns = {name: column for column, name in self.names[key].items()}
            self.cache[key] = self._read(task, files, columns, key)
        return self.cache[key]

    def _read(self, task: TaskSpec, files: list[Path], columns: dict[str, int],
              key: tuple) -> TaggedSentences:
        try:
            if task.format == "conll2012":
                self.reports[key] = ReadReport()
                return read_ontonotes(files, task.drop_genres, self.reports[key], columns,
                                      task.word_column, task.encoding)
            read = None
            for path in files:
                if task.format == "conllu":
                    read = read_conllu_file(path, columns, task.word_column, read, task.encoding)
                else:
                    read = read_column_file(path, columns, task.columns, read, task.word_column,
                                            task.encoding, task.comment_prefix)
            return read
        except UndeclaredComment as err:
            raise _in_task(err, task, self.task_set, "comment_prefix") from None
        except InputError as err:
            key = "format" if task.format == "conllu" else "tag_column"
            raise _in_task(err, task, self.task_set, key) from None

    def dev_split(self, task: TaskSpec, files: list[Path],
                  seed: int) -> tuple[TaggedSentences, TaggedSentences]:
        """(train, dev) of a corpus without a dev file, drawn once per file and share."""
        key = ("dev split", self._key(task, files), task.dev_share, seed)
        if key not in self.cache:
            full = self.read(task, files)
            train, dev = split_off_dev(full.n_sentences, task.dev_share, seed)
            self.cache[key] = (full.select(train), full.select(dev))
        return self.cache[key]

    def notes(self) -> list[str]:
        """The sentences the conll2012 reader dropped, one note each."""
        return [f"dropped the sentence at {where} (a row lost a column)"
                for report in self.reports.values() for where in report.malformed]

    def extra(self) -> dict[str, Any]:
        """What the conll2012 reader left out, for provenance."""
        reading = {}
        for key, report in self.reports.items():
            files = key[0]
            shown = display_path(files[0]) + (f" and {len(files) - 1} more" if len(files) > 1 else "")
            reading[shown] = {
                "dropped_genre_sentences": dict(report.dropped_genres),
                "dropped_malformed_sentences": list(report.malformed)}
        return {"conll2012_reading": reading} if reading else {}
