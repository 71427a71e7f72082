"""The data file and the whole model against the original's, on the real CoNLL-2003 data, with the
original's own code as the test oracle (its prepare-data.py and src/models.py, imported with
fastNLP 0.5.0 through tests/original_code.py):

- every CoNLL-2003 word, and every token of every split, gets the embedding row fastNLP's
  `StaticEmbedding(lower=True)` gives it, with the same initial vector (vectors: a GloVe 6B 50d
  file the test writes); the character vocabulary is `CNNCharEmbedding`'s; every task's label
  list, and every label id of every split, is the one the original's `prepare_conll03` gives;
- the original's `CNNBiLSTM` (with and without CRF) and `HierarchicalShareCNNLSTM`, built by its
  `get_model` with our weights copied in, and ours give the same emission scores, losses,
  predictions and gradients with dropout off; and in training mode with dropout replaced by a
  fixed scaling in both (the random draws cannot match), so they agree only if dropout sits in
  the same places;
- a checkpoint and pruning masks written the way the original's code writes them (its parameter
  names, True = pruned) give, loaded through the project's readers, the original model's dev
  predictions label for label; and the project's masks folder written in the original's format
  gives, through the original's train_mtl.py loaders, the project's predictions.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import models.dropout
import train_mtl
from models import ModelConfig, build_model, data_sizes, task_layers_for
from needs import need_module
from original_code import local_vectors, original_script, original_src
from task_sets import builtin_task_set
from utils.data.batching import SplitIndex
from utils.data.datafile import index_of, load_data_file, save_data_file, word_row
from utils.data.embeddings import GLOVE_FILES, GLOVE_MODULE
from utils.data.prepare import prepare
from utils.sparsity.original_masks import convert_folder, our_name
from utils.sparsity.pruning import prunable_names
from utils.sparsity.to_original import write_original_folder
from utils.training.checkpoint import save_weights
from utils.training.config import TrainConfig
from utils.training.mtl_setup import load_task_masks, make_tasks
from utils.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = dict(rtol=1e-5, atol=1e-6)
HIDDEN = 200
DROPOUT_SCALE = 0.7


def write_glove_subset(path: Path, forms: set[str]) -> Path:
    """GloVe 6B 50d lines of the forms, plus every 50th other line, in GloVe's order."""
    glove = need_module(GLOVE_MODULE, "the GloVe 6B 50d vectors")
    import pyarrow.parquet as pq

    folder = Path(glove.ROOT)
    words = pq.read_table(folder / GLOVE_FILES[1]).column(0).to_pylist()
    matrix = np.load(folder / GLOVE_FILES[0], mmap_mode="r")
    with open(path, "w", encoding="utf-8") as handle:
        for row, word in enumerate(words):
            if word in forms or row % 50 == 0:
                handle.write(word + " " + " ".join(f"{x:.6f}" for x in matrix[row]) + "\n")
    return path


@pytest.fixture(scope="module")
def conll03(shared_data, tmp_path_factory):
    """CoNLL-2003 as the original prepared it (its prepare-data.py's `prepare_conll03`: the task
    list and fastNLP's vocabularies), our data file, the vectors."""
    corpus = shared_data / "conll03"
    tasks, vocabs = original_script("prepare-data").prepare_conll03(
        SimpleNamespace(pos=str(corpus), chunk=None, ner=None))
    vocab = vocabs["words"]
    vectors = write_glove_subset(tmp_path_factory.mktemp("glove") / "vectors.txt",
                                 {word.lower() for word, _ in vocab})
    data = prepare(builtin_task_set("conll03", {"pos": str(corpus)}), str(vectors), {})
    return SimpleNamespace(tasks=tasks, vocabs=vocabs, vocab=vocab, vectors=vectors, data=data)


def static_embedding(conll03):
    from fastNLP.embeddings import StaticEmbedding

    return StaticEmbedding(conll03.vocab, model_dir_or_name=str(conll03.vectors), lower=True,
                           word_dropout=0.01, dropout=0.5)


def test_every_word_and_token_gets_static_embeddings_row(conll03):
    theirs = static_embedding(conll03)
    data = conll03.data
    rows = index_of(data.words)
    to_row = theirs.words_to_words
    assert theirs.embedding.weight.shape == (len(data.words), 50)
    assert all(int(to_row[index]) == word_row(word, rows) for word, index in conll03.vocab)
    for split in ("train", "dev", "test"):
        sentences = getattr(conll03.tasks[2], f"{split}_set").get_field("words").content
        expected = torch.cat([to_row[torch.tensor(s)] for s in sentences])
        assert torch.equal(data.data["ner"][split].words, expected)
    # the same initial vectors: PAD, UNK (zero) and every row with a pretrained vector ...
    n = data.embedding.size(0)
    assert torch.equal(theirs.embedding.weight[:n].detach(), data.embedding)
    # ... and the same distribution for the rest: uniform in +-sqrt(3 / dim)
    ours = build_model(ModelConfig(**data_sizes(data, "cnn-lstm")), data.embedding)
    bound = (3 / 50) ** 0.5
    for weights in (ours.word_embed.weight[n:].detach(), theirs.embedding.weight[n:].detach()):
        assert weights.abs().max() <= bound
        assert abs(float(weights.std()) - bound / 3 ** 0.5) < 0.03 * bound


def test_char_vocabulary_is_cnn_char_embeddings(conll03):
    from fastNLP.embeddings import CNNCharEmbedding

    theirs = CNNCharEmbedding(conll03.vocab, embed_size=30, char_emb_size=30, filter_nums=[30],
                              kernel_sizes=[3], word_dropout=0, dropout=0.5,
                              include_word_start_end=False).char_vocab
    assert conll03.data.chars == [theirs.to_word(i) for i in range(len(theirs))]


def test_labels_and_label_ids_are_the_originals(conll03):
    """The label lists in the original's order (POS first differed at id 19 and chunking at id 14
    when they were ordered by train frequency), and so every label id of every split."""
    data = conll03.data
    for task in conll03.tasks:
        vocab = conll03.vocabs[task.task_name]
        assert data.labels[task.task_name] == [vocab.to_word(i) for i in range(len(vocab))]
        for split in ("train", "dev", "test"):
            ids = getattr(task, f"{split}_set").get_field(task.task_name).content
            assert torch.equal(data.data[task.task_name][split].labels,
                               torch.tensor([i for sentence in ids for i in sentence]))


# ---- the original's model classes ---------------------------------------------------------------
def original_model(conll03, monkeypatch, arch: str, crf: bool) -> torch.nn.Module:
    """The original's network, built by its own `get_model` from its vocabularies."""
    local_vectors(monkeypatch, conll03.vectors)
    args = SimpleNamespace(arch=arch, hidden_size=HIDDEN, n_layer=2, dropout=0.5, crf=crf)
    return original_src("models").get_model(args, conll03.tasks, conll03.vocabs)


def our_model(conll03, arch: str, crf: bool) -> torch.nn.Module:
    data = conll03.data
    return build_model(ModelConfig(**data_sizes(data, arch), hidden_size=HIDDEN, crf=crf, arch=arch,
                                   task_layers=task_layers_for(arch, [data.layers[t] for t in data.tasks], 2),
                                   word_dropout=0.0))


def paired_parameters(theirs: torch.nn.Module, ours: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Each of our parameter names -> the original's parameter (the project's name map; the
    CRF's fixed `_constrain`, zero without constraints, has no counterpart)."""
    pairs = {our_name(name): param for name, param in theirs.named_parameters()
             if our_name(name) is not None}
    assert sorted(pairs) == sorted(name for name, _ in ours.named_parameters())
    return pairs


def dev_batch(conll03, task_id: int, n: int = 10):
    """Our batch of the first n dev sentences (longest first) and the original's inputs for the
    same sentences in the same order: fastNLP word ids, label ids, lengths."""
    data, task = conll03.data, conll03.tasks[task_id]
    batch = SplitIndex(data.data[task.task_name]["dev"]).batch(torch.arange(n))
    order = torch.sort(batch.lengths.new_tensor([len(s) for s in task.dev_set.get_field("words").content[:n]]),
                       descending=True, stable=True).indices
    words, labels = torch.zeros_like(batch.words), torch.zeros_like(batch.labels)
    for row, sid in enumerate(order.tolist()):
        length = int(batch.lengths[row])
        words[row, :length] = torch.tensor(task.dev_set[sid]["words"])
        labels[row, :length] = torch.tensor(task.dev_set[sid][task.task_name])
    return batch, words, labels


def scale_instead_of_dropout(module, x):
    """A fixed scaling where dropout would draw (in place where the module is in-place: the
    original's CNNBiLSTM calls its in-place dropout and drops the result)."""
    if not (module.training and module.p > 0):
        return x
    return x.mul_(DROPOUT_SCALE) if getattr(module, "inplace", False) else x * DROPOUT_SCALE


def compare_step(theirs, ours, pairs, batch, words, labels, task_id) -> dict[str, float]:
    """One forward and backward of both; asserts equal scores, loss and predictions, returns the
    worst gradient difference per parameter, relative to the gradient's largest element."""
    logits = {}
    hook = theirs.out[task_id].register_forward_hook(lambda m, i, out: logits.update(out=out))
    out = theirs(torch.tensor([task_id] * len(words)), words, labels, batch.lengths)
    hook.remove()
    emissions = ours(batch, task_id)
    mask = batch.mask.unsqueeze(2)
    torch.testing.assert_close(emissions * mask, logits["out"] * mask, **TOL)
    torch.testing.assert_close(ours.loss(emissions, batch, task_id), out["loss"], **TOL)
    pred = out["pred"].tolist()
    assert ours.decode(emissions, batch, task_id) == [row[:n] for row, n in zip(pred, batch.lengths.tolist())]
    theirs.zero_grad()
    ours.zero_grad()
    out["loss"].backward()
    ours.loss(emissions, batch, task_id).backward()
    worst = {}
    for name, param in ours.named_parameters():
        reference = pairs[name].grad
        if param.grad is None:
            assert reference is None or not reference.any(), name
            continue
        # a gradient sums over every token of the batch: float32 round-off grows with the sum
        worst[name] = float((param.grad - reference).abs().max() / reference.abs().max())
    return worst


@pytest.mark.parametrize("arch, crf, task_id", [("cnn-lstm", False, 2), ("cnn-lstm", True, 1),
                                                ("hier-lstm", False, 0), ("hier-lstm", False, 2)])
def test_model_equals_the_originals_classes(conll03, monkeypatch, arch, crf, task_id):
    """The original's hierarchical model has no CRF (it ignored --crf), so that case has none."""
    from fastNLP.embeddings.embedding import TokenEmbedding

    torch.manual_seed(0)
    theirs = original_model(conll03, monkeypatch, arch, crf)
    ours = our_model(conll03, arch, crf)
    pairs = paired_parameters(theirs, ours)
    with torch.no_grad():
        for name, param in ours.named_parameters():
            pairs[name].copy_(param)
    batch, words, labels = dev_batch(conll03, task_id)
    # dropout off
    theirs.eval()
    ours.eval()
    worst = compare_step(theirs, ours, pairs, batch, words, labels, task_id)
    assert max(worst.values()) < 1e-5, worst
    # training mode, dropout a fixed scaling in both, no word dropout
    monkeypatch.setattr(torch.nn.Dropout, "forward", scale_instead_of_dropout)
    monkeypatch.setattr(models.dropout.Dropout, "forward", scale_instead_of_dropout)
    monkeypatch.setattr(TokenEmbedding, "drop_word", lambda self, words: words)
    theirs.train()
    ours.train()
    worst = compare_step(theirs, ours, pairs, batch, words, labels, task_id)
    assert max(worst.values()) < 1e-5, worst


# ---- a checkpoint of the original ---------------------------------------------------------------
def test_an_original_checkpoint_gives_the_original_models_predictions(conll03, monkeypatch, tmp_path):
    """The original's files: per task a pruning mask saved by its `Pruning.save` (True = pruned;
    1, 2 and 3 rounds of its prune_global for tasks 0, 1, 2), `init_weights` beside them (as its
    prepare-masks.sh places them) and a checkpoint, `torch.save(model.state_dict())` of its
    CNNBiLSTM with CRF, as its trainer saves best.th. The original evaluates it as its train_mtl.py
    does (its `load_masks`, `load_model`, `MTL_Masker`); the project reads the same files
    (utils/sparsity/original_masks.py's folder conversion, the masks and start weights of
    train_mtl.py) and tags the same 100 dev sentences: the same labels, task by task."""
    prune, script = original_src("prune"), original_script("train_mtl")
    torch.manual_seed(3)
    theirs = original_model(conll03, monkeypatch, "cnn-lstm", crf=True)
    dense = {name: value.clone() for name, value in theirs.state_dict().items()}
    names = [n for n, _ in theirs.named_parameters() if "bias" not in n and ("lstm" in n or "conv" in n)]
    folder = tmp_path / "original-mask"
    folder.mkdir()
    for task_id in range(3):
        theirs.load_state_dict(dense)
        pruner = prune.Pruning(theirs, names, final_rate=0.1, pruning_iter=3)
        for _ in range(task_id + 1):
            pruner.pruning_model()
        pruner.save(str(folder / f"{task_id}_{task_id + 1}"))
    torch.save(dense, folder / "init_weights")
    torch.save(dense, tmp_path / "best.th")

    # the original: its loaders and masker, its model in eval mode
    theirs.load_state_dict(dense)
    original_src("utils").load_model(theirs, str(tmp_path / "best.th"))
    expected = original_dev_labels(conll03, theirs, script.load_masks(str(folder)))

    # the project: the converted folder, the checkpoint as --init_weights, the dev predictions
    convert_folder(folder, tmp_path / "mask")
    got = our_dev_labels(conll03, tmp_path / "mask", crf=True, init_weights=tmp_path / "best.th")
    assert got == expected


def test_our_masks_folder_in_the_originals_format_gives_our_predictions(conll03, monkeypatch, tmp_path):
    """The other way: a masks folder as prepare-masks.sh places it (a mask per task, True =
    kept, start weights in init_weights.th), written by utils/sparsity/to_original.py and read by
    the original's train_mtl.py as it reads its own (`load_masks`, `check_masks`, `load_model`
    of `init_weights`, `MTL_Masker`): the original model tags the same 100 dev sentences as the
    project's model does from the project's folder, task by task."""
    torch.manual_seed(4)
    ours = our_model(conll03, "cnn-lstm", crf=False)
    folder = tmp_path / "mask"
    folder.mkdir()
    save_weights(folder / "init_weights.th", ours, ours.config)
    gen = torch.Generator().manual_seed(5)
    for task_id, keep in enumerate((0.1, 0.3, 0.6)):
        mask = {name: torch.rand(param.shape, generator=gen) < keep
                for name, param in ours.named_parameters() if name in prunable_names(ours)}
        torch.save({"mask": mask, "pruning_time": task_id + 1}, folder / f"{task_id}.th")
    write_original_folder(folder, tmp_path / "original")

    script = original_script("train_mtl")
    theirs = original_model(conll03, monkeypatch, "cnn-lstm", crf=False)
    masks = script.load_masks(str(tmp_path / "original"))
    original_src("utils").load_model(theirs, str(tmp_path / "original" / "init_weights"))
    script.check_masks(masks, theirs.state_dict())
    expected = original_dev_labels(conll03, theirs, masks)
    assert our_dev_labels(conll03, folder, crf=False) == expected


N_DEV = 100


def original_dev_labels(conll03, theirs, masks) -> dict[str, list[list[str]]]:
    """The original model's labels for the first N_DEV dev sentences of every task, through its
    train_mtl.py's MTL_Masker with `masks`, in eval mode."""
    masker = original_script("train_mtl").MTL_Masker(theirs, masks)
    theirs.eval()
    labels = {}
    with torch.no_grad():
        for task in conll03.tasks:
            words = [task.dev_set[i]["words"] for i in range(N_DEV)]
            gold = [task.dev_set[i][task.task_name] for i in range(N_DEV)]
            lengths = torch.tensor([len(w) for w in words])
            x = torch.zeros(N_DEV, int(lengths.max()), dtype=torch.long)
            y = torch.zeros_like(x)
            for row, (w, g) in enumerate(zip(words, gold)):
                x[row, :len(w)], y[row, :len(g)] = torch.tensor(w), torch.tensor(g)
            masker.before_forward(task.task_id)
            pred = theirs(torch.tensor([task.task_id] * N_DEV), x, y, lengths)["pred"]
            masker.after_forward(task.task_id)
            vocab = conll03.vocabs[task.task_name]
            labels[task.task_name] = [[vocab.to_word(int(i)) for i in row[:k]]
                                      for row, k in zip(pred, lengths.tolist())]
    return labels


def our_dev_labels(conll03, masks_path: Path, crf: bool,
                   init_weights: Path | None = None) -> dict[str, list[list[str]]]:
    """The project's labels for the same sentences: train_mtl.py's start model from the masks
    folder (and --init_weights when given), evaluated with the masks."""
    data = conll03.data.subset(1, N_DEV)
    masks = load_task_masks(masks_path, [0, 1, 2])
    values = {"init_weights": init_weights and str(init_weights), "masks_path": str(masks_path),
              "arch": "cnn-lstm", "hidden_size": HIDDEN, "n_layer": 2, "crf": crf, "dropout": 0.5,
              "seed": 1}
    ours, _ = train_mtl.start_model(values, data, masks)
    predicted = {}
    Trainer(ours, make_tasks(data, [0, 1, 2]), TrainConfig(epochs=0), seed=0, masks=masks,
            echo=lambda line: None).evaluate("dev", predicted)
    return {task.task_name: [[data.labels[task.task_name][i] for i in sentence]
                             for sentence in predicted[task.task_name]] for task in conll03.tasks}


def test_a_prepared_file_with_vectors_loads_back(conll03, tmp_path):
    """The data file keeps only the rows with a vector; loading checks its layout and accepts that."""
    path = tmp_path / "conll03.pt"
    save_data_file(conll03.data, path)
    loaded = load_data_file(path)
    assert 2 < loaded.embedding.size(0) < len(loaded.words)
    assert torch.equal(loaded.embedding, conll03.data.embedding)
