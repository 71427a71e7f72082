"""The CNN-BiLSTM tagger: the original's `CNNBiLSTM`, `HierarchicalShareCNNLSTM` and `RandomLSTM`.

word embedding (+ char CNN) -> stacked BiLSTM -> dropout -> one linear head per task (+ CRF):
- `cnn-lstm`: every task reads the top BiLSTM layer;
- `hier-lstm`: POS reads layer 1, the other tasks the top layer (same parameters as cnn-lstm);
- `random-lstm`: no char CNN, 50-d randomly initialised word embedding, no word dropout.
Dropout (rate `dropout`) sits where the original has it: on the word vectors, on the char
embeddings and the char CNN's output, and on the output of the BiLSTM layer a task reads; none
between the BiLSTM layers. Heads start xavier-uniform with zero bias. With a CRF the head's scores
go through log-softmax first, as in the original.

Parameter names are stable across the architectures, so masks and checkpoints line up:
`word_embed.weight`, `char_cnn.char_embed.weight`, `char_cnn.conv.{weight,bias}`,
`char_cnn.fc.{weight,bias}`, `lstm.<layer>.{weight_ih_l0,weight_hh_l0,bias_ih_l0,bias_hh_l0}[_reverse]`,
`heads.<task>.{weight,bias}`, `crfs.<task>.transitions` (soft sharing: models.soft;
building a model from its config: models.build).
`forward` returns one task's emission scores; `loss` and `decode` are separate so that a
`torch.func.functional_call` over `forward` is all that masking needs.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from models.bilstm import BiLSTMLayer
from models.char_cnn import CharCNN
from models.config import ModelConfig
from models.crf import CRF
from models.dropout import Dropout
from models.inputs import TaggerInput
from models.lstm_plan import Plan, batch_plan
from models.word_embedding import WordEmbedding


def make_heads(in_features: int, n_labels: list[int]) -> nn.ModuleList:
    """One linear head per task, xavier-uniform with zero bias (the original's initialisation)."""
    heads = nn.ModuleList(nn.Linear(in_features, n) for n in n_labels)
    for head in heads:
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)
    return heads


class Tagger(nn.Module):
    """`cnn-lstm`, `hier-lstm` or `random-lstm` (see the module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.word_embed = WordEmbedding(config.n_words, config.word_dim, config.word_dropout,
                                        config.dropout)
        self.char_cnn = CharCNN(config.n_chars, config.char_dim, config.char_filters,
                                config.char_kernel, config.dropout,
                                config.char_word_markers) if config.uses_chars else None
        input_size = config.word_dim + (config.char_filters if config.uses_chars else 0)
        self.build_encoder(input_size)
        self.dropout = Dropout(config.dropout)
        self.heads = make_heads(2 * config.hidden_size, config.n_labels)
        self.crfs = nn.ModuleList(CRF(n) for n in config.n_labels) if config.crf else None

    def build_encoder(self, input_size: int) -> None:
        """One single-layer BiLSTM per layer, so every task can read any layer."""
        sizes = [input_size] + [2 * self.config.hidden_size] * self.config.n_layer
        self.lstm = nn.ModuleList(BiLSTMLayer(sizes[i], self.config.hidden_size)
                                  for i in range(self.config.n_layer))

    def encode(self, x: torch.Tensor, lengths: torch.Tensor, plan: Plan, task_id: int) -> torch.Tensor:
        """The output of the BiLSTM layer task `task_id` reads."""
        for layer in self.lstm[:self.config.task_layers[task_id]]:
            x = layer.run(x, lengths, plan)
        return x

    def embed(self, batch: TaggerInput) -> torch.Tensor:
        """Word vectors, and the char CNN's features where the model has one: [B, T, input]."""
        tokens = self.word_embed(batch.words)
        if self.char_cnn is None:
            return tokens
        chars = self.char_cnn(batch.chars, batch.char_mask)
        # zeros of the char features' dtype: under autocast the CNN output may be bf16.
        char_features = chars.new_zeros(tokens.shape[:2] + (chars.size(1),))
        char_features = char_features.masked_scatter(batch.mask.unsqueeze(2), chars)
        return torch.cat([tokens, char_features], dim=2)

    def forward(self, batch: TaggerInput, task_id: int) -> torch.Tensor:
        """Emission scores [B, T, n_labels[task_id]] of one task."""
        x = self.embed(batch)
        plan = batch_plan(batch.lengths, x.device)
        x = self.dropout(self.encode(x, batch.lengths, plan, task_id))
        # Zero past each sentence's end, as packing does: no score or gradient comes from padding.
        hidden = x.masked_fill(~batch.mask.unsqueeze(2), 0.0)
        return self.heads[task_id](hidden)

    def loss(self, emissions: torch.Tensor, batch: TaggerInput, task_id: int) -> torch.Tensor:
        """CRF negative log-likelihood per sentence, or cross-entropy per token (both means)."""
        if self.crfs is not None:
            return self.crfs[task_id].nll(emissions.log_softmax(-1), batch.labels, batch.mask)
        return nn.functional.cross_entropy(emissions[batch.mask], batch.labels[batch.mask])

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, batch: TaggerInput, task_id: int) -> list[list[int]]:
        """Predicted label ids of every sentence, cut to its length."""
        if self.crfs is not None:
            return self.crfs[task_id].decode(emissions.log_softmax(-1), batch.mask)
        best = emissions.argmax(dim=2).tolist()
        return [row[:n] for row, n in zip(best, batch.lengths.tolist())]

    def accept_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """The state dict to load for start weights `state` (models.soft widens a flat one)."""
        return state
