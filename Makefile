# Two commands: `make demo` (install + run the main job) and `make test` (install + tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

# The whole pipeline on a CoNLL-2003 sample (data/raw/conll03 or ../shared/data/conll03):
# prepare-data -> single-task pruning -> masks chosen by dev score -> sparse sharing -> baselines.
demo: install
	bash run_conll03.sh demo

clean:
	rm -rf $(VENV)
