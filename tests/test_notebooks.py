"""Every notebook follows the series' conventions (CONTRIBUTING.md)."""

import json
import re
import subprocess
import sys

import pytest

from helpers.runtime import repo_root, repository_url

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_header_badge_and_run_time(path):
    header = _source(_cells(path)[0])
    number = path.name[:2]
    assert header.startswith(f"# {number} · "), "title must be '# NN · ...'"
    slug = repository_url().removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}" in header
    assert "What you will learn" in header
    assert re.search(r"Run time:\*\*.*\d.*CPU", header), "state the measured CPU run time"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_single_setup_cell(path):
    cells = _cells(path)
    setup = _source(cells[1])
    assert setup.startswith("# NBVAL_IGNORE_OUTPUT")
    assert f'REPO_URL = "{repository_url()}"' in setup
    assert "setup_notebook(seed=" in setup
    others = [c for c in cells[2:] if "setup_notebook(" in _source(c)]
    assert not others, "only one setup cell per notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_summary_exercises_and_hidden_solutions(path):
    cells = _cells(path)
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in text and "## Exercises" in text
    solutions = [c for c in cells if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, "exercises need solutions in the repository"
    for cell in solutions:
        assert cell["metadata"]["jupyter"]["source_hidden"] is True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_from_a_clean_run(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert all(counts), "every code cell must have been executed"
    assert counts == list(range(1, len(code) + 1)), "run top to bottom in a fresh kernel"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_known_pitfalls_are_absent(path):
    source = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    assert "AlbertTokenizer(vocab_file" not in source  # silently ignores the file (transformers 5)
    assert "ALBERTTokenizer" not in source and "ALBERTForSequenceClassification" not in source
    assert "albert-base-multilingual-cased" not in source
    assert "nbval-lax" not in source


def test_badges_and_bootstrap_agree_with_pyproject():
    result = subprocess.run([sys.executable, str(repo_root() / "tools" / "sync_urls.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"run `make sync-urls`: {result.stdout}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_read_well_after_the_run(path):
    """No widget that cannot be redrawn from the file, no progress bar frozen mid-way."""
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], "execute with tools/execute_notebook.py (no widget state)"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data, _source(cell)[:80]
            text = "".join(output.get("text", "")) + "".join(data.get("text/plain", ""))
            assert not re.search(r"[: ]\d{1,2}%\|", text), f"a frozen progress bar in: {text[:120]}"
