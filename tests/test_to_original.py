"""This project's masks folder written as the original code's (utils/sparsity/to_original.py):
the file names, True = pruned, the original's parameter names (written out by hand in
test_original_masks.py), and every bad input refused with the output folder left as it was.
tests/test_parity_conll03.py runs the written folder through the original's own train_mtl.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_original_masks import CONFIG, original_name  # noqa: E402

from models import ModelConfig, build_model  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.sparsity.original_masks import convert_folder  # noqa: E402
from utils.sparsity.pruning import prunable_names  # noqa: E402
from utils.sparsity.to_original import main, write_original_folder  # noqa: E402
from utils.training.checkpoint import save_weights  # noqa: E402

ROUNDS = {0: 2, 1: 3}


def our_folder(folder: Path, config: ModelConfig = CONFIG) -> tuple[torch.nn.Module, dict]:
    """A masks folder as prepare-masks.sh places it: init_weights.th and one <task_id>.th per
    task (True = kept), task t chosen at round ROUNDS[t]."""
    torch.manual_seed(0)
    model = build_model(config)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(folder / "init_weights.th", model, config, seed=1)
    gen = torch.Generator().manual_seed(1)
    params = dict(model.named_parameters())
    masks = {}
    for task_id, round_ in ROUNDS.items():
        masks[task_id] = {n: torch.rand(params[n].shape, generator=gen) < 0.3
                          for n in prunable_names(model)}
        torch.save({"mask": masks[task_id], "pruning_time": round_, "percent": 30.0,
                    "task_id": task_id, "source": f"{round_}_30.00.th"}, folder / f"{task_id}.th")
    return model, masks


def test_the_folder_is_the_originals_format(tmp_path, capsys):
    model, masks = our_folder(tmp_path / "mask")
    main([str(tmp_path / "mask"), str(tmp_path / "original")])
    assert capsys.readouterr().out.count("wrote") == 3
    assert sorted(p.name for p in (tmp_path / "original").iterdir()) == ["0_2", "1_3", "init_weights"]
    for task_id, round_ in ROUNDS.items():
        written = torch.load(tmp_path / "original" / f"{task_id}_{round_}", weights_only=True)
        assert written["pruning_time"] == round_
        expected = {original_name(n): ~kept for n, kept in masks[task_id].items()}   # True = pruned
        assert sorted(written["mask"]) == sorted(expected)
        assert all(torch.equal(written["mask"][n], expected[n]) for n in expected)
    weights = torch.load(tmp_path / "original" / "init_weights", weights_only=True)
    state = model.state_dict()
    assert sorted(weights) == sorted(original_name(n) for n in state)
    assert all(torch.equal(weights[original_name(n)], v) for n, v in state.items())


def test_reading_the_written_folder_back_gives_the_masks(tmp_path):
    """The reader (utils.sparsity.original_masks) takes back what the writer wrote."""
    _, masks = our_folder(tmp_path / "mask")
    write_original_folder(tmp_path / "mask", tmp_path / "original")
    convert_folder(tmp_path / "original", tmp_path / "back")
    for task_id in ROUNDS:
        back = torch.load(tmp_path / "back" / f"{task_id}.th", weights_only=True)["mask"]
        assert all(torch.equal(back[n], m) for n, m in masks[task_id].items())


def test_hierarchical_weights_take_the_hierarchical_models_names(tmp_path):
    """The original's HierarchicalShareCNNLSTM: word_embed, char_embed, lstm1 and lstm2 (one
    layer each), out (its src/models.py)."""
    config = ModelConfig(n_words=32, n_chars=13, n_labels=[3, 4], word_dim=8, hidden_size=8,
                         arch="hier-lstm", task_layers=[1, 2])
    our_folder(tmp_path / "mask", config)
    write_original_folder(tmp_path / "mask", tmp_path / "original")
    names = set(torch.load(tmp_path / "original" / "init_weights", weights_only=True))
    assert {"word_embed.embedding.weight", "char_embed.char_embedding.weight",
            "char_embed.convs.0.weight", "char_embed.fc.bias", "lstm1.lstm.weight_ih_l0",
            "lstm2.lstm.weight_hh_l0_reverse", "out.1.weight"} <= names
    assert not any(n.startswith(("lstm.", "char.", "embedding.")) for n in names)


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a torch file")


def _edit_mask(edit):
    def apply(folder: Path) -> None:
        loaded = torch.load(folder / "1.th", weights_only=True)
        edit(loaded["mask"])
        torch.save(loaded, folder / "1.th")
    return apply


def _edit_weights(edit):
    def apply(folder: Path) -> None:
        loaded = torch.load(folder / "init_weights.th", weights_only=True)
        edit(loaded)
        torch.save(loaded, folder / "init_weights.th")
    return apply


def _rename(mask: dict, old: str, new: str) -> None:
    mask[new] = mask.pop(old)


BAD = [  # (what breaks, how, the message expected, arch argument)
    ("no folder", lambda f: [p.unlink() for p in f.iterdir()] and f.rmdir(), "not a folder", None),
    ("no mask file", lambda f: [(f / f"{t}.th").unlink() for t in ROUNDS], "expected <task_id>.th", None),
    ("no start weights", lambda f: (f / "init_weights.th").unlink(), "expected <task_id>.th", None),
    ("unreadable mask", lambda f: _garbage(f / "1.th"), "1.th: cannot read mask file", None),
    ("unreadable weights", lambda f: _garbage(f / "init_weights.th"), "cannot read start weights", None),
    ("float mask", _edit_mask(lambda m: m.update({k: v.float() for k, v in m.items()})),
     "1.th: expected {'mask'", None),
    ("mask of a tensor the weights lack", _edit_mask(lambda m: _rename(m, "lstm.0.weight_ih_l0", "lstm.2.weight_ih_l0")),
     "1.th: mask names unknown parameter 'lstm.2.weight_ih_l0'", None),
    ("mask of another shape", _edit_mask(lambda m: m.update({"char_cnn.conv.weight": torch.ones(2, 2, dtype=torch.bool)})),
     "1.th: mask for 'char_cnn.conv.weight' has shape (2, 2)", None),
    ("weights not tensors", _edit_weights(lambda w: w.update(state_dict=[1, 2])),
     "init_weights.th: expected {'state_dict'", None),
    ("a name the original lacks", _edit_weights(lambda w: w["state_dict"].update({"encoder.weight": torch.ones(2)})),
     "init_weights.th: no counterpart in the original's cnn-lstm model for 'encoder.weight'", None),
    ("soft sharing weights", _edit_weights(lambda w: w["model_config"].update(arch="soft")),
     "the original has no 'soft' model", None),
    ("another architecture asked", lambda f: None, "a cnn-lstm model, not hier-lstm", "hier-lstm"),
]


@pytest.mark.parametrize("what, breaks, message, arch", BAD, ids=[b[0] for b in BAD])
def test_a_bad_input_is_refused_and_the_output_stays(tmp_path, what, breaks, message, arch):
    """The output folder holds an earlier export; a bad input (the second mask file broken,
    after files that would be written first) fails with one message naming the file, and
    --overwrite replaces nothing."""
    source, out = tmp_path / "mask", tmp_path / "original"
    our_folder(source)
    write_original_folder(source, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    first = torch.load(source / "0.th", weights_only=True)
    first["mask"] = {name: ~kept for name, kept in first["mask"].items()}
    torch.save(first, source / "0.th")                         # a new 0_2, were it written
    breaks(source)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{")):
        write_original_folder(source, out, arch=arch, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_existing_output_needs_overwrite(tmp_path):
    our_folder(tmp_path / "mask")
    write_original_folder(tmp_path / "mask", tmp_path / "original")
    with pytest.raises(InputError, match="would overwrite .*0_2.*; pass --overwrite"):
        write_original_folder(tmp_path / "mask", tmp_path / "original")
    assert len(write_original_folder(tmp_path / "mask", tmp_path / "original", overwrite=True)) == 3


def test_overwrite_removes_an_earlier_exports_other_rounds(tmp_path):
    """The original reads every file of the folder as a mask: an earlier export's `0_1` left
    beside the new `0_2` would count as a fourth task."""
    our_folder(tmp_path / "mask")
    out = tmp_path / "original"
    out.mkdir()
    torch.save({"mask": {}, "pruning_time": 1}, out / "0_1")
    with pytest.raises(InputError, match=r"would overwrite .*0_1; pass --overwrite"):
        write_original_folder(tmp_path / "mask", out)
    write_original_folder(tmp_path / "mask", out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["0_2", "1_3", "init_weights"]


def test_a_folder_holding_other_files_is_refused(tmp_path):
    our_folder(tmp_path / "mask")
    out = tmp_path / "original"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds notes.txt, which the original's train_mtl.py would read"):
        write_original_folder(tmp_path / "mask", out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
