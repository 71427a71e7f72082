import os
import stat

import pytest
import torch

from utils.atomic import json_save_atomic, read_jsonl, torch_save_atomic


class Unsaveable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.pt"
    torch_save_atomic({"a": torch.ones(2)}, target)
    with pytest.raises(Exception):
        torch_save_atomic({"bad": Unsaveable()}, target)
    assert torch.load(target, weights_only=True)["a"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pt"]


def test_written_files_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        json_save_atomic({"x": 1}, tmp_path / "r.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_read_jsonl_skips_a_truncated_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert read_jsonl(path) == [{"epoch": 1}, {"epoch": 2}]


def test_replacing_folder_swaps_whole_or_not_at_all(tmp_path):
    from utils.atomic import replacing_folder
    from utils.owned import mark
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    mark(target, "run")
    with pytest.raises(RuntimeError):
        with replacing_folder(target, "run") as new:
            (new / "half.txt").write_text("half")
            raise RuntimeError("failed while building")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and (target / "old.txt").exists()
    killed = tmp_path / ".run.new-killed12"                 # a swap killed while building
    killed.mkdir()
    mark(killed, "run")
    with replacing_folder(target, "run") as new:
        (new / "new.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in target.iterdir()) == [".sparse-sharing", "new.txt"]
    # killed between the two renames: the old run sits alone in .run.old-*, and is kept
    os.replace(target, tmp_path / "elsewhere")
    (tmp_path / ".run.old-killed12").mkdir()
    mark(tmp_path / ".run.old-killed12", "swap-old")
    os.replace(tmp_path / "elsewhere", tmp_path / ".run.old-killed12" / "run")
    with replacing_folder(target, "run") as new:
        pass
    assert (tmp_path / ".run.old-killed12" / "run" / "new.txt").exists() and target.is_dir()
