"""helpers.ner: BIO entities, entity-level scores, label alignment and the dictionary baseline."""

import pytest

from helpers.ner import (
    IGNORE_INDEX,
    DictionaryTagger,
    Scores,
    align_labels,
    bio_entities,
    entity_scores,
    token_labels_to_chars,
)


def test_bio_entities_read_like_conlleval():
    labels = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-ORG", "I-ORG", "O", "I-PER"]
    assert bio_entities(labels) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC"), (6, 8, "ORG"), (9, 10, "PER")]
    assert bio_entities([]) == [] and bio_entities(["O", "O"]) == []
    assert bio_entities(["B-PER", "I-LOC"]) == [(0, 1, "PER"), (1, 2, "LOC")]  # a type change starts anew
    for bad in (["X-PER"], ["B-"], ["PER"]):
        with pytest.raises(ValueError, match="not a BIO label"):
            bio_entities(bad)


def test_entity_scores_count_only_exact_spans_of_the_right_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
    guess = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O", "O"]]  # 1 of 3 right; 3 guessed
    scores = entity_scores(gold, guess)
    assert scores["micro"] == Scores.from_counts(1, 3, 3)
    assert scores["micro"].precision == scores["micro"].recall == pytest.approx(1 / 3)
    assert scores["PER"].f1 == 1.0 and scores["LOC"] == Scores(0.0, 0.0, 0.0, 1)
    assert scores["ORG"].precision == 0.0 and scores["ORG"].support == 1  # guessed twice, both wrong
    perfect = entity_scores(gold, gold)
    assert all(s.f1 == 1.0 for s in perfect.values())
    assert entity_scores([["O"]], [["O"]])["micro"] == Scores(0.0, 0.0, 0.0, 0)  # nothing to find, nothing found
    with pytest.raises(ValueError, match="sequence 0"):
        entity_scores([["O", "O"]], [["O"]])


def test_entity_scores_agree_with_seqeval():
    """seqeval 1.2.2's default mode gave 3/17 for precision, recall and F1 on these (ill-formed) sequences;
    ours agreed with it on 300 random cases like them (checked once, seqeval is not a dependency)."""
    gold = [["I-LOC", "I-ORG", "I-ORG", "I-ORG", "O"], ["O", "B-LOC", "I-ORG", "B-LOC", "B-LOC", "B-ORG"],
            ["I-ORG", "B-PER", "O", "B-LOC", "O", "I-ORG", "B-LOC"],
            ["I-LOC", "I-ORG", "I-ORG", "O", "B-ORG", "B-LOC", "I-PER"]]
    guess = [["B-ORG", "I-ORG", "B-PER", "I-LOC", "O"], ["I-PER", "O", "O", "O", "B-ORG", "I-LOC"],
             ["O", "B-LOC", "B-ORG", "B-PER", "B-LOC", "B-ORG", "O"],
             ["I-LOC", "B-PER", "I-ORG", "B-LOC", "B-LOC", "I-LOC", "B-PER"]]
    micro = entity_scores(gold, guess)["micro"]
    assert micro.precision == micro.recall == micro.f1 == pytest.approx(3 / 17)


def test_labels_go_on_the_first_piece_of_a_word():
    # [CLS] 江 泽 民 windows ##98 [SEP] over the characters 江泽民windows98
    offsets = [(0, 0), (0, 1), (1, 2), (2, 3), (3, 10), (10, 12), (0, 0)]
    continuation = [False, False, False, False, False, True, False]
    char_labels = [1, 2, 2] + [5] + [6] * 8
    assert align_labels(offsets, char_labels, continuation) == [IGNORE_INDEX, 1, 2, 2, 5, IGNORE_INDEX, IGNORE_INDEX]
    with pytest.raises(ValueError, match="one entry per token"):
        align_labels(offsets, char_labels, continuation[:-1])
    chars = token_labels_to_chars(offsets, ["O", "B-PER", "I-PER", "I-PER", "B-ORG", "I-ORG", "O"], 12)
    assert chars == ["B-PER", "I-PER", "I-PER", "B-ORG"] + ["I-ORG"] * 8


def test_the_dictionary_tagger_finds_known_names_longest_first():
    train = [(list("江泽民在北京"), ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]),
             (list("北京大学"), ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]),
             (list("北京"), ["B-LOC", "I-LOC"])]
    tagger = DictionaryTagger(train)
    assert tagger.types == {"江泽民": "PER", "北京": "LOC", "北京大学": "ORG"}
    assert "李" not in DictionaryTagger([(["李"], ["B-PER"])]).types  # one character: too ambiguous
    assert DictionaryTagger([(["李"], ["B-PER"])], min_length=1).types == {"李": "PER"}
    assert tagger(list("北京大学的江泽民")) == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER", "I-PER", "I-PER"]
    assert tagger(list("上海")) == ["O", "O"] and tagger([]) == []
    with pytest.raises(ValueError, match="one character per item"):
        tagger(["北京"])


def test_the_baseline_on_people_daily():
    """The numbers notebook 06 states for the dictionary baseline, on validation."""
    from helpers.chinese_data import BIO_LABELS, load_people_daily

    data = load_people_daily()

    def pairs(split):
        return [(row["chars"], [BIO_LABELS[i] for i in row["ner_tags"]]) for row in data[split]]

    tagger = DictionaryTagger(pairs("train"))
    validation = pairs("validation")
    scores = entity_scores([labels for _, labels in validation], [tagger(chars) for chars, _ in validation])
    assert round(scores["micro"].f1, 3) == 0.811 and scores["micro"].support == 4916
    assert set(scores) == {"micro", "PER", "LOC", "ORG"}
