#!/usr/bin/env python
"""Pictures and tables from the saved runs of an experiment folder (see docs/analysis.md):
pruning curves, mask overlap across rounds, overlap of the chosen masks (for an encoder also per
layer and matrix kind), the method comparison, training curves and report.md. Reads only saved
files; never trains."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import train_mtl
import train_single
from utils.cli_args import HelpFormatter
from utils.errors import ArgumentParser, run_main
from utils.results.report import write_report
from utils.results.runs import command_line


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description="Write figures (PNG), their data (CSV) and report.md for the runs found below "
                    "EXP_DIR: single-task pruning runs (train_single.py), the masks placed by "
                    "prepare-masks.sh and multi-task runs (train_mtl.py), in any folder layout. "
                    "Missing or unfinished runs are listed as such.",
        formatter_class=HelpFormatter)
    p.add_argument("exp_dir", type=Path, metavar="EXP_DIR", help="experiment folder, e.g. exp/conll03")
    p.add_argument("--out", type=Path, default=None,
                   help="report folder (default EXP_DIR/report); an earlier report there is replaced")
    return p


def main() -> None:
    args = build_parser().parse_args()
    out = args.out or args.exp_dir / "report"
    scripts = {"train_single.py": train_single.build_parser(), "train_mtl.py": train_mtl.build_parser()}
    commands = {name: (lambda values, parser=parser, name=name: command_line(name, parser._actions, values))
                for name, parser in scripts.items()}
    report = write_report(args.exp_dir, out, commands)
    for line in report.skipped:
        print(f"note: skipped {line}", file=sys.stderr)
    print(f"wrote {out}/: {', '.join(report.files)}")


if __name__ == "__main__":
    run_main(main)
