"""Thread and device setup shared by the training scripts."""
from __future__ import annotations

import os

import pytest
import torch

from utils.cli_args import check_device, setup_torch, usable_cores
from utils.errors import InputError


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_usable_cores_respects_the_affinity_mask():
    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1


def test_zero_threads_means_every_usable_core(restore_threads, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})       # pinned to one core
    setup_torch(0, "cpu")
    assert torch.get_num_threads() == 1
    setup_torch(2, "cpu")
    assert torch.get_num_threads() == 2


def test_negative_threads_and_a_missing_gpu_are_input_errors(restore_threads, monkeypatch):
    with pytest.raises(InputError, match="--num_threads"):
        setup_torch(-1, "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="CUDA is not available"):
        setup_torch(1, "cuda")


@pytest.mark.parametrize("device, message", [
    ("gpu", "expected cpu, cuda or cuda:N, got 'gpu'"), ("meta", "expected cpu, cuda or cuda:N"),
    ("cuda:x", "expected cpu, cuda or cuda:N"), ("", "expected cpu, cuda or cuda:N"),
    ("mps", "expected cpu, cuda or cuda:N, got 'mps'")])
def test_a_device_torch_or_the_models_cannot_use_is_an_input_error(device, message):
    with pytest.raises(InputError, match="--device: " + message.replace("(", r"\(")):
        check_device(device)
    check_device("cpu")


def test_a_gpu_number_beyond_the_machine_is_an_input_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(InputError, match=r"--device: no GPU 2 here: this machine shows 2 \(cuda:0 to cuda:1\)"):
        check_device("cuda:2")
