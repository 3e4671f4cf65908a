"""helpers.ner: BIO entities, entity-level scores, label alignment and the dictionary baseline."""

import numpy as np
import pytest

from helpers.ner import (
    IGNORE_INDEX,
    DictionaryTagger,
    Scores,
    add_confident_entities,
    align_labels,
    bio_entities,
    cut_long_sentences,
    encode_for_token_classification,
    entity_scores,
    labels_at_tokens,
    predict_labels,
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


def test_long_lines_are_cut_after_punctuation():
    chars = list("江泽民在北京，李鹏在上海。新华社报道")
    tags = list(range(len(chars)))
    pieces = cut_long_sentences(chars, tags, max_chars=8)
    assert ["".join(c) for c, _ in pieces] == ["江泽民在北京，", "李鹏在上海。", "新华社报道"]
    assert [t for _, piece_tags in pieces for t in piece_tags] == tags  # nothing lost, nothing repeated
    assert ["".join(c) for c, _ in cut_long_sentences(list("一二三四五六七"), [0] * 7, 3)] == ["一二三", "四五六", "七"]
    assert cut_long_sentences([], [], 5) == []
    with pytest.raises(ValueError, match="tags"):
        cut_long_sentences(["北"], [], 5)


@pytest.fixture(scope="module")
def zh_tokenizer(tmp_path_factory):
    from helpers.chinese_tokenizer import save_char_tokenizer, train_char_vocab

    texts = ["江泽民在北京，李鹏在上海。新华社报道１９９８年", "北京是中国的首都"] * 3
    return save_char_tokenizer(train_char_vocab(texts, vocab_size=100), tmp_path_factory.mktemp("zh"))


def test_encoding_aligns_one_label_per_character_token(zh_tokenizer):
    from helpers.chinese_data import BIO_LABELS

    chars = list("江泽民在北京１９８９年")  # 1989: not a token of its own, so it becomes ## pieces
    tags = [BIO_LABELS.index(t) for t in ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"] + ["O"] * 5]
    (example,) = encode_for_token_classification([(chars, tags)], zh_tokenizer, max_length=32)
    pieces = zh_tokenizer.convert_ids_to_tokens(example["input_ids"])
    assert pieces[:7] == ["[CLS]", "江", "泽", "民", "在", "北", "京"] and pieces[-1] == "[SEP]"
    assert example["labels"][:7] == [IGNORE_INDEX, *tags[:6]] and example["labels"][-1] == IGNORE_INDEX
    later = [label for piece, label in zip(pieces, example["labels"], strict=True) if piece.startswith("##")]
    assert later and set(later) == {IGNORE_INDEX}  # the full-width digits' later pieces
    assert example["chars"] == chars
    long = encode_for_token_classification([(chars * 5, tags * 5)], zh_tokenizer, max_length=16)
    assert len(long) > 1 and all(len(e["input_ids"]) <= 16 for e in long)


def test_predicted_labels_feed_the_entity_scores(zh_tokenizer):
    import torch
    from transformers import (
        AlbertConfig,
        AlbertForTokenClassification,
        DataCollatorForTokenClassification,
    )

    from helpers.chinese_data import BIO_LABELS

    chars = list("江泽民在北京")
    tags = [BIO_LABELS.index(t) for t in ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]]
    examples = encode_for_token_classification([(chars, tags), (chars[:4], tags[:4])], zh_tokenizer, max_length=16)
    collate = DataCollatorForTokenClassification(zh_tokenizer)
    batch = collate([{k: e[k] for k in ("input_ids", "attention_mask", "labels")} for e in examples])
    assert batch["labels"][1].tolist()[-2:] == [IGNORE_INDEX, IGNORE_INDEX]  # padded with -100
    torch.manual_seed(0)
    config = AlbertConfig(vocab_size=len(zh_tokenizer), embedding_size=8, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=32, num_labels=len(BIO_LABELS))
    model = AlbertForTokenClassification(config)
    true, predicted = predict_labels(model, [batch], BIO_LABELS)
    assert true == [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-PER", "I-PER", "I-PER", "O"]]
    assert [len(p) for p in predicted] == [6, 4] and set(sum(predicted, [])) <= set(BIO_LABELS)
    assert entity_scores(true, true)["micro"].f1 == 1.0
    same_true, same_predicted, confidence = predict_labels(model, [batch], BIO_LABELS, with_confidence=True)
    assert (same_true, same_predicted) == (true, predicted) and [len(c) for c in confidence] == [6, 4]
    with torch.no_grad():  # the confidence is the probability of the predicted label
        first = model(input_ids=batch["input_ids"][:1]).logits.softmax(-1)[0, 1:7].max(-1).values
    assert confidence[0] == pytest.approx(first.tolist(), abs=1e-6)
    assert all(1 / len(BIO_LABELS) <= c <= 1 for row in confidence for c in row)


def test_dictionary_labels_are_read_at_the_labelled_tokens(zh_tokenizer):
    from helpers.chinese_data import BIO_LABELS

    chars = list("江泽民在北京１９８９年")  # the full-width digits become ## pieces: fewer tokens than characters
    tags = [BIO_LABELS.index(t) for t in ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"] + ["O"] * 5]
    (piece,) = encode_for_token_classification([(chars, tags)], zh_tokenizer, max_length=32)
    dictionary = DictionaryTagger([(list("北京"), ["B-LOC", "I-LOC"])])
    at_tokens = labels_at_tokens(dictionary(chars), piece)
    assert len(at_tokens) == sum(label != IGNORE_INDEX for label in piece["labels"]) < len(chars)
    assert at_tokens[:6] == ["O", "O", "O", "O", "B-LOC", "I-LOC"]
    assert labels_at_tokens([BIO_LABELS[t] for t in tags], piece) == [BIO_LABELS[t] for t in piece["labels"] if t != IGNORE_INDEX]
    with pytest.raises(ValueError, match="labels for a piece of 11 characters"):
        labels_at_tokens(["O"], piece)


def test_the_model_adds_only_confident_names_the_dictionary_does_not_cover():
    known = ["B-LOC", "I-LOC", "O", "O", "O", "O", "O", "O"]
    model = ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    sure = [0.99, 0.99, 0.9, 0.95, 0.7, 0.9, 0.99, 0.97]
    # the dictionary's name wins the overlap; the person's weakest token (0.7) decides whether it is added
    assert add_confident_entities(known, model, sure, 0.9) == ["B-LOC", "I-LOC", "O", "O", "O", "O", "B-LOC", "I-LOC"]
    assert add_confident_entities(known, model, sure, 0.5) == ["B-LOC", "I-LOC", "O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    assert add_confident_entities(known, model, sure, 1.01) == known  # a threshold above 1: the dictionary alone
    assert add_confident_entities(["O"] * 8, model, sure, 0.0) == model  # an empty dictionary: the model alone
    assert add_confident_entities([], [], [], 0.5) == []
    with pytest.raises(ValueError, match="lengths differ"):
        add_confident_entities(known, model[:-1], sure, 0.5)


def test_cutting_and_aligning_people_daily_keeps_every_entity():
    from helpers.chinese_data import BIO_LABELS, load_people_daily
    from helpers.chinese_tokenizer import load_or_train_char_tokenizer

    validation = load_people_daily()["validation"]
    rows = list(zip(validation["chars"], validation["ner_tags"], strict=True))
    encoded = encode_for_token_classification(rows, load_or_train_char_tokenizer(), max_length=128)
    assert len(encoded) > len(rows) and max(len(e["input_ids"]) for e in encoded) <= 128

    def entities(label_lists):
        return sum(len(bio_entities([BIO_LABELS[i] for i in labels if i != IGNORE_INDEX])) for labels in label_lists)

    assert entities(e["labels"] for e in encoded) == entities(tags for _, tags in rows) == 4916


def test_the_shared_training_loop_learns_entities_and_keeps_dataset_order(zh_tokenizer, tmp_path, one_thread):
    """train_classifier (notebook 05's loop) trains a token classifier with entity F1 as its validation
    score; the length-grouped evaluation loader gives predictions back in dataset order."""
    import torch
    from transformers import AlbertConfig, AlbertForPreTraining

    from helpers.chinese_data import BIO_LABELS
    from helpers.finetune import best_epoch, load_classifier, served_positions, train_classifier
    from helpers.ner import entity_f1, token_classification_loader

    torch.manual_seed(0)
    config = AlbertConfig(vocab_size=len(zh_tokenizer), embedding_size=16, hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    AlbertForPreTraining(config).save_pretrained(tmp_path)
    zh_tokenizer.save_pretrained(tmp_path)
    names = {"江泽民": "PER", "李鹏": "PER", "北京": "LOC", "上海": "LOC", "新华社": "ORG"}
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(64):  # "X在Y。" with a person X and a place Y, of varying length
        text, tags = "", []
        for _ in range(rng.integers(1, 4)):
            for name in (rng.choice(["江泽民", "李鹏", "新华社"]), "在", rng.choice(["北京", "上海"]), "。"):
                kind = names.get(name)
                text += name
                tags += ["O"] if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        rows.append((list(text), [BIO_LABELS.index(t) for t in tags]))
    encoded = encode_for_token_classification(rows, zh_tokenizer, max_length=64)
    train = token_classification_loader(encoded[:48], zh_tokenizer, batch_size=8, shuffle=True)
    val = token_classification_loader(encoded[48:], zh_tokenizer, batch_size=8)
    _, model = load_classifier(tmp_path, label_names=BIO_LABELS, head="token")
    assert type(model).__name__ == "AlbertForTokenClassification" and model.config.id2label[1] == "B-PER"
    history = train_classifier(model, train, val, epochs=8, lr=1e-2, progress=False, score=entity_f1, score_name="f1")
    assert set(history[0]) == {"epoch", "train_loss", "val_f1", "lr", "steps"}
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 3
    assert best_epoch(history, "val_f1")["val_f1"] > 0.9
    served = served_positions(val)
    assert served is not None and sorted(served.tolist()) == list(range(16))
    true, _ = predict_labels(model, val, BIO_LABELS)
    assert true == [[BIO_LABELS[t] for t in e["labels"] if t != IGNORE_INDEX] for e in encoded[48:]]  # dataset order
    with pytest.raises(ValueError, match="head"):
        load_classifier(tmp_path, head="span")
    with pytest.raises(ValueError, match="label names"):
        load_classifier(tmp_path, num_labels=3, label_names=BIO_LABELS)


def test_bad_input_to_the_chinese_tools(zh_tokenizer):
    """Empty text, text that is not Chinese and characters outside the vocabulary (notebook 06)."""
    from helpers.chinese_tokenizer import segment_words, token_word_starts

    assert zh_tokenizer.convert_ids_to_tokens(zh_tokenizer("")["input_ids"]) == ["[CLS]", "[SEP]"]
    assert zh_tokenizer.tokenize("北京👍龘") == ["北", "京", "[UNK]", "[UNK]"]  # an emoji, a rare character
    assert encode_for_token_classification([([], [])], zh_tokenizer) == []  # an empty line gives no piece
    assert DictionaryTagger([(list("江泽民"), ["B-PER", "I-PER", "I-PER"])])([]) == []
    assert entity_scores([], [])["micro"].f1 == 0.0
    assert segment_words("") == [] and token_word_starts(zh_tokenizer, []) == ([2, 3], [True, True])
    with pytest.raises(ValueError, match="one character per item"):
        DictionaryTagger([])(["北京"])
    with pytest.raises(ValueError, match="labels"):
        entity_scores([["O"]], [["O", "O"]])
