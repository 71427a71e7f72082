"""The tagger over a pretrained transformer encoder, on a tiny random BERT the tests write
(tests/encoder_fixtures.py): loading, subword alignment worked out by hand, windows for long
sentences, hidden states and masked forwards against transformers' own model, zero gradients,
rewinding, the optional dependency."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from encoder_fixtures import encoder_data, tiny_bert, write_tiny_bert  # noqa: F401 (a fixture)
from needs import need_module
from utils.data.datafile import index_of, encode_split, save_data_file, PreparedData
from utils.errors import InputError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def short_bert(tmp_path_factory) -> Path:
    """A tiny BERT that reads at most 20 tokens (18 subwords and [CLS], [SEP]) at once."""
    need_module("transformers", "the encoder tests build a tiny BERT with it")
    return write_tiny_bert(tmp_path_factory.mktemp("short_bert") / "bert", max_positions=20)


def prepared(folder: Path, tmp_path: Path, data: PreparedData | None = None, **config):
    from utils.training.encoder_setup import encoder_config, encoder_data as attach

    path = tmp_path / "data.pt"
    save_data_file(data or encoder_data(), path)
    from utils.data.datafile import load_data_file
    loaded = attach(load_data_file(path), path, folder)
    cfg = encoder_config(folder, loaded, dropout=config.pop("dropout", 0.0),
                         crf=config.pop("crf", False), pooling=config.pop("pooling", "first"),
                         **config)
    return loaded, cfg


def one_batch(data, task="pos", split="train", n=None):
    from utils.data.subword_batching import index_for
    index = index_for(data.data[task][split])
    return index.batch(torch.arange(n or len(index)))


def hf_model(folder: Path):
    import transformers
    return transformers.AutoModel.from_pretrained(str(folder), local_files_only=True).eval()


def data_of(sentences: list[list[str]]) -> PreparedData:
    """One plain task over `sentences` (every split the same), forms as written."""
    types = sorted({w for s in sentences for w in s})
    forms = ["<pad>", "<unk>"] + types
    words = ["<pad>", "<unk>"] + sorted({w.lower() for w in types})
    chars = ["<pad>", "<unk>"] + sorted({c for w in types for c in w})
    tags = [["X"] * len(s) for s in sentences]
    split = encode_split(sentences, tags, index_of(words), index_of(chars), {"X": 0}, index_of(forms))
    return PreparedData("hand", ["pos"], {"pos": "plain"}, words, chars, {"pos": ["X"]}, None,
                        {"pos": {"train": split, "dev": split, "test": split}}, {}, forms=forms)


# ---- the optional dependency ---------------------------------------------------------------
def test_the_bilstm_path_never_imports_transformers():
    code = ("import sys, runpy\n"
            "for script in ('train_single.py', 'train_mtl.py', 'predict.py', 'analyze.py', "
            "'prepare-data.py'):\n"
            "    runpy.run_path(script, run_name='not_main')\n"
            "import models, utils.training.trainer, utils.subnetworks.imp, utils.results.tagging\n"
            "assert 'transformers' not in sys.modules, 'transformers was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_asking_for_an_encoder_without_transformers_says_how_to_install(tmp_path):
    save_data_file(encoder_data(1), tmp_path / "data.pt")
    code = ("import sys, runpy\nsys.modules['transformers'] = None\n"
            "sys.argv = ['train_single.py', '--data_path', sys.argv[1], '--encoder', sys.argv[2]]\n"
            "runpy.run_path('train_single.py', run_name='__main__')\n")
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data.pt"), str(folder)],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "make encoder" in done.stderr and "requirements-encoder.txt" in done.stderr


@pytest.mark.parametrize("files, missing", [
    ((), "config.json"),
    (("config.json",), "model.safetensors"),
    (("config.json", "model.safetensors"), "tokenizer.json"),
    (("model.safetensors", "tokenizer.json"), "config.json"),
])
def test_a_folder_that_is_not_a_model_folder_is_named(tmp_path, files, missing):
    from utils.data.encoder_folder import check_folder

    for name in files:
        (tmp_path / name).write_text("{}")
    with pytest.raises(InputError) as err:
        check_folder(tmp_path)
    assert str(tmp_path) in str(err.value) and missing in str(err.value)
    assert "\n" not in str(err.value)


def test_a_file_or_a_missing_path_is_not_a_model_folder(tmp_path):
    from utils.data.encoder_folder import check_folder

    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "absent"):
        with pytest.raises(InputError, match="not a folder"):
            check_folder(path)


# ---- subwords -------------------------------------------------------------------------------
def test_each_word_is_read_from_its_first_subword_as_split_by_hand(tiny_bert, tmp_path):
    # The fixture's WordPiece vocabulary (ids: 5 specials, then PIECES in order): The 6, Paris 7,
    # ##ian 8, E 9, ##U 10, reject 11, ##s 12, [UNK] 1. Case is kept: "the" (5) is not "The" (6).
    # A zero-width space tokenizes to nothing and reads as [UNK]; "zzz" is one [UNK].
    sentence = ["The", "Parisian", "rejects", "EU", "\u200b", "zzz", "the"]
    data, _ = prepared(tiny_bert, tmp_path, data_of([sentence]))
    batch = one_batch(data)
    assert batch.pieces[0].tolist() == [6, 7, 8, 11, 12, 9, 10, 1, 1, 5]
    assert batch.first_piece[0].tolist() == [0, 1, 3, 5, 7, 8, 9]
    assert batch.piece_word[0].tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 5, 6]


def test_the_subword_cache_is_reused_and_refreshed_when_its_inputs_change(tiny_bert, tmp_path):
    from utils.data import subwords

    path = tmp_path / "data.pt"
    data = data_of([["The", "Parisian"]])
    save_data_file(data, path)
    first = subwords.form_pieces(path, data.forms, tiny_bert)
    cache = subwords.cache_path(path, subwords.tokenizer_fingerprint(tiny_bert))
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    again = subwords.form_pieces(path, data.forms, tiny_bert)
    assert cache.stat().st_mtime_ns == stamp and torch.equal(first.pieces, again.pieces)
    other = data_of([["The", "Parisian", "EU"]])
    save_data_file(other, path)                           # the data file changed
    table = subwords.form_pieces(path, other.forms, tiny_bert)
    assert table.of(other.forms.index("EU")) == [9, 10]
    assert torch.load(cache, weights_only=True)["fingerprint"]["n_forms"] == len(other.forms)


def test_an_old_data_file_without_forms_asks_for_prepare_data(tiny_bert, tmp_path):
    from utils.data.subword_batching import with_pieces
    from utils.data.subwords import PieceTable

    data = data_of([["The"]])
    data.forms = []
    with pytest.raises(InputError, match="run prepare-data.py again"):
        with_pieces(data, PieceTable(torch.zeros(0), torch.zeros(0), torch.zeros(0)), "x.pt")


# ---- the model against transformers' own --------------------------------------------------
def encoder_input(cfg, batch, b):
    """[CLS] subwords [SEP] of sentence b, as transformers' model reads it."""
    n = int(batch.piece_mask[b].sum())
    return torch.tensor([cfg.prefix_ids + batch.pieces[b, :n].tolist() + cfg.suffix_ids])


@pytest.mark.parametrize("layer", [1, 2])
def test_hidden_states_equal_transformers_own_model(tiny_bert, tmp_path, layer):
    from models import build_model

    data, cfg = prepared(tiny_bert, tmp_path, layers=[layer, layer])
    model = build_model(cfg).eval()
    batch = one_batch(data)
    states = model.piece_states(batch, layer)
    reference = hf_model(tiny_bert)
    for b in range(batch.pieces.size(0)):
        n = int(batch.piece_mask[b].sum())
        out = reference(encoder_input(cfg, batch, b), output_hidden_states=True).hidden_states[layer]
        torch.testing.assert_close(states[b, :n], out[0, 1:1 + n], atol=1e-5, rtol=1e-5)


def random_mask(model, keep: float = 0.5, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    return {name: torch.rand(params[name].shape, generator=gen) < keep
            for name in model.prunable_names()}


def test_a_masked_forward_equals_transformers_model_with_those_weights_zeroed(tiny_bert, tmp_path):
    from models import build_model
    from utils.sparsity.masking import float_mask, masked_call

    data, cfg = prepared(tiny_bert, tmp_path)
    model = build_model(cfg).eval()
    mask = random_mask(model)
    batch = one_batch(data, "ner")
    emissions = masked_call(model, float_mask(mask, "cpu"), batch, 1)
    zeroed = hf_model(tiny_bert)
    with torch.no_grad():
        hf_params = dict(zeroed.named_parameters())
        for name, kept in mask.items():
            hf_params[name.removeprefix("encoder.")].mul_(kept.float())
    head = model.heads[1]
    for b, n_words in enumerate(batch.lengths.tolist()):
        out = zeroed(encoder_input(cfg, batch, b), output_hidden_states=True).hidden_states[2][0, 1:]
        expected = head(out[batch.first_piece[b, :n_words]])
        torch.testing.assert_close(emissions[b, :n_words], expected, atol=1e-5, rtol=1e-5)
    assert mask and not all(bool(m.all()) for m in mask.values())


def test_pruned_weights_get_exactly_zero_gradient(tiny_bert, tmp_path):
    from models import build_model
    from utils.sparsity.masking import float_mask, masked_call

    data, cfg = prepared(tiny_bert, tmp_path, dropout=0.1)
    model = build_model(cfg).train()
    mask = random_mask(model, keep=0.3)
    batch = one_batch(data, "ner")
    model.loss(masked_call(model, float_mask(mask, "cpu"), batch, 1), batch, 1).backward()
    params = dict(model.named_parameters())
    for name, kept in mask.items():
        grad = params[name].grad
        assert grad is not None and bool((grad[~kept] == 0).all()), name
        assert bool((grad[kept] != 0).any()), name


def test_only_the_encoders_linear_weight_matrices_are_prunable(tiny_bert, tmp_path):
    from models import build_model

    _, cfg = prepared(tiny_bert, tmp_path)
    names = build_model(cfg).prunable_names()
    kinds = sorted({name.split(".", 4)[-1] for name in names})
    assert len(names) == 2 * 6
    assert kinds == ["attention.output.dense.weight", "attention.self.key.weight",
                     "attention.self.query.weight", "attention.self.value.weight",
                     "intermediate.dense.weight", "output.dense.weight"]


def test_mean_pooling_averages_a_words_subwords(tiny_bert, tmp_path):
    from models import build_model

    data, cfg = prepared(tiny_bert, tmp_path, data_of([["The", "Parisian", "rejects"]]),
                         pooling="mean")
    model = build_model(cfg).eval()
    batch = one_batch(data)
    states = model.piece_states(batch, 2)
    words = model.read_words(states, batch)
    torch.testing.assert_close(words[0, 1], states[0, 1:3].mean(0))
    torch.testing.assert_close(words[0, 0], states[0, 0])


# ---- long sentences -------------------------------------------------------------------------
def test_windows_cover_every_word_once_and_never_cut_one():
    from models.encoder_tagger import windows

    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        pieces = torch.randint(1, 5, (int(torch.randint(1, 40, (1,), generator=gen)),),
                               generator=gen).tolist()
        limit = int(torch.randint(8, 30, (1,), generator=gen))
        ends = set(torch.tensor(pieces).cumsum(0).tolist()) | {0}
        found = windows(pieces, limit)
        covered = []
        for start, end, core_start, core_end in found:
            assert end - start <= limit and start <= core_start < core_end <= end
            assert {start, end, core_start, core_end} <= ends       # cut between words only
            covered.extend(range(core_start, core_end))
        assert covered == list(range(sum(pieces)))


def test_a_sentence_longer_than_the_maximum_is_tagged_word_for_word(short_bert, tmp_path):
    from models import build_model
    from models.encoder_tagger import windows

    # 30 words, 39 subwords (13 per ten words): more than the 18 the model reads at once.
    sentence = (["The", "Parisian", "rejects", "EU", "call", "to", "boycott", "British", "lamb",
                 "."] * 3)
    data, cfg = prepared(short_bert, tmp_path, data_of([sentence, ["The", "EU"]]))
    assert cfg.max_pieces == 18
    model = build_model(cfg).eval()
    batch = one_batch(data)
    emissions = model(batch, 0)
    assert [len(row) for row in model.decode(emissions, batch, 0)] == [30, 2]
    states = model.piece_states(batch, 2)
    reference = hf_model(short_bert)
    word_pieces = torch.bincount(batch.piece_word[0, :int(batch.piece_mask[0].sum())]).tolist()
    assert sum(word_pieces) == 39
    for start, end, core_start, core_end in windows(word_pieces, 18):
        ids = torch.tensor([cfg.prefix_ids + batch.pieces[0, start:end].tolist() + cfg.suffix_ids])
        out = reference(ids, output_hidden_states=True).hidden_states[2][0, 1:-1]
        torch.testing.assert_close(states[0, core_start:core_end],
                                   out[core_start - start:core_end - start], atol=1e-5, rtol=1e-5)


# ---- rewinding and checkpoints -------------------------------------------------------------
def test_rewinding_restores_the_pretrained_tensors_exactly(tiny_bert, tmp_path):
    from models import build_model
    from utils.sparsity.pruning import rewind_

    data, cfg = prepared(tiny_bert, tmp_path)
    model = build_model(cfg)
    init_state = {name: value.clone() for name, value in model.state_dict().items()}
    with torch.no_grad():
        for param in model.parameters():
            param.add_(1.0)                                # "trained"
    mask = random_mask(model)
    rewind_(model, init_state, mask)
    pretrained = hf_model(tiny_bert).state_dict()
    state = model.state_dict()
    assert set(state) >= {f"encoder.{name}" for name in pretrained if not name.startswith("pooler.")}
    for name, value in pretrained.items():
        if name.startswith("pooler."):           # dropped: a tagger never reads it
            continue
        expected = value * mask[f"encoder.{name}"] if f"encoder.{name}" in mask else value
        assert torch.equal(state[f"encoder.{name}"], expected), name


def test_a_checkpoint_whose_encoder_folder_changed_is_refused(tiny_bert, tmp_path):
    import shutil

    from models import build_model
    from utils.training.checkpoint import load_model, save_weights

    folder = tmp_path / "copy"
    shutil.copytree(tiny_bert, folder)
    data, cfg = prepared(folder, tmp_path)
    save_weights(tmp_path / "best.th", build_model(cfg), cfg)
    model, _ = load_model(tmp_path / "best.th")
    assert type(model).__name__ == "EncoderTagger"
    (folder / "config.json").write_text((folder / "config.json").read_text() + "\n")
    with pytest.raises(InputError, match="encoder folder changed"):
        load_model(tmp_path / "best.th")
    shutil.rmtree(folder)
    with pytest.raises(InputError, match="not a folder"):
        load_model(tmp_path / "best.th")


def test_a_distilbert_folder_works_the_same_way(tmp_path):
    from models import build_model

    need_module("transformers", "the encoder tests build a tiny DistilBERT with it")
    folder = write_tiny_bert(tmp_path / "distil", family="distilbert")
    data, cfg = prepared(folder, tmp_path)
    assert (cfg.model_type, cfg.n_layer, cfg.hidden_size) == ("distilbert", 2, 32)
    model = build_model(cfg).eval()
    kinds = sorted({name.split(".", 4)[-1] for name in model.prunable_names()})
    assert kinds == ["attention.k_lin.weight", "attention.out_lin.weight", "attention.q_lin.weight",
                     "attention.v_lin.weight", "ffn.lin1.weight", "ffn.lin2.weight"]
    assert model.prunable_names()[0] == "encoder.transformer.layer.0.attention.q_lin.weight"
    batch = one_batch(data)
    states = model.piece_states(batch, 2)
    reference = hf_model(folder)
    for b in range(batch.pieces.size(0)):
        n = int(batch.piece_mask[b].sum())
        out = reference(encoder_input(cfg, batch, b), output_hidden_states=True).hidden_states[2]
        torch.testing.assert_close(states[b, :n], out[0, 1:1 + n], atol=1e-5, rtol=1e-5)
