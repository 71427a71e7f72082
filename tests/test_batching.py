"""Batches: padded tensors match the encoded sentences; bucketing covers every sentence once."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import conll03_sample, synthetic_data  # noqa: E402

from utils.data.batching import SplitIndex, bucket_batches, eval_batches  # noqa: E402


def test_batch_holds_the_sentences_words_labels_and_chars():
    data = conll03_sample(30, 5)
    split = data.data["ner"]["train"]
    index = SplitIndex(split)
    ids = torch.tensor([3, 0, 17, 9])
    batch = index.batch(ids)
    assert batch.lengths.tolist() == sorted(batch.lengths.tolist(), reverse=True)
    token = 0
    for row in range(4):
        n = int(batch.lengths[row])
        sid = [s for s in ids.tolist() if int(split.sent_lengths[s]) == n][0]
        start = int(index.sent_start[sid])
        assert torch.equal(batch.words[row, :n], split.words[start:start + n])
        assert torch.equal(batch.labels[row, :n], split.labels[start:start + n])
        assert batch.mask[row, :n].all() and not batch.mask[row, n:].any()
        assert not batch.words[row, n:].any()
        for t in range(start, start + n):
            k = int(split.word_lengths[t])
            c0 = int(index.char_start[t])
            word = "".join(data.chars[c] for c in batch.chars[token, :k].tolist())
            assert word.lower() == data.words[int(split.words[t])] or int(split.words[t]) == 1
            assert torch.equal(batch.chars[token, :k], split.chars[c0:c0 + k])
            assert batch.char_mask[token, :k].all() and not batch.char_mask[token, k:].any()
            token += 1
    assert token == batch.n_tokens == int(batch.mask.sum())


def test_bucket_batches_cover_each_sentence_once_and_cut_padding():
    lengths = torch.randint(1, 60, (1000,), generator=torch.Generator().manual_seed(0))
    batches = bucket_batches(lengths, 10, torch.Generator().manual_seed(1))
    ids = torch.cat(batches)
    assert sorted(ids.tolist()) == list(range(1000))
    assert all(len(b) <= 10 for b in batches)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    random_order = torch.randperm(1000, generator=torch.Generator().manual_seed(2)).split(10)
    padded_random = sum(len(b) * int(lengths[b].max()) for b in random_order)
    assert padded < 0.8 * padded_random


def test_bucket_batches_follow_the_generator():
    lengths = torch.randint(1, 30, (200,), generator=torch.Generator().manual_seed(0))
    first = bucket_batches(lengths, 8, torch.Generator().manual_seed(5))
    again = bucket_batches(lengths, 8, torch.Generator().manual_seed(5))
    other = bucket_batches(lengths, 8, torch.Generator().manual_seed(6))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert any(not torch.equal(a, b) for a, b in zip(first, other))


def test_eval_batches_cover_the_split_in_length_order():
    split = synthetic_data(n_train=37).data["pos"]["train"]
    batches = eval_batches(SplitIndex(split), 8)
    assert sum(len(b.lengths) for b in batches) == 37
    assert sum(b.n_tokens for b in batches) == split.n_tokens
    all_lengths = torch.cat([b.lengths for b in batches]).tolist()
    assert all_lengths == sorted(split.sent_lengths.tolist(), reverse=True)


def test_capped_eval_batches_give_long_sentences_their_own_batch_in_split_order():
    from test_model_fixtures import synthetic_data as make
    from utils.data.batching import in_split_order
    from utils.data.datafile import encode_split, index_of

    data = make(n_train=1)
    sentences = [["w1"] * n for n in (3, 400, 2, 5, 390, 4)] + [["w2" * 900, "w3"]]
    split = encode_split(sentences, [["A"] * len(s) for s in sentences], index_of(data.words),
                         index_of(data.chars), {"A": 0})
    index = SplitIndex(split)
    assert [len(b.lengths) for b in eval_batches(index, 100)] == [7]
    capped = eval_batches(index, 100, max_positions=500)
    # 400 and 390 tokens: alone (2 x 400 > 500); the 1,800-char word: its sentence's 2 tokens x
    # 1,800 chars fit in 32 x 500 char positions, but not with the 4 short sentences' 14 tokens
    assert [b.lengths.tolist() for b in capped] == [[400], [390], [5, 4, 3, 2], [2]]
    assert sorted(in_split_order(list(range(7)), split.sent_lengths)) == list(range(7))
    order = [int(n) for b in capped for n in b.lengths]
    assert [order[i] for i in in_split_order(list(range(7)), split.sent_lengths)] == [3, 400, 2, 5, 390, 4, 2]
