# Two commands: `make demo` (install + run the main job) and `make test` (install + tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
ENCODER := $(VENV)/.encoder-installed
STAMP := $(VENV)/.installed

.PHONY: install install-runtime encoder slurm test demo clean

install-runtime: $(RUNTIME)

install: $(STAMP)

# The runtime alone (what the demo and training need) ...
$(RUNTIME): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(RUNTIME)

# Encoder support (`--encoder`, docs/encoders.md): transformers, pinned.
encoder: $(ENCODER)

$(ENCODER): $(RUNTIME) requirements-encoder.txt
	$(PY) -m pip install --quiet -r requirements-encoder.txt
	touch $(ENCODER)

# ... and the test tools on top (pytest, and fastNLP as the metric oracle, which pulls in much more;
# transformers for the encoder tests).
$(STAMP): $(RUNTIME) $(ENCODER) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Slurm for the test of the Slurm launcher, from the distribution when missing (needs root; else
# that test is skipped).
slurm:
	bash scripts/install-slurm.sh

# CI=true: a parity or real-corpus test that cannot run (fastNLP, the vectors package, the original
# code, ../shared/data or Slurm missing) fails with the reason instead of skipping (tests/needs.py).
test: install slurm
	CI=true $(PY) -m pytest -q -n 2 --dist loadfile tests

# The whole pipeline on a CoNLL-2003 sample (data/raw/conll03 or ../shared/data/conll03):
# prepare-data -> single-task pruning -> masks chosen by dev score -> sparse sharing -> baselines.
demo: install-runtime
	bash run_conll03.sh demo

clean:
	rm -rf $(VENV)
