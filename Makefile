# Two commands for learners and CI (see README):
#   make lab   set up .venv with JupyterLab (.[lab]), fetch + verify the data and the pretrained
#              BERT (MiniLM), start JupyterLab
#   make test  set up .venv with the test tools (.[test]), then ruff (+ actionlint), unit tests
#              and strict nbval over every notebook
#
# TORCH_SPEC decides which torch is installed into a *fresh* .venv, before the project; an
# installed torch that satisfies the project's range is kept. The default takes a normal torch
# from PyPI (a CUDA build on Linux, which is what a GPU user wants: several GB). Our CPU-only build
# machines pass a CPU pin, e.g.  make test TORCH_SPEC=torch==2.13.0 ; elsewhere the CPU build comes
# from PyTorch's own index:  make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch>=2.6
# Where torch alone is installed from (pip's --index-url); empty: pip's usual indexes.
TORCH_INDEX ?=
# The extras `make test` installs; the GitHub workflow adds `actionlint` (see pyproject.toml).
TEST_EXTRAS ?= test
BIN         := $(VENV)/bin
CORE_STAMP  := $(VENV)/.installed-core
LAB_STAMP   := $(VENV)/.installed-lab
TEST_STAMP  := $(VENV)/.installed-test
NBVAL_ARGS  ?= --nbval --nbval-current-env --nbval-cell-timeout=600 \
               --nbval-sanitize-with tests/nbval_sanitize.cfg
# The colab test (tests/test_colab_setup.py) installs the same torch into its own venv.
export TORCH_INDEX

.PHONY: lab test setup data unit notebooks lint sync-urls sync-code clean-venv execute

# A contributor's full environment: JupyterLab and the test tools.
setup: $(LAB_STAMP) $(TEST_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (found " + sys.version.split()[0] + "). Run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

# torch first, from TORCH_SPEC (and TORCH_INDEX), then the project with its core dependencies.
$(CORE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)") "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(LAB_STAMP): $(CORE_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	@touch $@

$(TEST_STAMP): $(CORE_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[$(TEST_EXTRAS)]"
	@touch $@

data: $(CORE_STAMP)
	$(BIN)/python -m helpers.data fetch
	$(BIN)/python -m helpers.minilm fetch
	$(BIN)/python -m helpers.documents fetch
	$(BIN)/python -m helpers.chinese_data fetch

# Containers and CI machines often run as root, which JupyterLab refuses without this flag.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(LAB_STAMP) data
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

# actionlint comes from the `actionlint` extra (a prebuilt binary in a wheel; .ci/run installs it);
# without it the workflow check is skipped with a note (REQUIRE_ACTIONLINT=1 makes that an error).
WORKFLOWS := $(wildcard .github/workflows/*.yml)
lint: $(TEST_STAMP)
	$(BIN)/ruff check $(wildcard helpers tests notebooks tools benchmarks)
	@if [ -x $(BIN)/actionlint ]; then \
		echo "$(BIN)/actionlint $(WORKFLOWS)"; $(BIN)/actionlint $(WORKFLOWS); \
	elif [ -n "$(REQUIRE_ACTIONLINT)" ]; then \
		echo "actionlint is not installed: pip install -e '.[actionlint]'" >&2; exit 1; \
	else \
		echo "note: actionlint not installed, workflows not checked (pip install -e '.[actionlint]')"; \
	fi

test: $(TEST_STAMP) data lint
	$(BIN)/python -m pytest tests notebooks $(NBVAL_ARGS)

# Faster loops while developing (PYTEST_ARGS='-m "not colab"' skips the Colab set-up check)
unit: $(TEST_STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

notebooks: $(TEST_STAMP) data
	$(BIN)/python -m pytest notebooks $(NBVAL_ARGS)

# After editing a function a notebook writes out (see CONTRIBUTING.md): copy it into the notebooks.
sync-code: $(CORE_STAMP)
	$(BIN)/python tools/sync_notebook_code.py

# Badges and every notebook's setup cell (template: tools/setup_cell.py); --check only reports.
sync-urls: $(CORE_STAMP)
	$(BIN)/python tools/sync_urls.py

clean-venv:
	rm -rf $(VENV)

# Re-run notebooks in place so committed outputs come from a clean run: make execute NB=notebooks/01_*.ipynb
NB ?= notebooks/*.ipynb
execute: $(TEST_STAMP) data
	$(BIN)/python tools/execute_notebook.py $(NB)
