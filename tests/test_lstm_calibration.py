"""The BiLSTM plan's constants measured on the machine (models.lstm_calibration) and kept per
machine (models.lstm_costs_cache): the fit recovers known constants from timings made by a known
cost; the cache is read back only for the same CPU, threads, torch and shape; a bad cache file is
ignored with a note; each switch of SPARSE_SHARING_LSTM_COSTS does what it says."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from models import lstm_costs_cache, lstm_plan
from models.lstm_calibration import BareStack, calibrate, fit_costs, stack_timer
from models.lstm_costs_cache import MODE_VARIABLE, fit_plan_to_machine, machine_key
from models.lstm_plan import DEFAULT_COSTS, PACKED, KernelCosts, padded_plan
from utils.errors import InputError

# Known constants (in row-steps) and the seconds one row-step takes: the toy machine.
KNOWN = {True: KernelCosts(group=150.0, group_step=3.0, packed=60.0, packed_step=17.0, packed_token=3.0),
         False: KernelCosts(group=80.0, group_step=1.5, packed=90.0, packed_step=5.0, packed_token=2.8)}
ROW_STEP = 2e-6
SHAPE = (80, 200, 2)


def toy_timer(known=KNOWN, calls=None):
    """Seconds as the cost model gives them for `known`: what a perfectly steady machine times."""
    def time_batch(lengths, packed, grad):
        if calls is not None:
            calls.append((tuple(lengths), packed, grad))
        costs = known[grad]
        if packed:
            return ROW_STEP * costs.packed_cost(lengths[0], sum(lengths))
        return ROW_STEP * costs.padded_cost(lengths[0], len(lengths))
    return time_batch


def refuse(lengths, packed, grad):
    raise AssertionError("measured although a usable cached fit was there")


@pytest.fixture(autouse=True)
def fresh_process(tmp_path, monkeypatch):
    """A cache folder of the test's own, no fit remembered, the plan's constants restored after."""
    monkeypatch.setenv("SPARSE_SHARING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(MODE_VARIABLE, "auto")
    monkeypatch.setattr(lstm_costs_cache, "_fitted", {})
    saved = dict(lstm_plan.COSTS)
    yield
    lstm_plan.COSTS.update(saved)


def forget_process_memo(monkeypatch):
    monkeypatch.setattr(lstm_costs_cache, "_fitted", {})      # as a new process starts


def test_calibration_recovers_known_constants():
    fitted = calibrate(toy_timer())
    for grad in (True, False):
        for name, value in asdict(KNOWN[grad]).items():
            assert getattr(fitted[grad], name) == pytest.approx(value, rel=1e-6), (grad, name)


def test_fit_gives_the_row_step_in_seconds_and_clamps_negative_terms():
    padded = [([(rows, width)], ROW_STEP * (10 + rows * width)) for rows in (1, 5, 9) for width in (3, 8)]
    packed = [(lengths, ROW_STEP * (2 * sum(lengths) + 5 * lengths[0] - 4))     # fixed cost < 0
              for lengths in ([6, 3, 3], [9, 5, 1], [12, 12, 11], [20, 2, 2])]
    costs, row_step = fit_costs(padded, packed)
    assert row_step == pytest.approx(ROW_STEP)
    assert (costs.group, costs.group_step) == (pytest.approx(10), pytest.approx(0, abs=1e-6))
    assert costs.packed == 0 and costs.packed_step == pytest.approx(5, rel=1e-3)
    with pytest.raises(ValueError, match="row-step"):
        fit_costs([(g, 1.0) for g, _ in padded], packed)           # time independent of the rows


def test_first_run_calibrates_caches_and_uses_the_fit(tmp_path, monkeypatch):
    notes = []
    record = fit_plan_to_machine(*SHAPE, "cpu", notes.append, toy_timer())
    assert record["source"] == "calibrated" and record["key"] == machine_key(*SHAPE)
    assert lstm_plan.COSTS[True].group == pytest.approx(KNOWN[True].group)
    assert record["grad"]["group"] == pytest.approx(KNOWN[True].group)
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and json.loads(files[0].read_text())["key"] == machine_key(*SHAPE)
    assert "measured on this machine" in notes[0]
    # A later run (new process) reads the cache, measures nothing, says nothing.
    forget_process_memo(monkeypatch)
    lstm_plan.COSTS.update(DEFAULT_COSTS)
    notes.clear()
    again = fit_plan_to_machine(*SHAPE, "cpu", notes.append, refuse)
    assert again["source"] == "cache" and again["grad"] == record["grad"] and not notes
    assert lstm_plan.COSTS[False].packed_token == pytest.approx(KNOWN[False].packed_token)
    # Within one process a second trainer reuses the fit without reading or measuring.
    assert fit_plan_to_machine(*SHAPE, "cpu", notes.append, refuse)["source"] == "cache"


@pytest.mark.parametrize("change", ["cpu", "cpu_capability", "onednn_isa", "dnnl_isa", "threads",
                                    "torch", "shape"])
def test_a_fit_is_not_used_on_another_machine_or_shape(monkeypatch, change):
    fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, toy_timer())
    forget_process_memo(monkeypatch)
    shape = SHAPE
    if change == "cpu":
        monkeypatch.setattr(lstm_costs_cache, "cpu_name", lambda: "Another CPU")
    elif change == "cpu_capability":
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    elif change == "onednn_isa":
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    elif change == "dnnl_isa":
        monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    elif change == "threads":
        monkeypatch.setattr(torch, "get_num_threads", lambda: 7)
    elif change == "torch":
        monkeypatch.setattr(torch, "__version__", "0.0.1")
    else:
        shape = (80, 100, 2)
    calls = []
    record = fit_plan_to_machine(*shape, "cpu", lambda _: None, toy_timer(calls=calls))
    assert record["source"] == "calibrated" and calls


def test_a_file_written_for_another_key_is_ignored_with_a_note(tmp_path, monkeypatch):
    fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, toy_timer())
    [path] = (tmp_path / "cache").iterdir()
    stored = json.loads(path.read_text())
    stored["key"]["cpu"] = "Another CPU"                    # e.g. a cache folder shared by two machines
    path.write_text(json.dumps(stored))
    forget_process_memo(monkeypatch)
    notes = []
    assert fit_plan_to_machine(*SHAPE, "cpu", notes.append, toy_timer())["source"] == "calibrated"
    assert "another machine" in notes[0] and str(path) in notes[0]
    assert json.loads(path.read_text())["key"] == machine_key(*SHAPE)


@pytest.mark.parametrize("content", [
    "", "{", "[1, 2]", "null",
    '{"key": KEY}',                                                     # no constants
    '{"key": KEY, "grad": {"group": 1}, "no grad": {}}',                # constants missing
    '{"key": KEY, "grad": GOOD, "no grad": NEGATIVE}',
    '{"key": KEY, "grad": GOOD, "no grad": TEXT}',
    '{"key": KEY, "grad": GOOD, "no grad": EXTRA}',
])
def test_a_corrupt_cache_is_ignored_with_a_note_and_replaced(tmp_path, monkeypatch, content):
    fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, toy_timer())
    [path] = (tmp_path / "cache").iterdir()
    good = asdict(KNOWN[True])
    content = (content.replace("KEY", json.dumps(machine_key(*SHAPE))).replace("GOOD", json.dumps(good))
               .replace("NEGATIVE", json.dumps({**good, "group": -1}))
               .replace("TEXT", json.dumps({**good, "group": "fast"}))
               .replace("EXTRA", json.dumps({**good, "speed": 1})))
    path.write_text(content)
    forget_process_memo(monkeypatch)
    notes = []
    record = fit_plan_to_machine(*SHAPE, "cpu", notes.append, toy_timer())
    assert record["source"] == "calibrated"
    assert notes[0].startswith(f"ignored the cached BiLSTM plan constants {path}")
    assert json.loads(path.read_text())["grad"] == record["grad"]
    assert not [p for p in path.parent.iterdir() if p != path]          # no temp file left


def test_calibrate_measures_again_and_default_measures_nothing(tmp_path, monkeypatch):
    fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, toy_timer())
    forget_process_memo(monkeypatch)
    monkeypatch.setenv(MODE_VARIABLE, "calibrate")
    other = {grad: KernelCosts(**{**asdict(c), "group": 2 * c.group}) for grad, c in KNOWN.items()}
    record = fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, toy_timer(other))
    assert record["source"] == "calibrated" and record["grad"]["group"] == pytest.approx(300)
    forget_process_memo(monkeypatch)
    monkeypatch.setenv(MODE_VARIABLE, "default")
    record = fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, refuse)
    assert record["source"] == "default" and lstm_plan.COSTS == DEFAULT_COSTS
    assert record["grad"] == asdict(DEFAULT_COSTS[True])
    monkeypatch.setenv(MODE_VARIABLE, "auto")
    assert fit_plan_to_machine(*SHAPE, "cuda", lambda _: None, refuse)["source"] == "default"


@pytest.mark.parametrize("mode", ["on", "AUTO", "0"])
def test_bad_mode_is_a_clear_error(monkeypatch, mode):
    monkeypatch.setenv(MODE_VARIABLE, mode)
    with pytest.raises(InputError, match=MODE_VARIABLE):
        fit_plan_to_machine(*SHAPE, "cpu", lambda _: None, refuse)


def test_unusable_timings_fall_back_to_the_defaults(tmp_path):
    notes = []
    record = fit_plan_to_machine(*SHAPE, "cpu", notes.append, lambda lengths, packed, grad: 1e-3)
    assert record["source"] == "default" and lstm_plan.COSTS == DEFAULT_COSTS
    assert "no usable constants" in notes[0] and not (tmp_path / "cache").exists()


def test_an_unwritable_cache_still_uses_the_fit(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SPARSE_SHARING_CACHE", str(blocker))
    notes = []
    record = fit_plan_to_machine(*SHAPE, "cpu", notes.append, toy_timer())
    assert record["source"] == "calibrated" and any("could not cache" in n for n in notes)
    assert lstm_plan.COSTS[True].group == pytest.approx(KNOWN[True].group)


def test_the_real_timer_on_a_tiny_stack():
    time_batch = stack_timer(6, 4, 2, repeats=1)
    assert time_batch([5, 3, 1], True, True) > 0 and time_batch([4, 4], False, False) > 0
    stack = BareStack(6, 4, 2, clock=lambda: 0.0)
    lengths = torch.tensor([3, 2])
    assert stack.seconds(lengths, PACKED, True) == stack.seconds(lengths, padded_plan(lengths, [0], torch.device("cpu")), False) == 0


def test_a_trainer_fits_the_plan_to_its_model_and_records_it(tmp_path, monkeypatch):
    from test_trainer import make_trainer

    calls = []

    def timer_for(input_size, hidden, layers, repeats=3):
        calls.append((input_size, hidden, layers))
        return toy_timer()
    monkeypatch.setattr(lstm_costs_cache, "stack_timer", timer_for)
    notes = []
    trainer, model = make_trainer(tmp_path, echo=notes.append)
    first = model.lstm[0]
    assert calls == [(first.input_size, 16, model.config.n_layer)]
    assert trainer.lstm_costs["source"] == "calibrated"
    assert trainer.lstm_costs["key"]["lstm"] == {"input": first.input_size, "hidden": 16,
                                                 "layers": model.config.n_layer}
    assert lstm_plan.COSTS[True].group == pytest.approx(KNOWN[True].group)
    assert any("measured on this machine" in n for n in notes)
    monkeypatch.setenv(MODE_VARIABLE, "default")
    assert make_trainer(tmp_path)[0].lstm_costs["source"] == "default"
