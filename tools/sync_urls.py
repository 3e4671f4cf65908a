"""Rewrite every notebook's Colab badge and setup cell from pyproject.toml and one template.

The repository URL lives in one place, ``[project.urls] Repository`` in pyproject.toml, and the
setup cell (every notebook's second cell) in one place, ``tools/setup_cell.py``. After editing
either, run ``make sync-urls`` (this script): it rewrites each notebook's badge links and replaces
its setup cell's source with the template (outputs are kept; re-run the notebook to refresh them).
``--check`` only reports notebooks that disagree (exit 1), which the tests use.
``--notebooks DIR`` works on the notebooks in another folder (the tests use copies).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.runtime import repository_url  # noqa: E402
from tools.setup_cell import render  # noqa: E402

BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
SETUP_CELL_INDEX = 1  # the first cell is the header, the second the setup cell


class NotebookLayoutError(ValueError):
    """The notebook has no setup cell where the conventions put it."""


def colab_link(url: str, notebook: Path) -> str:
    slug = url.removeprefix("https://github.com/").rstrip("/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{notebook.name}"


def synced_source(source: str, url: str, notebook: Path) -> str:
    return BADGE.sub(colab_link(url, notebook), source)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def stale_parts(nb: dict, url: str, notebook: Path) -> list[str]:
    """What in ``nb`` disagrees with ``url`` and the template ("badge", "setup cell"); updates ``nb``."""
    cells = nb["cells"]
    if len(cells) <= SETUP_CELL_INDEX or cells[SETUP_CELL_INDEX]["cell_type"] != "code" \
            or "setup_notebook(" not in "".join(cells[SETUP_CELL_INDEX]["source"]):
        raise NotebookLayoutError(f"{notebook.name}: cell {SETUP_CELL_INDEX} is not the setup cell "
                                  "(a code cell calling setup_notebook); fix the notebook by hand")
    parts = []
    for index, cell in enumerate(cells):
        old = "".join(cell["source"])
        if index == SETUP_CELL_INDEX:
            new, part = render(url), "setup cell"
        else:
            new, part = synced_source(old, url, notebook), "badge"
        if new != old:
            cell["source"] = _lines(new)
            if part not in parts:
                parts.append(part)
    return parts


def sync(notebook: Path, url: str, write: bool) -> list[str]:
    """The parts of ``notebook`` that were out of date (empty: it agreed); rewrites it if ``write``."""
    nb = json.loads(notebook.read_text())
    parts = stale_parts(nb, url, notebook)
    if parts and write:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return parts


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks",
                        help="folder of notebooks (default: notebooks/)")
    args = parser.parse_args(argv)
    url = repository_url()
    notebooks = sorted(args.notebooks.glob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks in {args.notebooks}", file=sys.stderr)
        return 2
    stale, broken = 0, 0
    for notebook in notebooks:
        try:
            parts = sync(notebook, url, write=not args.check)
        except NotebookLayoutError as error:
            print(f"error: {error}", file=sys.stderr)
            broken += 1
            continue
        if parts:
            stale += 1
            state = "out of date" if args.check else "updated"
            print(f"{state}: {_shown(notebook)} ({', '.join(parts)})")
    if broken:
        return 2
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
