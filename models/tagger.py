"""The CNN-BiLSTM tagger: word embeddings + char CNN -> stacked BiLSTM -> one linear head per task.

Parameter names are stable across both architectures, so masks and checkpoints line up:
`word_embed.weight`, `char_cnn.char_embed.weight`, `char_cnn.conv.{weight,bias}`,
`lstm.<layer>.{weight_ih_l0,weight_hh_l0,bias_ih_l0,bias_hh_l0}[_reverse]`,
`heads.<task>.{weight,bias}`, `crfs.<task>.{transitions,start,end}`.
`forward` returns one task's emission scores; `loss` and `decode` are separate so that a
`torch.func.functional_call` over `forward` is all that masking needs.
"""
from __future__ import annotations

import torch
from torch import nn

from models.bilstm import BiLSTMLayer, padded_path_index
from models.char_cnn import CharCNN
from models.config import ModelConfig
from models.dropout import Dropout
from models.crf import CRF
from utils.batching import Batch


class Tagger(nn.Module):
    """Flat (`lstm`: every task reads the top layer) or hierarchical (`hier-lstm`) tagger."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.word_embed = nn.Embedding(config.n_words, config.word_dim, padding_idx=0)
        self.char_cnn = CharCNN(config.n_chars, config.char_dim, config.char_filters,
                                config.char_kernel)
        sizes = [config.word_dim + config.char_filters] + [2 * config.hidden_size] * config.n_layer
        # One single-layer BiLSTM per layer, so every task can read any layer.
        self.lstm = nn.ModuleList(BiLSTMLayer(sizes[i], config.hidden_size)
                                  for i in range(config.n_layer))
        self.dropout = Dropout(config.dropout)
        self.heads = nn.ModuleList(nn.Linear(2 * config.hidden_size, n) for n in config.n_labels)
        self.crfs = nn.ModuleList(CRF(n) for n in config.n_labels) if config.crf else None

    def forward(self, batch: Batch, task_id: int) -> torch.Tensor:
        """Emission scores [B, T, n_labels[task_id]] of one task."""
        chars = self.char_cnn(batch.chars, batch.char_mask)
        tokens = self.word_embed(batch.words)
        # zeros of the char features' dtype: under autocast the CNN output may be bf16.
        char_features = chars.new_zeros(tokens.shape[:2] + (chars.size(1),))
        char_features = char_features.masked_scatter(batch.mask.unsqueeze(2), chars)
        x = self.dropout(torch.cat([tokens, char_features], dim=2))
        reversal = padded_path_index(batch.lengths, x.size(1), x.device)
        for layer in self.lstm[:self.config.task_layers[task_id]]:
            x = self.dropout(layer.run(x, batch.lengths, reversal))
        # Zero past each sentence's end, as packing does: no score or gradient comes from padding.
        hidden = x.masked_fill(~batch.mask.unsqueeze(2), 0.0)
        return self.heads[task_id](hidden)

    def loss(self, emissions: torch.Tensor, batch: Batch, task_id: int) -> torch.Tensor:
        """CRF negative log-likelihood per sentence, or cross-entropy per token (both means)."""
        if self.crfs is not None:
            return self.crfs[task_id].nll(emissions, batch.labels, batch.mask)
        return nn.functional.cross_entropy(emissions[batch.mask], batch.labels[batch.mask])

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, batch: Batch, task_id: int) -> list[list[int]]:
        """Predicted label ids of every sentence, cut to its length."""
        if self.crfs is not None:
            return self.crfs[task_id].decode(emissions, batch.mask)
        best = emissions.argmax(dim=2).tolist()
        return [row[:n] for row, n in zip(best, batch.lengths.tolist())]


def build_model(config: ModelConfig, embedding: torch.Tensor | None = None) -> Tagger:
    """A tagger; word embeddings start from `embedding` (trainable) when given."""
    model = Tagger(config)
    if embedding is not None:
        if tuple(embedding.shape) != (config.n_words, config.word_dim):
            raise ValueError(f"embedding shape {tuple(embedding.shape)} does not match "
                             f"({config.n_words}, {config.word_dim})")
        with torch.no_grad():
            model.word_embed.weight.copy_(embedding)
    return model
