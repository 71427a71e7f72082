"""Batches of sentences from a flat Split: padded tensors built by index arithmetic, no Python loops.

One pass over a task's training sentences is cut into batches in one of three ways:
- `fastnlp_bucket_batches` (bucketing "fastnlp", the default): fastNLP 0.5.0's BucketSampler,
  which the original code bucketed with, draw for draw;
- `bucket_batches` (bucketing "tight"): shuffle the sentences, sort by length within chunks of
  `bucket_chunks` batches, cut into batches and shuffle the batch order, so a batch holds
  sentences of nearly equal length (less padding, faster) while the order stays random;
- `random_batches`: a random permutation cut into batches (fastNLP's RandomSampler), which the
  original's multi-task trainers use for their first epoch (seq-label) or always (re-seq-label).
All give ceil(sentences / batch_size) batches. Every batch is sorted by length, longest first, as
packed sequences want.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from utils.data.datafile import Split


@dataclass
class Batch:
    """One batch of B sentences, longest first; T = longest sentence, C = longest word."""

    words: torch.Tensor        # int64 [B, T], 0 = padding
    labels: torch.Tensor       # int64 [B, T], 0 at padding (masked out)
    mask: torch.Tensor         # bool  [B, T], True at real tokens
    lengths: torch.Tensor      # int64 [B], on the CPU (pack_padded_sequence wants it there)
    chars: torch.Tensor        # int64 [N, C] for the N real tokens, in row-major order of mask
    char_mask: torch.Tensor    # bool  [N, C]

    @property
    def n_tokens(self) -> int:
        return int(self.chars.size(0))

    def to(self, device: torch.device | str) -> "Batch":
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if name != "lengths" and value is not None:
                moved[name] = value.to(device, non_blocking=True)
        return type(self)(**moved)


class SplitIndex:
    """A Split plus the offsets that turn sentence ids into batches quickly."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.lengths = split.sent_lengths
        self.sent_start = torch.cumsum(split.sent_lengths, 0) - split.sent_lengths
        self.char_start = torch.cumsum(split.word_lengths, 0) - split.word_lengths

    def __len__(self) -> int:
        return int(self.lengths.numel())

    def batch(self, sentence_ids: torch.Tensor) -> Batch:
        """The batch of these sentences (any order in; sorted longest first out)."""
        sentence_ids = torch.as_tensor(sentence_ids, dtype=torch.long)
        lengths = self.lengths[sentence_ids]
        lengths, order = torch.sort(lengths, descending=True, stable=True)
        sentence_ids = sentence_ids[order]
        width = int(lengths[0])
        steps = torch.arange(width)
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)
        positions = (self.sent_start[sentence_ids].unsqueeze(1) + steps).masked_fill(~mask, 0)
        words = self.split.words[positions].masked_fill(~mask, 0)
        labels = self.split.labels[positions].masked_fill(~mask, 0)
        tokens = positions[mask]
        word_lengths = self.split.word_lengths[tokens]
        char_steps = torch.arange(int(word_lengths.max()))
        char_mask = char_steps.unsqueeze(0) < word_lengths.unsqueeze(1)
        char_pos = (self.char_start[tokens].unsqueeze(1) + char_steps).masked_fill(~char_mask, 0)
        chars = self.split.chars[char_pos].masked_fill(~char_mask, 0)
        return Batch(words, labels, mask, lengths, chars, char_mask)


def bucket_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                   bucket_chunks: int = 50) -> list[torch.Tensor]:
    """Sentence ids of one epoch's training batches, length-bucketed (see module docstring)."""
    order = torch.randperm(lengths.numel(), generator=generator)
    chunk = batch_size * bucket_chunks
    batches = []
    for start in range(0, order.numel(), chunk):
        ids = order[start:start + chunk]
        ids = ids[torch.sort(lengths[ids], descending=True, stable=True).indices]
        batches.extend(ids.split(batch_size))
    shuffle = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffle]


def random_batches(n_sentences: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Sentence ids of one pass in random order, cut into batches (the last may be smaller)."""
    if n_sentences == 0:
        return []
    return list(torch.randperm(n_sentences, generator=generator).split(batch_size))


def fastnlp_bucket_batches(lengths: torch.Tensor, batch_size: int, rng: np.random.RandomState,
                           num_buckets: int = 10) -> list[torch.Tensor]:
    """fastNLP 0.5.0 BucketSampler's batches, with the same numpy draws for the same `rng` state.

    The sentences, sorted by length (stable), are split into `num_buckets` equal ranges (the last
    takes the remainder). Bucket by bucket, the ids left over from the previous bucket and this
    bucket's ids are shuffled together and cut into full batches; what does not fill a batch
    carries over. The final leftover becomes one short batch, the batch order is shuffled, and the
    batches are joined into one list that the data loader cuts into consecutive `batch_size`
    groups: after the short batch every group straddles two batches (a fastNLP quirk, kept).
    """
    n = int(lengths.numel())
    if n == 0:
        return []
    num_buckets = min(num_buckets, n)   # fastNLP refuses fewer sentences than buckets: one each here
    by_length = torch.sort(lengths, stable=True).indices.tolist()
    per_bucket = n // num_buckets
    batches, carried = [], []
    for b in range(num_buckets):
        end = n if b == num_buckets - 1 else per_bucket * (b + 1)
        carried.extend(by_length[per_bucket * b:end])
        full = len(carried) // batch_size
        rng.shuffle(carried)
        batches.extend(carried[i * batch_size:(i + 1) * batch_size] for i in range(full))
        carried = carried[full * batch_size:]
    batches.append(carried)
    rng.shuffle(batches)
    flat = torch.tensor([i for batch in batches for i in batch], dtype=torch.long)
    return list(flat.split(batch_size))


# An evaluation batch's padded size is capped in word positions (sentences x longest sentence);
# its characters (tokens x longest word) may take this many times as many positions, a word
# position costing about as much memory as that many character positions (BiLSTM states against
# the char CNN's 30 channels).
CHAR_POSITIONS_PER_WORD = 32


def eval_order(lengths: torch.Tensor) -> torch.Tensor:
    """Sentence ids longest first (ties in split order): the order evaluation batches take."""
    return torch.sort(lengths, descending=True, stable=True).indices


def eval_batches(index: SplitIndex, batch_size: int, max_positions: int = 0) -> list[Batch]:
    """Every sentence once, sorted by length (least padding); built once per split and reused.
    `max_positions` > 0 also caps a batch's padded size (see CHAR_POSITIONS_PER_WORD), so very
    long sentences or words come in smaller batches (a sentence alone may exceed the cap)."""
    order = eval_order(index.lengths)
    if max_positions <= 0:
        return [index.batch(ids) for ids in order.split(batch_size)]
    return [index.batch(ids) for ids in _capped(index, order, batch_size, max_positions)]


def _capped(index: SplitIndex, order: torch.Tensor, batch_size: int,
            max_positions: int) -> list[torch.Tensor]:
    lengths = index.lengths[order].tolist()
    per_sentence = index.split.word_lengths.split(index.lengths.tolist())
    longest_word = [int(per_sentence[i].max()) if lengths[n] else 0
                    for n, i in enumerate(order.tolist())]
    groups, start = [], 0
    while start < len(lengths):
        end, tokens, word = start, 0, 0
        while end < len(lengths) and end - start < batch_size:
            grown_tokens, grown_word = tokens + lengths[end], max(word, longest_word[end])
            too_big = ((end - start + 1) * lengths[start] > max_positions
                       or grown_tokens * grown_word > CHAR_POSITIONS_PER_WORD * max_positions)
            if end > start and too_big:
                break
            end, tokens, word = end + 1, grown_tokens, grown_word
        groups.append(order[start:end])
        start = end
    return groups


def in_split_order(items: list, lengths: torch.Tensor) -> list:
    """Per-sentence results listed in evaluation order (`eval_order`) put back in split order."""
    restored: list = [None] * len(items)
    for position, sentence in enumerate(eval_order(lengths).tolist()):
        restored[sentence] = items[position]
    return restored
