"""Deleting a folder the user asked to replace (`OVERWRITE=1`): the one place the run scripts
delete anything, so that every deletion goes through the same checks.

    python -m utils.folders remove FOLDER

A folder is removed only when it is a real folder (not a link, not a file), not the repository,
the working folder or one above them. It is first renamed aside (`.<name>.removing-<random>`
beside it), then deleted: a removal that is killed half-way leaves no half folder under the
old name.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from utils.errors import InputError
from utils.paths import REPO_ROOT, display_path


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
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.removing-", dir=resolved.parent))
    os.replace(resolved, aside / path.name)
    shutil.rmtree(aside)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "remove":
        print("usage: python -m utils.folders remove FOLDER", file=sys.stderr)
        return 2
    try:
        remove_asked(argv[1])
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
