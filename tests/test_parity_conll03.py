"""The whole model against the original's, on the real CoNLL-2003 data, with fastNLP 0.5.0 (the
library the original was built on) as the test oracle:

- every CoNLL-2003 word, and every token of every split, gets the embedding row fastNLP's
  `StaticEmbedding(lower=True)` gives it, with the same initial vector (vectors: a GloVe 6B 50d
  file the test writes); the character vocabulary is `CNNCharEmbedding`'s;
- the original's `CNNBiLSTM` and `HierarchicalShareCNNLSTM`, composed from fastNLP's modules as
  its `src/models.py` composes them, and ours, with the same weights, give the same emission
  scores, CRF loss and gradients in training mode. Dropout is replaced by a fixed scaling in both
  (the random draws cannot match), so the outputs agree only if dropout sits in the same places.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import models.dropout
from task_sets import builtin_task_set
from models import ModelConfig, build_model, data_sizes, task_layers_for
from utils.data.batching import SplitIndex
from utils.data.datafile import index_of, load_data_file, save_data_file, word_row
from utils.data.embeddings import GLOVE_FILES, GLOVE_MODULE
from utils.data.prepare import prepare

fastNLP = pytest.importorskip("fastNLP")
pytestmark = pytest.mark.usefixtures("one_thread")
TOL = dict(rtol=1e-5, atol=1e-6)
HIDDEN = 200
DROPOUT_SCALE = 0.7


def write_glove_subset(path: Path, forms: set[str]) -> Path:
    """GloVe 6B 50d lines of the forms, plus every 50th other line, in GloVe's order."""
    glove = pytest.importorskip(GLOVE_MODULE)
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
    """fastNLP's CoNLL-2003 bundle as the original prepared it, our data file, the vectors."""
    from fastNLP.io import Conll2003Pipe

    corpus = shared_data / "conll03"
    bundle = Conll2003Pipe(chunk_encoding_type="bio", ner_encoding_type="bioes",
                           lower=False).process_from_file(str(corpus))
    vocab = bundle.vocabs["words"]
    vectors = write_glove_subset(tmp_path_factory.mktemp("glove") / "vectors.txt",
                                 {word.lower() for word, _ in vocab})
    data = prepare(builtin_task_set("conll03", {"pos": str(corpus)}), str(vectors), {})
    return SimpleNamespace(bundle=bundle, vocab=vocab, vectors=str(vectors), data=data)


def static_embedding(conll03):
    from fastNLP.embeddings import StaticEmbedding

    return StaticEmbedding(conll03.vocab, model_dir_or_name=conll03.vectors, lower=True,
                           word_dropout=0.01, dropout=0.5)


def test_every_word_and_token_gets_static_embeddings_row(conll03):
    theirs = static_embedding(conll03)
    data = conll03.data
    rows = index_of(data.words)
    to_row = theirs.words_to_words
    assert theirs.embedding.weight.shape == (len(data.words), 50)
    assert all(int(to_row[index]) == word_row(word, rows) for word, index in conll03.vocab)
    for split in ("train", "dev", "test"):
        sentences = conll03.bundle.get_dataset(split).get_field("words").content
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


class OriginalTagger(torch.nn.Module):
    """The original's CNNBiLSTM (or HierarchicalShareCNNLSTM), composed from the same fastNLP
    modules with the same arguments as its src/models.py, the embedding file a local one."""

    def __init__(self, conll03, n_labels: list[int], hier: bool, crf: bool) -> None:
        super().__init__()
        from fastNLP.embeddings import CNNCharEmbedding
        from fastNLP.modules import LSTM, ConditionalRandomField

        self.hier = hier
        self.word = static_embedding(conll03)
        self.char = CNNCharEmbedding(conll03.vocab, embed_size=30, char_emb_size=30,
                                     filter_nums=[30], kernel_sizes=[3], word_dropout=0,
                                     dropout=0.5, include_word_start_end=hier)
        size = self.word.embedding_dim + self.char.embedding_dim
        if hier:
            self.lstm = torch.nn.ModuleList([
                LSTM(size, HIDDEN, num_layers=1, bidirectional=True, batch_first=True),
                LSTM(2 * HIDDEN, HIDDEN, num_layers=1, bidirectional=True, batch_first=True)])
        else:
            self.lstm = torch.nn.ModuleList([
                LSTM(size, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)])
        self.out = torch.nn.ModuleList(torch.nn.Linear(2 * HIDDEN, n) for n in n_labels)
        self.dropout = torch.nn.Dropout(0.5)
        self.crf = torch.nn.ModuleList(ConditionalRandomField(n) for n in n_labels) if crf else None

    def forward(self, words: torch.Tensor, seq_len: torch.Tensor, task_id: int) -> torch.Tensor:
        x = torch.cat([self.word(words), self.char(words)], dim=-1)
        for lstm in self.lstm[:1] if self.hier and task_id == 0 else self.lstm:
            x, _ = lstm(x, seq_len)
        return self.out[task_id](self.dropout(x))

    def our_names(self) -> dict[str, torch.nn.Parameter]:
        """Each of our parameter names -> the original's parameter."""
        names = {"word_embed.weight": self.word.embedding.weight,
                 "char_cnn.char_embed.weight": self.char.char_embedding.weight,
                 "char_cnn.conv.weight": self.char.convs[0].weight,
                 "char_cnn.conv.bias": self.char.convs[0].bias,
                 "char_cnn.fc.weight": self.char.fc.weight, "char_cnn.fc.bias": self.char.fc.bias}
        for k in range(2):
            lstm, layer = (self.lstm[k].lstm, 0) if self.hier else (self.lstm[0].lstm, k)
            for name, _ in lstm.named_parameters():
                if name.endswith(f"_l{layer}") or name.endswith(f"_l{layer}_reverse"):
                    names[f"lstm.{k}.{name.replace(f'_l{layer}', '_l0')}"] = getattr(lstm, name)
        for t, head in enumerate(self.out):
            names[f"heads.{t}.weight"], names[f"heads.{t}.bias"] = head.weight, head.bias
        for t, crf in enumerate(self.crf or []):
            names[f"crfs.{t}.transitions"] = crf.trans_m
        return names


def scale_instead_of_dropout(module, x):
    return x * DROPOUT_SCALE if module.training and module.p > 0 else x


@pytest.mark.parametrize("arch, crf, task_id", [("cnn-lstm", False, 2), ("cnn-lstm", True, 1),
                                                ("hier-lstm", False, 0), ("hier-lstm", False, 2)])
def test_model_equals_the_originals(conll03, monkeypatch, arch, crf, task_id):
    from fastNLP.embeddings.embedding import TokenEmbedding

    data = conll03.data
    monkeypatch.setattr(torch.nn.Dropout, "forward", scale_instead_of_dropout)
    monkeypatch.setattr(models.dropout.Dropout, "forward", scale_instead_of_dropout)
    monkeypatch.setattr(TokenEmbedding, "drop_word", lambda self, words: words)  # no word dropout
    torch.manual_seed(0)
    n_labels = [len(data.labels[t]) for t in data.tasks]
    theirs = OriginalTagger(conll03, n_labels, arch == "hier-lstm", crf).train()
    ours = build_model(ModelConfig(**data_sizes(data, arch), hidden_size=HIDDEN, crf=crf, arch=arch,
                                   task_layers=task_layers_for(arch, [data.layers[t] for t in data.tasks], 2),
                                   word_dropout=0.0)).train()
    pairs = theirs.our_names()
    assert sorted(pairs) == sorted(name for name, _ in ours.named_parameters())
    with torch.no_grad():
        for name, param in ours.named_parameters():
            param.copy_(pairs[name])
    # ten dev sentences (the first is an all-caps headline with long words), longest first
    index = SplitIndex(data.data[data.tasks[task_id]]["dev"])
    batch = index.batch(torch.arange(10))
    order = torch.sort(index.lengths[:10], descending=True, stable=True).indices
    sentences = conll03.bundle.get_dataset("dev").get_field("words").content
    words = torch.zeros_like(batch.words)
    for row, sid in enumerate(order.tolist()):
        words[row, :len(sentences[sid])] = torch.tensor(sentences[sid])
    emissions_theirs = theirs(words, batch.lengths, task_id)
    emissions_ours = ours(batch, task_id)
    mask = batch.mask.unsqueeze(2)
    torch.testing.assert_close(emissions_ours * mask, emissions_theirs * mask, **TOL)
    if crf:
        loss_theirs = theirs.crf[task_id](emissions_theirs.log_softmax(-1), batch.labels,
                                          batch.mask).mean()
        loss_ours = ours.loss(emissions_ours, batch, task_id)
        torch.testing.assert_close(loss_ours, loss_theirs, **TOL)
    else:
        weights = torch.randn(emissions_ours.shape, generator=torch.Generator().manual_seed(1)) * mask
        loss_theirs, loss_ours = (emissions_theirs * weights).sum(), (emissions_ours * weights).sum()
    loss_theirs.backward()
    loss_ours.backward()
    worst = {}
    for name, param in ours.named_parameters():
        reference = pairs[name].grad
        if param.grad is None:
            assert reference is None or not reference.any(), name
            continue
        # a gradient sums over every token of the batch: float32 round-off grows with the sum
        worst[name] = float((param.grad - reference).abs().max() / reference.abs().max())
    assert max(worst.values()) < 1e-5, worst


def test_a_prepared_file_with_vectors_loads_back(conll03, tmp_path):
    """The data file keeps only the rows with a vector; loading checks its layout and accepts that."""
    path = tmp_path / "conll03.pt"
    save_data_file(conll03.data, path)
    loaded = load_data_file(path)
    assert 2 < loaded.embedding.size(0) < len(loaded.words)
    assert torch.equal(loaded.embedding, conll03.data.embedding)
