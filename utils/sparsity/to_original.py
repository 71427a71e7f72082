"""This project's masks folder written for the original code's `train_mtl.py --masks_path`.

prepare-masks.sh places `<task_id>.th` (True = kept, this project's names) and `init_weights.th`
(`{"state_dict", "model_config"}`) in exp/<setting>/mtl/mask. The original's train_mtl.py reads a
folder of `<task_id>_<round>` files (`{"mask": {name: bool}, "pruning_time": round}`, True =
PRUNED, its parameter names) and `init_weights` (a bare state dict), which its prepare-masks.sh
copied from its pruning runs. Writing ours that way lets both codes train from the same masks and
the same start weights (the comparison in docs/results.md):

    python -m utils.sparsity.to_original exp/conll03/mtl/mask OUT_DIR

The names are those of the original's model of the architecture the start weights record
(`model_config["arch"]`; `--arch` for files without one); utils.sparsity.original_masks holds the
name map both ways. Every file is converted before the first is written, so a bad input leaves OUT
as it was.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import torch

from utils.atomic import torch_save_atomic
from utils.errors import ArgumentParser, InputError, run_main
from utils.sparsity.mask_files import load_mask
from utils.sparsity.masking import check_mask_fits
from utils.sparsity.original_masks import converted_in, original_mask, original_state
from utils.torch_files import load


def original_files(source: Path, arch: str | None = None) -> dict[str, dict[str, Any]]:
    """{file name: contents} of the original's masks folder for this project's `source` folder."""
    if not source.is_dir():
        raise InputError("not a folder (expected a masks folder, e.g. exp/conll03/mtl/mask)", source)
    mask_paths = sorted((p for p in source.glob("*.th") if p.stem.isdigit()), key=lambda p: int(p.stem))
    weights_path = source / "init_weights.th"
    if not mask_paths or not weights_path.is_file():
        raise InputError("expected <task_id>.th mask files and init_weights.th here "
                         "(prepare-masks.sh places them)", source)
    state, arch = _start_weights(weights_path, arch)
    files = {"init_weights": converted_in(lambda s: original_state(s, arch), state, weights_path)}
    for path in mask_paths:
        loaded = load_mask(path)
        try:
            check_mask_fits(state, loaded["mask"])     # the original's check_masks asserts as much
        except ValueError as err:
            raise InputError(str(err), path) from None
        pruned = converted_in(lambda m: original_mask(m, arch), loaded["mask"], path)
        round_ = loaded.get("pruning_time")
        round_ = round_ if isinstance(round_, int) else 0
        files[f"{int(path.stem)}_{round_}"] = {"mask": pruned, "pruning_time": round_}
    return files


def _start_weights(path: Path, arch: str | None) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict of init_weights.th and the architecture to name it in."""
    loaded = load(path, "start weights")
    state = loaded.get("state_dict", loaded)
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise InputError("expected {'state_dict': {name: tensor}, ...}", path)
    config = loaded.get("model_config")
    recorded = config.get("arch") if isinstance(config, dict) else None
    if arch is not None and recorded is not None and arch != recorded:
        raise InputError(f"the start weights are of a {recorded} model, not {arch}", path)
    return state, arch or recorded or "cnn-lstm"


def write_original_folder(source: Path, out: Path, arch: str | None = None,
                          overwrite: bool = False) -> list[Path]:
    """Write the original's masks folder for `source` into `out`; returns the files written."""
    files = original_files(source, arch)
    targets = {name: out / name for name in files}
    stale = _replaced_files(out, set(targets.values()), overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for name, contents in files.items():
        torch_save_atomic(contents, targets[name])
    for path in stale:
        path.unlink()
    return list(targets.values())


def _replaced_files(out: Path, targets: set[Path], overwrite: bool) -> list[Path]:
    """The mask files of an earlier export in `out` that the new one does not write (removed
    after it). The original's train_mtl.py reads every file of the folder whose name does not
    start with "init" as a mask, so a stale `<task>_<round>` would count as one more task, and any
    other file is refused."""
    if not out.is_dir():
        return []
    present = [p for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")]
    stale = [p for p in present if p not in targets and re.fullmatch(r"\d+_\d+", p.name)]
    foreign = [p.name for p in present
               if p not in targets and p not in stale and not p.name.startswith("init")]
    if foreign:
        raise InputError(f"holds {', '.join(foreign)}, which the original's train_mtl.py would read "
                         "as masks; write into an empty folder", out)
    replaced = [str(p) for p in present if p in targets or p in stale]
    if replaced and not overwrite:
        raise InputError(f"would overwrite {', '.join(replaced)}; pass --overwrite", out)
    return stale


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(
        description="Write this project's masks folder (<task_id>.th, init_weights.th) as the "
                    "original code's (<task_id>_<round>, init_weights; True = pruned, its "
                    "parameter names), for its train_mtl.py --masks_path.")
    parser.add_argument("source", type=Path, help="the masks folder, e.g. exp/conll03/mtl/mask")
    parser.add_argument("out", type=Path, help="folder to write the original's files into")
    parser.add_argument("--arch", choices=("cnn-lstm", "hier-lstm", "random-lstm"),
                        help="the original's model to name the parameters after (default: the "
                             "architecture init_weights.th records, else cnn-lstm)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    args = parser.parse_args(argv)
    for path in write_original_folder(args.source, args.out, args.arch, args.overwrite):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
