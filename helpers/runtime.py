"""What every notebook's setup cell needs: paths, device, seeds, versions, the repository URL."""

from __future__ import annotations

import os
import platform
import random
import sys
import tomllib
import warnings
from importlib import metadata
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers.utils import logging as hf_logging

PACKAGES = ("torch", "transformers", "datasets", "accelerate", "sentencepiece",
            "scikit-learn", "matplotlib")


def repo_root() -> Path:
    """The repository folder (the one holding ``pyproject.toml``).

    Found from this file, not from the kernel's working directory, so notebooks, tests and
    scripts agree wherever they are started. ``$ALBERT_REPO_ROOT`` overrides it.
    """
    override = os.environ.get("ALBERT_REPO_ROOT")
    if override:
        return Path(override).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    # Installed without the repository (a plain `pip install`): use a per-user folder.
    return Path.home() / ".cache" / "albert-notebooks"


SHIPPED_CHECKPOINT = repo_root() / "checkpoints" / "tiny-albert"  # the pretrained tiny ALBERT (notebook 04)
SHIPPED_ZH_CHECKPOINT = repo_root() / "checkpoints" / "tiny-albert-zh"  # the Chinese one (notebook 06)
SHIPPED_ZH_NER = repo_root() / "checkpoints" / "tiny-albert-zh-ner"  # it, fine-tuned for NER (notebook 06)


def runs_dir(name: str | None = None) -> Path:
    """``runs/`` at the repository root (git-ignored), or one run's folder inside it."""
    path = repo_root() / "runs"
    return path / name if name else path


def repository_url() -> str:
    """The published repository URL, read from ``pyproject.toml`` (its one home)."""
    with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["urls"]["Repository"]


def pick_device(prefer: str | None = None):
    """CUDA if present, then Apple's MPS, then the CPU. ``prefer`` (or $ALBERT_DEVICE) forces one."""
    choice = prefer or os.environ.get("ALBERT_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so seeded cells print the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_seed() -> int:
    """The seed of a notebook's training runs: 0, or ``$ALBERT_SEED``.

    A notebook's claims about trained models must hold for any seed, so
    ``tools/check_claims.py`` re-runs every notebook under other seeds (and thread counts); the
    outputs nbval compares must not depend on this value, only the guarded, ignored ones may.
    """
    value = os.environ.get("ALBERT_SEED", "0")
    if not value.isdigit():
        raise ValueError(f"ALBERT_SEED must be a non-negative integer, got {value!r}")
    return int(value)


def training_threads(default: int | None = None) -> int | None:
    """CPU threads for training: ``$ALBERT_THREADS`` if set, else ``default`` (None: torch's own)."""
    value = os.environ.get("ALBERT_THREADS")
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"ALBERT_THREADS must be a positive integer, got {value!r}")
    return int(value)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def setup_notebook(seed: int = 0, quiet_libraries: bool = True):
    """The standard first cell: check versions, seed everything, pick a device, print a banner.

    Returns the device. Prints versions and the device, which differ between machines (the
    setup cell's output is therefore not compared by nbval).
    """
    if sys.version_info < (3, 11):  # noqa: UP036  (a learner's kernel may be older)
        raise RuntimeError("This series needs Python >= 3.11 (transformers 5 requires it).")
    major = int(metadata.version("transformers").split(".")[0])
    if major < 5:
        raise RuntimeError("This series is written for transformers 5.x: pip install -U 'transformers>=5,<6'")
    if quiet_libraries:
        quiet()
    set_seed(seed)
    if training_threads() is not None:
        torch.set_num_threads(training_threads())
    device = pick_device()
    print(" | ".join(f"{k} {v}" for k, v in versions().items()))
    threads = torch.get_num_threads()
    print(f"device: {device} ({threads} CPU threads)" + (
        "" if device.type != "cpu" else "  - no GPU found; every notebook is sized for a CPU"))
    return device


def quiet() -> None:
    """Silence library chatter that would otherwise clutter (and destabilise) cell outputs."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
