"""Copy the package's definitions into the notebook cells that write them out.

A notebook cell marks a definition it shares with ``helpers`` by a comment right above it::

    # Same code as helpers.pretraining.train_loop (tests/test_notebook_code.py keeps them identical)

After editing the module, run this script (``make sync-code``) to rewrite each marked definition
in the notebooks from the module's source; then re-execute the notebook. ``--check`` only lists
the definitions that differ (exit 1). Edited a notebook cell instead? Copy it into the module by
hand, then run this to confirm.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MARKER = re.compile(r"^# Same code as (helpers(?:\.\w+)+)\.(\w+)\b", re.MULTILINE)


def synced(source: str) -> tuple[str, list[str]]:
    """``source`` with every marked definition replaced by the module's; the names that changed."""
    changed = []
    for module, name in MARKER.findall(source):
        node = next((n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef | ast.ClassDef)
                     and n.name == name), None)
        if node is None:
            raise SystemExit(f"a marker names {module}.{name}, but its cell does not define {name}")
        current = ast.get_source_segment(source, node)
        wanted = textwrap.dedent(inspect.getsource(getattr(importlib.import_module(module), name))).rstrip()
        if current != wanted:
            changed.append(f"{module}.{name}")
            source = source.replace(current, wanted, 1)
    return source, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args()
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        write = False
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source, changed = synced("".join(cell["source"]))
            if changed:
                stale += [f"{path.name}: {name}" for name in changed]
                cell["source"] = source.splitlines(keepends=True)
                write = True
        if write and not args.check:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for line in stale:
        print(f"{'differs' if args.check else 'updated'}: {line}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
