"""A tagger over a pretrained transformer encoder (a local Hugging Face folder: BERT, RoBERTa,
DistilBERT, XLM-R families), in place of word embedding + char CNN + BiLSTM.

subwords of each sentence -> the encoder (`encoder`, the Hugging Face AutoModel, its pooler
dropped) -> the hidden states of the layer a task reads (1-based; the top one unless the task set's
`layer` says otherwise) -> each word read from its first subword (or the mean of its subwords) ->
dropout -> one linear head per task (+ CRF). A sentence longer than the encoder's maximum is cut
into windows of whole words that overlap: each word is read from the one window where it lies in
the core (the middle part), with up to half a window of context around it, so every word gets
exactly one prediction and none is truncated.

Parameter names: `encoder.<Hugging Face name>` (e.g. `encoder.encoder.layer.3.attention.self.
query.weight`), `heads.<task>.{weight,bias}`, `crfs.<task>.transitions`. The same `forward`,
`loss` and `decode` as models.tagger.Tagger, so the training loop and the masking serve both.
Importing this module imports `transformers` (models.build imports it only for an encoder).
"""
from __future__ import annotations

import bisect
from itertools import accumulate
from typing import Any, Mapping

import torch
from torch import nn

from models.crf import CRF
from models.dropout import Dropout
from models.encoder_config import EncoderConfig
from models.tagger import Tagger, make_heads
from utils.data.encoder_folder import check_folder, folder_fingerprint, transformers_module
from utils.errors import InputError

PRUNABLE = ("the encoder's linear weight matrices: attention query/key/value/output and "
            "feed-forward in/out of every layer; embeddings, LayerNorms, biases and heads are "
            "not pruned")


class EncoderTagger(nn.Module):
    """See the module docstring."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = load_pretrained(config)
        self.dropout = Dropout(config.dropout)
        self.heads = make_heads(config.hidden_size, config.n_labels)
        self.crfs = nn.ModuleList(CRF(n) for n in config.n_labels) if config.crf else None

    # ---- the forward pass --------------------------------------------------------------------
    def forward(self, batch: Any, task_id: int) -> torch.Tensor:
        """Emission scores [B, T, n_labels[task_id]] of one task."""
        states = self.piece_states(batch, self.config.task_layers[task_id])
        words = self.read_words(states, batch)
        hidden = self.dropout(words).masked_fill(~batch.mask.unsqueeze(2), 0.0)
        return self.heads[task_id](hidden)

    def piece_states(self, batch: Any, layer: int) -> torch.Tensor:
        """The hidden states [B, S, H] of layer `layer` at every subword of the batch."""
        lengths = batch.piece_mask.sum(1)
        limit = self.config.max_pieces
        if int(lengths.max()) <= limit:
            return self.run_rows(batch.pieces, lengths, layer)
        rows, row_lengths, places = [], [], []
        for b, n_words in enumerate(batch.lengths.tolist()):
            word_pieces = torch.bincount(batch.piece_word[b, :int(lengths[b])],
                                         minlength=n_words).tolist()
            for start, end, core_start, core_end in windows(word_pieces, limit):
                places.append((b, start, core_start, core_end))
                rows.append(batch.pieces[b, start:end])
                row_lengths.append(end - start)
        padded = nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=0)
        states = self.run_rows(padded, torch.tensor(row_lengths, device=padded.device), layer)
        sentence, column, window, window_column = [], [], [], []
        for w, (b, start, core_start, core_end) in enumerate(places):
            sentence += [b] * (core_end - core_start)
            column += range(core_start, core_end)
            window += [w] * (core_end - core_start)
            window_column += range(core_start - start, core_end - start)
        as_index = lambda values: torch.tensor(values, dtype=torch.long, device=states.device)
        out = states.new_zeros(batch.pieces.shape + (states.size(2),))
        return out.index_put((as_index(sentence), as_index(column)),
                             states[as_index(window), as_index(window_column)])

    def run_rows(self, pieces: torch.Tensor, lengths: torch.Tensor, layer: int) -> torch.Tensor:
        """Rows of subwords (each `lengths[i]` long) framed by the special tokens and run through
        the encoder; layer `layer`'s states at the subwords [R, S, H]."""
        prefix, suffix = self.config.prefix_ids, self.config.suffix_ids
        n_rows, width = pieces.shape
        total = len(prefix) + width + len(suffix)
        ids = torch.full((n_rows, total), self.config.pad_id, dtype=torch.long, device=pieces.device)
        columns = torch.arange(width, device=pieces.device).unsqueeze(0)
        inside = columns < lengths.unsqueeze(1)
        ids[:, len(prefix):len(prefix) + width] = pieces.masked_fill(~inside, self.config.pad_id)
        if prefix:
            ids[:, :len(prefix)] = torch.tensor(prefix, device=pieces.device)
        rows = torch.arange(n_rows, device=pieces.device)
        for j, token in enumerate(suffix):
            ids[rows, len(prefix) + lengths + j] = token
        attention = (torch.arange(total, device=pieces.device).unsqueeze(0)
                     < (len(prefix) + lengths + len(suffix)).unsqueeze(1)).long()
        out = self.encoder(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        return out.hidden_states[layer][:, len(prefix):len(prefix) + width]

    def read_words(self, states: torch.Tensor, batch: Any) -> torch.Tensor:
        """Each word's vector [B, T, H]: its first subword's state, or the mean of its subwords'."""
        hidden = states.size(2)
        if self.config.pooling == "first":
            return states.gather(1, batch.first_piece.unsqueeze(2).expand(-1, -1, hidden))
        kept = batch.piece_mask.unsqueeze(2).to(states.dtype)
        index = batch.piece_word.unsqueeze(2).expand(-1, -1, hidden)
        width = batch.mask.size(1)
        sums = states.new_zeros(states.size(0), width, hidden).scatter_add(1, index, states * kept)
        counts = kept.new_zeros(states.size(0), width, 1).scatter_add(1, batch.piece_word.unsqueeze(2), kept)
        return sums / counts.clamp(min=1.0)

    loss = Tagger.loss
    decode = Tagger.decode

    # ---- what pruning, the optimizer and the mask files ask of the network -------------------
    def prunable_names(self) -> list[str]:
        """Every weight matrix of a linear layer inside the encoder (see PRUNABLE)."""
        return [f"encoder.{name}.weight" for name, module in self.encoder.named_modules()
                if isinstance(module, nn.Linear)]

    def no_decay_names(self) -> set[str]:
        """Parameters without weight decay: biases and LayerNorms (as BERT and transformers)."""
        norms = {f"{name}." for name, module in self.named_modules()
                 if isinstance(module, nn.LayerNorm) or "layernorm" in type(module).__name__.lower()}
        return {name for name, _ in self.named_parameters()
                if name.endswith("bias") or any(name.startswith(prefix) for prefix in norms)}

    def mask_record(self) -> dict[str, Any]:
        """What a mask file records of the network it was found on."""
        return {"prunable": PRUNABLE,
                "encoder": {"path": self.config.encoder, "model_type": self.config.model_type,
                            "fingerprint": self.config.fingerprint}}

    def accept_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        return state


def load_pretrained(config: EncoderConfig) -> nn.Module:
    """The folder's AutoModel with its pretrained weights (offline), pooler dropped (never read);
    InputError when the folder is missing or changed since `config.fingerprint` was taken."""
    folder = check_folder(config.encoder)
    if config.fingerprint and folder_fingerprint(folder) != config.fingerprint:
        raise InputError("the encoder folder changed since this model was trained (its files' "
                         "sha256 differs); use the folder it was trained with", folder)
    model = transformers_module().AutoModel.from_pretrained(str(folder), local_files_only=True)
    if getattr(model, "pooler", None) is not None:
        model.pooler = None
    return model


def windows(word_pieces: list[int], limit: int) -> list[tuple[int, int, int, int]]:
    """(start, end, core_start, core_end) subword positions of the windows of one sentence whose
    words have `word_pieces` subwords each: every window at most `limit` subwords and cut between
    words, the cores (at most half a window, at least one word) covering each word once."""
    total = sum(word_pieces)
    if total <= limit:
        return [(0, total, 0, total)]
    ends = list(accumulate(word_pieces))
    starts = [end - n for end, n in zip(ends, word_pieces)]
    core_size, found, w = max(limit // 2, 1), [], 0
    while w < len(word_pieces):
        end_word = w + 1
        while end_word < len(word_pieces) and ends[end_word] - starts[w] <= core_size:
            end_word += 1
        core_start, core_end = starts[w], ends[end_word - 1]
        room = limit - (core_end - core_start)
        start = starts[bisect.bisect_left(starts, core_start - room // 2)]
        end = ends[bisect.bisect_right(ends, start + limit) - 1]         # the rest to the right
        start = starts[bisect.bisect_left(starts, end - limit)]          # and back to the left
        found.append((start, end, core_start, core_end))
        w = end_word
    return found
