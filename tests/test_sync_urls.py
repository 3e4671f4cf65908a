"""tools/sync_urls.py: badges and setup cells rewritten from pyproject.toml and tools/setup_cell.py.

Always on copies in a temporary folder (``--notebooks DIR``), never on notebooks/ itself.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runtime import repo_root, repository_url

TOOL = repo_root() / "tools" / "sync_urls.py"
OLD_SETUP = ('# NBVAL_IGNORE_OUTPUT\nimport sys\n\nREPO_URL = "https://github.com/old/place"'
             '  # `make sync-urls`\nfrom helpers.runtime import setup_notebook\n\n'
             'device = setup_notebook(seed=0)')


def _template() -> str:
    spec = importlib.util.spec_from_file_location("setup_cell", repo_root() / "tools" / "setup_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(repository_url())


def _sync(folder: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--notebooks", str(folder), *flags],
                          capture_output=True, text=True, timeout=120)


def _cell(kind: str, source: str, **extra) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell |= {"execution_count": extra.pop("count", None), "outputs": extra.pop("outputs", [])}
    return cell


def _notebook(path: Path, setup: str = OLD_SETUP, badge_slug: str = "old/place") -> Path:
    header = (f"# 09 · Test\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
              f"(https://colab.research.google.com/github/{badge_slug}/blob/main/notebooks/{path.name})")
    outputs = [{"name": "stdout", "output_type": "stream", "text": ["python 3.11\n"]}]
    cells = [_cell("markdown", header), _cell("code", setup, count=1, outputs=outputs),
             _cell("code", "x = 1  # https://colab.research.google.com/ stays\nx", count=2)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}, indent=1, ensure_ascii=False) + "\n")
    return path


def _source(path: Path, index: int) -> str:
    return "".join(json.loads(path.read_text())["cells"][index]["source"])


def test_check_reports_a_stale_badge_and_setup_cell_and_writes_nothing(tmp_path):
    path = _notebook(tmp_path / "09_test.ipynb")
    before = path.read_bytes()
    result = _sync(tmp_path, "--check")
    assert result.returncode == 1
    assert result.stdout.strip() == f"out of date: {path} (badge, setup cell)"
    assert path.read_bytes() == before


def test_write_mode_applies_the_template_and_keeps_everything_else(tmp_path):
    path = _notebook(tmp_path / "09_test.ipynb")
    before = json.loads(path.read_text())
    result = _sync(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"updated: {path} (badge, setup cell)"
    after = json.loads(path.read_text())
    assert _source(path, 1) == _template()
    slug = repository_url().removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/09_test.ipynb" in _source(path, 0)
    assert after["cells"][1]["outputs"] == before["cells"][1]["outputs"]  # outputs are kept
    assert after["cells"][1]["execution_count"] == 1
    assert after["cells"][2] == before["cells"][2]
    assert _sync(tmp_path, "--check").returncode == 0
    synced = path.read_bytes()
    assert _sync(tmp_path).stdout == "" and path.read_bytes() == synced  # idempotent


def test_a_setup_cell_that_differs_only_in_its_body_is_reported(tmp_path):
    _notebook(tmp_path / "09_test.ipynb", badge_slug=repository_url().removeprefix("https://github.com/"),
                     setup=_template().replace('"only-if-needed"', '"eager"'))
    result = _sync(tmp_path, "--check")
    assert result.returncode == 1 and result.stdout.strip().endswith("(setup cell)")


def test_a_notebook_without_a_setup_cell_is_an_error_and_untouched(tmp_path):
    path = _notebook(tmp_path / "09_test.ipynb", setup="print('no setup here')")
    before = path.read_bytes()
    result = _sync(tmp_path)
    assert result.returncode == 2
    assert "is not the setup cell" in result.stderr
    assert path.read_bytes() == before


def test_an_empty_folder_is_an_error(tmp_path):
    assert _sync(tmp_path, "--check").returncode == 2


@pytest.mark.parametrize("name", [p.name for p in sorted((repo_root() / "notebooks").glob("*.ipynb"))])
def test_the_series_notebooks_take_the_template_cleanly(tmp_path, name):
    """On a copy: after `make sync-urls` only the setup cell's source may differ from the original."""
    original = repo_root() / "notebooks" / name
    shutil.copy(original, tmp_path / name)
    result = _sync(tmp_path)
    assert result.returncode == 0, result.stderr
    old, new = json.loads(original.read_text()), json.loads((tmp_path / name).read_text())
    assert _source(tmp_path / name, 1) == _template()
    assert len(old["cells"]) == len(new["cells"]) and old["metadata"] == new["metadata"]
    for index, (a, b) in enumerate(zip(old["cells"], new["cells"], strict=True)):
        if index == 1:
            a, b = dict(a, source=None), dict(b, source=None)
        assert a == b, f"cell {index} changed"
    assert _sync(tmp_path, "--check").returncode == 0
