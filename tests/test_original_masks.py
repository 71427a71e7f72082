"""The original code's mask and weight files (True = pruned, fastNLP names, torch 1.2's file
format) are read into ours: by every mask reader, by the start-weight reader, and as a folder."""
from __future__ import annotations

import json
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_model_fixtures import synthetic_data  # noqa: E402

import train_mtl  # noqa: E402
from models import ModelConfig, build_model  # noqa: E402
from utils.data.datafile import save_data_file  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.sparsity.mask_files import load_mask  # noqa: E402
from utils.sparsity.original_masks import convert_folder, main, our_name  # noqa: E402
from utils.sparsity.pruning import prunable_names  # noqa: E402
from utils.subnetworks.imp import ImpPlan, base_mask  # noqa: E402
from utils.training.checkpoint import load_weights  # noqa: E402
from utils.training.config import TrainConfig  # noqa: E402

CONFIG = ModelConfig(n_words=32, n_chars=13, n_labels=[3, 4], word_dim=8, hidden_size=8, crf=True)


def original_name(ours: str) -> str:
    """The original cnn-lstm's fastNLP name of one of our parameters (written out by hand)."""
    fixed = {"word_embed.weight": "embedding.embedding.weight",
             "char_cnn.char_embed.weight": "char.char_embedding.weight"}
    if ours in fixed:
        return fixed[ours]
    part, rest = ours.split(".", 1)
    if part == "char_cnn":
        return "char." + rest.replace("conv.", "convs.0.")
    if part == "lstm":
        layer, name = rest.split(".", 1)
        return "lstm.lstm." + name.replace("_l0", f"_l{layer}")
    if part == "heads":
        return "out." + rest
    return "crf." + rest.replace("transitions", "trans_m")


def original_files(folder: Path) -> tuple[dict, OrderedDict]:
    """A model's weights and a pruning mask (True = pruned) as the original saved them: names,
    buffers, and torch 1.2's (pre-zip) file format."""
    torch.manual_seed(0)
    model = build_model(CONFIG)
    state = OrderedDict((original_name(n), p.detach().clone()) for n, p in model.named_parameters())
    state["embedding.words_to_words"] = torch.arange(32)
    state["char.words_to_chars_embedding"] = torch.zeros(32, 5, dtype=torch.long)
    state["char.word_lengths"] = torch.ones(32, dtype=torch.long)
    state["crf.0._constrain"] = torch.zeros(5, 5)
    gen = torch.Generator().manual_seed(1)
    pruned = {original_name(n): torch.rand(p.shape, generator=gen) < 0.7
              for n, p in model.named_parameters() if n in prunable_names(model)}
    folder.mkdir(parents=True, exist_ok=True)
    legacy = {"_use_new_zipfile_serialization": False}
    for task_id in (0, 1):
        torch.save({"init_weights": state, "mask": pruned, "pruning_time": 3},
                   folder / f"{task_id}_3", **legacy)
    torch.save(state, folder / "init_weights", **legacy)
    return pruned, state


def test_name_map():
    assert our_name("lstm.lstm.weight_hh_l1_reverse") == "lstm.1.weight_hh_l0_reverse"
    assert our_name("lstm2.lstm.bias_ih_l0") == "lstm.1.bias_ih_l0"          # hier-lstm
    assert our_name("char_embed.convs.0.weight") == "char_cnn.conv.weight"
    assert our_name("word_embed.embedding.weight") == "word_embed.weight"    # hier, random-lstm
    assert our_name("crf.2.trans_m") == "crfs.2.transitions"
    assert our_name("out.1.bias") == "heads.1.bias"
    assert our_name("char.words_to_chars_embedding") is None
    with pytest.raises(ValueError, match="no counterpart"):
        our_name("encoder.weight")


def test_mask_and_weight_files_are_read_as_ours(tmp_path):
    pruned, state = original_files(tmp_path)
    loaded = load_mask(tmp_path / "0_3")
    model = build_model(CONFIG)
    assert sorted(loaded["mask"]) == sorted(prunable_names(model))
    for name, kept in loaded["mask"].items():
        assert torch.equal(kept, ~pruned[original_name(name)])
    kept = sum(int(m.sum()) for m in loaded["mask"].values())
    assert loaded["percent"] == round(100 * kept / sum(m.numel() for m in pruned.values()), 2)
    weights, config = load_weights(tmp_path / "init_weights")
    model.load_state_dict(weights)                  # every parameter, no buffer left over
    assert config is None and torch.equal(model.crfs[1].transitions, state["crf.1.trans_m"])
    plan = ImpPlan(task_id=0, seed=1, pruning_iter=1, final_rate=0.1, need_cut=["lstm", "conv"],
                   train=TrainConfig(epochs=1), init_masks=str(tmp_path / "1_3"))
    assert all(torch.equal(m, loaded["mask"][n]) for n, m in base_mask(model, plan).items())


def test_an_unknown_name_is_an_input_error(tmp_path):
    torch.save({"mask": {"lstm.lstm.weight_ih_l0": torch.ones(2, dtype=torch.bool),
                         "encoder.weight": torch.ones(2, dtype=torch.bool)}}, tmp_path / "m.th")
    with pytest.raises(InputError, match=r"m.th: no counterpart for the original's parameter"):
        load_mask(tmp_path / "m.th")


def test_a_masks_folder_converts_for_train_mtl(tmp_path, monkeypatch, capsys):
    pruned, _ = original_files(tmp_path / "original")
    out = tmp_path / "mask"
    main([str(tmp_path / "original"), str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["0.th", "1.th", "init_weights.th"]
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(InputError, match="would overwrite"):
        convert_folder(tmp_path / "original", out)
    data_file = tmp_path / "tiny.pt"
    save_data_file(synthetic_data(n_train=20, n_eval=8), data_file)
    monkeypatch.setattr(sys, "argv", [
        "train_mtl.py", "--data_path", str(data_file), "--masks_path", str(out), "--crf",
        "--save_dir", str(tmp_path / "mtl"), "--hidden_size", "8", "--epochs", "1",
        "--batch_size", "8", "--num_threads", "1"])
    train_mtl.main()
    results = json.loads((tmp_path / "mtl" / "cp" / "sparse" / "results.json").read_text())
    kept = 100 * sum(int((~m).sum()) for m in pruned.values()) / sum(m.numel() for m in pruned.values())
    assert results["mode"] == "sparse" and results["density"]["pos"] == pytest.approx(kept, abs=0.01)


def _save_in(name: str, contents: dict):
    return lambda folder: torch.save(contents, folder / name)


BAD_ORIGINAL = [  # (what breaks, how, the message expected)
    ("unreadable mask", lambda f: (f / "1_3").write_bytes(b"no torch file"), r"1_3: cannot read original file"),
    ("unreadable weights", lambda f: (f / "init_weights").write_bytes(b"x"), r"init_weights: cannot read original file"),
    ("unknown name", _save_in("1_3", {"mask": {"lstm.lstm.weight_ih_l0": torch.ones(2, dtype=torch.bool),
                                               "encoder.weight": torch.ones(2, dtype=torch.bool)}, "pruning_time": 3}),
     r"1_3: no counterpart for the original's parameter 'encoder.weight'"),
    ("not a mask of the original", _save_in("1_3", {"mask": {"lstm.0.weight_ih_l0": torch.ones(2, dtype=torch.bool)}}),
     r"1_3: expected a mask file of the original code"),
]


@pytest.mark.parametrize("what, breaks, message", BAD_ORIGINAL, ids=[b[0] for b in BAD_ORIGINAL])
def test_a_bad_original_file_is_refused_and_the_output_stays(tmp_path, what, breaks, message):
    """Every file is read and converted before the first is written: with an earlier conversion
    in OUT and --overwrite, a bad second mask file (or start weights) replaces nothing."""
    original_files(tmp_path / "original")
    out = tmp_path / "mask"
    convert_folder(tmp_path / "original", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    first = torch.load(tmp_path / "original" / "0_3", weights_only=True)
    first["mask"] = {name: ~pruned for name, pruned in first["mask"].items()}
    torch.save(first, tmp_path / "original" / "0_3")          # a new 0.th, were it written
    breaks(tmp_path / "original")
    with pytest.raises(InputError, match=message):
        convert_folder(tmp_path / "original", out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
