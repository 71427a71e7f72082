"""Nothing lost by a bad value: every argument of train_single.py and train_mtl.py is given a bad
value, with --overwrite, on a finished run. Each answer is one line naming the argument or file,
and the finished run is left exactly as it was: everything a run needs is built before its
folder is replaced (train_single.py: build_pruning; train_mtl.py: build_run).

The finished runs and the bad input files are made once per module; every case runs in the
test process and stops where the value is found wrong, before any training."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import one_line_error  # noqa: E402
from experiment_fixtures import in_process  # noqa: E402

import train_mtl  # noqa: E402
import train_single  # noqa: E402
from models import ModelConfig, build_model, data_sizes  # noqa: E402
from utils.data.datafile import Split, load_data_file, save_data_file  # noqa: E402
from utils.sparsity.pruning import full_mask, prunable_names  # noqa: E402
from utils.training.checkpoint import save_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--hidden_size", "4", "--batch_size", "8", "--num_threads", "1", "--seed", "2",
         "--optim", "adam(lr=0.01)", "--epochs", "1"]
# Switches: every value they can take is a valid one.
SWITCHES = {"help", "crf", "debug", "evaluate", "save_ep", "overwrite"}


def weights(data, hidden: int = 4):
    config = ModelConfig(**data_sizes(data, "cnn-lstm"), hidden_size=hidden)
    return build_model(config, data.embedding), config


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_data_file) -> dict[str, Path]:
    """The good inputs (data file, masks folder) and one bad file or folder of each kind."""
    root = tmp_path_factory.mktemp("inputs")
    data = load_data_file(tiny_data_file)
    model, config = weights(data)
    other, _ = weights(data, hidden=6)
    f = {"data": tiny_data_file, "text": root / "notes.txt"}
    f["text"].write_text("not a data file\n")
    raw = data.to_dict()
    del raw["data"]["ner"]["dev"]
    torch.save(raw, f.setdefault("no_dev", root / "no_dev.pt"))
    empty = torch.zeros(0, dtype=torch.long)
    data.data["ner"]["dev"] = Split(empty, empty, empty, empty, empty)
    save_data_file(data, f.setdefault("empty_dev", root / "empty_dev.pt"))
    save_weights(f.setdefault("other_size", root / "hidden6.th"), other, config)
    nan = {n: v.clone() for n, v in model.state_dict().items()}
    nan["lstm.0.weight_hh_l0"][1, 2] = float("nan")
    torch.save({"state_dict": nan}, f.setdefault("nan", root / "nan.th"))
    torch.save({"x": 1}, f.setdefault("not_weights", root / "not_weights.th"))
    torch.save({"mask": full_mask(other, prunable_names(other))}, f.setdefault("mask6", root / "m6.th"))
    torch.save({"mask": {}}, f.setdefault("empty_mask", root / "empty_mask.th"))
    torch.save([1, 2], f.setdefault("list", root / "list.th"))
    masks = {"masks": {}, "no_ner_mask": {1}, "no_init": {"init"}, "mask_of_hidden6": {},
             "nan_init": {}}
    for name, left_out in masks.items():
        folder = f.setdefault(name, root / name)
        folder.mkdir()
        if "init" not in left_out:
            save_weights(folder / "init_weights.th", model, config)
        for task_id in (0, 1):
            if task_id not in left_out:
                torch.save({"mask": full_mask(model, prunable_names(model))}, folder / f"{task_id}.th")
    shutil.copy(f["mask6"], f["mask_of_hidden6"] / "1.th")
    torch.save({"state_dict": nan, "model_config": config.to_dict()}, f["nan_init"] / "init_weights.th")
    return f


Case = tuple[list[str], str, int]          # the arguments, the start of the line, the exit code


def common_cases(f: dict[str, Path], tmp: Path) -> dict[str, Case]:
    """Bad values of the arguments both scripts take."""
    return {
        "data_path missing": (["--data_path", str(tmp / "none.pt")], f"{tmp / 'none.pt'}: data file not found", 2),
        "data_path not a data file": (["--data_path", str(f["text"])], f"{f['text']}: not a prepared data file", 2),
        "data_path lacking a split": (["--data_path", str(f["no_dev"])], f"{f['no_dev']}: not a complete data file", 2),
        "data_path with an empty split": (["--data_path", str(f["empty_dev"])],
                                          f"{f['empty_dev']}: not a complete data file: data['ner']['dev']: no sentences", 2),
        "seed above 2**64": (["--seed", str(2 ** 64)], "--seed: 18446744073709551616 is outside", 2),
        "seed below -2**63": (["--seed", str(-2 ** 63 - 1)], "--seed: -9223372036854775809 is outside", 2),
        "seed not a number": (["--seed", "one"], "argument --seed: invalid int value", 2),
        "preset": (["--preset", "gpu"], "argument --preset: invalid choice: 'gpu'", 2),
        "epochs": (["--epochs", "-1"], "--epochs: must be at least 0", 2),
        "optim values": (["--optim", "sgd(lr=-1)"], "--optim: bad arguments for sgd", 2),
        "optim name": (["--optim", "nadam"], "--optim: unknown optimizer 'nadam'", 2),
        "optim betas": (["--optim", "adam(betas=(0.9,))"], "--optim: argument 'betas' must be two numbers", 2),
        "optim not finite": (["--optim", "sgd(lr=float('nan'))"], "--optim: argument 'lr' must be a literal", 2),
        "hidden_size": (["--hidden_size", "0"], "--hidden_size: must be at least 1", 2),
        "n_layer": (["--n_layer", "0"], "--n_layer: must be at least 1", 2),
        "dropout 1": (["--dropout", "1"], "--dropout: must be at least 0 and below 1", 2),
        "dropout nan": (["--dropout", "nan"], "--dropout: must be at least 0 and below 1, got nan", 2),
        "batch_size": (["--batch_size", "0"], "--batch_size: must be at least 1", 2),
        "patience": (["--patience", "-1"], "--patience: must be at least 0", 2),
        "train_subset": (["--train_subset", "-5"], "--train_subset: must be at least 0", 2),
        "eval_subset": (["--eval_subset", "-5"], "--eval_subset: must be at least 0", 2),
        "scheduler name": (["--scheduler", "cosine"], "--scheduler: unknown scheduler 'cosine'", 2),
        "scheduler warmup": (["--scheduler", "inverse_sqrt(warmup=0)"], "--scheduler: warmup must be", 2),
        "clip_type": (["--clip_type", "max"], "argument --clip_type: invalid choice: 'max'", 2),
        "clip negative": (["--clip", "-1"], "--clip: must be at least 0", 2),
        "clip inf": (["--clip", "inf"], "--clip: must be at least 0, got inf", 2),
        "metric": (["--metric", "f2"], "argument --metric: invalid choice: 'f2'", 2),
        "bucketing": (["--bucketing", "loose"], "argument --bucketing: invalid choice: 'loose'", 2),
        "save_dir a file": (["--save_dir", str(f["text"])], f"{f['text']}", 1),
        "exp_name empty": (["--exp_name", ""], "--exp_name: a run name must be one folder name", 2),
        "exp_name .": (["--exp_name", "."], "--exp_name: a run name must be one folder name", 2),
        "exp_name ..": (["--exp_name", ".."], "--exp_name: a run name must be one folder name", 2),
        "exp_name a path": (["--exp_name", "../run"], "--exp_name: a run name must be one folder name", 2),
        "init_weights missing": (["--init_weights", str(tmp / "none.th")], f"{tmp / 'none.th'}: weights file not found", 2),
        "init_weights NaN": (["--init_weights", str(f["nan"])],
                             f"{f['nan']}: tensor 'lstm.0.weight_hh_l0' holds 1 NaN or infinite value(s)", 2),
        "init_weights of another size": (["--init_weights", str(f["other_size"])], f"{f['other_size']}:", 2),
        "init_weights not weights": (["--init_weights", str(f["not_weights"])],
                                     f"{f['not_weights']}: expected a weights file", 2),
        "init_weights not a dict": (["--init_weights", str(f["list"])], f"{f['list']}: weights file must hold a dict", 2),
        "device name": (["--device", "gpu"], "--device: expected cpu, cuda or cuda:N, got 'gpu'", 2),
        "device meta": (["--device", "meta"], "--device: expected cpu, cuda or cuda:N, got 'meta'", 2),
        "device GPU number": (["--device", "cuda:77"], "--device: ", 2),
        "num_threads": (["--num_threads", "-1"], "--num_threads: must be 0 or more", 2),
        "resume with overwrite": (["--resume"], "--resume: --resume (continue the run) and --overwrite", 2),
        "tensorboard a file": (["--tensorboard", str(f["text"] / "tb")], "--tensorboard: ", 2),
        "encoder missing": (["--encoder", str(tmp / "none")], f"{tmp / 'none'}: not a folder", 2),
        "encoder a file": (["--encoder", str(f["text"])], f"{f['text']}: not a folder", 2),
        "encoder not a model folder": (["--encoder", str(f["masks"])],
                                       f"{f['masks']}: not a Hugging Face model folder: no config.json", 2),
        "pooling": (["--pooling", "max"], "argument --pooling: invalid choice: 'max'", 2),
    }


def single_cases(f: dict[str, Path], tmp: Path) -> dict[str, Case]:
    return {
        **common_cases(f, tmp),
        "task_id too large": (["--task_id", "2"], "--task_id: no task '2' in the data file", 2),
        "task_id negative": (["--task_id", "-1"], "--task_id: no task '-1' in the data file", 2),
        "task_id unknown name": (["--task_id", "chunk"], "--task_id: no task 'chunk' in the data file", 2),
        "seed of the last round": (["--seed", str(2 ** 60)], "--seed: round 0's seed", 2),
        "arch soft": (["--arch", "soft"], "argument --arch: invalid choice: 'soft'", 2),
        "pruning_iter": (["--pruning_iter", "-1"], "--pruning_iter: must be at least 0", 2),
        "final_rate 0": (["--final_rate", "0"], "--final_rate: must be above 0 and at most 1", 2),
        "final_rate nan": (["--final_rate", "nan"], "--final_rate: must be above 0 and at most 1, got nan", 2),
        "init_masks missing": (["--init_masks", str(tmp / "none.th")], f"{tmp / 'none.th'}: mask file not found", 2),
        "init_masks of another size": (["--init_masks", str(f["mask6"])], f"{f['mask6']}: mask for", 2),
        "init_masks empty": (["--init_masks", str(f["empty_mask"])], f"{f['empty_mask']}: expected {{'mask'", 2),
        "init_masks not a dict": (["--init_masks", str(f["list"])], f"{f['list']}: mask file must hold a dict", 2),
        "need_cut matching nothing": (["--need_cut", "nothing"], "--need_cut: no parameter name contains", 2),
        "need_cut empty": (["--need_cut", ","], "--need_cut: no parameter name contains", 2),
    }


def mtl_cases(f: dict[str, Path], tmp: Path) -> dict[str, Case]:
    masks = lambda name: ["--masks_path", str(f[name])]
    return {
        **common_cases(f, tmp),
        "tasks out of range": (["--tasks", "5"], "--tasks: no task '5'", 2),
        "tasks negative": (["--tasks", "-1"], "--tasks: no task '-1'", 2),
        "tasks unknown name": (["--tasks", "pos", "srl"], "--tasks: no task 'srl'", 2),
        "tasks twice": (["--tasks", "0", "0"], "--tasks: a task is named twice", 2),
        "masks_path missing": (["--masks_path", str(tmp / "none")], f"{tmp / 'none'}: masks folder not found", 2),
        "masks_path lacking a task": (masks("no_ner_mask"), f"{f['no_ner_mask']}: no mask for task 1", 2),
        "masks_path without init_weights.th": (masks("no_init"), f"{f['no_init']}: init_weights.th missing", 2),
        "masks_path with a mask of another size": (masks("mask_of_hidden6"), f"{f['mask_of_hidden6'] / '1.th'}: mask for", 2),
        "masks_path with NaN start weights": (masks("nan_init"), f"{f['nan_init'] / 'init_weights.th'}: tensor", 2),
        "arch": (["--arch", "bogus"], "argument --arch: invalid choice: 'bogus'", 2),
        "arch soft with masks": (["--arch", "soft", *masks("masks")], "--arch soft: soft sharing", 2),
        "trainer": (["--trainer", "resample"], "argument --trainer: invalid choice", 2),
        "select_on": (["--select_on", "train"], "argument --select_on: invalid choice", 2),
        "accumulation_steps": (["--accumulation_steps", "0"], "--accumulation_steps: must be at least 1", 2),
        "temperature": (["--trainer", "temperature", "--temperature", "0"],
                        "--temperature: expected a number above 0, got 0.0", 2),
        "temperature nan": (["--temperature", "nan"], "--temperature: expected a number above 0, got nan", 2),
        "steps_per_epoch": (["--steps_per_epoch", "-1"], "--steps_per_epoch: must be 0 or more, got -1", 2),
    }


CASES: dict[str, Callable[[dict, Path], dict[str, Case]]] = {
    "train_single.py": single_cases, "train_mtl.py": mtl_cases}
PARSERS = {"train_single.py": train_single.build_parser, "train_mtl.py": train_mtl.build_parser}
FILE_KEYS = ("data", "text", "no_dev", "empty_dev", "other_size", "nan", "not_weights", "mask6",
             "empty_mask", "list", "masks", "no_ner_mask", "no_init", "mask_of_hidden6", "nan_init")


def case_names(script: str) -> dict[str, Case]:
    """The cases of `script`, with placeholder paths (for the test ids and the coverage check)."""
    return CASES[script]({key: Path(key) for key in FILE_KEYS}, Path("tmp"))


def command(script: str, f: dict[str, Path], save_dir: Path) -> list[str]:
    extra = ["--task_id", "1", "--pruning_iter", "1"] if script == "train_single.py" else \
        ["--masks_path", str(f["masks"])]
    return [sys.executable, script, "--data_path", str(f["data"]), "--save_dir", str(save_dir),
            "--exp_name", "run", *SMALL, *extra]


def replace_args(cmd: list[str], new: list[str]) -> list[str]:
    """`cmd` with the options in `new` in the place of the same options there."""
    options = {a for a in new if a.startswith("--")}
    out, skip = [], False
    for arg in cmd:
        if arg.startswith("--"):
            skip = arg in options
        if not skip:
            out.append(arg)
    return out + new


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(files, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """A finished run of each script: its save_dir and a snapshot of every file in it."""
    runs = {}
    for script in CASES:
        save_dir = tmp_path_factory.mktemp(script.split(".")[0])
        assert in_process(script, *command(script, files, save_dir)[2:]).returncode == 0
        runs[script] = (save_dir, snapshot(save_dir))
    return runs


ALL_CASES = [(script, case) for script in CASES for case in case_names(script)]


@pytest.mark.parametrize("script, case", ALL_CASES, ids=[f"{s}: {c}" for s, c in ALL_CASES])
def test_a_bad_value_with_overwrite_leaves_the_finished_run(script, case, files, finished, tmp_path,
                                                            run_here):
    save_dir, before = finished[script]
    args, start, code = CASES[script](files, tmp_path)[case]
    done = run_here(replace_args(command(script, files, save_dir), ["--overwrite", *args]))
    line = one_line_error(done, code)
    assert line.startswith(start), line
    assert snapshot(save_dir) == before                       # not a byte changed, nothing added


@pytest.mark.parametrize("script", CASES)
def test_the_table_gives_every_argument_a_bad_value(script):
    named = {arg.removeprefix("--") for args, _, _ in case_names(script).values()
             for arg in args if arg.startswith("--")}
    arguments = {action.dest for action in PARSERS[script]()._actions}
    assert arguments - SWITCHES <= named, sorted(arguments - SWITCHES - named)
