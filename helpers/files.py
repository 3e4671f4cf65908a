"""Atomic writes: a file or folder is either the old one or the complete new one, never half.

Everything the series saves (checkpoints, fine-tuned models, metrics, the data cache, cached
tokenizers) goes through :func:`atomic_file` or :func:`atomic_folder`: the content is written to
a temporary sibling and renamed into place at the end (``os.replace`` is atomic on one
filesystem), so an interrupted run never leaves a partial file for the next one to trip over.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block succeeds it replaces ``path``.

    If the block raises, the temporary file is deleted and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, data: Mapping) -> Path:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _old(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.old")


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``folder``; when the block succeeds it replaces ``folder``.

    The swap is two renames: ``folder`` -> ``<folder>.old``, temporary -> ``folder``; then the
    old one is deleted. If the process dies between the renames, :func:`recover_folder` puts
    ``<folder>.old`` back. If the block raises, the temporary folder is deleted.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _old(folder)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(folder: str | os.PathLike) -> None:
    """After a crash inside :func:`atomic_folder`: restore ``<folder>.old``, delete temporaries."""
    folder = Path(folder)
    old = _old(folder)
    if not folder.exists() and old.exists():
        os.replace(old, folder)
    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
