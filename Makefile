# Two commands for learners and CI (see README):
#   make lab   set up .venv, fetch + verify the data, start JupyterLab on notebooks/
#   make test  the same set-up, then ruff, unit tests and strict nbval over every notebook
#
# TORCH_SPEC decides which torch is installed into a *fresh* .venv. The default takes a
# normal torch from PyPI (a CUDA build on Linux, which is what a GPU user wants). Our
# CPU-only build machines and CI pass a CPU pin, e.g.  make test TORCH_SPEC=torch==2.13.0
PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch>=2.6
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
NBVAL_ARGS ?= --nbval --nbval-current-env --nbval-cell-timeout=600 \
              --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test setup data unit notebooks lint sync-urls clean-venv execute

setup: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (found " + sys.version.split()[0] + "). Run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

data: $(STAMP)
	$(BIN)/python -m helpers.data fetch

# Containers and CI machines often run as root, which JupyterLab refuses without this flag.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: data
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard helpers tests notebooks tools benchmarks)

test: data lint
	$(BIN)/python -m pytest tests notebooks $(NBVAL_ARGS)

# Faster loops while developing
unit: $(STAMP)
	$(BIN)/python -m pytest tests

notebooks: data
	$(BIN)/python -m pytest notebooks $(NBVAL_ARGS)

sync-urls: $(STAMP)
	$(BIN)/python tools/sync_urls.py

clean-venv:
	rm -rf $(VENV)

# Re-run notebooks in place so committed outputs come from a clean run: make execute NB=notebooks/01_*.ipynb
NB ?= notebooks/*.ipynb
execute: data
	$(BIN)/python tools/execute_notebook.py $(NB)
