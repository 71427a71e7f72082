"""The recipe against the original's own code (../shared/reference/original/src, imported with
fastNLP 0.5.0 through tests/original_code.py and its shims), not against a restatement of it:

- the ptb setting's label lists: its prepare-data.py's `prepare_ptb` against prepare-data.py's
  (CoNLL-2003's, with every label id, are in tests/test_parity_conll03.py);
- re-seq-label's updates per epoch with a subset of the data file's tasks: its trainer's
  `ReSampleSeqLabelTrainer._train_epoch` against train_mtl.py's log.jsonl;
- the pruning rule: its `Pruning.prune_global`, 20 rounds, against utils/sparsity/pruning.py;
- the single-task span metric: its `YangJieSpanMetric` (src/metric.py) on CoNLL-2003 dev tags
  and on random tag sequences, against `--metric yangjie`;
- masked multi-task steps: its masking (`MTL_Masker` of its train_mtl.py: a copy of the weights,
  `masked_fill_`, the forward, `load_state_dict` back, the gradients masked) inside its trainer's
  own loop (SGD with momentum, `clip_grad_value_`), against the trainer's `functional_call`
  masking, three tasks over two epochs.
"""
from __future__ import annotations

import copy
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from models import ModelConfig, build_model
from needs import need_corpus
from original_code import on_cpu, original_script, original_src, torch12_zero_grad
from task_sets import builtin_task_set
from test_metrics import corrupt
from test_model_fixtures import synthetic_data
from utils.data.batching import SplitIndex
from utils.data.datafile import save_data_file
from utils.data.prepare import prepare
from utils.data.readers.columns import CONLL03_COLUMNS, read_column_file
from utils.data.tagschemes import bio_to_bioes
from utils.sparsity.pruning import full_mask, prunable_names, prune_round
from utils.training.config import TrainConfig
from utils.training.metrics import make_metric
from utils.training.optim import build_optimizer
from utils.training.tasks import TaskData
from utils.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


# ---- labels -----------------------------------------------------------------------------------
def test_ptb_labels_are_the_originals(shared_data, tmp_path, monkeypatch):
    """The original's `prepare_ptb` (WSJ dev.pos standing in for train, as here) against ours.
    Its reader lists each corpus folder with os.listdir, whose order differs between file
    systems and decides which of two equally frequent labels comes first (POS: SYM and LS, 19
    each): the listing is put in train, dev, test order, the order the project reads. Its reader
    also drops every line that starts with `#` (fastNLP takes them for comments), so the WSJ
    pound sign and its tag `#` are missing from its POS labels (docs/differences.md)."""
    import fastNLP.io.utils

    real_listdir = fastNLP.io.utils.os.listdir
    split_order = lambda name: [s in name for s in ("train", "dev", "test")].index(True)
    monkeypatch.setattr(fastNLP.io.utils.os, "listdir",
                        lambda folder: sorted(real_listdir(folder), key=split_order))
    pos = tmp_path / "wsj"
    pos.mkdir()
    for name, source in (("train.pos", "dev.pos"), ("dev.pos", "dev.pos"), ("test.pos", "test.pos")):
        (pos / name).symlink_to(shared_data / "wsj_ptb" / source)
    original_src("utils").set_seed(1)                     # as its prepare-data.py starts
    _, vocabs = original_script("prepare-data").prepare_ptb(SimpleNamespace(
        pos=str(pos), chunk=str(shared_data / "conll2000"), ner=str(shared_data / "conll03")))
    ours = prepare(builtin_task_set("ptb", train={"pos": str(shared_data / "wsj_ptb" / "dev.pos")}), "none", {})
    for task in ("pos", "chunk", "ner"):
        theirs = [vocabs[task].to_word(i) for i in range(len(vocabs[task]))]
        assert [label for label in ours.labels[task] if label != "#"] == theirs, task
    assert "#" in ours.labels["pos"]


# ---- the original's trainer, fed by hand ------------------------------------------------------
class OriginalInterface(torch.nn.Module):
    """One of our models behind the original's model interface, `forward(task_id, x, y, seq_len)
    -> {"loss", "pred"}`, where x[0, 0] indexes one of `batches`; counts the calls per task."""

    def __init__(self, tagger: torch.nn.Module | None = None, batches: list | None = None) -> None:
        super().__init__()
        self.tagger = tagger
        self.batches = batches or []
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.calls: list[int] = []

    def forward(self, task_id, x, y, seq_len):
        task = int(task_id[0])
        self.calls.append(task)
        if self.tagger is None:
            return {"loss": self.dummy.sum() * 0, "pred": y}
        batch = self.batches[int(x[0, 0])]
        emissions = self.tagger(batch, task)
        return {"loss": self.tagger.loss(emissions, batch, task), "pred": emissions.argmax(-1)}


def original_tasks(sizes: list[int], batch_size: int) -> list:
    """The original's Task objects over fastNLP DataSets of `sizes` sentences, loaders built."""
    from fastNLP import DataSet

    task_cls = original_src("task").Task

    def dataset(n: int, task_id: int) -> DataSet:
        ds = DataSet({"x": [[1, 2, 3]] * n, "y": [[0, 1, 0]] * n, "task_id": [task_id] * n,
                      "seq_len": [3] * n})
        ds.set_input("x", "y", "task_id", "seq_len")        # as the original's init_task sets them
        ds.set_target("y", "seq_len")
        return ds

    tasks = [task_cls(i, f"t{i}", dataset(n, i), dataset(2, i), dataset(2, i))
             for i, n in enumerate(sizes)]
    for task in tasks:
        task.init_data_loader(batch_size)
    return tasks


def original_trainer(model: OriginalInterface, masker, tasks: list, optimizer, trained: list[int],
                     batch_size: int):
    """The original's ReSampleSeqLabelTrainer with the arguments its train_mtl.py passes."""
    args = SimpleNamespace(save_path="unused", exp_name="parity", batch_size=batch_size,
                           accumulation_steps=1, print_every=10 ** 9, save_ep=False,
                           tasks=trained, evaluate=False, tb_path="unused", scheduler="fix")
    trainer = original_src("trainer").ReSampleSeqLabelTrainer(masker, tasks, {}, optimizer, args)
    trainer.model = model
    return trainer


def test_re_seq_label_with_one_task_trained_has_the_originals_updates_per_epoch(tmp_path, monkeypatch):
    """A data file of two tasks, 40 and 13 training sentences, batch 8 (5 + 2 = 7 cycles per
    epoch), only task 1 trained (the ptb setting's single-task baselines): the updates per
    epoch that the original's trainer makes, and those train_mtl.py logs, per epoch."""
    on_cpu(monkeypatch)
    sizes, batch_size, epochs = [40, 13], 8, 3
    model = OriginalInterface()
    masker = SimpleNamespace(model=model, before_forward=lambda t: None, after_forward=lambda t: None)
    trainer = original_trainer(model, masker, original_tasks(sizes, batch_size),
                               torch.optim.SGD(model.parameters(), lr=0.1), [1], batch_size)
    expected = []
    for _ in range(epochs):
        model.calls.clear()
        trainer._train_epoch()
        assert set(model.calls) == {1}
        expected.append(len(model.calls))
    assert expected == [5, 5, 4]          # and by hand: d d - d d - d | d - d d - d d | - d d - d d -

    data = synthetic_data(n_train=40, n_eval=8)
    data.data["ner"]["train"] = data.data["ner"]["train"].subset(13)
    path = tmp_path / "two.pt"
    save_data_file(data, path)
    import train_mtl

    monkeypatch.setattr(sys, "argv", [
        "train_mtl.py", "--data_path", str(path), "--save_dir", str(tmp_path / "mtl"), "--tasks", "1",
        "--trainer", "re-seq-label", "--batch_size", str(batch_size), "--epochs", str(epochs),
        "--hidden_size", "4", "--num_threads", "1"])
    train_mtl.main()
    log = (tmp_path / "mtl" / "cp" / "single-ner" / "log.jsonl").read_text().splitlines()
    assert [json.loads(row)["batches"] for row in log] == [{"ner": n} for n in expected]


# ---- pruning ----------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", [0, 1000], ids=["continuous", "ties"])
def test_twenty_pruning_rounds_equal_the_originals_prune_global(grid):
    """The original's Pruning callback on the conll03 model's prunable tensors (1,410,700
    weights), 20 rounds to a final rate of 0.1: before each round the weights are set to new
    values (as training would leave them: the pruned ones zero), then its `pruning_model`
    (prune_global, then the rewind) and our `prune_round` give the same mask. With `ties` the
    weights are multiples of 1/1000, so many survivors equal the cutoff."""
    prune = original_src("prune")
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_words=10, n_chars=10, n_labels=[3], word_dim=50))
    names = prunable_names(model)
    params = dict(model.named_parameters())
    pruner = prune.Pruning(model, names, final_rate=0.1, pruning_iter=20)
    ours = full_mask(model, names)
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        with torch.no_grad():
            for name in names:
                values = torch.randn(params[name].shape, generator=gen)
                if grid:
                    values = torch.round(values * grid) / grid
                params[name].copy_(values * ours[name])
        weights = {name: params[name].detach().clone() for name in names}
        pruner.pruning_model()
        ours = prune_round(weights, ours, 0.1, 20)
        for name in names:
            assert torch.equal(ours[name], ~pruner.remain_mask[name].cpu()), (pruner.prune_times, name)
    assert round(100 * sum(int(m.sum()) for m in ours.values()) / 1_410_700, 2) == pruner.cur_rate


# ---- the span metric of single-task pruning ---------------------------------------------------
def tag_vocab(labels: list[str]):
    """A fastNLP tag Vocabulary holding `labels` in this order (no padding or unknown)."""
    from fastNLP import Vocabulary

    vocab = Vocabulary(unknown=None, padding=None)
    vocab.add_word_lst(labels)                            # each once: ties keep this order
    vocab.build_vocab()
    assert [vocab.to_word(i) for i in range(len(vocab))] == labels
    return vocab


def originals_yangjie(labels: list[str], scheme: str, gold, pred) -> dict[str, float]:
    metric = original_src("metric").YangJieSpanMetric(tag_vocab(labels), encoding_type=scheme)
    for first in range(0, len(gold), 300):
        g, p = gold[first:first + 300], pred[first:first + 300]
        lengths = torch.tensor([len(s) for s in g])
        target = torch.zeros(len(g), int(lengths.max()), dtype=torch.long)
        prediction = torch.zeros_like(target)
        for row, (gs, ps) in enumerate(zip(g, p)):
            target[row, :len(gs)] = torch.tensor(gs)
            prediction[row, :len(ps)] = torch.tensor(ps)
        metric.evaluate(prediction, target, lengths)
    return metric.get_metric()


def ours_yangjie(labels: list[str], scheme: str, gold, pred) -> dict[str, float]:
    metric = make_metric(scheme, labels, "yangjie")
    metric.update(gold, pred)
    return metric.result()


@pytest.mark.parametrize("column, scheme", [("chunk", "bio"), ("ner", "bioes")])
def test_yangjie_metric_equals_the_originals_on_conll03_dev(column, scheme):
    """Gold: the CoNLL-2003 dev tags (NER in BIOES, as the original trained it); predictions: the
    gold with 2 to 50% of the tags replaced at random (ill-formed sequences included)."""
    read = read_column_file(need_corpus("conll03", "dev.txt"), CONLL03_COLUMNS, 4)
    tags = [bio_to_bioes(s) if scheme == "bioes" else s for s in read.tags[column]]
    labels = sorted({t for s in tags for t in s})
    index = {label: i for i, label in enumerate(labels)}
    gold = [[index[t] for t in s] for s in tags]
    for seed, rate in enumerate((0.0, 0.02, 0.1, 0.5)):
        pred = corrupt(gold, len(labels), rate, seed)
        theirs, ours = originals_yangjie(labels, scheme, gold, pred), ours_yangjie(labels, scheme, gold, pred)
        for key in ("f", "pre", "rec"):             # fastNLP rounds to 6 decimals
            assert ours[key] == pytest.approx(theirs[key], abs=1e-6), (rate, key)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_yangjie_metric_equals_the_originals_on_random_tag_sequences(scheme):
    """Random tags over two types (lower and upper case, which the original upper-cases), so
    every odd sequence turns up: I or E without a B, type changes, spans open at the end."""
    kinds = "BI" if scheme == "bio" else "BIES"
    labels = ["O"] + [f"{k}-{t}" for t in ("NP", "vp") for k in kinds]
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        lengths = torch.randint(1, 12, (400,), generator=gen).tolist()
        gold = [torch.randint(len(labels), (n,), generator=gen).tolist() for n in lengths]
        pred = [torch.randint(len(labels), (n,), generator=gen).tolist() for n in lengths]
        pred[:100] = [list(s) for s in gold[:100]]        # some exact matches
        theirs, ours = originals_yangjie(labels, scheme, gold, pred), ours_yangjie(labels, scheme, gold, pred)
        for key in ("f", "pre", "rec"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key


# ---- masked multi-task steps ------------------------------------------------------------------
def three_task_setup():
    """A small model (dropout off, so both runs draw nothing) over three tasks, one batch of 8
    sentences per task, and three overlapping masks that together leave some weights to none."""
    data = synthetic_data(n_train=24, n_eval=8)
    labels = {"pos": 3, "ner": 4}
    kinds = [("pos", 0), ("ner", 1), ("pos", 2)]          # task 2: POS again, its own head
    tasks = [TaskData(t, f"{name}{t}", data.schemes[name], data.labels[name], data.data[name]["train"],
                      data.data[name]["dev"], data.data[name]["test"]) for name, t in kinds]
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_words=len(data.words), n_chars=len(data.chars),
                                    n_labels=[labels[name] for name, _ in kinds], word_dim=8,
                                    char_dim=4, char_filters=4, hidden_size=6, dropout=0.0,
                                    word_dropout=0.0), data.embedding)
    gen = torch.Generator().manual_seed(1)
    masks = {t: {n: torch.rand(p.shape, generator=gen) < 0.55 for n, p in model.named_parameters()
                 if n in prunable_names(model)} for t in range(3)}
    ids = {t: torch.arange(8 * t, 8 * t + 8) for t in range(3)}
    batches = {t: SplitIndex(tasks[t].train).batch(ids[t]) for t in range(3)}
    return model, tasks, masks, ids, batches


def test_masked_steps_equal_the_originals_masking_in_its_own_loop(monkeypatch):
    """Two epochs of one cycle over three tasks (six SGD steps with momentum 0.9, every gradient
    clipped to [-5, 5]): the weights after the original's loop and masking, and after ours, agree
    to 1e-6 wherever a task keeps them. Weights that no task keeps are zero in ours and keep
    their initial value in the original's (no task ever reads them: docs/differences.md)."""
    on_cpu(monkeypatch)
    model, tasks, masks, ids, batches = three_task_setup()
    initial = copy.deepcopy(model.state_dict())
    theirs = OriginalInterface(copy.deepcopy(model), [batches[t] for t in range(3)])

    # the original: its masker (True = pruned, its names) inside its ReSampleSeqLabelTrainer
    pruned = [{f"tagger.{n}": ~m for n, m in masks[t].items()} for t in range(3)]
    masker = original_script("train_mtl").MTL_Masker(theirs, pruned)
    optimizer = original_src("utils").get_optim("sgd(lr=0.1, momentum=0.9)",
                                                [p for p in theirs.parameters() if p.requires_grad])
    trainer = original_trainer(theirs, masker, original_tasks([8, 8, 8], 8), optimizer, [0, 1, 2], 8)
    trainer.n_steps_per_epoch = 1
    orders = []
    with monkeypatch.context() as torch12:                 # its steps, not ours, on torch 1.2's zero_grad
        torch12_zero_grad(torch12)
        for epoch in range(2):
            for t, task in enumerate(trainer.task_lst):
                b = batches[t]
                x = {"task_id": torch.full((8,), t), "x": torch.full((8, 1), t), "seq_len": b.lengths}
                task.train_data_loader = iter([(x, {"y": b.labels})])
            np.random.seed(epoch)
            orders.append([int(t) for t in np.random.permutation(3)])
            np.random.seed(epoch)                          # the order its _train_epoch draws
            theirs.calls.clear()
            trainer._train_epoch()
            assert theirs.calls == orders[-1]

    # ours: the same batches in the same order through the trainer's masked steps
    config = TrainConfig(epochs=2, optim="sgd(lr=0.1, momentum=0.9)", batch_size=8, scheduler="fix",
                         clip_type="value", clip=5.0, batch_schedule="re-seq-label", progress=False)
    ours = Trainer(model, tasks, config, seed=0, masks=masks, echo=lambda line: None)
    monkeypatch.setattr(ours.schedule, "epoch",
                        lambda epoch: iter([(t, ids[t]) for t in orders[epoch - 1]]))
    optim = build_optimizer(config.optim, [p for p in model.parameters() if p.requires_grad])
    for epoch in (1, 2):
        ours.train_epoch(optim, epoch)

    after_theirs = {n[len("tagger."):]: p for n, p in theirs.state_dict().items() if n.startswith("tagger.")}
    someone = {n: masks[0][n] | masks[1][n] | masks[2][n] for n in masks[0]}
    moved, total = 0, 0
    for name, value in model.state_dict().items():
        kept = someone.get(name, torch.ones_like(value, dtype=torch.bool))
        torch.testing.assert_close(value[kept], after_theirs[name][kept], rtol=0, atol=1e-6, msg=name)
        moved += int((value[kept] != initial[name][kept]).sum())
        total += int(kept.sum())
        if name in someone:
            assert not value[~kept].any(), name
            assert torch.equal(after_theirs[name][~kept], initial[name][~kept]), name
    assert moved > total // 2                               # the steps did move the weights
