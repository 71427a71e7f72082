"""Batches for a transformer encoder: the word batches of utils.data.batching plus each sentence's
subwords (utils.data.subwords), built by index arithmetic.

A PieceBatch adds, for B sentences of at most S subwords in all (no special tokens; the model
adds them and cuts long sentences into windows, models.encoder_tagger):
  pieces        int64 [B, S]  subword ids, 0 at padding
  piece_mask    bool  [B, S]  True at real subwords
  first_piece   int64 [B, T]  the column in `pieces` of each word's first subword (0 at padding)
  piece_word    int64 [B, S]  the word (column in `words`) each subword belongs to (0 at padding)
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from utils.data.batching import Batch, SplitIndex
from utils.data.datafile import PreparedData, Split
from utils.data.subwords import PieceTable
from utils.errors import InputError


@dataclass
class PieceSplit(Split):
    """A Split whose tokens also have subwords: `table` holds the subwords of every form."""

    table: PieceTable | None = None

    def subset(self, n_sentences: int | None) -> "PieceSplit":
        base = super().subset(n_sentences)
        return PieceSplit(**{f.name: getattr(base, f.name) for f in fields(Split)}, table=self.table)


@dataclass
class PieceBatch(Batch):
    pieces: torch.Tensor | None = None
    piece_mask: torch.Tensor | None = None
    first_piece: torch.Tensor | None = None
    piece_word: torch.Tensor | None = None


class PieceIndex(SplitIndex):
    """SplitIndex whose batches carry the sentences' subwords."""

    def __init__(self, split: PieceSplit) -> None:
        super().__init__(split)
        self.table = split.table
        self.token_pieces = split.table.lengths[split.forms]          # [n_tokens]

    def batch(self, sentence_ids: torch.Tensor) -> PieceBatch:
        base = super().batch(sentence_ids)
        sentence_ids = torch.as_tensor(sentence_ids, dtype=torch.long)
        order = torch.sort(self.lengths[sentence_ids], descending=True, stable=True).indices
        sentence_ids = sentence_ids[order]                       # as the base batch orders them
        width = base.mask.size(1)
        positions = (self.sent_start[sentence_ids].unsqueeze(1) + torch.arange(width))
        positions = positions.masked_fill(~base.mask, 0)
        n_pieces = self.token_pieces[positions].masked_fill(~base.mask, 0)       # [B, T]
        first = torch.cumsum(n_pieces, 1) - n_pieces                             # [B, T]
        per_sentence = n_pieces.sum(1)
        s = int(per_sentence.max())
        piece_mask = torch.arange(s).unsqueeze(0) < per_sentence.unsqueeze(1)    # [B, S]
        # each real subword: its word's column, then its rank within the word
        flat_counts = n_pieces[base.mask]                                       # [N]
        word_col = torch.arange(width).expand_as(base.mask)[base.mask]
        piece_word = torch.zeros_like(piece_mask, dtype=torch.long)
        piece_word[piece_mask] = torch.repeat_interleave(word_col, flat_counts)
        forms = self.split.forms[positions[base.mask]]
        starts = torch.repeat_interleave(self.table.offsets[forms], flat_counts)
        token_first = torch.repeat_interleave(torch.cumsum(flat_counts, 0) - flat_counts, flat_counts)
        rank = torch.arange(int(flat_counts.sum())) - token_first
        pieces = torch.zeros_like(piece_mask, dtype=torch.long)
        pieces[piece_mask] = self.table.pieces[starts + rank]
        return PieceBatch(**{f.name: getattr(base, f.name) for f in fields(Batch)},
                          pieces=pieces, piece_mask=piece_mask,
                          first_piece=first.masked_fill(~base.mask, 0), piece_word=piece_word)


def index_for(split: Split) -> SplitIndex:
    """The batch index of a split: with subwords when the split has them."""
    return PieceIndex(split) if isinstance(split, PieceSplit) else SplitIndex(split)


def piece_split(split: Split, table: PieceTable) -> PieceSplit:
    """`split` (with its word forms) carrying the subword table of those forms."""
    return PieceSplit(**{f.name: getattr(split, f.name) for f in fields(Split)}, table=table)


def with_pieces(data: PreparedData, table: PieceTable, data_path: object) -> PreparedData:
    """`data` with every split carrying the subword table (InputError for a data file without
    word forms, prepared before encoder support)."""
    if not data.forms or len(data.forms) != int(table.lengths.numel()):
        raise InputError("the data file has no word forms as written (it was prepared before "
                         "encoder support); run prepare-data.py again", data_path)
    splits = {t: {s: piece_split(split, table) for s, split in parts.items()}
              for t, parts in data.data.items()}
    return PreparedData(data.setting, data.tasks, data.schemes, data.words, data.chars,
                        data.labels, data.embedding, splits, data.provenance, data.metrics,
                        data.layers, data.forms)
