"""Task-set files: a setting (its tasks, their corpora, columns, tag schemes and metrics) as data.

A task-set file is TOML (read with the standard library's `tomllib`). Top-level keys:

    name             the setting's name: prepare-data.py writes data/<name>.pt   (required)
    description      one line for people
    seed             seed of the dev split of a task whose corpus has no dev file (default 1;
                     0 to 2**32 - 1, numpy's seeds)
    vocabulary_from  splits whose words get an embedding row (and count for the characters)
                     even without a pretrained vector (default ["train"])
    embedding        the word vectors when prepare-data.py is given no --embedding
                     (default "glove-6b-50d"; a .txt/.vec file, optionally .gz, or "none")
    trainer          the multi-task batch schedule the run scripts use: "seq-label" (default)
                     or "re-seq-label"
    [[tasks]]        one table per task, in task-id order (at least one)

Keys of a task (only `name`, a corpus, `tag_column` and `scheme` are required):

    name          [A-Za-z][A-Za-z0-9_-]*, unique: the name in tables, runs and predictions
    corpus        a folder with the split files (train*, dev*/valid*/development*/testa*,
                  test*/testb*), or "train,dev,test" / "train,test" files separated by commas;
                  relative paths are looked up beside this file, in the working folder, in
                  data/raw/ and in ../shared/data/
    files         {train = "...", dev = "...", test = "..."}: split files named one by one, instead
                  of `corpus` (dev optional) or beside it (they replace the folder's)
    format        "columns" (default: whitespace-separated columns, a blank line between
                  sentences, -DOCSTART- lines skipped), "conllu" (Universal Dependencies CoNLL-U:
                  comments skipped, the syntactic words, columns by name) or "conll2012"
                  (OntoNotes *gold_conll)
    columns       the number of columns every token line must have (default: as the file's
                  first token line)
    comment_prefix  columns: a line starting with it before a sentence's first token is a comment
    word_column   0-based column of the words (default 0; conll2012: 3); conllu: a column name
                  (default "form")
    tag_column    0-based column of the tags (every column key: 0 to 999); conllu: a column name,
                  "upos", "xpos", "deprel", ..., or one feature, "feats:Case"
    scheme        how the tag column is written: plain, iob1, bio, bioes, detect (iob1, bio or
                  bioes, recognised from the tags), brackets (OntoNotes named-entity brackets)
                  or parse (parse bits, from which chunks are derived; needs `pos_column`)
    train_scheme  the scheme trained in: plain, bio or bioes (default: plain for plain, bioes
                  for bioes and brackets, else bio)
    metric        "accuracy" (token accuracy) or "f1" (span F1; needs a bio/bioes train scheme);
                  default accuracy for plain tags, else f1
    encoding      the corpus files' text encoding (default "utf-8")
    dev_share     the share of train held out as dev when the corpus has no dev file (default 0.1)
    layer         the BiLSTM layer this task reads in hierarchical sharing (1 = the lowest;
                  default the top layer)
    loss_weight   multi-task training multiplies this task's batch losses by it (default 1)
    drop_genres   conll2012: genres left out, e.g. ["pt"]
    pos_column    scheme "parse": the column of the POS tags the chunks are derived with
    check_chunks  scheme "parse": a CoNLL-2000 corpus (`word POS chunk` columns) whose gold chunks
                  the derived ones are measured against, where both hold a sentence; skipped when
                  it is not found or "none"
"""
from __future__ import annotations

import codecs
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from utils.data.readers import conllu
from utils.errors import InputError, shown
from utils.paths import REPO_ROOT, check_path_kind, display_path

SETTINGS_DIR = REPO_ROOT / "settings"
FORMATS = ("columns", "conllu", "conll2012")
# The dev split is drawn with numpy's RandomState, whose seeds are 0 to 2**32 - 1.
SEED_RANGE = (0, 2 ** 32 - 1)
# The highest 0-based column a task may name (a corpus line of more columns is not a tagged corpus).
MAX_COLUMN = 999
FILE_SCHEMES = ("plain", "iob1", "bio", "bioes", "detect", "brackets", "parse")
TRAIN_SCHEMES = ("plain", "bio", "bioes")
METRICS = ("accuracy", "f1")
TRAINERS = ("seq-label", "re-seq-label")
SPLITS = ("train", "dev", "test")
DEFAULT_EMBEDDING = "glove-6b-50d"
CONLL2012_WORD_COLUMN = 3
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_SETTING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP_KEYS = {"name", "description", "seed", "vocabulary_from", "embedding", "trainer", "tasks"}
_TASK_KEYS = {"name", "corpus", "files", "format", "columns", "word_column", "tag_column", "scheme",
              "train_scheme", "metric", "encoding", "dev_share", "layer", "drop_genres",
              "pos_column", "check_chunks", "comment_prefix", "loss_weight"}
_DEFAULT_TRAIN_SCHEME = {"plain": "plain", "bioes": "bioes", "brackets": "bioes"}


@dataclass(frozen=True)
class TaskSpec:
    """One task of a task set (see the module docstring for the keys)."""

    name: str
    corpus: str | None
    files: dict[str, str]
    format: str
    columns: int | None
    word_column: int | str       # conllu: a column name
    tag_column: int | str
    scheme: str
    train_scheme: str
    metric: str
    encoding: str
    dev_share: float
    layer: int | None
    drop_genres: tuple[str, ...]
    pos_column: int | None
    check_chunks: str | None
    key: str                     # where it is written, e.g. "tasks[2]", for error messages
    comment_prefix: str | None = None
    loss_weight: float = 1.0

    @property
    def corpus_label(self) -> str:
        """The corpus as written in the file (or the train file), for messages and provenance."""
        return self.corpus if self.corpus is not None else self.files["train"]


@dataclass(frozen=True)
class TaskSet:
    """A whole task set: the setting and its tasks, with where it was read from."""

    name: str
    description: str
    seed: int
    vocabulary_from: tuple[str, ...]
    embedding: str
    trainer: str
    tasks: tuple[TaskSpec, ...]
    source: str                  # the file as shown in messages
    base_dir: Path               # relative corpus paths are looked up here first
    table: dict[str, Any] = field(default_factory=dict, compare=False)  # as read, for provenance

    @property
    def task_names(self) -> list[str]:
        return [task.name for task in self.tasks]

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)


def builtin_settings() -> list[str]:
    """Names of the task sets shipped with the project (settings/<name>.toml)."""
    return sorted(path.stem for path in SETTINGS_DIR.glob("*.toml"))


def builtin_path(name: str) -> Path:
    """settings/<name>.toml; InputError for a name that has none."""
    path = SETTINGS_DIR / f"{name}.toml"
    if not path.is_file():
        raise InputError(f"no built-in setting {name!r}; expected one of "
                         f"{', '.join(builtin_settings())}, or a task-set file with --tasks", "--type")
    return path


def load_task_set(path: str | Path) -> TaskSet:
    """Read and check a task-set file; every problem is one InputError naming the file and key."""
    path = Path(path)
    shown = display_path(path)
    check_path_kind(path, "file", shown, noun="task-set file")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason})", shown) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", shown) from None
    return parse_task_set(table, shown, path.resolve().parent)


def parse_task_set(table: dict[str, Any], source: str, base_dir: Path) -> TaskSet:
    """A TaskSet from the parsed TOML `table` of the file `source`."""
    keys = _Keys(table, source, "")
    keys.no_unknown(_TOP_KEYS)
    name = keys.string("name", required=True)
    if not _SETTING_NAME.match(name):
        keys.fail("name", f"expected letters, digits, '.', '_' or '-' (it names data/<name>.pt), got {name!r}")
    raw_tasks = table.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        keys.fail("tasks", "expected at least one [[tasks]] table")
    tasks = tuple(_parse_task(item, source, f"tasks[{i}]") for i, item in enumerate(raw_tasks))
    seen: dict[str, str] = {}
    for task in tasks:
        if task.name in seen:
            raise InputError(f"{task.key}.name: task name {task.name!r} is used twice "
                             f"(also {seen[task.name]}.name)", source)
        seen[task.name] = task.key
    vocabulary_from = tuple(keys.string_list("vocabulary_from", default=["train"]))
    for split in vocabulary_from:
        if split not in SPLITS:
            keys.fail("vocabulary_from", f"expected split names among {', '.join(SPLITS)}, got {split!r}")
    return TaskSet(
        name=name, description=keys.string("description", default=""),
        seed=keys.integer("seed", default=1, minimum=SEED_RANGE[0], maximum=SEED_RANGE[1]),
        vocabulary_from=vocabulary_from,
        embedding=keys.string("embedding", default=DEFAULT_EMBEDDING),
        trainer=keys.choice("trainer", TRAINERS, default="seq-label"),
        tasks=tasks, source=source, base_dir=base_dir, table=table)


def _parse_task(item: Any, source: str, key: str) -> TaskSpec:
    if not isinstance(item, dict):
        raise InputError(f"{key}: expected a table of task keys", source)
    keys = _Keys(item, source, key + ".")
    keys.no_unknown(_TASK_KEYS)
    name = keys.string("name", required=True)
    if not _NAME.match(name):
        keys.fail("name", f"expected a letter, then letters, digits, '_' or '-', got {name!r}")
    corpus, files = _corpus_keys(keys)
    fmt = keys.choice("format", FORMATS, default="columns")
    scheme = keys.choice("scheme", FILE_SCHEMES, required=True)
    train_scheme = keys.choice("train_scheme", TRAIN_SCHEMES,
                               default=_DEFAULT_TRAIN_SCHEME.get(scheme, "bio"))
    if (scheme == "plain") != (train_scheme == "plain"):
        keys.fail("train_scheme", f"plain tags train as plain, span tags as bio or bioes; "
                  f"scheme {scheme!r} cannot train as {train_scheme!r}")
    metric = keys.choice("metric", METRICS, default="accuracy" if scheme == "plain" else "f1")
    if metric == "f1" and train_scheme == "plain":
        keys.fail("metric", "span F1 needs span tags (train_scheme bio or bioes); use \"accuracy\"")
    if fmt == "conllu":
        word_column, tag_column, columns = _conllu_columns(keys, scheme)
    else:
        columns = keys.integer("columns", default=None, minimum=1, maximum=MAX_COLUMN + 1)
        word_column = keys.integer("word_column", minimum=0, maximum=MAX_COLUMN,
                                   default=CONLL2012_WORD_COLUMN if fmt == "conll2012" else 0)
        tag_column = keys.integer("tag_column", required=True, minimum=0, maximum=MAX_COLUMN)
    for column_key, value in (("word_column", word_column), ("tag_column", tag_column)):
        if columns is not None and value >= columns:
            keys.fail(column_key, f"column {value} is out of range for {columns} columns (0-based)")
    comment_prefix = keys.string("comment_prefix", default=None)
    if comment_prefix is not None and fmt != "columns":
        keys.fail("comment_prefix", "only for format \"columns\" (conllu comments are `#` lines)")
    if tag_column == word_column:
        keys.fail("tag_column", f"the tags cannot be in the word column ({word_column})")
    pos_column = keys.integer("pos_column", default=None, minimum=0, maximum=MAX_COLUMN)
    if scheme == "parse" and pos_column is None:
        keys.fail("pos_column", "scheme \"parse\" derives chunks from the parse bits and the POS "
                  "tags: name the POS column")
    check_chunks = keys.string("check_chunks", default=None)
    for only_parse, value in (("pos_column", pos_column), ("check_chunks", check_chunks)):
        if value is not None and scheme != "parse":
            keys.fail(only_parse, "only for scheme \"parse\"")
    drop_genres = keys.string_list("drop_genres", default=[])
    if drop_genres and fmt != "conll2012":
        keys.fail("drop_genres", "only for format \"conll2012\"")
    encoding = keys.string("encoding", default="utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        keys.fail("encoding", f"unknown text encoding {encoding!r}")
    dev_share = keys.number("dev_share", default=0.1)
    if not 0.0 < dev_share < 1.0:
        keys.fail("dev_share", f"expected a share between 0 and 1, got {dev_share}")
    loss_weight = keys.number("loss_weight", default=1.0)
    if not 0.0 < loss_weight < float("inf"):
        keys.fail("loss_weight", f"expected a number above 0, got {loss_weight}")
    return TaskSpec(name=name, corpus=corpus, files=files, format=fmt, columns=columns,
                    word_column=word_column, tag_column=tag_column, scheme=scheme,
                    train_scheme=train_scheme, metric=metric, encoding=encoding,
                    dev_share=dev_share, layer=keys.integer("layer", default=None, minimum=1),
                    drop_genres=tuple(drop_genres), pos_column=pos_column,
                    check_chunks=check_chunks, key=key, comment_prefix=comment_prefix,
                    loss_weight=loss_weight)


def _conllu_columns(keys: "_Keys", scheme: str) -> tuple[str, str, None]:
    """(word column, tag column, None) of a conllu task: columns by name, not by number."""
    for key in ("columns", "pos_column"):
        if key in keys.table:
            keys.fail(key, "not for format \"conllu\" (its ten columns are named)")
    if scheme == "parse":
        keys.fail("scheme", "\"parse\" reads OntoNotes parse bits, which CoNLL-U has not")
    named = {}
    for key, default in (("word_column", "form"), ("tag_column", None)):
        value = keys.table.get(key, default)
        if value is None:
            keys.fail(key, "missing; expected a CoNLL-U column name such as \"upos\" or \"xpos\"")
        if not isinstance(value, str):
            keys.fail(key, f"format \"conllu\" names its columns: expected {conllu.EXPECTED}, "
                      f"got {value!r}")
        if conllu.column_error(value):
            keys.fail(key, conllu.column_error(value))
        named[key] = value
    return named["word_column"], named["tag_column"], None


def _corpus_keys(keys: "_Keys") -> tuple[str | None, dict[str, str]]:
    """`corpus` and/or `files` (files name splits one by one and win over the corpus folder's)."""
    corpus = keys.string("corpus", default=None)
    files = keys.table.get("files", {})
    if not isinstance(files, dict):
        keys.fail("files", "expected a table like {train = \"...\", dev = \"...\", test = \"...\"}")
    unknown = sorted(set(files) - set(SPLITS))
    if unknown:
        keys.fail(f"files.{unknown[0]}", f"unknown split; expected {', '.join(SPLITS)}")
    for split, value in files.items():
        if not isinstance(value, str) or not value:
            keys.fail(f"files.{split}", f"expected a file path, got {value!r}")
    missing = [split for split in ("train", "test") if split not in files]
    if corpus is None and missing:
        keys.fail("corpus", "missing; expected `corpus` (a folder, or files separated by commas) "
                  f"or `files` with train, test and optionally dev (missing {', '.join(missing)})")
    return corpus, {split: files[split] for split in SPLITS if split in files}


class _Keys:
    """Typed access to one TOML table, every error naming the file and the full key."""

    def __init__(self, table: dict[str, Any], source: str, prefix: str) -> None:
        self.table, self.source, self.prefix = table, source, prefix

    def fail(self, key: str, message: str) -> None:
        raise InputError(f"{self.prefix}{key}: {message}", self.source)

    def no_unknown(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.table) - allowed)
        if unknown:
            self.fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def _get(self, key: str, kind: type | tuple, what: str, default: Any, required: bool) -> Any:
        if key not in self.table:
            if required:
                self.fail(key, f"missing; expected {what}")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(key, f"expected {what}, got {shown(value)}")
        return value

    def string(self, key: str, default: Any = None, required: bool = False) -> Any:
        value = self._get(key, str, "a string", default, required)
        if key in self.table and not value:
            self.fail(key, "expected a non-empty string")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = None,
               required: bool = False) -> Any:
        what = "one of " + ", ".join(f'"{c}"' for c in choices)
        value = self._get(key, str, what, default, required)
        if value not in choices:
            self.fail(key, f"expected {what}, got {value!r}")
        return value

    def integer(self, key: str, default: Any = None, required: bool = False,
                minimum: int | None = None, maximum: int | None = None) -> Any:
        what = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
        what += f" and <= {maximum}" if maximum is not None else ""
        value = self._get(key, int, what, default, required)
        if key in self.table and (minimum is not None and value < minimum
                                  or maximum is not None and value > maximum):
            self.fail(key, f"expected {what}, got {shown(value)}")
        return value

    def number(self, key: str, default: float) -> float:
        return float(self._get(key, (int, float), "a number", default, False))

    def string_list(self, key: str, default: list[str]) -> list[str]:
        value = self._get(key, list, "a list of strings", default, False)
        if not all(isinstance(item, str) and item for item in value):
            self.fail(key, f"expected a list of strings, got {value!r}")
        return list(value)


# ---- changes from the command line ----------------------------------------------------------------
def with_corpus(task_set: TaskSet, given: dict[str, str]) -> TaskSet:
    """The task set with the corpora given on the command line ({task: path}); a path given for
    one task also serves the tasks that share its corpus in the file and were given none."""
    _check_task_names(task_set, given, "--corpus")
    by_corpus = {}
    for task in task_set.tasks:
        if task.name in given:
            by_corpus.setdefault((task.corpus, tuple(task.files.items())), given[task.name])
    tasks = []
    for task in task_set.tasks:
        path = given.get(task.name, by_corpus.get((task.corpus, tuple(task.files.items()))))
        tasks.append(task if path is None else replace(task, corpus=path, files={}))
    return replace(task_set, tasks=tuple(tasks))


def with_train_file(task_set: TaskSet, given: dict[str, str]) -> TaskSet:
    """The task set with the train file of some tasks named on the command line ({task: file}):
    the task's other splits stay where its corpus has them."""
    _check_task_names(task_set, given, "--train")
    tasks = tuple(replace(task, files={**task.files, "train": given[task.name]})
                  if task.name in given else task for task in task_set.tasks)
    return replace(task_set, tasks=tasks)


def _check_task_names(task_set: TaskSet, given: dict[str, str], option: str) -> None:
    unknown = [name for name in given if name not in task_set.task_names]
    if unknown:
        raise InputError(f"no task {unknown[0]!r} in {task_set.source}; its tasks: "
                         f"{', '.join(task_set.task_names)}", option)


def with_chunk_check(task_set: TaskSet, given: str) -> TaskSet:
    """The task set with another CoNLL-2000 corpus ('none': none) for its derived chunks."""
    tasks = tuple(replace(task, check_chunks=given) if task.scheme == "parse" else task
                  for task in task_set.tasks)
    return replace(task_set, tasks=tasks)


def with_seed(task_set: TaskSet, seed: int | None) -> TaskSet:
    """The task set with the seed of its dev splits given on the command line (None: its own)."""
    if seed is None:
        return task_set
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise InputError(f"the seed of the dev splits (numpy's) must be {SEED_RANGE[0]} to "
                         f"{SEED_RANGE[1]}, got {shown(seed)}", "--seed")
    return replace(task_set, seed=seed)
