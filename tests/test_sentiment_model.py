"""helpers.sentiment_model: the shipped fine-tuned classifier loads, and its card says how it was made."""

import pytest

from helpers import sentiment_model
from helpers.data import WHEEL_SHA256


def test_shipped_classifier_loads_with_its_labels():
    tokenizer, model = sentiment_model.load()
    assert model.config.id2label == {0: "negative", 1: "positive"} and not model.training
    assert model.config.model_type == "albert" and tokenizer("A fine film.")["input_ids"][0] == tokenizer.cls_token_id


def test_a_missing_classifier_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers.sentiment_model --out"):
        sentiment_model.load(tmp_path / "nothing")


def test_the_card_records_command_data_machine_and_scores():
    card = (sentiment_model.SHIPPED_CLASSIFIER / "README.md").read_text()
    assert "python -m helpers.sentiment_model --out checkpoints/tiny-albert-sentiment --seed 0" in card
    assert WHEEL_SHA256 in card and "wall time" in card and "test (scored once)" in card
    result = {"command": "python -m helpers.sentiment_model --seed 1", "seed": 1, "epoch": 2, "validation": 0.75,
              "test": 0.76, "seconds": 12.0, "machine": "a CPU", "data_sha256": "abc", "split": "s",
              "seeds_line": "Over 10 seeds ..."}
    made = sentiment_model.model_card(result)
    assert "| validation | 0.7500 |" in made and "| test (scored once) | 0.7600 |" in made and "epoch 2" in made
