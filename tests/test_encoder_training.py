"""Training over a pretrained transformer encoder (a tiny random BERT the tests write): the
transformer recipe (AdamW groups, linear warm-up and decay against transformers' own schedule),
what AdamW does to weights no task keeps, IMP's mask files, and the whole pipeline of the run
scripts (prepare, single, masks auto, baselines, analyze, predict)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from encoder_fixtures import encoder_data, tiny_bert, write_tiny_bert  # noqa: E402,F401 (a fixture)
from experiment_fixtures import in_process  # noqa: E402
from needs import need_module  # noqa: E402
from test_own_tasks import (TINY, chunk_corpus, entity_corpus,  # noqa: E402
                            predict_eval_equals_the_runs_test_score, run_tasks)
from task_sets import write_task_set  # noqa: E402

from utils.data.datafile import load_data_file, save_data_file  # noqa: E402


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("encoder_data") / "data.pt"
    save_data_file(encoder_data(), path)
    return path


def build(tiny_bert: Path, data_file: Path):
    from models import build_model
    from utils.training.encoder_setup import encoder_config, encoder_data as attach

    data = attach(load_data_file(data_file), data_file, tiny_bert)
    config = encoder_config(tiny_bert, data, dropout=0.1, crf=False, pooling="first")
    return data, build_model(config)


def test_the_linear_schedule_is_transformers_own(tiny_bert):
    import transformers

    from utils.training.lr_schedules import lr_factor

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    reference = transformers.get_linear_schedule_with_warmup(optimizer, 10, 100)
    ours = lr_factor("linear(warmup=0.1)", 100)
    for step in range(101):
        assert ours(step) == pytest.approx(reference.lr_lambdas[0](step)), step


def test_weight_decay_spares_biases_and_layernorms(tiny_bert, data_file):
    from utils.training.optim import build_optimizer, parameter_groups

    _, model = build(tiny_bert, data_file)
    optimizer = build_optimizer("adamw(lr=5e-5, weight_decay=0.01)", parameter_groups(model))
    decayed, spared = optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    spared_names = {names[id(p)] for p in spared["params"]}
    assert spared["weight_decay"] == 0.0 and decayed["weight_decay"] == 0.01
    assert "encoder.embeddings.LayerNorm.weight" in spared_names
    assert "encoder.encoder.layer.1.output.LayerNorm.weight" in spared_names
    assert "heads.0.bias" in spared_names and "encoder.encoder.layer.0.attention.self.query.bias" in spared_names
    assert not any(n.endswith("query.weight") or n.startswith("heads.0.weight") for n in spared_names)
    assert len(decayed["params"]) + len(spared["params"]) == len(list(model.parameters()))


def test_weights_no_task_keeps_never_move_under_adamw_in_multi_task_training(tiny_bert, data_file):
    """Two tasks with their own masks, AdamW with weight decay, a large lr: after the first
    epoch's start (which zeroes them) the weights neither task keeps stay exactly zero at every
    step, while weights a task keeps move."""
    from utils.sparsity.masking import union_masks
    from utils.training.config import TrainConfig
    from utils.training.tasks import TaskData
    from utils.training.trainer import Trainer

    data, model = build(tiny_bert, data_file)
    gen = torch.Generator().manual_seed(3)
    params = dict(model.named_parameters())
    masks = {t: {name: torch.rand(params[name].shape, generator=gen) < 0.4
                 for name in model.prunable_names()} for t in (0, 1)}
    union = union_masks(list(masks.values()))
    config = TrainConfig(epochs=3, optim="adamw(lr=1e-2, weight_decay=0.1)", batch_size=4,
                         scheduler="linear(warmup=0.1)", clip=1.0, batch_schedule="seq-label",
                         progress=False)
    tasks = [TaskData.of(data, 0), TaskData.of(data, 1)]
    trainer = Trainer(model, tasks, config, seed=1, masks=masks, echo=lambda _: None)
    before = {name: params[name].detach().clone() for name in union}
    checked = []

    def no_task_keeps_stay_zero(optimizer, args, kwargs):
        for name, kept in union.items():
            assert bool((params[name].detach()[~kept] == 0).all()), name
        checked.append(1)

    handle = trainer.optimizer.register_step_post_hook(no_task_keeps_stay_zero)
    try:
        for epoch in (1, 2, 3):
            trainer.train_epoch(trainer.optimizer, epoch)
    finally:
        handle.remove()
    assert len(checked) > 10
    moved = [name for name, kept in union.items()
             if not torch.equal(params[name].detach()[kept], before[name][kept])]
    assert moved == list(union)


def test_train_single_over_an_encoder_writes_masks_that_say_what_was_pruned(tiny_bert, data_file,
                                                                          tmp_path, capsys):
    out = tmp_path / "single"
    done = in_process("train_single.py", "--data_path", str(data_file), "--encoder", str(tiny_bert),
                      "--task_id", "ner", "--preset", "demo", "--epochs", "1", "--num_threads", "1",
                      "--save_dir", str(out), "--exp_name", "ner", capsys=capsys)
    assert done.returncode == 0, done.stderr
    run = out / "cp" / "ner"
    args = json.loads((run / "args.json").read_text())
    assert (args["optim"], args["scheduler"], args["clip"], args["batch_size"]) == (
        "adamw(lr=2e-4, weight_decay=0.01)", "linear(warmup=0.1)", 1.0, 16)
    assert args["encoder"] == str(tiny_bert) and args["need_cut"] == []
    for k, pct in ((0, "100.00"), (1, "31.62"), (2, "10.00")):
        saved = torch.load(run / f"{k}_{pct}.th", weights_only=True)
        assert saved["pruning_time"] == k and "LayerNorms, biases and heads" in saved["prunable"]
        assert saved["encoder"]["model_type"] == "bert" and len(saved["encoder"]["fingerprint"]) == 64
        assert len(saved["mask"]) == 12
    assert "2 tasks" not in done.stdout and "10.00" in done.stdout


def test_an_explicit_recipe_argument_wins_over_the_encoders(tiny_bert, data_file, tmp_path, capsys):
    out = tmp_path / "single"
    done = in_process("train_single.py", "--data_path", str(data_file), "--encoder", str(tiny_bert),
                      "--task_id", "0", "--preset", "demo", "--epochs", "1", "--pruning_iter", "0",
                      "--clip", "5", "--sched", "fix", "--num_threads", "1", "--save_dir", str(out),
                      capsys=capsys)
    assert done.returncode == 0, done.stderr
    args = json.loads((out / "cp" / "0" / "args.json").read_text())
    assert (args["clip"], args["scheduler"], args["clip_type"]) == (5.0, "fix", "norm")


@pytest.mark.parametrize("arch", ["soft", "random-lstm"])
def test_soft_sharing_and_random_lstm_are_refused_over_an_encoder(tiny_bert, data_file, arch, capsys):
    done = in_process("train_mtl.py", "--data_path", str(data_file), "--encoder", str(tiny_bert),
                      "--arch", arch, capsys=capsys)
    assert done.returncode == 2
    assert f"--arch {arch} is not offered with an encoder" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_the_whole_pipeline_over_a_tiny_encoder(tiny_bert, tmp_path, capsys):
    """prepare -> single -> prepare-masks auto -> baselines (no soft) -> table -> analyze.py ->
    predict.py --eval, with ENCODER=<the tiny BERT>."""
    chunk_corpus(tmp_path / "chunks")
    entity_corpus(tmp_path / "entities")
    toml = write_task_set(tmp_path / "tiny.toml", TINY)
    data, exp = tmp_path / "data" / "tiny.pt", tmp_path / "exp" / "tiny-enc"
    done = run_tasks(toml, "demo", DATA=str(data), DEMO_EXP=str(exp), ENCODER=str(tiny_bert),
                     TRAIN_ARGS="--epochs 1 --batch_size 8")
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout[done.stdout.index("test score (%)"):].splitlines()
    assert table[0].split()[3:] == ["single", "hard", "hier", "sparse"]
    for name in ("demo", "demo-hard", "demo-hier", "demo-single-chunk", "demo-single-ent"):
        record = json.loads((exp / "mtl" / "cp" / name / "results.json").read_text())
        assert record["encoder"] == str(tiny_bert), name
    assert not (exp / "mtl" / "cp" / "demo-soft").exists()
    mask = torch.load(exp / "mtl" / "mask" / "1.th", weights_only=True)
    assert all(name.startswith("encoder.encoder.layer.") for name in mask["mask"])

    done = in_process("analyze.py", str(exp), capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert "chunk-ent" in (exp / "report" / "report.md").read_text()

    tagged = predict_eval_equals_the_runs_test_score(exp, tmp_path, capsys).read_text().split("\n\n")
    assert len([s for s in tagged if s.strip()]) == 10


def test_the_encoder_speed_bench_prints_every_field(tiny_bert, data_file):
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "bench/encoder_speed.py", "--encoder", str(tiny_bert),
                           "--data", str(data_file), "--batch", "4", "--eval-batch", "8",
                           "--batches", "2", "--repeats", "1", "--threads", "1"],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name in ("train", "train_masked", "tag", "tag_masked"):
        assert report[name]["sentences_per_s"] > 0
    assert set(report["mask_share"]) == {"train", "tag"} and report["model_type"] == "bert"
    machine = report["machine"]          # the machine as the BiLSTM benchmark records it
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["torch_threads"] == 1 and machine["device"] == "cpu" and machine["cpu"]


def test_a_multi_task_run_over_an_encoder_rescores_its_epochs_and_checks_it_on_resume(
        tiny_bert, data_file, tmp_path, capsys):
    import shutil

    common = ["--data_path", str(data_file), "--preset", "demo", "--epochs", "1",
              "--num_threads", "1", "--save_dir", str(tmp_path / "mtl"), "--exp_name", "hard"]
    done = in_process("train_mtl.py", *common, "--encoder", str(tiny_bert), "--save_ep",
                      capsys=capsys)
    assert done.returncode == 0, done.stderr
    done = in_process("train_mtl.py", *common, "--encoder", str(tiny_bert), "--save_ep",
                      "--evaluate", capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert "re-scoring the saved epochs" in done.stdout
    other = tmp_path / "other-bert"
    shutil.copytree(tiny_bert, other)
    done = in_process("train_mtl.py", *common, "--encoder", str(other), "--save_ep", "--resume",
                      capsys=capsys)
    assert done.returncode == 2 and "encoder" in done.stderr
