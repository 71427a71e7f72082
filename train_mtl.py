#!/usr/bin/env python
"""Multi-task training: sparse sharing (each task through its own mask), hard sharing,
hierarchical sharing, and single-task baselines (see docs/training.md, "Multi-task training")."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from models import EncoderConfig, ModelConfig, build_model, data_sizes
from models.config import ARCH_CHOICES
from utils.atomic import json_save_atomic
from utils.cli_args import (RESUME_MAY_CHANGE, HelpFormatter, add_encoder_arguments,
                            add_recipe_arguments, add_run_arguments, add_training_arguments,
                            given_options, recipe_config, resolve_run, setup_torch)
from utils.data.datafile import PreparedData, load_data_file
from utils.errors import ArgumentParser, InputError, run_main
from utils.sparsity.mask_stats import model_shapes, parameter_counts
from utils.sparsity.masking import check_mask
from utils.sparsity.pruning import note_uncovered
from utils.training.checkpoint import (load_into, load_weights, save_weights,
                                       seed_everything)
from utils.training.config import TrainConfig
from utils.training.encoder_setup import encoder_config, encoder_data
from utils.training.epoch_rescore import EPOCHS_DIR, epochs_table, rescore_epochs
from utils.training.mtl_setup import (check_encoder_arch, check_schedule_values, check_task_ids,
                                      init_weights_path, load_task_masks, loss_weights, make_tasks,
                                      mode_of, results_record, subset_data, task_layers)
from utils.training.presets import PRESETS, apply_encoder_recipe, apply_preset
from utils.training.run_dir import open_run_dir, read_run_args
from utils.training.schedules import epoch_cycles
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer

# ModelConfig fields that decide the parameter shapes: the start weights must agree on them.
SHAPE_FIELDS = ("n_words", "n_chars", "n_labels", "word_dim", "char_dim", "char_filters",
                "char_kernel", "hidden_size", "n_layer", "crf")
STATE, RESULTS, BEST, LOG = "resume.th", "results.json", "best.th", "log.jsonl"


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description="Train several tasks together. Sparse sharing: --masks_path (each task "
                    "trains and runs through its own subnetwork); hard sharing: no masks; "
                    "hierarchical: --arch hier-lstm; soft sharing: --arch soft; single-task "
                    "baseline: one task in --tasks. Selects the epoch with the best mean dev "
                    "score and tests it. Writes <save_dir>/cp/<exp_name>/: best.th, results.json, "
                    "log.jsonl, args.json.",
        formatter_class=HelpFormatter)
    add = p.add_argument
    add("--data_path", default="data/conll03.pt", help="prepared data file (from prepare-data.py)")
    add("--tasks", nargs="+", default=None, help="tasks to train, by id (the position in the data "
        "file's task list, e.g. conll03: 0 pos, 1 chunk, 2 ner) or by name; default every task of "
        "the data file")
    add("--masks_path", type=Path, help="folder from prepare-masks.sh (<task_id>.th and "
        "init_weights.th): sparse sharing; without it, no masks (hard sharing)")
    add("--init_weights", type=Path, help="start weights (a file with a state_dict, e.g. a "
        "checkpoint); default the masks' init_weights.th, or fresh weights from --seed")
    add("--arch", choices=ARCH_CHOICES, default="cnn-lstm",
        help="cnn-lstm (alias lstm): every task reads the top BiLSTM layer; hier-lstm: POS reads "
             "layer 1 (hierarchical sharing); random-lstm: 50-d random word embedding, no char "
             "CNN; soft: one BiLSTM stack per task with cross-stitch units (soft sharing, no masks)")
    add("--trainer", choices=["seq-label", "re-seq-label", "temperature"], default="seq-label",
        help="batch schedule, as the original's trainers: seq-label = each epoch one random task "
             "order, one batch per task in turn until every task's data is used (epoch 1 random "
             "batches, later epochs bucketed); re-seq-label = sum over every task of the data file "
             "(trained or not) of ceil(N_t / batch) turns of one random batch per trained task, "
             "each task's stream carrying over between epochs; temperature (not the original's) = "
             "--steps_per_epoch steps, each task drawn with probability N_t ** (1 / --temperature)")
    add("--temperature", type=float, default=1.0, help="--trainer temperature: 1 = in proportion "
        "to the tasks' train sentences, larger = closer to uniform")
    add("--steps_per_epoch", type=int, default=0, help="--trainer temperature: batches per epoch; "
        "0 = the trained tasks' batches together (as many as a seq-label epoch)")
    add("--select_on", choices=["dev", "test"], default="dev",
        help="split whose mean score selects the epoch; 'test' repeats the original code's "
             "choice and is NOT recommended (it reports a score tuned on the test set)")
    add("--seed", type=int, default=1, help="random seed (fresh weights, shuffling, dropout)")
    add("--preset", choices=sorted(PRESETS), default="paper",
        help="named configuration; the arguments below left unset take its values")
    add_training_arguments(p, unit="run")
    # The original's multi-task recipe (its run scripts and trainer): constant lr, value clipping.
    add_recipe_arguments(p, scheduler="fix", clip_type="value", metric="conlleval")
    add("--accumulation_steps", type=int, default=1, help="batches per optimizer step: each "
        "batch's loss is divided by this and the step comes every that many batches")
    add("--save_ep", action="store_true", help=f"also keep every epoch's weights, in "
        f"<run>/{EPOCHS_DIR}/<epoch>.th")
    add("--evaluate", action="store_true", help=f"do not train: score every <run>/{EPOCHS_DIR}/*.th "
        "of an existing run (trained with --save_ep) on dev and test, with that run's arguments "
        "from its args.json; writes nothing")
    add("--crf", action="store_true", help="a CRF on top of each task's head")
    add_encoder_arguments(p)
    add("--save_dir", help="experiment folder; default exp/<setting>/mtl")
    add("--exp_name", help="run name, the folder under <save_dir>/cp/; default the mode "
        "(sparse, hard, hier, soft or single-<task>)")
    add_run_arguments(p)
    return p


def resolve(args: argparse.Namespace, data: PreparedData, given: set[str] = frozenset()) -> dict:
    """Every setting of the run: preset values filled in (the encoder's recipe with --encoder),
    defaults derived from the data file."""
    values = apply_preset(vars(args), args.preset, encoder=bool(args.encoder))
    apply_encoder_recipe(values, set(given))
    check_encoder_arch(values.get("encoder"), values["arch"])
    values["tasks"] = check_task_ids(values["tasks"] or [], data)
    check_schedule_values(values["temperature"], values["steps_per_epoch"])
    values["mode"] = mode_of(values["masks_path"], values["arch"], len(values["tasks"]))
    single = f"single-{data.tasks[values['tasks'][0]]}"
    resolve_run(values, data.setting, "mtl", single if values["mode"] == "single" else values["mode"])
    for key in ("masks_path", "init_weights"):
        values[key] = None if values[key] is None else str(values[key])
    return values


def model_config(values: dict, data: PreparedData, start: dict | None) -> ModelConfig | EncoderConfig:
    """The network: sizes from the start weights when they carry a config, else from the
    arguments; the architecture (which layer each task reads) always from the arguments."""
    if values.get("encoder"):
        return encoder_model_config(values, data, start)
    fresh = ModelConfig(
        **data_sizes(data, values["arch"]), hidden_size=values["hidden_size"],
        n_layer=values["n_layer"], crf=values["crf"])
    sizes = {k: getattr(fresh, k) for k in SHAPE_FIELDS}
    if start is not None:
        differ = [f"{k}: {start[k]} there, {sizes[k]} here" for k in SHAPE_FIELDS
                  if k in start and start[k] != sizes[k]]
        if differ:
            raise InputError("start weights do not fit this data file and these arguments ("
                             + "; ".join(differ) + ")", values["init_weights"])
    return ModelConfig(**sizes, dropout=values["dropout"], arch=values["arch"],
                       task_layers=task_layers(data, values["arch"], sizes["n_layer"]))


def encoder_model_config(values: dict, data: PreparedData, start: dict | None) -> EncoderConfig:
    """The encoder's config (each task's layer from the task set in hier-lstm); start weights
    must come from a run over the same encoder folder."""
    layers = [data.layers[t] for t in data.tasks] if values["arch"] == "hier-lstm" else None
    config = encoder_config(values["encoder"], data, dropout=values["dropout"], crf=values["crf"],
                            pooling=values["pooling"], layers=layers)
    if start is not None and (start.get("arch") != "encoder"
                              or start.get("fingerprint") != config.fingerprint):
        raise InputError("start weights were not trained over this encoder folder "
                         f"({values['encoder']})", values["init_weights"])
    return config


def start_model(values: dict, data: PreparedData, masks: dict | None):
    """The model at its start: the start weights (weights no task keeps set to zero) or fresh."""
    path = init_weights_path(values["init_weights"] and Path(values["init_weights"]),
                             values["masks_path"] and Path(values["masks_path"]))
    values["init_weights"] = None if path is None else str(path)
    state, saved_config = load_weights(path) if path is not None else (None, None)
    config = model_config(values, data, saved_config)
    seed_everything(values["seed"])
    model = build_model(config, data.embedding)
    if state is not None:
        load_into(model, state, path)
    for task_id, mask in (masks or {}).items():
        try:
            check_mask(model, mask)
        except ValueError as err:
            raise InputError(str(err), Path(values["masks_path"]) / f"{task_id}.th") from None
        note_uncovered(model, mask, Path(values["masks_path"]) / f"{task_id}.th", "they train dense")
    return model, config


def train_config(values: dict, data: PreparedData | None = None) -> TrainConfig:
    """The training settings; with `data`, re-seq-label's epoch counts every task of the data
    file, trained or not, as the original's did."""
    cycles = 0 if data is None else epoch_cycles(
        (data.data[t]["train"].n_sentences for t in data.tasks), values["batch_size"])
    return TrainConfig(epochs=values["epochs"], optim=values["optim"], batch_size=values["batch_size"],
                       patience=values["patience"], batch_schedule=values["trainer"],
                       select_on=values["select_on"],
                       accumulation_steps=values["accumulation_steps"], device=values["device"],
                       cycles_per_epoch=cycles, temperature=values.get("temperature", 1.0),
                       steps_per_epoch=values.get("steps_per_epoch", 0),
                       loss_weights={} if data is None else loss_weights(data),
                       **recipe_config(values))


def rescore(values: dict) -> None:
    """--evaluate: score the run's saved epochs with the run's own arguments (device and threads
    from this command line; arguments the run predates keep this command line's values)."""
    run_dir = Path(values["save_dir"]) / "cp" / values["exp_name"]
    recorded = {**values, **read_run_args(run_dir, "evaluate"), "device": values["device"]}
    print(f"re-scoring the saved epochs of {run_dir} with its args.json", flush=True)
    print(epochs_table(rescore_epochs(run_dir, recorded, train_config(recorded))))


@dataclass
class MultiTaskRun:
    """Everything a multi-task run needs, built by `build_run` before its folder is written."""

    values: dict
    data: PreparedData
    tasks: list[TaskData]
    masks: dict | None
    model: torch.nn.Module
    config: ModelConfig
    trainer: Trainer
    parameters: dict


def build_run(values: dict, data: PreparedData, run_dir: Path) -> MultiTaskRun:
    """Build what the run needs before the run folder is created or replaced, so that a value
    that cannot work fails before anything is written: the data subsets, the masks, the model
    from its start weights, and the trainer (the device, the seed, the optimizer and its lr
    schedule, the batch schedule, the TensorBoard folder), and the parameter counts."""
    if values.get("encoder"):
        data = encoder_data(data, values["data_path"], values["encoder"])
    data = subset_data(data, values["train_subset"], values["eval_subset"])
    masks = load_task_masks(Path(values["masks_path"]), values["tasks"]) if values["masks_path"] else None
    model, config = start_model(values, data, masks)
    tasks = make_tasks(data, values["tasks"])
    save_epoch = None
    if values["save_ep"]:
        save_epoch = lambda epoch: save_weights(run_dir / EPOCHS_DIR / f"{epoch}.th", model, config,
                                                epoch=epoch, task_ids=values["tasks"],
                                                labels={t.name: t.labels for t in tasks})
    trainer = Trainer(model, tasks, train_config(values, data), seed=values["seed"], masks=masks,
                      state_path=run_dir / STATE, log_path=run_dir / LOG,
                      tensorboard_dir=values["tensorboard"], after_epoch=save_epoch,
                      echo=lambda line: print(line, flush=True))
    counts = parameter_counts(model_shapes(model), values["tasks"], dict(enumerate(data.tasks)),
                              masks, config.task_layers)
    return MultiTaskRun(values, data, tasks, masks, model, config, trainer, counts)


def train(run: MultiTaskRun, run_dir: Path) -> dict:
    """Train, select, test; write best.th and results.json. Returns the results record."""
    values, trainer, tasks, masks = run.values, run.trainer, run.tasks, run.masks
    print(f"{values['mode']} training of {', '.join(t.name for t in tasks)} -> {run_dir}", flush=True)
    result = trainer.fit()
    record = results_record(setting=run.data.setting, mode=values["mode"], tasks=tasks, result=result,
                            dev=result.dev, select_on=values["select_on"], parameters=run.parameters,
                            masks=masks,
                            extra={"masks_path": values["masks_path"],
                                   "init_weights": values["init_weights"], "arch": values["arch"],
                                   "encoder": values.get("encoder"),
                                   "trainer": values["trainer"], "preset": values["preset"],
                                   "span_metric": values["metric"],
                                   "lstm_costs": trainer.lstm_costs, "heap": trainer.heap,
                                   "scores": {"dev": result.dev_all, "test": result.test_all}})
    save_weights(run_dir / BEST, run.model, run.config, tasks=[t.name for t in tasks],
                 labels={t.name: t.labels for t in tasks},
                 task_ids=values["tasks"], masks=masks or {}, epoch=result.best_epoch,
                 dev=record["dev"], test=record["test"])
    json_save_atomic(record, run_dir / RESULTS)
    (run_dir / STATE).unlink(missing_ok=True)
    return record


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    data = load_data_file(args.data_path)
    values = resolve(args, data, given_options(parser, sys.argv[1:]))
    setup_torch(values["num_threads"], values["device"])
    if values["evaluate"]:
        rescore(values)
        return
    run_dir = Path(values["save_dir"]) / "cp" / values["exp_name"]
    run = build_run(values, data, run_dir)            # everything built before the first write
    with open_run_dir(run_dir, values, resume=values["resume"], overwrite=values["overwrite"],
                      ignore=RESUME_MAY_CHANGE,
                      inputs={k: values[k] for k in ("data_path", "masks_path", "init_weights",
                                                     "encoder")}) as resumed:
        if resumed and (run_dir / RESULTS).is_file():
            print(f"{run_dir} has finished already (results.json); nothing to do")
            return
        record = train(run, run_dir)
    print(summary(record, run_dir))


def summary(record: dict, run_dir: Path) -> str:
    """The closing lines: scores at the selected epoch and parameter counts."""
    lines = [f"{record['mode']}: epoch {record['best_epoch']}/{record['epochs']} selected on "
             f"{record['selected_on']}"]
    for name in record["tasks"]:
        lines.append(f"  {name:6s} dev {record['dev'][name]:6.2f}  test {record['test'][name]:6.2f}  "
                     f"({record['metric'][name]}, {record['density'][name]:.2f}% of prunable weights)")
    lines.append(f"  avg    dev {record['avg']['dev']:6.2f}  test {record['avg']['test']:6.2f}")
    p = record["parameters"]
    shared = ", ".join(f"by {k}: {n:,}" for k, n in p["shared_by"].items() if k > 1)
    lines.append(f"  parameters used {p['total']:,} (private {p['private']:,}{', shared ' + shared if shared else ''}); "
                 f"per task {', '.join(f'{t} {n:,}' for t, n in p['per_task'].items())}")
    lines.append(f"wrote {run_dir}/results.json and best.th")
    return "\n".join(lines)


if __name__ == "__main__":
    run_main(main)
