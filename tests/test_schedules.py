"""Batch schedules against the original's trainers: re-seq-label's batch counts per task per epoch,
seq-label's task order and first-epoch sampling, and fastNLP's BucketSampler draw for draw."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from needs import need_module
from utils.data.batching import bucket_batches, fastnlp_bucket_batches, random_batches
from utils.training.schedules import epoch_cycles, make_schedule


def lengths_of(sizes: dict[int, int]) -> dict[int, torch.Tensor]:
    """Sentence lengths 1..n per task (distinct enough to tell bucketed from random batches)."""
    return {t: torch.arange(1, n + 1) for t, n in sizes.items()}


# ---- re-seq-label ----------------------------------------------------------------------------
def test_re_seq_label_batch_counts_per_task_per_epoch():
    """Tasks of 25, 7 and 12 sentences, batch 5: 5, 2 and 3 batches per pass, so an epoch is
    5 + 2 + 3 = 10 cycles. A task draws one batch per cycle from its stream; the draw after the
    stream's last batch restarts it and yields nothing (the slot is lost). By hand:
    - 5 batches: epoch 1 = cycles 1-5 drawn, 6 lost, 7-10 drawn (4 of the new pass): 9;
      epoch 2 = the pass's 5th, lost, 5, lost, 2: 8.
    - 2 batches: drawn, drawn, lost, repeated: epoch 1 = 7 (ends 1 into a pass); epoch 2 = 1, lost,
      2, lost, 2, lost, 2: 7.
    - 3 batches: 3, lost, 3, lost, 2 = 8 (ends 2 into a pass); epoch 2 = 1, lost, 3, lost, 3,
      lost: 7."""
    schedule = make_schedule("re-seq-label", lengths_of({0: 25, 1: 7, 2: 12}), 5,
                             torch.Generator().manual_seed(0))
    epoch1 = Counter(t for t, _ in schedule.epoch(1))
    epoch2 = Counter(t for t, _ in schedule.epoch(2))
    assert epoch1 == {0: 9, 1: 7, 2: 8}
    assert epoch2 == {0: 8, 1: 7, 2: 7}


def test_re_seq_label_epoch_counts_every_task_of_the_data_file_when_one_is_trained():
    """The same data file (tasks of 25, 7 and 12 sentences, batch 5: 10 cycles per epoch), only
    task 1 trained (`--tasks 1`): the epoch is still 10 cycles, as the original's trainer counts
    every task of its data file. Task 1 has 2 batches per pass, so by hand:
    - epoch 1: drawn, drawn, lost, drawn, drawn, lost, drawn, drawn, lost, drawn = 7, ending 1
      batch into a pass;
    - epoch 2: drawn, lost, drawn, drawn, lost, drawn, drawn, lost, drawn, drawn = 7, ending
      with the pass;
    - epoch 3: lost, drawn, drawn, lost, drawn, drawn, lost, drawn, drawn, lost = 6.
    Counting the trained task alone would give 2 cycles and 2 batches."""
    every = {0: 25, 1: 7, 2: 12}
    cycles = epoch_cycles(every.values(), 5)
    assert cycles == 5 + 2 + 3
    schedule = make_schedule("re-seq-label", lengths_of({1: 7}), 5, torch.Generator().manual_seed(0),
                             cycles_per_epoch=cycles)
    assert [len(list(schedule.epoch(e))) for e in (1, 2, 3)] == [7, 7, 6]
    alone = make_schedule("re-seq-label", lengths_of({1: 7}), 5, torch.Generator().manual_seed(0))
    assert len(list(alone.epoch(1))) == 2


def test_re_seq_label_streams_are_whole_passes_that_carry_over_epochs():
    schedule = make_schedule("re-seq-label", lengths_of({0: 23, 1: 9}), 4,
                             torch.Generator().manual_seed(1))
    drawn = {0: [], 1: []}
    for epoch in (1, 2, 3):
        for t, ids in schedule.epoch(epoch):
            assert len(ids) <= 4
            drawn[t].append(ids)
    # 6 and 3 batches per pass: each pass is a permutation of the task's sentences, and passes
    # run on across epoch ends (an epoch of 9 cycles ends inside task 0's second pass)
    for t, per_pass, n in ((0, 6, 23), (1, 3, 9)):
        for start in range(0, len(drawn[t]) - per_pass + 1, per_pass):
            assert sorted(torch.cat(drawn[t][start:start + per_pass]).tolist()) == list(range(n))


def test_re_seq_label_resumes_its_streams():
    lengths = lengths_of({0: 25, 1: 7})
    whole = make_schedule("re-seq-label", lengths, 5, torch.Generator().manual_seed(2))
    list(whole.epoch(1))
    expected = [(t, ids.tolist()) for t, ids in whole.epoch(2)]
    gen = torch.Generator().manual_seed(2)
    first = make_schedule("re-seq-label", lengths, 5, gen)
    list(first.epoch(1))
    state, gen_state = first.state_dict(), gen.get_state()
    gen2 = torch.Generator()
    gen2.set_state(gen_state)
    resumed = make_schedule("re-seq-label", lengths, 5, gen2)
    resumed.load_state_dict(state)
    assert [(t, ids.tolist()) for t, ids in resumed.epoch(2)] == expected


# ---- seq-label -------------------------------------------------------------------------------
def test_seq_label_one_task_order_per_epoch_until_every_batch_is_used():
    sizes = {0: 30, 1: 10, 2: 20}                     # 3, 1 and 2 batches of 10
    schedule = make_schedule("seq-label", lengths_of(sizes), 10, torch.Generator().manual_seed(3))
    orders = []
    for epoch in (1, 2, 3, 4):
        items = list(schedule.epoch(epoch))
        assert Counter(t for t, _ in items) == {0: 3, 1: 1, 2: 2}
        for t, n in sizes.items():                    # every sentence once per epoch
            assert sorted(torch.cat([ids for u, ids in items if u == t]).tolist()) == list(range(n))
        order = [t for t, _ in items[:3]]
        assert sorted(order) == [0, 1, 2]
        rest = [t for t in order if t != 1]           # task 1 is used up after the first cycle
        assert [t for t, _ in items[3:]] == rest + [0]
        orders.append(tuple(order))
    assert len(set(orders)) > 1                       # a fresh order each epoch


def spread(batches, lengths) -> float:
    """Mean (longest - shortest) length within a batch."""
    return sum(float(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)


@pytest.mark.parametrize("bucketing", ["tight", "fastnlp"])
def test_seq_label_first_epoch_random_later_epochs_bucketed(bucketing):
    lengths = lengths_of({0: 400})
    schedule = make_schedule("seq-label", lengths, 10, torch.Generator().manual_seed(4), bucketing)
    first = [ids for _, ids in schedule.epoch(1)]
    second = [ids for _, ids in schedule.epoch(2)]
    assert spread(first, lengths[0]) > 150            # random: lengths 1..400 mixed
    assert spread(second, lengths[0]) < 60            # bucketed: similar lengths
    # the single-task schedule (train_single.py) buckets every epoch, the first included
    single = make_schedule("bucketed", lengths, 10, torch.Generator().manual_seed(4), bucketing)
    assert spread([ids for _, ids in single.epoch(1)], lengths[0]) < 60


# ---- samplers --------------------------------------------------------------------------------
@pytest.mark.parametrize("n, batch_size", [(14041 // 20, 10), (103, 7), (50, 5), (10, 3)])
def test_fastnlp_bucket_batches_equal_fastnlp_bucket_sampler(n, batch_size):
    need_module("fastNLP", "the sampler oracle")
    from fastNLP import DataSet
    from fastNLP.core.sampler import BucketSampler
    lengths = torch.randint(1, 60, (n,), generator=torch.Generator().manual_seed(n))
    dataset = DataSet({"seq_len": lengths.tolist(), "x": [[0]] * n})
    for seed in (0, 1, 2):
        np.random.seed(seed)
        expected = [int(i) for i in BucketSampler(batch_size=batch_size)(dataset)]
        ours = fastnlp_bucket_batches(lengths, batch_size, np.random.RandomState(seed))
        assert torch.cat(ours).tolist() == expected
        assert [len(b) for b in ours] == [len(expected[i:i + batch_size])
                                         for i in range(0, n, batch_size)]


def test_every_sampler_gives_ceil_n_over_batch_batches_covering_each_sentence_once():
    lengths = torch.randint(1, 40, (97,), generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(6)
    for batches in (random_batches(97, 10, gen), bucket_batches(lengths, 10, gen),
                    fastnlp_bucket_batches(lengths, 10, np.random.RandomState(7))):
        assert len(batches) == 10
        assert sorted(torch.cat(batches).tolist()) == list(range(97))


def test_every_sampler_gives_no_batch_for_no_sentences():
    empty, gen = torch.zeros(0, dtype=torch.long), torch.Generator()
    assert random_batches(0, 10, gen) == []
    assert bucket_batches(empty, 10, gen) == []
    assert fastnlp_bucket_batches(empty, 10, np.random.RandomState(0)) == []


@pytest.mark.parametrize("n", [1, 3, 9])
def test_fewer_sentences_than_fastnlp_buckets_still_cover_each_once(n):
    """fastNLP's BucketSampler asserts at least 10 sentences; the default bucketing must still
    train a task of a handful (each sentence its own bucket)."""
    lengths = torch.arange(1, n + 1)
    batches = fastnlp_bucket_batches(lengths, 2, np.random.RandomState(0))
    assert [len(b) for b in batches] == [2] * (n // 2) + [1] * (n % 2)
    assert sorted(torch.cat(batches).tolist()) == list(range(n))


def test_unknown_schedule_or_bucketing_is_refused():
    with pytest.raises(ValueError, match="re-seq-label"):
        make_schedule("round-robin", lengths_of({0: 5}), 2, torch.Generator())
    with pytest.raises(ValueError, match="fastnlp"):
        make_schedule("bucketed", lengths_of({0: 5}), 2, torch.Generator(), "loose")


# ---- temperature sampling ---------------------------------------------------------------------
@pytest.mark.parametrize("temperature, expected", [
    # sizes 100 and 400 sentences, worked by hand: 100 ** (1/T) : 400 ** (1/T)
    (1.0, {0: 0.2, 1: 0.8}),                    # 100 : 400, in proportion to size
    (2.0, {0: 1 / 3, 1: 2 / 3}),                # 10 : 20
    (1e9, {0: 0.5, 1: 0.5}),                    # all but uniform
])
def test_temperature_draws_tasks_by_size_to_the_one_over_t(temperature, expected):
    steps = 40_000
    schedule = make_schedule("temperature", lengths_of({0: 100, 1: 400}), 8,
                             torch.Generator().manual_seed(5), temperature=temperature,
                             steps_per_epoch=steps)
    assert schedule.probabilities() == pytest.approx(expected)
    drawn = [task for task, _ in schedule.epoch(1)]
    assert len(drawn) == steps
    for task, p in expected.items():
        # within 4 standard deviations of the binomial count
        assert abs(drawn.count(task) - p * steps) < 4 * (steps * p * (1 - p)) ** 0.5 + 1


def test_temperature_epochs_are_fixed_steps_of_whole_streams_carried_over():
    lengths = lengths_of({0: 23, 1: 9, 2: 0})
    schedule = make_schedule("temperature", lengths, 4, torch.Generator().manual_seed(6),
                             temperature=2.0)
    assert schedule.n_batches() == 6 + 3                       # as one seq-label epoch: ceil(n / 4)
    seen: dict[int, list[int]] = {0: [], 1: []}
    for epoch in (1, 2, 3, 4):
        batches = list(schedule.epoch(epoch))
        assert len(batches) == 9 and {t for t, _ in batches} <= {0, 1}    # no batch of no sentences
        for task, ids in batches:
            seen[task].extend(ids.tolist())
    # every stream is whole passes over its task's sentences, each sentence once per pass
    for task, n in ((0, 23), (1, 9)):
        ids = seen[task]
        whole = len(ids) // n * n
        for start in range(0, whole, n):
            assert sorted(ids[start:start + n]) == list(range(n))
    with pytest.raises(ValueError, match="temperature must be above 0"):
        make_schedule("temperature", lengths, 4, torch.Generator(), temperature=0.0)
