#!/usr/bin/env python
"""Iterative Magnitude Pruning of the CNN-BiLSTM tagger for one task (see docs/training.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models import EncoderConfig, ModelConfig, data_sizes
from models.config import ARCH_CHOICES
from utils.cli_args import (RESUME_MAY_CHANGE, HelpFormatter, add_encoder_arguments,
                            add_recipe_arguments, add_run_arguments, add_training_arguments,
                            given_options, recipe_config, resolve_run, setup_torch)
from utils.data.datafile import PreparedData, load_data_file
from utils.errors import ArgumentParser, InputError, run_main, shown
from utils.subnetworks.imp import ImpPlan, build_pruning, evaluate_run, results_table, run_imp
from utils.training.config import TrainConfig
from utils.training.encoder_setup import encoder_config, encoder_data
from utils.training.mtl_setup import check_encoder_arch, subset_data, task_id_of, task_layers
from utils.training.presets import PRESETS, apply_encoder_recipe, apply_preset, preset_help
from utils.training.run_dir import open_run_dir


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description="Find a subnetwork for one task by Iterative Magnitude Pruning: train, remove "
                    "the smallest weights, rewind the rest to their initial values, repeat. "
                    "Writes <save_dir>/cp/<exp_name>/: init_weights.th, one mask [k]_[pct].th and "
                    "one best_[k]_[pct].th per round k, results.jsonl, log.jsonl and args.json.",
        formatter_class=HelpFormatter)
    add = p.add_argument
    add("--data_path", default="data/conll03.pt", help="prepared data file (from prepare-data.py)")
    add("--task_id", default="0", help="which task of the data file to prune: its id (0 = the "
        "first; conll03: 0 pos, 1 chunk, 2 ner) or its name")
    add("--seed", type=int, default=1, help="random seed (initial weights, shuffling, dropout)")
    add("--arch", choices=[a for a in ARCH_CHOICES if a != "soft"], default="cnn-lstm",
        help="cnn-lstm (alias lstm): every task reads the top BiLSTM layer; hier-lstm: POS reads "
             "layer 1; random-lstm: 50-d random word embedding, no char CNN (models/tagger.py)")
    add("--preset", choices=sorted(PRESETS), default="paper",
        help="named configuration; the arguments below left unset take its values")
    add("--pruning_iter", type=int, help=f"number of pruning rounds after round 0 ({preset_help('pruning_iter')})")
    add("--final_rate", type=float, help="fraction of the prunable weights the last round keeps; "
        f"each round removes 1 - final_rate**(1/pruning_iter) of what remains ({preset_help('final_rate')})")
    add_training_arguments(p, unit="round")
    # The original's pruning recipe: lr decay, norm clipping, epochs selected by its own span F1.
    add_recipe_arguments(p, scheduler="decay", clip_type="norm", metric="yangjie")
    add("--save_dir", help="experiment folder; default exp/<setting>/single")
    add("--exp_name", help="run name, the folder under <save_dir>/cp/; default the task id")
    add("--init_weights", help="rewind point instead of the fresh initial weights, e.g. a "
        "multi-task warm-up checkpoint (a file with a state_dict)")
    add("--init_masks", help="mask file to start from: round 0 trains that subnetwork")
    add("--need_cut", help="comma-separated name parts: parameters whose name contains one of "
        "them are pruned (biases never); default lstm,conv (the BiLSTM and the char CNN), with "
        "--encoder the encoder's linear weight matrices (attention and feed-forward)")
    add("--crf", action="store_true", help="a CRF on top of each task's head")
    add_encoder_arguments(p)
    add("--evaluate", action="store_true", help="do not train: score every best_*.th of an "
        "existing run on dev and test")
    add("--debug", action="store_true", help="quick check: 200 sentences per split, 3 epochs, "
        "3 prunings (explicit arguments still win)")
    add_run_arguments(p)
    return p


def resolve(args: argparse.Namespace, data: PreparedData, given: set[str] = frozenset()) -> dict:
    values = apply_preset(vars(args), args.preset, args.debug, encoder=bool(args.encoder))
    apply_encoder_recipe(values, set(given))
    check_encoder_arch(values.get("encoder"), values["arch"])
    values["task_id"] = task_id_of(values["task_id"], data, "--task_id")
    given_cut = values["need_cut"]
    if given_cut is None:          # the network's own prunable weights (none named: an encoder's)
        values["need_cut"] = "" if values.get("encoder") else "lstm,conv"
    values["need_cut"] = [s.strip() for s in values["need_cut"].split(",") if s.strip()]
    if given_cut is not None and not values["need_cut"]:
        raise InputError(f"no parameter name contains any of {shown(given_cut)} (no name part "
                         "given)", "--need_cut")
    return resolve_run(values, data.setting, "single", str(values["task_id"]))


def model_config(values: dict, data: PreparedData) -> ModelConfig | EncoderConfig:
    """The network: the encoder's (its task layers from the task set in hier-lstm), or the
    BiLSTM tagger's."""
    if values.get("encoder"):
        layers = [data.layers[t] for t in data.tasks] if values["arch"] == "hier-lstm" else None
        return encoder_config(values["encoder"], data, dropout=values["dropout"], crf=values["crf"],
                              pooling=values["pooling"], layers=layers)
    return ModelConfig(
        **data_sizes(data, values["arch"]), hidden_size=values["hidden_size"], n_layer=values["n_layer"], dropout=values["dropout"],
        crf=values["crf"], arch=values["arch"],
        task_layers=task_layers(data, values["arch"], values["n_layer"]))


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    data = load_data_file(args.data_path)
    values = resolve(args, data, given_options(parser, sys.argv[1:]))
    setup_torch(values["num_threads"], values["device"])
    if values.get("encoder"):
        data = encoder_data(data, values["data_path"], values["encoder"])
    data = subset_data(data, values["train_subset"], values["eval_subset"])
    run_dir = Path(values["save_dir"]) / "cp" / values["exp_name"]
    train = TrainConfig(epochs=values["epochs"], optim=values["optim"],
                        batch_size=values["batch_size"], patience=values["patience"],
                        device=values["device"], **recipe_config(values))
    if values["evaluate"]:
        print(results_table(evaluate_run(run_dir, data, values["task_id"], train)))
        return
    config = model_config(values, data)
    plan = ImpPlan(task_id=values["task_id"], seed=values["seed"],
                   pruning_iter=values["pruning_iter"], final_rate=values["final_rate"],
                   need_cut=values["need_cut"], train=train, init_weights=values["init_weights"],
                   init_masks=values["init_masks"], tensorboard=values["tensorboard"])
    pruning = build_pruning(config, data, plan)       # everything built before the first write
    with open_run_dir(run_dir, values, resume=values["resume"], overwrite=values["overwrite"],
                      ignore=RESUME_MAY_CHANGE,
                      inputs={k: values[k] for k in ("data_path", "init_weights", "init_masks",
                                                     "encoder")}):
        rows = run_imp(pruning, run_dir, echo=lambda line: print(line, flush=True))
    print(f"\n{data.tasks[values['task_id']]}: score against percent of prunable weights kept "
          f"({run_dir})")
    print(results_table(rows))


if __name__ == "__main__":
    run_main(main)
