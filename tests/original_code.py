"""The paper's released code (../shared/reference/original) imported as the tests' oracle: its
`src/` modules and its scripts, run with fastNLP 0.5.0 on today's torch.

Shims, the fewest that let its code run here; none changes what it computes:
- `tensorboardX` (imported by src/trainer.py and the scripts, only to write logs) is a stub
  whose SummaryWriter does nothing (`original_src` installs it);
- fastNLP's batch iterator calls `torch.utils.data.Sampler.__init__(dataset)`, which torch 1.2
  accepted and today's torch no longer does: `original_src` lets it take and ignore the argument;
- src/models.py asks StaticEmbedding for "en-glove-6b-100d", which fastNLP would download:
  `local_vectors` points it at a vectors file the test writes;
- its trainer moves every batch with `.cuda()`: `on_cpu` makes `Tensor.cuda` the identity;
- torch 1.2's `zero_grad` zeroed the gradients where today's frees them (set_to_none=True):
  `torch12_zero_grad` gives back the old behaviour, which the original's steps relied on (a
  parameter that once had a gradient keeps taking momentum steps).
Without the original code or fastNLP, `original_src` is `needs.unavailable`: a skip, or a failure
under CI=true.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from types import ModuleType

import pytest
import torch

from needs import need_module, unavailable
from utils.paths import REPO_ROOT

ORIGINAL_DIR = REPO_ROOT.parent / "shared" / "reference" / "original"


def _stub_tensorboardx() -> None:
    if "tensorboardX" in sys.modules:
        return
    stub = types.ModuleType("tensorboardX")

    class SummaryWriter:
        """Takes every logging call and writes nothing."""

        def __init__(self, *args, **kwargs) -> None:
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    stub.SummaryWriter = SummaryWriter
    sys.modules["tensorboardX"] = stub


def _sampler_takes_its_data_source() -> None:
    sampler = torch.utils.data.Sampler
    if "__init__" not in vars(sampler):                 # torch 1.2: Sampler(data_source)
        sampler.__init__ = lambda self, data_source=None: None


def _original_importable() -> None:
    need_module("fastNLP", "the original code was built on fastNLP 0.5.0")
    if not (ORIGINAL_DIR / "src").is_dir():
        unavailable("the original code is not found in ../shared/reference/original")
    _stub_tensorboardx()
    _sampler_takes_its_data_source()
    if str(ORIGINAL_DIR) not in sys.path:
        sys.path.append(str(ORIGINAL_DIR))          # last: the project's own modules come first


def original_src(module: str) -> ModuleType:
    """The original's `src.<module>` ("models", "prune", "metric", "trainer", "task", "utils")."""
    _original_importable()
    return importlib.import_module(f"src.{module}")


def original_script(name: str) -> ModuleType:
    """One of the original's top-level scripts ("train_mtl", "prepare-data"), imported as a module
    (its `__main__` part does not run)."""
    _original_importable()
    module_name = "original_" + name.replace("-", "_")
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ORIGINAL_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


def local_vectors(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """src/models.py's StaticEmbedding reads `path` instead of downloading its GloVe 6B 100d."""
    models = original_src("models")
    real = models.StaticEmbedding

    def static_embedding(*args, model_dir_or_name=None, **kwargs):
        if model_dir_or_name is not None:
            model_dir_or_name = str(path)
        return real(*args, model_dir_or_name=model_dir_or_name, **kwargs)

    monkeypatch.setattr(models, "StaticEmbedding", static_embedding)


def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The original trainer's `.cuda()` calls leave tensors where they are."""
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)


def torch12_zero_grad(monkeypatch: pytest.MonkeyPatch) -> None:
    """`zero_grad` of modules and optimizers zeroes gradients instead of freeing them (torch 1.2)."""
    for owner in (torch.nn.Module, torch.optim.Optimizer):
        real = owner.zero_grad
        monkeypatch.setattr(owner, "zero_grad",
                            lambda self, set_to_none=False, _real=real: _real(self, set_to_none=False))
