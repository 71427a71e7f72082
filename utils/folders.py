"""Deleting a folder the user asked to replace (`OVERWRITE=1`): the one place the run scripts
delete anything, so that every deletion goes through the same checks.

    python -m utils.folders remove FOLDER

    python -m utils.folders mark FOLDER     (made, if missing, and marked as an experiment folder)

A folder is removed only when it is a real folder (not a link, not a file), not the repository,
the working folder or one above them, and an experiment folder the tool made: it carries the
tool's marker (utils/owned.py), or was written before the marker and holds nothing but what the
run scripts write (single/, mtl/, seed-N/, slurm/, the main tables). It is first renamed aside (`.<name>.removing-<random>`
beside it), then deleted: a removal that is killed half-way leaves no half folder under the
old name.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from utils.errors import InputError
from utils.owned import MARKER, check_ours, mark
from utils.paths import REPO_ROOT, display_path

EXPERIMENT_KIND = "experiment"
# What the run scripts write at the top of an experiment folder (docs/workflow.md).
_EXPERIMENT_ENTRIES = re.compile(r"single|mtl|seed-[0-9]+|slurm|main-table\.(md|json)")


def looks_like_experiment(folder: Path) -> bool:
    """An experiment folder written before the marker: no marker (a marked folder is judged by
    its marker alone), only what the run scripts write in it, and at least one stage's folder."""
    names = [entry.name for entry in folder.iterdir()]
    return MARKER not in names and (all(_EXPERIMENT_ENTRIES.fullmatch(name) for name in names)
            and any(name in ("single", "mtl") or name.startswith("seed-") for name in names))


def mark_experiment(folder: str | os.PathLike) -> None:
    """Make `folder` (if missing) and mark it as an experiment folder the tool made; InputError
    (and nothing written) for a file, a link or a folder of someone else's."""
    path = Path(folder)
    if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
        raise InputError("not a folder (a file or a link); not using it", display_path(path))
    check_ours(path, EXPERIMENT_KIND, "an experiment folder", legacy=looks_like_experiment)
    path.mkdir(parents=True, exist_ok=True)
    mark(folder, EXPERIMENT_KIND)


def remove_asked(folder: str | os.PathLike) -> bool:
    """Delete `folder`, which the user asked to replace; False when there was none.
    InputError (and nothing deleted) for a path that is not a folder one may delete."""
    path = Path(folder)
    if not os.path.lexists(path):
        return False
    if path.is_symlink() or not path.is_dir():
        raise InputError("not a folder (a file or a link); not deleting it", display_path(path))
    resolved = path.resolve()
    for protected in (REPO_ROOT, Path.cwd().resolve(), Path.home().resolve()):
        if resolved == protected or resolved in protected.parents:
            raise InputError("this is the repository, the working folder, the home folder or "
                             "one above them; not deleting it", display_path(path))
    check_ours(path, EXPERIMENT_KIND, "an experiment folder", legacy=looks_like_experiment)
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.removing-", dir=resolved.parent))
    os.replace(resolved, aside / path.name)
    shutil.rmtree(aside)
    return True


def main(argv: list[str]) -> int:
    actions = {"remove": remove_asked, "mark": mark_experiment}
    if len(argv) != 2 or argv[0] not in actions:
        print("usage: python -m utils.folders remove|mark FOLDER", file=sys.stderr)
        return 2
    try:
        actions[argv[0]](argv[1])
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
