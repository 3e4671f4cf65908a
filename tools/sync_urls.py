"""Rewrite every notebook's Colab badge and bootstrap URL from pyproject.toml.

The repository URL lives in one place, ``[project.urls] Repository`` in pyproject.toml.
Publishing under a new URL: edit that line, then run ``make sync-urls`` (this script).
``--check`` only reports notebooks that disagree (exit 1), which the tests use.
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

BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
REPO_LINE = re.compile(r'^(REPO_URL = )"[^"]*"', re.MULTILINE)


def colab_link(url: str, notebook: Path) -> str:
    slug = url.removeprefix("https://github.com/").rstrip("/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{notebook.name}"


def synced_source(source: str, url: str, notebook: Path) -> str:
    source = BADGE.sub(colab_link(url, notebook), source)
    return REPO_LINE.sub(rf'\1"{url}"', source)


def sync(notebook: Path, url: str, write: bool) -> bool:
    """Return True if the notebook already agreed with ``url``."""
    nb = json.loads(notebook.read_text())
    changed = False
    for cell in nb["cells"]:
        old = "".join(cell["source"])
        new = synced_source(old, url, notebook)
        if new != old:
            changed = True
            cell["source"] = new.splitlines(keepends=True)
    if changed and write:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return not changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args()
    url = repository_url()
    stale = [nb for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if not sync(nb, url, write=not args.check)]
    for nb in stale:
        print(f"{'out of date' if args.check else 'updated'}: {nb.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
