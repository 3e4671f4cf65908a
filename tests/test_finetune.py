"""helpers.finetune: model loading (local, Hub offline), data, training loop, metrics, saving.

Everything runs on a tiny ALBERT saved into a temporary folder: no download, no network, seconds.
"""

import socket

import datasets
import numpy as np
import pytest
import torch
from transformers import AlbertConfig, AlbertForPreTraining, AlbertTokenizer

from helpers import finetune, hub

WORDS = "the movie film was is not but and good great fun awful bad boring plot".split()
POSITIVE, NEGATIVE = ["good", "great", "fun"], ["awful", "bad", "boring"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A pretrained-format tiny ALBERT (with pooler) and a word-level Unigram tokenizer."""
    specials = [("<pad>", 0.0), ("<unk>", 0.0), ("[CLS]", 0.0), ("[SEP]", 0.0), ("[MASK]", 0.0)]
    vocab = specials + [("▁" + w, -1.0 - i) for i, w in enumerate(WORDS)]
    vocab += [(c, -50.0) for c in "abcdefghijklmnopqrstuvwxyz,.!"]
    tokenizer = AlbertTokenizer(vocab=vocab)
    config = AlbertConfig(vocab_size=len(tokenizer), embedding_size=16, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          max_position_embeddings=64, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-albert")
    AlbertForPreTraining(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to open a socket."""
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def toy_splits(n_train=96, n_eval=32, seed=0):
    """Sentences whose label is decided by one sentiment word: learnable in a few steps."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 2, n)
        texts = [f"the {rng.choice(['movie', 'film', 'plot'])} was "
                 f"{rng.choice(POSITIVE if y else NEGATIVE)}" for y in labels]
        return datasets.Dataset.from_dict({"text": texts, "label": labels.tolist(),
                                           "movie": ["m"] * n})

    return datasets.DatasetDict({"train": make(n_train), "validation": make(n_eval),
                                 "test": make(n_eval)})


# --- loading ------------------------------------------------------------------------------------


def test_local_folder_loads_pretrained_weights_with_label_names(tiny_dir, no_network):
    tokenizer, model = finetune.load_classifier(tiny_dir)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    saved = AlbertForPreTraining.from_pretrained(tiny_dir)
    name = "embeddings.word_embeddings.weight"
    assert torch.equal(model.albert.get_submodule("embeddings.word_embeddings").weight,
                       saved.albert.state_dict()[name])
    assert tokenizer("good")["input_ids"][0] == tokenizer.cls_token_id


def test_scratch_model_has_same_architecture_but_fresh_weights(tiny_dir, no_network):
    _, pretrained = finetune.load_classifier(tiny_dir)
    _, scratch = finetune.load_classifier(tiny_dir, pretrained=False)
    assert type(scratch) is type(pretrained)
    assert scratch.config.to_dict()["hidden_size"] == pretrained.config.hidden_size
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(scratch) == count(pretrained)
    name = "embeddings.word_embeddings.weight"
    assert not torch.equal(scratch.albert.state_dict()[name], pretrained.albert.state_dict()[name])


def test_dropout_is_the_checkpoints_unless_set_for_both_models(tiny_dir, no_network):
    for pretrained in (True, False):
        _, kept = finetune.load_classifier(tiny_dir, pretrained=pretrained)
        assert kept.config.hidden_dropout_prob == 0.0  # as saved in the fixture's config.json
        _, model = finetune.load_classifier(tiny_dir, pretrained=pretrained, dropout=0.1)
        assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.1
        assert model.albert.encoder.albert_layer_groups[0].albert_layers[0].dropout.p == 0.1
        assert model.config.id2label == {0: "negative", 1: "positive"}
    with pytest.raises(ValueError, match="dropout"):
        finetune.load_classifier(tiny_dir, dropout=1.5)


def test_missing_local_folder_says_where_the_model_lives(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match="shipped model"):
        finetune.load_classifier(tmp_path / "nope")


def test_hub_id_offline_raises_short_clear_error(monkeypatch, tmp_path, no_network):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once at import: patch it too
    with pytest.raises(hub.HubUnavailableError) as info:
        finetune.load_classifier("albert-notebooks-tests/not-cached-anywhere")
    message = str(info.value)
    assert "offline" in message and "default_model_dir()" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained trace
    assert info.value._render_traceback_() == [f"HubUnavailableError: {message}"]


def test_hub_id_unreachable_fails_fast_without_retries(monkeypatch, no_network):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(hub.HubUnavailableError, match="connect to the internet"):
        finetune.load_classifier("albert-notebooks-tests/not-cached-anywhere")


# --- data ---------------------------------------------------------------------------------------


def test_tokenize_and_pad_per_batch(tiny_dir):
    tokenizer, _ = finetune.load_classifier(tiny_dir)
    splits = toy_splits()
    splits["train"] = splits["train"].add_item(
        {"text": "the movie was good " * 40, "label": 1, "movie": "m"})  # a long one
    encoded = finetune.tokenize_splits(splits, tokenizer, max_length=16)
    assert encoded["train"].column_names == ["input_ids", "attention_mask", "label"]
    assert max(len(ids) for ids in encoded["train"]["input_ids"]) == 16  # truncated
    loader = finetune.make_loader(encoded["validation"], tokenizer, batch_size=8)
    batch = next(iter(loader))
    assert batch["input_ids"].shape[0] == 8 and batch["labels"].dtype == torch.long
    lengths = batch["attention_mask"].sum(1)
    assert batch["input_ids"].shape[1] == lengths.max()  # padded to the batch's longest only


def test_shuffled_loader_order_is_seeded(tiny_dir):
    tokenizer, _ = finetune.load_classifier(tiny_dir)
    encoded = finetune.tokenize_splits(toy_splits(), tokenizer)["train"]
    first = lambda seed: next(iter(finetune.make_loader(  # noqa: E731
        encoded, tokenizer, batch_size=16, shuffle=True, seed=seed)))["labels"]
    assert torch.equal(first(1), first(1))


def test_nested_subsets_are_stratified_and_nested():
    labels = [1] * 575 + [0] * 425
    subsets = finetune.nested_subsets(labels, [10, 100, 1000], seed=0)
    assert [len(subsets[n]) for n in (10, 100, 1000)] == [10, 100, 1000]
    assert set(subsets[10]) <= set(subsets[100]) <= set(subsets[1000])
    positives = sum(labels[i] for i in subsets[100])
    assert positives in (57, 58)  # 57.5% of 100, rounded
    assert subsets == finetune.nested_subsets(labels, [1000, 10, 100], seed=0)  # order-free
    with pytest.raises(ValueError):
        finetune.nested_subsets(labels, [2000])


def test_epochs_for_gives_small_subsets_enough_steps():
    assert finetune.epochs_for(100, 32, min_steps=60, max_epochs=30) == 15
    assert finetune.epochs_for(10_000, 32, min_steps=60, max_epochs=30, min_epochs=3) == 3
    assert finetune.epochs_for(10, 32, min_steps=60, max_epochs=30) == 30


# --- training -----------------------------------------------------------------------------------


def test_training_learns_toy_task_and_keeps_best_epoch(tiny_dir, one_thread):
    torch.manual_seed(0)
    tokenizer, model = finetune.load_classifier(tiny_dir)
    encoded = finetune.tokenize_splits(toy_splits(), tokenizer)
    train = finetune.make_loader(encoded["train"], tokenizer, batch_size=16, shuffle=True)
    val = finetune.make_loader(encoded["validation"], tokenizer, batch_size=32)
    history = finetune.train_classifier(model, train, val, epochs=10, lr=1e-2, progress=False)
    assert [r["epoch"] for r in history] == list(range(1, 11))
    assert history[-1]["steps"] == 10 * len(train)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    best = finetune.best_epoch(history)
    assert best["val_accuracy"] == 1.0
    assert not model.training
    probs, labels = finetune.predict_proba(model, val)
    assert probs.shape == (32, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert finetune.accuracy(probs, labels) == best["val_accuracy"]  # the kept weights


def test_stop_after_trains_exactly_the_start_of_the_full_run(tiny_dir, one_thread):
    tokenizer, _ = finetune.load_classifier(tiny_dir)
    encoded = finetune.tokenize_splits(toy_splits(n_train=64), tokenizer)
    histories, weights = [], []
    for stop_after in (1, None):
        torch.manual_seed(0)
        _, model = finetune.load_classifier(tiny_dir)
        train = finetune.make_loader(encoded["train"], tokenizer, batch_size=16, shuffle=True, seed=0)
        val = finetune.make_loader(encoded["validation"], tokenizer, batch_size=32)
        histories.append(finetune.train_classifier(model, train, val, epochs=3, lr=1e-3, progress=False,
                                                   stop_after=stop_after))
        weights.append(model.state_dict()["classifier.weight"].clone())
    prefix, full = histories
    assert len(prefix) == 1 and len(full) == 3
    assert prefix[0] == full[0]  # same steps, same learning rates (the 3-epoch schedule), same scores
    assert prefix[0]["lr"] > 0


def test_best_epoch_prefers_the_earliest_on_ties():
    history = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.8},
               {"epoch": 3, "val_accuracy": 0.8}]
    assert finetune.best_epoch(history)["epoch"] == 2


# --- metrics and saving -------------------------------------------------------------------------


def test_sentiment_metrics_names_models_plainly():
    record = finetune.sentiment_metrics(
        {"majority": 0.52, "tfidf_lr": 0.7386, "scratch": 0.61234, "pretrained": 0.77},
        {"pretrained": {1000: 0.7, 100: 0.6}}, model="checkpoints/tiny-albert")
    assert set(record["models"]) == {"majority", "tfidf_lr", "scratch", "pretrained"}
    assert record["models"]["scratch"] == {"test_accuracy": 0.6123}
    assert record["label_efficiency"]["pretrained"] == [
        {"labels": 100, "test_accuracy": 0.6}, {"labels": 1000, "test_accuracy": 0.7}]
    assert record["model"] == "checkpoints/tiny-albert"


def test_saved_classifier_round_trips_through_pipeline(tiny_dir, tmp_path):
    from transformers import pipeline

    tokenizer, model = finetune.load_classifier(tiny_dir)
    target = tmp_path / "model"
    finetune.save_classifier(model, tokenizer, target)
    finetune.save_classifier(model, tokenizer, target)  # replacing an earlier save works
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    classify = pipeline("text-classification", model=str(target), device="cpu")
    result = classify("the movie was good")[0]
    assert result["label"] in {"negative", "positive"} and 0.5 <= result["score"] <= 1.0


def test_training_without_validation_keeps_the_last_epoch(tiny_dir, one_thread):
    torch.manual_seed(0)
    tokenizer, model = finetune.load_classifier(tiny_dir)
    encoded = finetune.tokenize_splits(toy_splits(n_train=32), tokenizer)
    train = finetune.make_loader(encoded["train"], tokenizer, batch_size=16, shuffle=True)
    history = finetune.train_classifier(model, train, epochs=2, lr=1e-3, progress=False)
    assert [r["val_accuracy"] for r in history] == [None, None]
    assert history[-1]["lr"] == 0.0 and not model.training


def test_most_confident_mistakes_lists_wrong_predictions_surest_first():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.05, 0.95]])
    table = finetune.most_confident_mistakes(["a", "b", "c", "d"], probs, [1, 1, 0, 0], k=5)
    assert list(table["text"]) == ["d", "a", "c"]
    assert list(table["true"]) == ["negative", "positive", "negative"]
    assert list(table["predicted"]) == ["positive", "negative", "positive"]
    assert list(table["confidence"]) == [0.95, 0.9, 0.6]
