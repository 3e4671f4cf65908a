"""The one template of every notebook's setup cell (the second cell of each notebook).

``make sync-urls`` (tools/sync_urls.py) writes :data:`TEMPLATE` into every notebook with the
repository URL from pyproject.toml; ``tools/sync_urls.py --check`` (run by the tests) reports a
notebook whose setup cell differs from it. Edit the cell here, never in a notebook.

What the cell does:

- locally (``make lab``, ``make test``, conda): nothing but ``setup_notebook``, the project is
  installed already;
- on Colab (``google.colab`` is imported there): clones the repository (skipped when the clone is
  there already, e.g. when the cell is run again), installs only the package and its core
  dependencies with pip (no JupyterLab or ipywidgets, which would replace Colab's own Jupyter
  stack; Colab's torch satisfies ``torch>=2.6`` and is kept, since pip upgrades only what does
  not satisfy the ranges), prints one line per step, and stops with a ``RuntimeError`` that says
  what failed, what to do, and the end of the failed command's output.

``ALBERT_REPO_URL`` and ``ALBERT_CLONE_DIR`` override the URL and the clone folder (default
``/content/albert-notebooks``); tests/test_colab_setup.py uses them to run the cell against a
local clone.
"""

from __future__ import annotations

PLACEHOLDER = "@REPO_URL@"

TEMPLATE = '''\
# NBVAL_IGNORE_OUTPUT
# Setup: run this cell first. On Colab it fetches the project and installs only what the
# notebooks import (Colab's own torch and Jupyter are kept); locally `make lab` did this already.
import sys

REPO_URL = "@REPO_URL@"  # `make sync-urls`
if "google.colab" in sys.modules:
    import importlib
    import os
    import subprocess

    REPO_URL = os.environ.get("ALBERT_REPO_URL", REPO_URL)
    CLONE_DIR = os.environ.get("ALBERT_CLONE_DIR", "/content/albert-notebooks")

    def _run(step, command, advice):
        print(step, flush=True)
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        if result.returncode != 0:
            output = result.stderr.strip() or result.stdout.strip()
            tail = "\\n".join(output.splitlines()[-20:])
            raise RuntimeError(f"{step.rstrip(' .')} failed: `{' '.join(command)}` exited with "
                               f"{result.returncode}.\\n{advice}\\nIts last lines:\\n{tail}")

    if os.path.exists(os.path.join(CLONE_DIR, "pyproject.toml")):
        print(f"found the project in {CLONE_DIR} (not cloning again)")
    else:
        _run(f"cloning {REPO_URL} into {CLONE_DIR} ...",
             ["git", "clone", "--depth=1", "--quiet", REPO_URL, CLONE_DIR],
             "Check that the runtime is online and the URL is right. If the folder exists "
             f"without the project, delete it (!rm -rf {CLONE_DIR}), then run this cell again.")
    _run("installing the project (keeps Colab's torch) ...",
         [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade-strategy",
          "only-if-needed", "-e", CLONE_DIR],
         "Check that the runtime is online, then run this cell again. If it fails again, use "
         "Runtime -> Disconnect and delete runtime, and run the notebook from the top.")
    importlib.invalidate_caches()
    sys.path.insert(0, CLONE_DIR)
    os.chdir(os.path.join(CLONE_DIR, "notebooks"))
    print("done")

from helpers.runtime import setup_notebook

device = setup_notebook(seed=0)'''


def render(repo_url: str) -> str:
    """The setup cell's source for a repository published at ``repo_url``."""
    if '"' in repo_url or "\n" in repo_url:
        raise ValueError(f"not a usable repository URL: {repo_url!r}")
    return TEMPLATE.replace(PLACEHOLDER, repo_url)
