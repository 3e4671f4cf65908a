"""The notebooks' setup cell (tools/setup_cell.py) on a Colab-like machine.

Colab comes with its own torch, an older transformers 4.x and its own Jupyter. The setup cell
must clone the project, install only the core package (transformers 5 and the rest of the
notebooks' imports), keep Colab's torch, install no JupyterLab, and then let the notebook run.

``test_setup_cell_on_a_colab_like_machine`` (marker ``colab``; deselect with ``-m "not colab"``)
builds exactly that in a fresh virtual environment from PyPI (pip's cache makes a second run fast):

- torch: the same release as the outer environment's (``pip install torch==<that version>``, from
  ``$TORCH_INDEX`` when the Makefile or the workflow sets it), so a CPU build stays a CPU build;
  ``$ALBERT_COLAB_TORCH_SPEC`` (and ``$ALBERT_COLAB_TORCH_INDEX``) pick another. When the outer
  torch is a CUDA build and no spec is given the test is skipped: it would install a second copy of
  several GB.
- ``transformers==4.46.3`` (what Colab had before transformers 5);
- a stub ``google/colab/__init__.py`` on ``PYTHONPATH``, imported before the cells run, as Colab's
  kernel has it (no ``google/__init__.py``: ``google`` stays a namespace package, so protobuf's
  ``google.protobuf`` still imports).

What is cloned: a snapshot of the *working tree* (tracked and untracked files that git does not
ignore, as ``git ls-files`` lists them), committed into a temporary git repository and cloned from
``file://`` with the cell's own ``git clone --depth=1``. Cloning this repository directly would test
only what is committed, not the template or pyproject.toml being changed; the snapshot tests
exactly what would be published.

The cells run the way a kernel runs them: one Python process (the inner venv's), one namespace,
cell after cell, so the install happens inside the process that then imports the new packages.

The failure cases (a clone that fails, an install that fails) need neither PyPI nor the venv.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

from helpers.runtime import repo_root, repository_url

COLAB_TRANSFORMERS = "transformers==4.46.3"
TINY_ALBERT_PARAMETERS = 12_832  # the AlbertConfig below; the same for 2 or 12 layers (sharing)

RUNNER = '''\
"""Run a notebook's code cells like a kernel: one process, one namespace, in order."""
import json
import sys

import google.colab  # noqa: F401  (Colab's kernel has it imported)

nb = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for index, cell in enumerate(nb["cells"]):
    if cell["cell_type"] == "code":
        print(f"@@ cell {index}", flush=True)
        exec(compile("".join(cell["source"]), f"<cell {index}>", "exec"), namespace)
'''

NOTEBOOK_CELLS = [
    '''\
import json
from importlib import metadata, util
from pathlib import Path

import helpers
import torch
from helpers.runtime import repo_root

facts = {"helpers": str(Path(helpers.__file__).resolve().parent), "repo_root": str(repo_root()),
         "cwd": str(Path.cwd()), "torch": torch.__version__,
         "torch_file": str(Path(torch.__file__).resolve())}
''',
    '''\
from transformers import AlbertConfig, AlbertModel

def tiny(layers):
    config = AlbertConfig(vocab_size=100, embedding_size=16, hidden_size=32, num_attention_heads=2,
                          num_hidden_layers=layers, intermediate_size=64, max_position_embeddings=64)
    return AlbertModel(config)

facts["parameters"] = [sum(p.numel() for p in tiny(n).parameters()) for n in (2, 12)]
print("tiny ALBERT parameters (2 and 12 layers):", facts["parameters"])
''',
    '''\
checkpoint = AlbertModel.from_pretrained(repo_root() / "checkpoints" / "tiny-albert")
with torch.no_grad():
    hidden = checkpoint(input_ids=torch.tensor([[2, 10, 11, 12, 3]])).last_hidden_state
facts["hidden"] = list(hidden.shape)
facts["device"] = str(device)
''',
    '''\
import transformers

for name in ("transformers", "torch", "jupyterlab", "ipywidgets", "albert-notebooks"):
    try:
        facts[name + " installed"] = metadata.version(name)
    except metadata.PackageNotFoundError:
        facts[name + " installed"] = None
facts["transformers imported"] = transformers.__version__
facts["jupyterlab importable"] = util.find_spec("jupyterlab") is not None
print("@@ facts " + json.dumps(facts))
''',
]


def _setup_cell_source(url: str) -> str:
    spec = importlib.util.spec_from_file_location("setup_cell", repo_root() / "tools" / "setup_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(url)


def _write_notebook(path: Path, sources: list[str]) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source.splitlines(keepends=True)} for source in sources]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


def _colab_files(tmp: Path) -> tuple[Path, Path]:
    """A stub ``google.colab`` and the cell runner; returns (stub folder, runner script)."""
    stub = tmp / "stub"
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "colab" / "__init__.py").write_text(
        '"""Stand-in for Colab\'s module: the setup cell only checks that it is imported."""\n')
    runner = tmp / "run_cells.py"
    runner.write_text(RUNNER)
    return stub, runner


def _env(stub: Path, **settings: str) -> dict[str, str]:
    """The environment of a learner's Colab kernel: nothing of ours, the stub on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ALBERT_") and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env.update(PYTHONPATH=str(stub), PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1", **settings)
    return env


def _run(command: list, env=None, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env,
                          timeout=timeout, **kwargs)


def _check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    return result


# --- the template itself: no network ---------------------------------------------------------

def test_template_keeps_what_the_notebook_tests_and_sync_urls_need():
    source = _setup_cell_source(repository_url())
    lines = source.splitlines()
    assert lines[0] == "# NBVAL_IGNORE_OUTPUT"
    assert f'REPO_URL = "{repository_url()}"  # `make sync-urls`' in lines
    assert lines[-3:] == ["from helpers.runtime import setup_notebook", "", "device = setup_notebook(seed=0)"]
    assert "@REPO_URL@" not in source
    compile(source, "<setup cell>", "exec")


def test_template_installs_only_the_core_package_and_keeps_torch():
    source = _setup_cell_source(repository_url())
    commands = re.findall(r'\[sys\.executable, "-m", "pip", "install",([^\]]*)\]', source)
    assert len(commands) == 1, "one pip install"
    arguments = re.findall(r'"([^"]*)"|(\w+)', commands[0])
    arguments = [quoted or name for quoted, name in arguments]
    # the package alone (no [lab] or [test] extra), nothing upgraded that already satisfies it
    assert arguments == ["--quiet", "--upgrade-strategy", "only-if-needed", "-e", "CLONE_DIR"]
    assert 'os.environ.get("ALBERT_REPO_URL", REPO_URL)' in source
    assert 'os.environ.get("ALBERT_CLONE_DIR", "/content/albert-notebooks")' in source


# --- failures stop with a message that says what to do: no network -------------------------

@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_failing_clone_says_what_failed_and_what_to_do(tmp_path):
    stub, runner = _colab_files(tmp_path)
    notebook = _write_notebook(tmp_path / "setup.ipynb", [_setup_cell_source(repository_url())])
    missing = (tmp_path / "no-such-repository").as_uri()
    clone = tmp_path / "clone"
    result = _run([sys.executable, runner, notebook], timeout=120,
                  env=_env(stub, ALBERT_REPO_URL=missing, ALBERT_CLONE_DIR=str(clone)))
    assert result.returncode != 0
    assert result.stdout.splitlines()[1] == f"cloning {missing} into {clone} ..."
    assert "installing" not in result.stdout  # stopped at the failed step
    error = result.stderr
    assert "RuntimeError: cloning" in error and "failed: `git clone" in error
    assert "CalledProcessError" not in error
    assert "Check that the runtime is online and the URL is right" in error
    assert "Its last lines:" in error and "no-such-repository" in error.split("Its last lines:")[1]


def test_a_failing_install_says_what_failed_and_what_to_do(tmp_path):
    stub, runner = _colab_files(tmp_path)
    notebook = _write_notebook(tmp_path / "setup.ipynb", [_setup_cell_source(repository_url())])
    clone = tmp_path / "clone"
    clone.mkdir()
    # A build requirement that exists nowhere (as when the runtime is offline): pip fails while
    # preparing the build, before it installs anything; dry-run and no index make sure of it.
    (clone / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["albert-no-such-package>=1"]\n'
        'build-backend = "setuptools.build_meta"\n[project]\nname = "broken"\nversion = "0"\n')
    env = _env(stub, ALBERT_REPO_URL="file:///unused", ALBERT_CLONE_DIR=str(clone),
               PIP_DRY_RUN="1", PIP_NO_INDEX="1")
    result = _run([sys.executable, runner, notebook], env=env, timeout=300)
    assert result.returncode != 0
    assert result.stdout.splitlines()[1:3] == [
        f"found the project in {clone} (not cloning again)",
        "installing the project (keeps Colab's torch) ..."]
    error = result.stderr
    assert "RuntimeError: installing the project (keeps Colab's torch) failed: `" in error
    assert "CalledProcessError" not in error
    assert "Runtime -> Disconnect and delete runtime" in error
    assert "No matching distribution found for albert-no-such-package" in error.split("Its last lines:")[1]


# --- the whole path on a Colab-like virtual environment: needs PyPI --------------------------

def _index_url() -> str:
    return (os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/").rstrip("/") + "/"


def _index_reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "pip/", method="HEAD"), timeout=10):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _torch_requirement() -> tuple[str, str | None]:
    """(what to pip install as Colab's torch, the index for it)."""
    index = os.environ.get("ALBERT_COLAB_TORCH_INDEX") or os.environ.get("TORCH_INDEX") or None
    spec = os.environ.get("ALBERT_COLAB_TORCH_SPEC")
    if spec:
        return spec, index
    import torch

    if torch.version.cuda is not None:
        pytest.skip(f"the outer torch {torch.__version__} is a CUDA build: a second copy would "
                    "add several GB; set ALBERT_COLAB_TORCH_SPEC (e.g. torch==2.13.0) to run this")
    return f"torch=={metadata.version('torch')}", index


def _snapshot_of_the_working_tree(target: Path) -> Path:
    """The working tree's files, committed in a fresh git repository (see the module docstring)."""
    root = repo_root()
    listed = _run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                  timeout=60)
    if listed.returncode == 0:
        for name in sorted(set(filter(None, listed.stdout.split("\0")))):
            source = root / name
            if source.is_file():  # skips files deleted in the working tree
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    else:  # not a git checkout (e.g. an unpacked archive): copy what is there
        shutil.copytree(root, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", "cache", "runs", ".*_cache"))
    git = ["git", "-C", target, "-c", "user.name=colab test", "-c", "user.email=test@invalid",
           "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    _check(_run([*git, "init", "--quiet"], timeout=60))
    _check(_run([*git, "add", "--all"], timeout=120))
    _check(_run([*git, "commit", "--quiet", "--no-verify", "-m", "snapshot"], timeout=120))
    return target


@pytest.mark.colab
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_setup_cell_on_a_colab_like_machine(tmp_path):
    if not _index_reachable(_index_url()):
        pytest.skip(f"the package index {_index_url()} is unreachable: the Colab check installs from it")
    torch_spec, torch_index = _torch_requirement()
    try:
        _colab_check(tmp_path, torch_spec, torch_index)
    finally:  # the venv and the clone take about 1.5 GB: not kept for pytest's last three runs
        for folder in ("colab-venv", "content", "published"):
            shutil.rmtree(tmp_path / folder, ignore_errors=True)


def _colab_check(tmp_path: Path, torch_spec: str, torch_index: str | None) -> None:
    timings = {}
    start = time.perf_counter()

    venv = tmp_path / "colab-venv"
    _check(_run([sys.executable, "-m", "venv", venv], timeout=300))
    python = venv / "bin" / "python"
    stub, runner = _colab_files(tmp_path)
    env = _env(stub)
    pip = [python, "-m", "pip", "install", "--quiet"]
    _check(_run([*pip, *(["--index-url", torch_index] if torch_index else []), torch_spec], env=env))
    _check(_run([*pip, COLAB_TRANSFORMERS], env=env))
    before = json.loads(_check(_run([python, "-c", (
        "import json, pathlib, torch, transformers; print(json.dumps({'torch': torch.__version__, "
        "'mtime': pathlib.Path(torch.__file__).stat().st_mtime_ns, "
        "'transformers': transformers.__version__}))")], env=env)).stdout)
    assert before["transformers"].startswith("4."), before
    timings["Colab-like venv"] = time.perf_counter() - start

    source = _snapshot_of_the_working_tree(tmp_path / "published")
    clone = tmp_path / "content" / "albert-notebooks"
    url = source.as_uri()
    notebook = _write_notebook(tmp_path / "colab.ipynb",
                               [_setup_cell_source(repository_url()), *NOTEBOOK_CELLS])
    start = time.perf_counter()
    result = _check(_run([python, runner, notebook], cwd=tmp_path,
                         env=_env(stub, ALBERT_REPO_URL=url, ALBERT_CLONE_DIR=str(clone))))
    timings["setup cell and notebook"] = time.perf_counter() - start

    lines = result.stdout.splitlines()
    setup_output = lines[lines.index("@@ cell 0") + 1:]
    assert setup_output[:3] == [f"cloning {url} into {clone} ...",
                                "installing the project (keeps Colab's torch) ...", "done"]
    assert setup_output[3].startswith("python "), setup_output  # setup_notebook's banner follows
    facts = json.loads(next(line for line in lines if line.startswith("@@ facts "))[len("@@ facts "):])

    assert facts["torch"] == before["torch"] == facts["torch installed"]
    assert Path(facts["torch_file"]).stat().st_mtime_ns == before["mtime"], "torch was reinstalled"
    assert int(facts["transformers installed"].split(".")[0]) >= 5, facts
    assert facts["transformers imported"] == facts["transformers installed"]
    assert facts["helpers"] == str((clone / "helpers").resolve())
    assert facts["repo_root"] == str(clone.resolve())
    assert facts["cwd"] == str((clone / "notebooks").resolve())
    assert facts["albert-notebooks installed"] is not None
    assert facts["jupyterlab installed"] is None and not facts["jupyterlab importable"]
    assert facts["ipywidgets installed"] is None
    assert facts["parameters"] == [TINY_ALBERT_PARAMETERS, TINY_ALBERT_PARAMETERS]
    assert facts["hidden"] == [1, 5, 128] and facts["device"] == "cpu"
    assert re.search(r"\btorch " + re.escape(before["torch"]), result.stdout)  # the banner

    # Running the cell again (a restarted runtime) finds the clone and installs nothing new.
    start = time.perf_counter()
    again = _check(_run([python, runner, _write_notebook(tmp_path / "again.ipynb", [
        _setup_cell_source(repository_url())])], cwd=tmp_path,
        env=_env(stub, ALBERT_REPO_URL=url, ALBERT_CLONE_DIR=str(clone))))
    timings["setup cell again"] = time.perf_counter() - start
    assert again.stdout.splitlines()[1:4] == [f"found the project in {clone} (not cloning again)",
                                              "installing the project (keeps Colab's torch) ...",
                                              "done"]
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
