"""A local Hugging Face model folder (config, weights, fast tokenizer), read offline.

`transformers` is an optional dependency (requirements-encoder.txt): only the encoder path imports
it, through `transformers_module`, and a user without it gets one line saying how to install it.
Nothing is ever downloaded: loading is `local_files_only=True` with the hub switched off.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from utils.errors import InputError

INSTALL_HINT = ("encoders need the transformers package: run `make encoder` "
                "(pip install -r requirements-encoder.txt)")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model",
                   "spiece.model")
# Byte-level BPE tokenizers need a space before every word to tokenize words one by one.
PREFIX_SPACE_TYPES = ("roberta", "longformer", "bart", "gpt2")


def transformers_module() -> Any:
    """The `transformers` package, offline; InputError with the install line when it is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import transformers
    except ImportError:
        raise InputError(INSTALL_HINT, "--encoder") from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def check_folder(path: str | os.PathLike) -> Path:
    """`path` as a Path if it is a model folder (config.json, a weights file, tokenizer files);
    else InputError naming it and what is missing."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError("not a folder; expected a local Hugging Face model folder (config.json, "
                         "model.safetensors, tokenizer files)", folder)
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        missing.append("tokenizer.json")
    if missing:
        raise InputError(f"not a Hugging Face model folder: no {', '.join(missing)}", folder)
    return folder


def model_type(path: str | os.PathLike) -> str:
    """The folder's `model_type` (bert, roberta, distilbert, xlm-roberta, ...)."""
    config = transformers_module().AutoConfig.from_pretrained(str(check_folder(path)),
                                                              local_files_only=True)
    return str(config.model_type)


def load_tokenizer(path: str | os.PathLike) -> Any:
    """The folder's own fast tokenizer; InputError when it has none (words are aligned to subwords
    through the fast tokenizers' word_ids)."""
    folder = check_folder(path)
    auto = transformers_module().AutoTokenizer
    extra = {"add_prefix_space": True} if model_type(folder) in PREFIX_SPACE_TYPES else {}
    try:
        tokenizer = auto.from_pretrained(str(folder), local_files_only=True, **extra)
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"cannot load its tokenizer: {(str(err).splitlines() or [''])[0][:200]}",
                         folder) from None
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("its tokenizer is not a fast tokenizer (tokenizer.json); word alignment "
                         "needs one", folder)
    return tokenizer


def files_sha256(folder: Path, names: tuple[str, ...]) -> str:
    """One sha256 over the named files the folder has (name and bytes of each, in order)."""
    digest = hashlib.sha256()
    for name in names:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def tokenizer_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the folder's tokenizer files (what decides the subwords)."""
    return files_sha256(check_folder(path), TOKENIZER_FILES)


def folder_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the folder's config, weights and tokenizer files (what decides the model)."""
    return files_sha256(check_folder(path), ("config.json",) + WEIGHT_FILES + TOKENIZER_FILES)
