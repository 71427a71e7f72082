"""Whether a finished run may be used as it is: its recorded inputs (args.json, "inputs": the
data file, masks and start weights it was trained from) must hold what they held then.

    python -m utils.training.reuse RUN_DIR...

says nothing when every run is as it was built, or ends with one line naming what changed (exit code 2): train
it again (OVERWRITE=1), or accept it knowingly (ACCEPT_STALE=1). The run scripts ask it before
they reuse a finished run, and again when the runs of the same plan are due (a masks stage of
that plan may have chosen other masks meanwhile).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from utils.built_from import ACCEPT_ENV, accepted_by_environment, check_built_from
from utils.errors import run_main
from utils.training.fingerprint import content_changes
from utils.training.run_dir import INPUTS_KEY, read_run_args


def run_input_changes(run_dir: Path) -> list[str]:
    """What changed in the inputs of the run in `run_dir` since it started (none recorded: a
    run from before fingerprints were kept, nothing to compare)."""
    inputs = read_run_args(run_dir, "check what the run was built from").get(INPUTS_KEY)
    return content_changes(inputs) if isinstance(inputs, dict) else []


def check_run_current(run_dir: Path, rebuild: str = "OVERWRITE=1 trains it again") -> None:
    """InputError unless the run's inputs are unchanged (or ACCEPT_STALE=1 accepts them)."""
    check_built_from(run_dir, run_input_changes(run_dir), rebuild=rebuild,
                     accept=f"{ACCEPT_ENV}=1", accepted=accepted_by_environment())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    for run in parser.parse_args(argv).runs:
        check_run_current(run)


if __name__ == "__main__":
    run_main(main)
