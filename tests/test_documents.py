"""helpers.documents: the State of the Union addresses, fetched from npm, split by president."""

import pytest

from helpers import documents, registry


def test_addresses_counts_and_split_by_president():
    splits = documents.load_addresses()
    train, held_out = splits["train"], splits["held_out"]
    assert len(train) + len(held_out) == 233
    assert sum(len(t.split()) for split in splits.values() for t in split["text"]) == 1_794_884
    assert not set(train["name"]) & set(held_out["name"])  # no president in both splits
    assert 0.08 <= len(held_out) / 233 <= 0.1
    assert min(train["year"]) == 1790 and train.column_names == ["year", "name", "party", "text"]


def test_without_npm_the_same_tarball_comes_over_https(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(documents.shutil, "which", lambda name: None)

    def unreachable(url, timeout):
        assert url == documents.TARBALL_URL
        raise OSError("network unreachable")

    monkeypatch.setattr(documents.urllib.request, "urlopen", unreachable)
    with pytest.raises(registry.DataUnavailableError, match="python -m helpers.documents fetch"):
        documents.fetch()
    assert not any((tmp_path / "cache").iterdir())
