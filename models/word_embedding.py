"""Word embedding: fastNLP's `StaticEmbedding(lower=True, word_dropout=0.01, dropout=0.5)` as the
original code calls it.

One trainable row per lower-cased form (which forms get rows, and their order: utils.data.vocab; a
token's row: utils.data.datafile.word_row). Initial values as fastNLP's: the pretrained vectors where
the data file has them, zero for PAD and UNK, uniform in +-sqrt(3 / dim) for the other rows (drawn
here, from the training run's seed, as fastNLP drew them when the model was built). In training,
each real token is replaced by UNK with probability `word_dropout` (padding never is), and dropout
is applied to the vectors.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from models.dropout import Dropout
from models.inputs import PAD_ID, UNK_ID


class WordEmbedding(nn.Embedding):
    """`nn.Embedding` (PAD row zero, no gradient) with word dropout to UNK and vector dropout."""

    def __init__(self, n_rows: int, dim: int, word_dropout: float, dropout: float) -> None:
        super().__init__(n_rows, dim, padding_idx=PAD_ID)
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word dropout must lie in [0, 1), got {word_dropout}")
        self.word_dropout = word_dropout
        self.dropout = Dropout(dropout)

    def reset_parameters(self) -> None:
        """fastNLP's init of rows without a pretrained vector; PAD zero."""
        bound = math.sqrt(3.0 / self.embedding_dim)
        with torch.no_grad():
            nn.init.uniform_(self.weight, -bound, bound)
            self.weight[PAD_ID].zero_()

    @torch.no_grad()
    def load_pretrained_(self, rows: torch.Tensor) -> None:
        """Set the first len(rows) rows (PAD, UNK, the forms with a vector) to `rows`."""
        if rows.dim() != 2 or rows.size(1) != self.embedding_dim or rows.size(0) > self.num_embeddings:
            raise ValueError(f"pretrained rows of shape {tuple(rows.shape)} do not fit an embedding "
                             f"of {self.num_embeddings} x {self.embedding_dim}")
        self.weight[:rows.size(0)] = rows

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        if self.training and self.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.word_dropout
            words = words.masked_fill(drop & words.ne(PAD_ID), UNK_ID)
        return self.dropout(super().forward(words))
