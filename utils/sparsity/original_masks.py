"""The original code's mask and weight files, read into this project's names and conventions.

The original saved, per pruning round, `{"mask": {name: bool}, "init_weights": state_dict,
"pruning_time": k}` where True marks a PRUNED weight, under fastNLP's parameter names; its
`prepare-masks.sh` copied them to `<task_id>_<round>` plus `init_weights` (a bare state dict).
Here a mask marks KEPT weights and names follow models/tagger.py. The name map:

| original (cnn-lstm; hier-lstm; random-lstm)                | here                       |
|------------------------------------------------------------|----------------------------|
| `embedding.embedding.weight`; `word_embed.embedding.weight` | `word_embed.weight`        |
| `char.char_embedding.weight`; `char_embed.char_embedding.weight` | `char_cnn.char_embed.weight` |
| `char.convs.0.{weight,bias}`; `char_embed.convs.0.*`        | `char_cnn.conv.{weight,bias}` |
| `char.fc.{weight,bias}`; `char_embed.fc.*`                  | `char_cnn.fc.{weight,bias}` |
| `lstm.lstm.{w}_l{k}[_reverse]` (k = 0, 1)                   | `lstm.{k}.{w}_l0[_reverse]` |
| `lstm1.lstm.{w}_l0[_reverse]`, `lstm2.lstm.{w}_l0[_reverse]` | `lstm.0.*`, `lstm.1.*`     |
| `out.{t}.{weight,bias}`                                     | `heads.{t}.{weight,bias}`  |
| `crf.{t}.trans_m`                                           | `crfs.{t}.transitions`     |

`{w}` is `weight_ih`, `weight_hh`, `bias_ih` or `bias_hh`. Buffers (`words_to_words`,
`words_to_chars_embedding`, `word_lengths`) and the CRF's fixed `_constrain` are dropped. The
embedding rows line up only if the data file was prepared from the same corpus and the same
vectors as the original's (the vocabularies are built the same way, utils.data.vocab); shapes are
checked when the weights are loaded.

Mask files are accepted wherever a mask file is read (utils.sparsity.mask_files.load_mask), bare state
dicts wherever start weights are read (utils.training.checkpoint.load_weights). An original masks folder
becomes one for train_mtl.py with:

    python -m utils.sparsity.original_masks ORIGINAL_MASK_DIR OUT_DIR

and the other way, this project's masks folder (what prepare-masks.sh places in
exp/<setting>/mtl/mask) becomes one for the original's `train_mtl.py --masks_path`, in the names of
the original's model of the same architecture (cnn-lstm, hier-lstm or random-lstm), with:

    python -m utils.sparsity.to_original MASK_DIR OUT_DIR
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from utils.atomic import torch_save_atomic
from utils.errors import ArgumentParser, InputError, run_main
from utils.torch_files import load

_LSTM = r"(weight_ih|weight_hh|bias_ih|bias_hh)"
_RULES: list[tuple[re.Pattern, Any]] = [(re.compile(pattern), target) for pattern, target in [
    (r"^(?:embedding|word_embed)\.embedding\.weight$", "word_embed.weight"),
    (r"^(?:char|char_embed)\.char_embedding\.weight$", "char_cnn.char_embed.weight"),
    (r"^(?:char|char_embed)\.convs\.0\.(weight|bias)$", r"char_cnn.conv.\1"),
    (r"^(?:char|char_embed)\.fc\.(weight|bias)$", r"char_cnn.fc.\1"),
    (rf"^lstm\.lstm\.{_LSTM}_l(\d+)(_reverse)?$", r"lstm.\2.\1_l0\3"),
    (rf"^lstm([12])\.lstm\.{_LSTM}_l0(_reverse)?$",
     lambda m: f"lstm.{int(m.group(1)) - 1}.{m.group(2)}_l0{m.group(3) or ''}"),
    (r"^out\.(\d+)\.(weight|bias)$", r"heads.\1.\2"),
    (r"^crf\.(\d+)\.trans_m$", r"crfs.\1.transitions"),
]]
_DROPPED = re.compile(r"(^|\.)(words_to_words|words_to_chars_embedding|word_lengths|_constrain)$")

# The original's layout per architecture: its word embedding's name, its char CNN module (None:
# no char CNN) and whether its LSTM layers are one stacked fastNLP LSTM (else lstm1, lstm2).
_ORIGINAL_LAYOUT = {
    "cnn-lstm": ("embedding.embedding.weight", "char", True),
    "hier-lstm": ("word_embed.embedding.weight", "char_embed", False),
    "random-lstm": ("word_embed.embedding.weight", None, True),
}


def our_name(name: str) -> str | None:
    """This project's name for an original parameter name; None for a dropped buffer."""
    if _DROPPED.search(name):
        return None
    for pattern, target in _RULES:
        match = pattern.match(name)
        if match:
            return target(match) if callable(target) else match.expand(target)
    raise ValueError(f"no counterpart for the original's parameter {name!r}")


def original_name(name: str, arch: str = "cnn-lstm") -> str:
    """The original's name, in its model of architecture `arch`, for one of this project's
    parameter names (the inverse of `our_name`)."""
    if arch not in _ORIGINAL_LAYOUT:
        raise ValueError(f"the original has no {arch!r} model (it has {', '.join(_ORIGINAL_LAYOUT)})")
    for pattern, target in _to_original_rules(arch):
        match = re.match(pattern, name)
        if match:
            return target(match) if callable(target) else match.expand(target)
    raise ValueError(f"no counterpart in the original's {arch} model for {name!r}")


def _to_original_rules(arch: str) -> list[tuple[str, Any]]:
    word, char, stacked = _ORIGINAL_LAYOUT[arch]
    rules: list[tuple[str, Any]] = [
        (r"^word_embed\.weight$", word),
        (r"^heads\.(\d+)\.(weight|bias)$", r"out.\1.\2"),
        (r"^crfs\.(\d+)\.transitions$", r"crf.\1.trans_m"),
        (rf"^lstm\.(\d+)\.{_LSTM}_l0(_reverse)?$",
         r"lstm.lstm.\2_l\1\3" if stacked
         else lambda m: f"lstm{int(m.group(1)) + 1}.lstm.{m.group(2)}_l0{m.group(3) or ''}"),
    ]
    if char is not None:
        rules += [(r"^char_cnn\.char_embed\.weight$", f"{char}.char_embedding.weight"),
                  (r"^char_cnn\.conv\.(weight|bias)$", rf"{char}.convs.0.\1"),
                  (r"^char_cnn\.fc\.(weight|bias)$", rf"{char}.fc.\1")]
    return rules


def is_original(names: Sequence[str] | Mapping[str, Any]) -> bool:
    """Whether these names are the original's (any one matching its naming is enough)."""
    return any(_DROPPED.search(n) or any(p.match(n) for p, _ in _RULES) for n in names)


def convert_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An original state dict under this project's names, buffers dropped."""
    converted = {}
    for name, value in state.items():
        ours = our_name(name)
        if ours is not None:
            converted[ours] = value
    return converted


def convert_mask(mask: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An original mask (True = pruned) as this project's (True = kept), renamed."""
    return {our_name(name): ~pruned.bool() for name, pruned in mask.items()}


def original_state(state: Mapping[str, torch.Tensor], arch: str = "cnn-lstm") -> dict[str, torch.Tensor]:
    """A state dict of this project under the names of the original's `arch` model."""
    return {original_name(name, arch): value for name, value in state.items()}


def original_mask(mask: Mapping[str, torch.Tensor], arch: str = "cnn-lstm") -> dict[str, torch.Tensor]:
    """A mask of this project (True = kept) as the original's (True = pruned), renamed."""
    return {original_name(name, arch): ~kept.bool() for name, kept in mask.items()}


def accept_mask_file(loaded: dict[str, Any], source: str | Path) -> dict[str, Any]:
    """A mask file loaded from `source` in this project's form; an original one is converted (its
    copy of the initial weights is left out), this project's is returned as is."""
    mask = loaded.get("mask")
    if not isinstance(mask, dict) or not is_original(mask):
        return loaded
    kept = converted_in(convert_mask, mask, source)
    total = sum(m.numel() for m in kept.values())
    percent = round(100.0 * sum(int(m.sum()) for m in kept.values()) / max(total, 1), 2)
    return {"mask": kept, "pruning_time": loaded.get("pruning_time"), "percent": percent,
            "converted_from": "original"}


def accept_state(state: dict[str, torch.Tensor], source: str | Path) -> dict[str, torch.Tensor]:
    """A bare state dict loaded from `source` in this project's names (an original one is
    converted)."""
    return converted_in(convert_state, state, source) if is_original(state) else state


def converted_in(convert: Callable[[Mapping[str, Any]], dict[str, Any]], values: Mapping[str, Any],
                 source: str | Path) -> dict[str, Any]:
    """`convert(values)`, an unknown name reported as an input error in `source`."""
    try:
        return convert(values)
    except ValueError as err:
        raise InputError(str(err), source) from None


def convert_folder(source: Path, out: Path, overwrite: bool = False) -> list[Path]:
    """The original's masks folder (`<task_id>_<round>` files and `init_weights`) as this
    project's (`<task_id>.th`, `init_weights.th`); returns the files written."""
    if not source.is_dir():
        raise InputError("not a folder (expected the original's exp/<setting>/mtl/mask)", source)
    masks = sorted(p for p in source.iterdir() if re.match(r"^\d+_\d+", p.name) and p.is_file())
    weights = source / "init_weights"
    if not masks or not weights.is_file():
        raise InputError("expected <task_id>_<round> mask files and init_weights here", source)
    targets = {path: out / f"{path.name.split('_')[0]}.th" for path in masks}
    targets[weights] = out / "init_weights.th"
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise InputError(f"would overwrite {', '.join(existing)}; pass --overwrite", out)
    contents = {target: _converted_file(path, target)   # all read and converted before any write
                for path, target in targets.items()}
    out.mkdir(parents=True, exist_ok=True)
    for target, converted in contents.items():
        torch_save_atomic(converted, target)
    return list(targets.values())


def _converted_file(path: Path, target: Path) -> dict[str, Any]:
    """One file of the original's folder in this project's form, for `target`."""
    loaded = load(path, "original file")
    if target.name == "init_weights.th":
        return {"state_dict": accept_state(loaded, path), "converted_from": path.name}
    converted = accept_mask_file(loaded, path)
    if "converted_from" not in converted:
        raise InputError("expected a mask file of the original code", path)
    return {**converted, "task_id": int(target.stem), "source": path.name}


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(
        description="Turn the original code's masks folder (<task_id>_<round>, init_weights; "
                    "True = pruned, fastNLP names) into one for train_mtl.py --masks_path.")
    parser.add_argument("source", type=Path, help="the original's mask folder")
    parser.add_argument("out", type=Path, help="folder to write <task_id>.th and init_weights.th")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    args = parser.parse_args(argv)
    for path in convert_folder(args.source, args.out, args.overwrite):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
