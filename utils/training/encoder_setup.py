"""What a run over a pretrained transformer encoder needs besides the training loop: the model's
config from the folder, and the data file's splits with their subwords."""
from __future__ import annotations

import os
from typing import Sequence

from models.encoder_config import EncoderConfig
from utils.data.datafile import PreparedData
from utils.data.encoder_folder import (check_folder, folder_fingerprint, load_tokenizer,
                                       transformers_module)
from utils.data.subword_batching import with_pieces
from utils.data.subwords import MAX_WORD_PIECES, form_pieces
from utils.errors import InputError

# Position ids of these models start after the padding id (RoBERTa's offset of 2).
OFFSET_POSITION_TYPES = ("roberta", "xlm-roberta", "camembert", "longformer")


def encoder_data(data: PreparedData, data_path: str | os.PathLike,
                 encoder: str | os.PathLike) -> PreparedData:
    """`data` with its splits carrying the subwords of the encoder's tokenizer (cached)."""
    return with_pieces(data, form_pieces(data_path, data.forms, encoder), data_path)


def encoder_config(encoder: str | os.PathLike, data: PreparedData, *, dropout: float, crf: bool,
                   pooling: str, layers: Sequence[int | None] | None = None) -> EncoderConfig:
    """The EncoderConfig of the folder for the data file's tasks; `layers` (hierarchical
    sharing: the task set's layer of each task, None = the top) else every task reads the top."""
    folder = check_folder(encoder)
    tokenizer = load_tokenizer(folder)
    hf = transformers_module().AutoConfig.from_pretrained(str(folder), local_files_only=True)
    prefix, suffix = special_tokens(tokenizer)
    n_layer = int(hf.num_hidden_layers)
    task_layers = [n_layer if layer is None else layer for layer in (layers or [None] * len(data.tasks))]
    beyond = [f"{task} reads layer {layer}" for task, layer in zip(data.tasks, task_layers)
              if layer > n_layer]
    if beyond:
        raise InputError(f"in hierarchical sharing {', '.join(beyond)} (the task set's `layer`), "
                         f"but the encoder has {n_layer} layers", folder)
    limit = max_length(tokenizer, hf) - len(prefix) - len(suffix)
    if limit < MAX_WORD_PIECES:
        raise InputError(f"the encoder takes {limit} subwords at once; at least {MAX_WORD_PIECES} "
                         "are needed", folder)
    return EncoderConfig(encoder=str(folder), fingerprint=folder_fingerprint(folder),
                         model_type=str(hf.model_type),
                         n_labels=[len(data.labels[t]) for t in data.tasks], n_layer=n_layer,
                         hidden_size=int(hf.hidden_size), prefix_ids=prefix, suffix_ids=suffix,
                         pad_id=int(tokenizer.pad_token_id or 0), max_pieces=limit,
                         dropout=dropout, crf=crf, pooling=pooling, task_layers=task_layers)


def special_tokens(tokenizer: object) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after a sequence of words."""
    encoded = tokenizer([["x"]], is_split_into_words=True)
    ids, words = encoded["input_ids"][0], encoded.word_ids(0)
    first = words.index(0)
    last = len(words) - 1 - words[::-1].index(0)
    return list(ids[:first]), list(ids[last + 1:])


def max_length(tokenizer: object, hf_config: object) -> int:
    """The most tokens (special ones included) the model reads at once."""
    positions = int(getattr(hf_config, "max_position_embeddings", 512))
    if hf_config.model_type in OFFSET_POSITION_TYPES:
        positions -= int(getattr(hf_config, "pad_token_id", 1) or 0) + 1
    declared = int(getattr(tokenizer, "model_max_length", positions))
    return min(positions, declared) if declared < 10 ** 6 else positions
