# The study's entry points. Every target sets up .venv first (pinned versions, CPU-friendly).
#   make reproduce [PROFILE=default|offline-kinds|smoke|paper|sensitivity|transfer|gpu-kinds]
#                  [EXECUTOR=local|slurm] [JOBS=N] [ALLOW_CPU=1]
#   make test                                                      the test suite (CI runs this)
# See README.md for the rest.

PROFILE ?= default
EXECUTOR ?= local
JOBS ?= auto
MODEL ?= minilm
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
ifdef ALLOW_CPU
export HSCORE_ALLOW_CPU := $(ALLOW_CPU)
endif

.PHONY: help venv reproduce plan run score prune execute book findings lint test test-fast lab benchmark gpu-check \
	gpu-wheels pairs clean-results clean-book clean distclean

help:
	@sed -n '2,5p' Makefile; echo; grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(VENV)/.installed: requirements.lock requirements-data.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-data.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned dependencies

reproduce: venv  ## run the plan of PROFILE (EXECUTOR, JOBS), execute its notebooks, build the book
	$(BIN)/python -m hscore reproduce --profile $(PROFILE) --executor $(EXECUTOR) --jobs $(JOBS)
	@echo "Open book/_build/html/index.html"

plan: venv  ## validate PROFILE and list its steps with their state
	$(BIN)/python -m hscore plan --profile $(PROFILE)

run: venv  ## run the plan of PROFILE without notebooks (EXECUTOR, JOBS)
	$(BIN)/python -m hscore run --profile $(PROFILE) --executor $(EXECUTOR) --jobs $(JOBS)

score: venv  ## phase 1 of PROFILE alone (scoring runs and subsets), then the H histograms
	$(BIN)/python -m hscore score --profile $(PROFILE) --executor $(EXECUTOR) --jobs $(JOBS)

prune: venv  ## your own data: TASK=name (study.yaml tasks:) or FILE=f TEXT=col LABEL=col, MODEL=minilm
	$(BIN)/python -m hscore prune --profile $(PROFILE) --model $(MODEL) --jobs $(JOBS) \
	  $(if $(FILE),--file $(FILE) $(foreach t,$(TEXT),--text $(t)) --label $(LABEL),--task $(TASK)) $(ARGS)

execute: venv  ## only the papermill runs of PROFILE
	$(BIN)/python -m hscore execute --profile $(PROFILE)

book: venv  ## rebuild the book from the executed notebooks of PROFILE
	$(BIN)/python -m hscore book --profile $(PROFILE)

findings: venv  ## the answer of PROFILE from its results; re-makes benchmarks/findings/PROFILE.md and .png (README)
	$(BIN)/python -m hscore findings --profile $(PROFILE) --out benchmarks/findings

pairs: venv  ## list the model-task pairs of PROFILE
	$(BIN)/python -m hscore pairs --profile $(PROFILE)

lint: venv  ## ruff, and the import layers of the library (lint-imports, pyproject.toml)
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/lint-imports

test: lint  ## the lint, then the whole test suite (offline, CPU)
	$(BIN)/python -m pytest

test-fast: venv  ## the test suite without papermill, book builds and the reliability trials
	$(BIN)/python -m pytest -m "not slow and not reliability"

lab: venv  ## edit the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

benchmark: venv  ## measure fine-tuning throughput on this machine (CPU or GPU)
	$(BIN)/python benchmarks/throughput.py

# On a GPU node: no .venv (the pinned CPU torch would replace the node's CUDA one); the node's python3,
# the repository's lib/ and whatever the wheel folder adds. ARGS=--dry-run checks what it needs, anywhere.
GPU_PYTHON ?= python3
WHEELS ?= wheels

gpu-check:  ## on a CUDA machine, offline: CUDA tests, the engine vs the Trainer, gpu-kinds (ARGS=--dry-run)
	PYTHONPATH=$(abspath lib)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) -m hscore.gpu_check --wheels $(WHEELS) $(ARGS)

gpu-wheels: venv  ## gather into WHEELS what gpu-check installs on a GPU node without the index (Python 3.12)
	$(BIN)/python -m hscore.gpu_check --gather-wheels --wheels $(WHEELS)

clean-results: venv  ## delete the results and executed notebooks of PROFILE (where HSCORE_RESULTS_DIR points); asks first
	$(BIN)/python -m hscore clean --profile $(PROFILE) $(ARGS)

clean-book:  ## delete the built book
	rm -rf book/_build book/_toc.yml book/_static/mathjax

clean: clean-book  ## the built book (results are kept: use clean-results)

distclean: clean  ## also the virtual environment
	rm -rf $(VENV)
