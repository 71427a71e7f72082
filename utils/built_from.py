"""Whether an artifact is still what it was built from: the one check every consumer goes through.

Every artifact records what it was built from: a run (train_single.py, train_mtl.py) the
fingerprints of its inputs in args.json (data file, masks, start weights); the masks placed by
prepare-masks.sh those of the pruning runs' files they were chosen from, in selection.json; a
data file the task-set file it was prepared from, in its provenance. A consumer (the run scripts'
reuse of finished runs, prepare-masks.sh, train_mtl.py, predict.py, analyze.py, the run scripts'
use of a data file) lists what changed since, and hands the list to `check_built_from`: nothing
changed, it goes on; else one line names what changed and the choice, to rebuild the artifact
or to accept it knowingly. Never a silent reuse, never a silent rebuild.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

from utils.errors import InputError, shorten

# The environment variable (run scripts) that accepts a changed input knowingly.
ACCEPT_ENV = "ACCEPT_STALE"


def accepted_by_environment() -> bool:
    """Whether ACCEPT_STALE=1 is set (the run scripts pass it on to the steps they run)."""
    return os.environ.get(ACCEPT_ENV, "0") == "1"


def check_built_from(artifact: object, changes: Sequence[str], *, rebuild: str,
                     accept: str | None = None, accepted: bool = False) -> None:
    """Raise InputError when `changes` (what changed in the inputs of `artifact` since it was
    built) is not empty, naming them, how to `rebuild` and the flag that would `accept` them; with
    `accepted`, print that on stderr as a note instead and go on."""
    if not changes:
        return
    what = shorten("; ".join(changes), 600)
    if accepted:
        print(f"note: {artifact}: built from inputs that changed since ({what}); used as it is, "
              "as asked", file=sys.stderr)
        return
    choice = f"{rebuild}, or {accept} to use it as it is" if accept else rebuild
    raise InputError(f"built from inputs that changed since: {what}; {choice}", artifact)
