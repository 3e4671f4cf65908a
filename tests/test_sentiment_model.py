"""helpers.sentiment_model: the shipped fine-tuned classifier loads, and its card says how it was made."""

import pytest
import torch

from helpers import sentiment_model
from helpers.data import WHEEL_SHA256


def test_shipped_classifier_loads_with_its_labels():
    tokenizer, model = sentiment_model.load()
    assert model.config.id2label == {0: "negative", 1: "positive"} and not model.training
    assert model.config.model_type == "albert" and tokenizer("A fine film.")["input_ids"][0] == tokenizer.cls_token_id


def test_a_missing_classifier_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers.sentiment_model --out"):
        sentiment_model.load(tmp_path / "nothing")


@pytest.mark.parametrize("folder, command", [
    (sentiment_model.SHIPPED_CLASSIFIER,
     "python -m helpers.sentiment_model --out checkpoints/tiny-albert-sentiment --seed 0"),
    (sentiment_model.SHIPPED_SCRATCH_CLASSIFIER,
     "python -m helpers.sentiment_model --scratch --out checkpoints/tiny-albert-sentiment-scratch --seed 0"),
])
def test_the_cards_record_command_data_machine_and_scores(folder, command):
    card = (folder / "README.md").read_text()
    assert command in card
    assert WHEEL_SHA256 in card and "wall time" in card and "test (scored once)" in card
    assert f'model="checkpoints/{folder.name}")' in card


@pytest.mark.parametrize("kind, words", [("pretrained", "fine-tuned"), ("scratch", "random initial weights")])
def test_model_card_fills_in_the_result(kind, words):
    result = {"kind": kind, "command": "python -m helpers.sentiment_model --seed 1", "seed": 1, "epoch": 2,
              "validation": 0.75, "test": 0.76, "seconds": 12.0, "machine": "a CPU", "data_sha256": "abc",
              "split": "s", "seeds_line": "Over 10 seeds ..."}
    made = sentiment_model.model_card(result)
    assert "| validation | 0.7500 |" in made and "| test (scored once) | 0.7600 |" in made and "epoch 2" in made
    assert words in made
    folder = "tiny-albert-sentiment-scratch" if kind == "scratch" else "tiny-albert-sentiment"
    assert f'model="checkpoints/{folder}")' in made  # the usage snippet loads this very model


def test_the_scratch_classifier_is_not_the_pretrained_one():
    _, pretrained = sentiment_model.load()
    _, scratch = sentiment_model.load(sentiment_model.SHIPPED_SCRATCH_CLASSIFIER)
    def architecture(model):
        return {k: v for k, v in model.config.to_dict().items() if k != "_name_or_path"}
    assert architecture(pretrained) == architecture(scratch)
    embedding = "albert.embeddings.word_embeddings.weight"
    assert not torch.equal(pretrained.state_dict()[embedding], scratch.state_dict()[embedding])
