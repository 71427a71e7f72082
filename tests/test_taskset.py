"""Task-set files (utils/data/taskset.py): what a file means, and every way one can be wrong, each
answered in one line naming the file and the key."""
from __future__ import annotations

import pytest

from task_sets import write_task_set
from utils.data.taskset import (builtin_path, builtin_settings, load_task_set, with_corpus,
                                with_train_file)
from utils.errors import InputError

TWO_TASKS = """
name = "mine"
[[tasks]]
name = "chunk"
corpus = "c2000"
tag_column = 2
scheme = "iob1"
[[tasks]]
name = "ner"
files = {train = "a.txt", test = "b.txt"}
tag_column = 3
scheme = "bio"
train_scheme = "bioes"
layer = 1
encoding = "latin-1"
"""


def test_a_file_and_its_defaults(tmp_path):
    task_set = load_task_set(write_task_set(tmp_path / "mine.toml", TWO_TASKS))
    assert (task_set.name, task_set.seed, task_set.vocabulary_from, task_set.trainer,
            task_set.embedding) == ("mine", 1, ("train",), "seq-label", "glove-6b-50d")
    assert task_set.task_names == ["chunk", "ner"] and task_set.base_dir == tmp_path
    chunk, ner = task_set.tasks
    assert (chunk.corpus, chunk.files, chunk.format, chunk.word_column, chunk.tag_column) == (
        "c2000", {}, "columns", 0, 2)
    assert (chunk.scheme, chunk.train_scheme, chunk.metric, chunk.layer, chunk.dev_share,
            chunk.encoding) == ("iob1", "bio", "f1", None, 0.1, "utf-8")
    assert ner.files == {"train": "a.txt", "test": "b.txt"} and ner.corpus is None
    assert (ner.train_scheme, ner.layer, ner.encoding, ner.key) == ("bioes", 1, "latin-1", "tasks[1]")


@pytest.mark.parametrize("scheme, train_scheme, metric", [
    ("plain", "plain", "accuracy"), ("bioes", "bioes", "f1"), ("brackets", "bioes", "f1"),
    ("detect", "bio", "f1"), ("parse", "bio", "f1")])
def test_train_scheme_and_metric_follow_the_file_scheme(tmp_path, scheme, train_scheme, metric):
    extra = "pos_column = 4\nformat = \"conll2012\"\n" if scheme == "parse" else ""
    text = f'name = "x"\n[[tasks]]\nname = "t"\ncorpus = "c"\ntag_column = 5\nscheme = "{scheme}"\n{extra}'
    task = load_task_set(write_task_set(tmp_path / "x.toml", text)).tasks[0]
    assert (task.train_scheme, task.metric) == (train_scheme, metric)
    if scheme == "parse":
        assert task.word_column == 3            # conll2012: the word is in column 3


def test_the_built_in_settings_are_task_set_files():
    assert builtin_settings() == ["conll03", "ontonotes", "ptb"]
    conll03 = load_task_set(builtin_path("conll03"))
    assert conll03.task_names == ["pos", "chunk", "ner"]
    assert [(t.tag_column, t.train_scheme, t.metric, t.layer) for t in conll03.tasks] == [
        (1, "plain", "accuracy", 1), (2, "bio", "f1", None), (3, "bioes", "f1", None)]
    ptb = load_task_set(builtin_path("ptb"))
    assert ptb.trainer == "re-seq-label" and ptb.vocabulary_from == ("train", "dev", "test")
    onto = load_task_set(builtin_path("ontonotes"))
    assert [t.scheme for t in onto.tasks] == ["plain", "parse", "brackets"]
    with pytest.raises(InputError, match="no built-in setting 'conll2003'; expected one of conll03"):
        builtin_path("conll2003")


TASK = 'name = "t"\ncorpus = "c"\ntag_column = 1\nscheme = "plain"\n'
CONLLU_TASK = 'name = "t"\ncorpus = "c"\nformat = "conllu"\ntag_column = "xpos"\nscheme = "plain"\n'


@pytest.mark.parametrize("text, message", [
    ('name = "x"\ncolour = "blue"\n[[tasks]]\n' + TASK, r"colour: unknown key; expected one of description"),
    ('name = "x"\n[[tasks]]\n' + TASK + "colums = 3\n", r"tasks\[0\].colums: unknown key"),
    ('[[tasks]]\n' + TASK, r"name: missing; expected a string"),
    ('name = "my data"\n[[tasks]]\n' + TASK, r"name: expected letters, digits"),
    ('name = "x"\n', r"tasks: expected at least one \[\[tasks\]\] table"),
    ('name = "x"\ntasks = []\n', r"tasks: expected at least one"),
    ('name = "x"\ntasks = ["pos"]\n', r"tasks\[0\]: expected a table of task keys"),
    ('name = "x"\n[[tasks]]\n' + TASK + '[[tasks]]\n' + TASK,
     r"tasks\[1\].name: task name 't' is used twice \(also tasks\[0\].name\)"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('"t"', '"2nd,task"'), r"tasks\[0\].name: expected a letter"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('tag_column = 1\n', ''),
     r"tasks\[0\].tag_column: missing; expected a whole number >= 0 and <= 999"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('tag_column = 1', 'tag_column = "1"'),
     r"tasks\[0\].tag_column: expected a whole number >= 0 and <= 999, got '1'"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('tag_column = 1', 'tag_column = -1'),
     r"tasks\[0\].tag_column: expected a whole number >= 0 and <= 999, got -1"),
    ('name = "x"\n[[tasks]]\n' + TASK + "columns = 4\ntag_column = 4\n", r"not valid TOML"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace("tag_column = 1", "tag_column = 4") + "columns = 4\n",
     r"tasks\[0\].tag_column: column 4 is out of range for 4 columns"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace("tag_column = 1", "tag_column = 0"),
     r"tasks\[0\].tag_column: the tags cannot be in the word column"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('scheme = "plain"\n', ''),
     r'tasks\[0\].scheme: missing; expected one of "plain", "iob1"'),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('"plain"', '"IOB2"'),
     r'tasks\[0\].scheme: expected one of "plain", .*got \'IOB2\''),
    ('name = "x"\n[[tasks]]\n' + TASK + 'train_scheme = "bioes"\n',
     r"tasks\[0\].train_scheme: plain tags train as plain"),
    ('name = "x"\n[[tasks]]\n' + TASK + 'metric = "f1"\n', r"tasks\[0\].metric: span F1 needs span tags"),
    ('name = "x"\n[[tasks]]\n' + TASK + 'metric = "F1"\n', r'tasks\[0\].metric: expected one of "accuracy", "f1"'),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('"plain"', '"parse"'),
     r"tasks\[0\].pos_column: scheme \"parse\" derives chunks"),
    ('name = "x"\n[[tasks]]\n' + TASK + "pos_column = 1\n", r'tasks\[0\].pos_column: only for scheme "parse"'),
    ('name = "x"\n[[tasks]]\n' + TASK + 'drop_genres = ["pt"]\n',
     r'tasks\[0\].drop_genres: only for format "conll2012"'),
    ('name = "x"\n[[tasks]]\n' + TASK + 'encoding = "klingon"\n',
     r"tasks\[0\].encoding: unknown text encoding 'klingon'"),
    ('name = "x"\n[[tasks]]\n' + TASK + "dev_share = 1.5\n", r"tasks\[0\].dev_share: expected a share"),
    ('name = "x"\n[[tasks]]\n' + TASK + "layer = 0\n", r"tasks\[0\].layer: expected a whole number >= 1"),
    ('name = "x"\n[[tasks]]\n' + TASK + "loss_weight = 0\n", r"tasks\[0\].loss_weight: expected a number above 0, got 0.0"),
    ('name = "x"\n[[tasks]]\n' + TASK + 'loss_weight = "2"\n', r"tasks\[0\].loss_weight: expected a number, got '2'"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('corpus = "c"\n', ''),
     r"tasks\[0\].corpus: missing; expected `corpus`"),
    ('name = "x"\n[[tasks]]\n' + TASK.replace('corpus = "c"', 'files = {train = "a"}'),
     r"tasks\[0\].corpus: missing; .*\(missing test\)"),
    ('name = "x"\n[[tasks]]\n' + TASK + 'files = {valid = "a"}\n',
     r"tasks\[0\].files.valid: unknown split; expected train, dev, test"),
    ('name = "x"\n[[tasks]]\n' + TASK + 'format = "conll-u"\n',
     r'tasks\[0\].format: expected one of "columns", "conllu", "conll2012", got \'conll-u\''),
    ('name = "x"\n[[tasks]]\n' + TASK + 'format = "conllu"\n',
     r'tasks\[0\].tag_column: format "conllu" names its columns: expected a CoNLL-U column name '
     r'\(form, lemma, upos, xpos, feats, head, deprel, deps, misc, or one feature as "feats:Case"\), got 1$'),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK.replace('"xpos"', '"XPOS"'),
     r"tasks\[0\].tag_column: expected a CoNLL-U column name .*got 'XPOS'"),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK + 'word_column = 2\n',
     r'tasks\[0\].word_column: format "conllu" names its columns'),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK + 'columns = 10\n',
     r'tasks\[0\].columns: not for format "conllu"'),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK.replace('"xpos"', '"feats:"'),
     r"tasks\[0\].tag_column: expected a CoNLL-U column name"),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK.replace('"xpos"', '"form"'),
     r"tasks\[0\].tag_column: the tags cannot be in the word column"),
    ('name = "x"\n[[tasks]]\n' + CONLLU_TASK + 'comment_prefix = "#"\n',
     r'tasks\[0\].comment_prefix: only for format "columns"'),
    ('name = "x"\n[[tasks]]\n' + TASK + 'comment_prefix = ""\n',
     r'tasks\[0\].comment_prefix: expected a non-empty string'),
    ('name = "x"\ntrainer = "round-robin"\n[[tasks]]\n' + TASK, r"trainer: expected one of"),
    ('name = "x"\nvocabulary_from = ["training"]\n[[tasks]]\n' + TASK,
     r"vocabulary_from: expected split names"),
    ('name = "x"\nseed = true\n[[tasks]]\n' + TASK, r"seed: expected a whole number >= 0 and <= 4294967295, got True"),
    ('name = "x"\n[[tasks]\n', r"not valid TOML: .*line 2"),
], ids=lambda value: None if "\n" in value else "")
def test_every_mistake_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    path = write_task_set(tmp_path / "bad.toml", text)
    with pytest.raises(InputError, match=f"bad.toml: {message}") as err:
        load_task_set(path)
    assert "\n" not in str(err.value)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(InputError, match="nope.toml: task-set file not found"):
        load_task_set(tmp_path / "nope.toml")
    (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(InputError, match="latin.toml: not UTF-8 text"):
        load_task_set(tmp_path / "latin.toml")


def test_command_line_corpora_serve_the_tasks_that_share_one(tmp_path):
    conll03 = load_task_set(builtin_path("conll03"))
    given = with_corpus(conll03, {"chunk": "/somewhere"})
    assert [t.corpus for t in given.tasks] == ["/somewhere"] * 3      # one corpus for the three
    apart = with_corpus(conll03, {"pos": "/a", "ner": "/b"})
    assert [t.corpus for t in apart.tasks] == ["/a", "/a", "/b"]
    ptb = with_train_file(load_task_set(builtin_path("ptb")), {"pos": "/train.pos"})
    assert ptb.tasks[0].files == {"train": "/train.pos"} and ptb.tasks[0].corpus == "wsj_ptb"
    with pytest.raises(InputError, match="--corpus: no task 'onto' in settings/conll03.toml; "
                       "its tasks: pos, chunk, ner"):
        with_corpus(conll03, {"onto": "/x"})


def test_conllu_columns_are_named(tmp_path):
    path = write_task_set(tmp_path / "ud.toml", 'name = "ud"\n[[tasks]]\n' + CONLLU_TASK +
                          '[[tasks]]\nname = "case"\ncorpus = "c"\nformat = "conllu"\n'
                          'word_column = "lemma"\ntag_column = "feats:Case"\nscheme = "plain"\n'
                          '[[tasks]]\nname = "c"\ncorpus = "d"\ntag_column = 1\nscheme = "plain"\n'
                          'comment_prefix = "#"\n')
    xpos, case, columns = load_task_set(path).tasks
    assert (xpos.word_column, xpos.tag_column, xpos.columns) == ("form", "xpos", None)
    assert (case.word_column, case.tag_column) == ("lemma", "feats:Case")
    assert (columns.comment_prefix, xpos.comment_prefix) == ("#", None)
