"""The subwords of every word form of a data file, for a pretrained transformer encoder.

Words are read as written (the data file's `forms`, case kept) and tokenized by the model's own
fast tokenizer one word at a time (`is_split_into_words=True`, no special tokens): word-piece and
byte-level BPE tokenizers split a word the same way wherever it stands, so tokenizing each distinct
form once gives every sentence's subwords. A form that tokenizes to no subword (a zero-width or
control character) reads as the tokenizer's unknown token, so every word still gets a tag. A
word keeps at most MAX_WORD_PIECES subwords (only its first is read by default; a longer "word"
is a URL or noise).

The table is computed once per data file and tokenizer and cached beside the data file as
`<data file>.pieces-<tokenizer sha256, 16 digits>.pt`, with the sha256 of the data file and of the
tokenizer files; a cache whose fingerprints differ is computed again (and replaced atomically).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from utils.atomic import torch_save_atomic
from utils.data.encoder_folder import load_tokenizer, tokenizer_fingerprint
from utils.data.readers.text import sha256_of

MAX_WORD_PIECES = 16
CACHE_FORMAT = 1
_CHUNK = 4096                 # forms per tokenizer call


@dataclass
class PieceTable:
    """The subwords of form i: pieces[offsets[i]:offsets[i] + lengths[i]] (lengths >= 1)."""

    pieces: torch.Tensor      # int64 [n_pieces]
    offsets: torch.Tensor     # int64 [n_forms]
    lengths: torch.Tensor     # int64 [n_forms]

    def of(self, form: int) -> list[int]:
        start = int(self.offsets[form])
        return self.pieces[start:start + int(self.lengths[form])].tolist()


def tokenize_forms(forms: Sequence[str], tokenizer: Any) -> PieceTable:
    """Each form's subword ids (the unknown token's id for a form with none)."""
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    per_form: list[list[int]] = []
    for start in range(0, len(forms), _CHUNK):
        chunk = [[form] for form in forms[start:start + _CHUNK]]
        encoded = tokenizer(chunk, is_split_into_words=True, add_special_tokens=False)["input_ids"]
        per_form.extend((ids or [unk])[:MAX_WORD_PIECES] for ids in encoded)
    lengths = torch.tensor([len(ids) for ids in per_form], dtype=torch.long)
    offsets = torch.cumsum(lengths, 0) - lengths
    pieces = torch.tensor([i for ids in per_form for i in ids], dtype=torch.long)
    return PieceTable(pieces, offsets, lengths)


def cache_path(data_path: str | os.PathLike, tokenizer_sha: str) -> Path:
    return Path(f"{data_path}.pieces-{tokenizer_sha[:16]}.pt")


def form_pieces(data_path: str | os.PathLike, forms: Sequence[str],
                encoder_path: str | os.PathLike) -> PieceTable:
    """The PieceTable of the data file's forms for the encoder folder's tokenizer, from the cache
    when its fingerprints match, else tokenized now and cached."""
    tokenizer_sha = tokenizer_fingerprint(encoder_path)
    fingerprint = {"data_sha256": sha256_of(data_path), "tokenizer_sha256": tokenizer_sha,
                   "n_forms": len(forms)}
    path = cache_path(data_path, tokenizer_sha)
    cached = _read_cache(path)
    if cached is not None and cached.get("fingerprint") == fingerprint:
        return PieceTable(cached["pieces"], cached["offsets"], cached["lengths"])
    table = tokenize_forms(list(forms), load_tokenizer(encoder_path))
    torch_save_atomic({"format": CACHE_FORMAT, "fingerprint": fingerprint, "pieces": table.pieces,
                       "offsets": table.offsets, "lengths": table.lengths}, path)
    return table


def _read_cache(path: Path) -> dict[str, Any] | None:
    """The cache's content, or None when it is missing, unreadable or of another format."""
    if not path.is_file():
        return None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:                 # a damaged cache is computed again
        return None
    if not isinstance(loaded, dict) or loaded.get("format") != CACHE_FORMAT:
        return None
    return loaded
