"""Tagging text with a trained model (predict.py).

The model comes from its checkpoint (`utils.training.checkpoint.load_model`), the vocabulary and tag
schemes from the data file it was trained on (named in the run's args.json), each task's mask
from the checkpoint (train_mtl.py's best.th) or from the mask file beside it (train_single.py's
best_[k]_[pct].th). The input is encoded as prepare-data.py encodes its corpora
(`utils.data.datafile.encode_split`; unknown words and characters become UNK), gold columns are
brought into the data file's tag schemes as prepare-data.py does (`tags_in_scheme`), and the
predictions and scores come from the trainer's own evaluation (`Trainer.evaluate`), so they
equal what training reported on the same sentences.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import torch

from models import EncoderConfig, Tagger
from utils.built_from import ACCEPT_ENV, accepted_by_environment, check_built_from
from utils.data.datafile import PAD, UNK, PreparedData, Split, encode_split, index_of, load_data_file
from utils.data.encoder_folder import load_tokenizer
from utils.data.readers.schemes import tags_in_scheme
from utils.data.readers.sentences import TaggedSentences
from utils.data.subword_batching import piece_split
from utils.data.subwords import tokenize_forms
from utils.errors import InputError
from utils.paths import REPO_ROOT, display_path
from utils.sparsity.mask_files import load_mask
from utils.sparsity.masking import check_mask
from utils.training.checkpoint import load_model
from utils.training.config import TrainConfig
from utils.training.fingerprint import content_changes
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer

# Cap of one evaluation batch's padded word positions: a sentence of thousands of tokens gets a
# batch of its own instead of padding a hundred others to its length.
MAX_POSITIONS = 20_000
_PLACEHOLDER = "_"   # the label of unlabelled input (encode_split wants one)


@dataclass
class TrainedModel:
    """A model ready to tag: weights, vocabularies, the tasks it was trained on, their masks."""

    model: Tagger
    data: PreparedData
    task_ids: list[int]
    masks: dict[int, dict[str, torch.Tensor]]
    source: str


def load_trained(model_path: Path, data_path: str | None = None) -> TrainedModel:
    """best.th of train_mtl.py or best_[k]_[pct].th of train_single.py, with its data file."""
    model, loaded = load_model(model_path)
    args = _run_args(model_path)
    if "task_ids" in loaded:                               # train_mtl.py
        task_ids, masks, masks_from = loaded["task_ids"], loaded.get("masks") or {}, model_path
    elif "round" in loaded:                                # train_single.py: mask beside it
        if not isinstance(args.get("task_id"), int):
            raise InputError("args.json of the pruning run is needed beside it (it names the task)",
                             model_path)
        task_ids = [args["task_id"]]
        masks_from = model_path.parent / model_path.name.removeprefix("best_")
        masks = {task_ids[0]: load_mask(masks_from)["mask"]}
    else:
        raise InputError("not a trained model: expected best.th of train_mtl.py or "
                         "best_[k]_[pct].th of train_single.py", model_path)
    data_file = _data_file(data_path, args, model_path)
    data = load_data_file(data_file)
    check_vocabulary(model, data, data_path or args.get("data_path"))
    task_ids = _checked_tasks(task_ids, data, model_path)
    check_labels(loaded.get("labels"), data, task_ids, model_path)
    check_data_file_current(data_file, args, model_path)     # the same sizes: the same words?
    masks = _checked_masks(masks, task_ids, model, masks_from)
    return TrainedModel(model, data, task_ids, masks, display_path(model_path))


def _checked_tasks(task_ids: object, data: PreparedData, path: Path) -> list[int]:
    """The model's task ids: a non-empty list of distinct tasks of the data file."""
    if not (isinstance(task_ids, list) and task_ids and all(isinstance(t, int) for t in task_ids)):
        raise InputError(f"'task_ids' must be a non-empty list of task numbers, got {task_ids!r}",
                         path)
    unknown = [t for t in task_ids if not 0 <= t < len(data.tasks)]
    if unknown or len(set(task_ids)) != len(task_ids):
        raise InputError(f"'task_ids' {task_ids} do not name distinct tasks of the data file "
                         f"(0 to {len(data.tasks) - 1})", path)
    return task_ids


def _checked_masks(masks: object, task_ids: list[int], model: Tagger,
                   path: Path) -> dict[int, dict[str, torch.Tensor]]:
    """{task_id: bool mask}, each mask for a task of the model and fitting its parameters."""
    if not isinstance(masks, dict):
        raise InputError("'masks' must be a dict {task_id: {name: bool tensor}}", path)
    checked = {}
    for task_id, mask in masks.items():
        if task_id not in task_ids:
            raise InputError(f"a mask for task {task_id!r}, which the model was not trained on "
                             f"(its tasks: {task_ids})", path)
        if not (isinstance(mask, dict) and all(isinstance(m, torch.Tensor) and m.dtype == torch.bool
                                               for m in mask.values())):
            raise InputError(f"the mask of task {task_id} is not {{name: bool tensor}}", path)
        try:
            check_mask(model, mask)
        except ValueError as err:
            raise InputError(f"the mask of task {task_id} does not fit the model: {err}", path) from None
        checked[task_id] = mask
    return checked


def _run_args(model_path: Path) -> dict:
    path = model_path.parent / "args.json"
    if not path.is_file():
        return {}
    try:
        args = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"not JSON ({err})", path) from None
    if not isinstance(args, dict):
        raise InputError("expected a JSON object of the run's arguments", path)
    return args


def _data_file(given: str | None, args: dict, model_path: Path) -> Path:
    """--data_path, else the run's data_path (as given, or relative to the repository)."""
    if given is not None:
        return Path(given)
    named = args.get("data_path")
    if not isinstance(named, str):
        raise InputError("no args.json beside the model names its data file; pass --data_path",
                         model_path)
    for candidate in (Path(named), REPO_ROOT / named):
        if candidate.is_file():
            return candidate
    raise InputError(f"the data file the model was trained on ({named}, from args.json) is not "
                     "here; pass --data_path", model_path)


def check_data_file_current(data_file: Path, args: dict, model_path: Path) -> None:
    """The data file must hold what the one the model was trained on held (args.json records its
    sha256): another file of the same sizes (words in another order) would read every word as
    another."""
    recorded = args.get("inputs", {}).get("data_path") if isinstance(args.get("inputs"), dict) else None
    if isinstance(recorded, dict):
        check_built_from(model_path, content_changes({"data file": recorded}, at={"data file": data_file}),
                         rebuild="pass the data file it was trained on with --data_path",
                         accept=f"{ACCEPT_ENV}=1", accepted=accepted_by_environment())


def check_vocabulary(model: Tagger, data: PreparedData, data_path: object) -> None:
    """The data file must be the one the model was trained on: the same vocabulary sizes (over
    an encoder, which reads subwords, the same label counts)."""
    config = model.config
    here = {"words": len(data.words), "chars": len(data.chars),
            "labels": [len(data.labels[t]) for t in data.tasks]}
    there = {"labels": list(config.n_labels)}
    if not isinstance(config, EncoderConfig):
        there = {"words": config.n_words, "chars": config.n_chars, **there}
    here = {k: here[k] for k in there}
    differ = [f"{k} {there[k]} in the model, {here[k]} here" for k in here if here[k] != there[k]]
    if differ:
        raise InputError("this data file is not the one the model was trained on ("
                         + "; ".join(differ) + "); pass that one with --data_path", data_path)


def check_labels(saved: object, data: PreparedData, task_ids: list[int], path: Path) -> None:
    """The label names the model file recorded must be the data file's, in the same order: a
    head's outputs are label ids, so a data file that lists the labels of a task otherwise (one
    of an earlier format, or prepared from other files) would read every prediction as another
    label. Model files written before the names were recorded are taken as they are, with a note."""
    if saved is None:
        print(f"note: {display_path(path)} records no label names (written by an earlier version); "
              "its labels are taken to be the data file's, in its order", file=sys.stderr)
        return
    if not (isinstance(saved, dict) and all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                            for v in saved.values())):
        raise InputError("'labels' must be a dict {task: [label, ...]}", path)
    for task_id in task_ids:
        name = data.tasks[task_id]
        if name in saved and saved[name] != list(data.labels[name]):
            raise InputError(f"the labels of task {name!r} differ from the data file's (the model "
                             f"was trained on another data file, or one of an earlier format): "
                             f"{_first_difference(saved[name], list(data.labels[name]))}; "
                             "pass the data file it was trained on with --data_path, or retrain",
                             path)


def _first_difference(model: list[str], data: list[str]) -> str:
    if len(model) != len(data):
        return f"{len(model)} labels in the model, {len(data)} here"
    i = next(i for i, (a, b) in enumerate(zip(model, data)) if a != b)
    return f"label {i} is {model[i]!r} in the model, {data[i]!r} here"


def select_tasks(trained: TrainedModel, names: str | None) -> list[int]:
    """Task ids from "pos,chunk" (default: every task the model was trained on)."""
    trained_names = {trained.data.tasks[t]: t for t in trained.task_ids}
    if not names:
        return list(trained.task_ids)
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in trained_names:
            raise InputError(f"the model was not trained on task {name!r}; its tasks: "
                             f"{', '.join(trained_names)}", "--tasks")
        if trained_names[name] in chosen:
            raise InputError(f"task {name!r} is named twice", "--tasks")
        chosen.append(trained_names[name])
    if not chosen:
        raise InputError(f"no task named in {names!r}; the model's tasks: "
                         f"{', '.join(trained_names)}", "--tasks")
    return chosen


# ---- input ----------------------------------------------------------------------------------
def gold_tags(sentences: TaggedSentences, task: str, data: PreparedData) -> list[list[str]]:
    """The gold column of `task` in the data file's tag scheme, every tag one the model knows."""
    tags, _ = tags_in_scheme(sentences, task, data.schemes[task])
    known = set(data.labels[task])
    for index, sentence in enumerate(tags):
        for position, tag in enumerate(sentence):
            if tag not in known:
                path, line = sentences.where(index, position)
                raise InputError(f"{task} tag {tag!r} is not one the model knows "
                                 f"({', '.join(data.labels[task][:12])}, ...)", path, line)
    return tags


def encode(sentences: TaggedSentences, data: PreparedData, task_ids: Sequence[int],
           gold: bool, encoder: str | None = None) -> dict[int, Split]:
    """One Split per task over the same sentences; labels are the gold tags, or placeholders.
    For a model over an `encoder` folder, the words as written with their subwords from its
    tokenizer."""
    words, chars = index_of(data.words), index_of(data.chars)
    forms = [PAD, UNK] + sorted({w for s in sentences.words for w in s}) if encoder else None
    form_index = index_of(forms) if forms else None
    if not gold:
        placeholder = [[_PLACEHOLDER] * len(s) for s in sentences.words]
        split = encode_split(sentences.words, placeholder, words, chars, {_PLACEHOLDER: 0}, form_index)
        splits = {t: split for t in task_ids}
    else:
        splits = {}
        for task_id in task_ids:
            task = data.tasks[task_id]
            tags = gold_tags(sentences, task, data)
            splits[task_id] = encode_split(sentences.words, tags, words, chars,
                                           index_of(data.labels[task]), form_index)
    if encoder:
        table = tokenize_forms(forms, load_tokenizer(encoder))
        splits = {t: piece_split(split, table) for t, split in splits.items()}
    return splits


# ---- tagging --------------------------------------------------------------------------------
def tag(trained: TrainedModel, splits: Mapping[int, Split], batch_size: int,
        device: str = "cpu") -> tuple[dict[str, list[list[str]]], dict[str, float]]:
    """Predicted tags per task and sentence, and the scores against the labels in `splits`
    (meaningful only for gold labels), through `Trainer.evaluate`."""
    data = trained.data
    tasks = [TaskData.of(data, t, train=split, dev=split, test=split) for t, split in splits.items()]
    config = TrainConfig(epochs=0, eval_batch_size=batch_size, eval_max_positions=MAX_POSITIONS,
                         device=device, progress=False)
    masks = {t: trained.masks[t] for t in splits if t in trained.masks}
    trainer = Trainer(trained.model, tasks, config, seed=0, masks=masks or None, echo=lambda _: None)
    predicted: dict[str, list] = {}
    scores = trainer.evaluate("test", predicted)
    tags = {task.name: [[task.labels[i] for i in sentence] for sentence in predicted[task.name]]
            for task in tasks}
    return tags, scores


def conll_lines(sentences: TaggedSentences, tags: Mapping[str, list[list[str]]]) -> Iterator[str]:
    """Word, then one column per task; a blank line after every sentence."""
    columns = list(tags.values())
    for index, words in enumerate(sentences.words):
        for position, word in enumerate(words):
            yield " ".join([word] + [column[index][position] for column in columns])
        yield ""
