"""The README and the docs do not rot: every fenced `bash` command in them still works as written.

Cheap commands (`-h`, `--help`, a `--debug` run) are run as written and must exit with 0. They run
in a copy of the repository whose data/ holds a small CoNLL-2003 data file and whose exp/ starts
empty. The other commands (trainings, pipelines) take too long for a test. Each of them must name
a Python script that exists, with arguments its parser accepts, or a run script and a mode it
has, or a make target. A command of any other program fails the test unless that program is one
of the known outside tools.
"""
from __future__ import annotations

import argparse
import re
import runpy
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from needs import need_corpus
from test_model_fixtures import conll03_sample
from utils.data.datafile import save_data_file
from utils.paths import SHARED_DATA_DIR

REPO = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")),
         "bench/README.md", "data/README.md", "exp/README.md"]
PYTHONS = {".venv/bin/python", "python3", "python"}
CHEAP_FLAGS = {"-h", "--help", "--debug"}
OUTSIDE_TOOLS = {"squeue"}                  # Slurm's own commands, shown beside the run scripts
SHELL_OPERATORS = {">", ">>", "<", "|", "&&", "||", ";", "2>", "&"}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str

    @property
    def words(self) -> list[str]:
        """The command's words without its leading VAR=value settings and from the first
        redirection or pipe on."""
        words = shlex.split(self.text, comments=True)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        for i, word in enumerate(words):
            if word in SHELL_OPERATORS:
                return words[:i]
        return words

    @property
    def cheap(self) -> bool:
        return bool(CHEAP_FLAGS & set(self.words))

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def fenced_commands(page: str) -> list[Command]:
    """The commands of the page's ```bash blocks; a line ending in a backslash continues."""
    commands, fenced, pending, start = [], False, "", 0
    for number, line in enumerate((REPO / page).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fenced = line.strip() == "```bash"
            continue
        if not fenced:
            continue
        start = start or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text and not text.startswith("#"):
            commands.append(Command(page, start, text))
        start = 0
    return commands


COMMANDS = [command for page in PAGES for command in fenced_commands(page)]
CHEAP = list({tuple(c.words): c for c in COMMANDS if c.cheap}.values())   # each command once
OTHERS = [c for c in COMMANDS if not c.cheap]


def test_the_pages_have_commands_and_the_readme_cheap_ones():
    readme = [c for c in COMMANDS if c.page == "README.md"]
    assert len(readme) >= 10
    assert {w for c in readme if c.cheap for w in c.words} >= {"-h", "--debug"}
    assert all(c.words for c in COMMANDS), [str(c) for c in COMMANDS if not c.words]


def test_relative_links_point_to_files():
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target:
                assert (REPO / page).parent.joinpath(target).exists(), f"{page}: link to {target}"


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """The repository's files by symbolic link, with an empty exp/ and a data/ of its own that
    holds a CoNLL-2003 sample as data/conll03.pt (when the real corpora are there)."""
    root = tmp_path_factory.mktemp("repo")
    for entry in REPO.iterdir():
        if entry.name not in ("data", "exp", ".git"):
            (root / entry.name).symlink_to(entry)
    (root / "exp").mkdir()
    (root / "data").mkdir()
    if SHARED_DATA_DIR.is_dir():
        save_data_file(conll03_sample(n_train=200, n_eval=200), root / "data" / "conll03.pt")
    return root


@pytest.mark.parametrize("command", CHEAP, ids=str)
def test_cheap_command_runs(command, repo_copy):
    if "--debug" in command.words and not (repo_copy / "data" / "conll03.pt").is_file():
        need_corpus("conll03")
    done = subprocess.run(["bash", "-c", command.text], cwd=repo_copy, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    assert done.stdout.strip()


class _Parsed(BaseException):
    """Raised once a script has parsed its arguments, so that it stops there."""


def _parse_only(monkeypatch, capsys, command: Command, run) -> None:
    """Run a script in this process until it has parsed its arguments (and no further)."""
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse_args(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.chdir(REPO)
    try:
        run()
    except _Parsed:
        return
    except SystemExit as stop:
        pytest.fail(f"{command}\nexits with {stop.code} on its arguments: {capsys.readouterr().err}")
    pytest.fail(f"{command}\nfinished without parsing any arguments")


def _check_python(words: list[str], command: Command, monkeypatch, capsys) -> None:
    if words[0] == "-c":
        compile(words[1], str(command), "exec")
        return
    if words[0] == "-m":
        monkeypatch.setattr(sys, "argv", [words[1], *words[2:]])
        _parse_only(monkeypatch, capsys, command,
                    lambda: runpy.run_module(words[1], run_name="__main__", alter_sys=True))
        return
    script = REPO / words[0]
    assert script.is_file(), f"{command}\nno script {words[0]}"
    monkeypatch.setattr(sys, "argv", [str(script), *words[1:]])
    monkeypatch.syspath_prepend(str(script.parent))          # as `python script.py` does
    _parse_only(monkeypatch, capsys, command, lambda: runpy.run_path(str(script), run_name="__main__"))


def _check_bash(words: list[str], command: Command) -> None:
    script = REPO / words[0]
    assert script.is_file(), f"{command}\nno script {words[0]}"
    if not re.fullmatch(r"run_\w+\.sh", words[0]):
        return
    if words[0] == "run_tasks.sh":                  # run_tasks.sh FILE.toml MODE
        assert len(words) > 1 and (REPO / words[1]).is_file(), f"{command}\nno task-set file"
        words = words[1:]
    assert len(words) > 1, f"{command}\nno mode given"
    known = subprocess.run(["bash", "-c", f"source scripts/run_common.sh && declare -F mode_{words[1]}"],
                           cwd=REPO, capture_output=True, text=True)
    assert known.returncode == 0, f"{command}\n{words[0]} has no mode {words[1]!r}"


@pytest.mark.parametrize("command", OTHERS, ids=str)
def test_other_command_names_what_exists(command, monkeypatch, capsys):
    words = command.words
    program, rest = words[0], words[1:]
    if program in PYTHONS:
        _check_python(rest, command, monkeypatch, capsys)
    elif program == "bash":
        _check_bash(rest, command)
    elif program == "make":
        makefile = (REPO / "Makefile").read_text(encoding="utf-8")
        for target in rest:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{command}\nno target {target}"
    else:
        assert program in OUTSIDE_TOOLS, f"{command}\nunknown program {program}"
