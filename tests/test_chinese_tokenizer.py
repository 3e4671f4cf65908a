"""helpers.chinese_tokenizer: a character vocab.txt read by BertTokenizer, and Chinese whole-word masking."""

import numpy as np
import pytest
import torch
from transformers import AlbertConfig, AlbertTokenizer, AutoTokenizer, BertTokenizer

from helpers import chinese_tokenizer as zh
from helpers.masking import NgramMasker

TEXTS = ["我爱北京天安门。", "北京是中国的首都，Windows98 很旧。", "天安门广场在北京。", "我们爱中国！"] * 3


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zh")
    vocab = zh.train_char_vocab(TEXTS, vocab_size=200, min_frequency=2)
    return folder, vocab, zh.save_char_tokenizer(vocab, folder)


def test_the_vocabulary_has_every_character_and_wordpieces_for_latin(saved):
    _, vocab, tokenizer = saved
    assert vocab[:5] == zh.ZH_SPECIAL_TOKENS
    assert {ch for text in TEXTS for ch in text if zh.is_cjk(ch)} <= set(vocab)
    assert all(len(token) == 1 for token in vocab if any(zh.is_cjk(ch) for ch in token))  # no multi-character words
    assert zh.train_char_vocab(TEXTS, vocab_size=200, min_frequency=2) == vocab  # deterministic
    assert tokenizer.tokenize("我爱北京") == ["我", "爱", "北", "京"]
    assert tokenizer.unk_token_id == 1 and tokenizer.tokenize("猫") == ["[UNK]"]  # an unseen character
    assert tokenizer("我爱")["input_ids"] == [2, vocab.index("我"), vocab.index("爱"), 3]


def test_the_saved_folder_loads_with_bert_and_auto_tokenizer(saved):
    folder, vocab, tokenizer = saved
    assert sorted(p.name for p in folder.iterdir()) == ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    for loaded in (zh.load_char_tokenizer(folder), AutoTokenizer.from_pretrained(str(folder))):
        assert isinstance(loaded, BertTokenizer) and len(loaded) == len(vocab)
        assert loaded.tokenize(TEXTS[1]) == tokenizer.tokenize(TEXTS[1])


def test_the_wrong_ways_to_load_a_vocab_txt(tmp_path, saved):
    """What notebook 06 warns about (transformers 5.x): each of these ignores the vocabulary, silently."""
    _, vocab, _ = saved
    (tmp_path / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    AlbertConfig(vocab_size=len(vocab)).save_pretrained(tmp_path)  # a Chinese ALBERT checkpoint's folder
    for wrong in (AlbertTokenizer.from_pretrained(str(tmp_path)), AutoTokenizer.from_pretrained(str(tmp_path)),
                  BertTokenizer(vocab_file=str(tmp_path / "vocab.txt"))):
        assert len(wrong) == 5  # the special tokens only
        assert set(wrong("我爱北京")["input_ids"][1:-1]) == {wrong.unk_token_id}
    assert len(BertTokenizer.from_pretrained(str(tmp_path))) == len(vocab)  # the right way
    assert len(zh.load_char_tokenizer(tmp_path)) == len(vocab)  # a bare vocab.txt of ours loads too
    other = tmp_path / "other"
    other.mkdir()
    (other / "vocab.txt").write_text("[UNK]\n[PAD]\n[CLS]\n[SEP]\n[MASK]\n我\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rebuild"):
        zh.load_char_tokenizer(other)  # other special-token ids than the models expect
    with pytest.raises(FileNotFoundError, match="save_char_tokenizer"):
        zh.load_char_tokenizer(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no text"):
        zh.train_char_vocab(["", "  "])
    with pytest.raises(ValueError, match="must start with"):
        zh.save_char_tokenizer(["我", "爱"], tmp_path / "bad")


def test_word_starts_follow_the_segmentation(saved):
    _, _, tokenizer = saved
    words = ["北京", "是", "中国", "的", "首都"]
    assert zh.char_word_starts(words) == [True, False, True, True, False, True, True, False]
    ids, starts = zh.token_word_starts(tokenizer, words)
    assert tokenizer.convert_ids_to_tokens(ids)[1:3] == ["北", "京"]
    assert starts == [True, True, False, True, True, False, True, True, False, True]  # [CLS] ... [SEP]
    ids, starts = zh.token_word_starts(tokenizer, ["Windows98", " ", "很", "旧"])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert [s for p, s in zip(pieces, starts, strict=True) if p.startswith("##")] == [False] * sum(
        p.startswith("##") for p in pieces)  # a word's later pieces never start a word
    assert zh.wordpiece_starts(tokenizer, ids) == [not p.startswith("##") for p in pieces]


def test_whole_word_masking_masks_whole_words_and_character_masking_does_not(saved):
    _, _, tokenizer = saved
    words = ["北京", "是", "中国", "的", "首都", "，", "天安门", "广场", "在", "北京"] * 3
    ids, starts = zh.token_word_starts(tokenizer, words)
    word_of = np.cumsum(starts)  # the word every position belongs to
    masker = NgramMasker(tokenizer, seed=0)
    rng = np.random.default_rng(0)
    split_words = 0
    for _ in range(200):
        whole = masker.mask_one(ids, rng, starts=starts)
        masked = {p for span in whole.spans for p in span}
        for position in masked:  # every character of a masked word is masked
            assert all(q in masked for q in np.flatnonzero(word_of == word_of[position]))
        chars = masker.mask_one(ids, rng, starts=zh.wordpiece_starts(tokenizer, ids))
        masked = {p for span in chars.spans for p in span}
        split_words += any(not all(q in masked for q in np.flatnonzero(word_of == word_of[p])) for p in masked)
    assert split_words > 150  # character masking usually leaves part of a masked word visible
    with pytest.raises(ValueError, match="one per position"):
        masker.mask_one(ids, rng, starts=starts[:-1])


def test_the_notebook_tokenizer_on_the_real_text(tmp_path, monkeypatch):
    monkeypatch.setattr(zh, "runs_dir", lambda name: tmp_path / name)
    tokenizer = zh.load_or_train_char_tokenizer()
    assert 5_000 < len(tokenizer) <= zh.ZH_VOCAB_SIZE  # some 5,000 characters + Latin/digit pieces
    assert len(list((tmp_path / "tokenizers").iterdir())) == 1
    assert zh.load_or_train_char_tokenizer().get_vocab() == tokenizer.get_vocab()  # from the cache
    from helpers.chinese_data import load_reviews

    held_out = load_reviews()["validation"]["text"]
    ids = [i for text in held_out for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    assert np.mean(np.asarray(ids) == tokenizer.unk_token_id) < 0.005  # unseen characters are rare
    assert sum(len(text) for text in held_out) * 0.95 < len(ids) <= sum(len(text) for text in held_out)


def test_chinese_sentences_end_after_their_punctuation():
    text = "这本书很好。我很喜欢！你呢？“真的吗？”他问。没有句号"
    assert zh.split_chinese_sentences(text) == ["这本书很好。", "我很喜欢！", "你呢？", "“真的吗？”", "他问。", "没有句号"]
    assert zh.split_chinese_sentences("   ") == []


def test_the_whole_word_masker_masks_the_words_of_its_segmentation(saved):
    _, _, tokenizer = saved
    text = "北京是中国的首都，天安门广场在北京。" * 2
    ids = tokenizer(text)["input_ids"]
    fixed = ["北京", "是", "中国", "的", "首都", "，", "天安门", "广场", "在", "北京", "。"] * 2
    masker = zh.WholeWordMasker(tokenizer, segment=lambda _: fixed, seed=0)
    assert masker.segment_starts(ids) == zh.token_word_starts(tokenizer, fixed)[1]
    word_of = np.cumsum(masker.segment_starts(ids))
    for _ in range(50):
        masked = {p for span in masker.mask_one(ids).spans for p in span}
        assert masked and all(q in masked for p in masked for q in np.flatnonzero(word_of == word_of[p]))
    by_jieba = zh.WholeWordMasker(tokenizer).segment_starts(ids)
    assert by_jieba[1:3] == [True, False]  # jieba also reads 北京 as one word
    inputs, labels = masker(torch.tensor([ids, ids]))  # a batch, as the pretraining collator calls it
    assert inputs.shape == labels.shape == (2, len(ids)) and (labels != -100).any()


def test_chinese_pretraining_saves_a_checkpoint_with_its_vocab_txt(saved, tmp_path):
    from helpers.checkpoints import load_pretrained
    from helpers.pretrain import pretrain
    from helpers.pretraining import PretrainConfig
    from helpers.pretraining_data import PretrainingData

    _, vocab, tokenizer = saved
    config = PretrainConfig(corpus="chinese", vocab_size=len(vocab), embedding_size=16, hidden_size=32,
                            num_attention_heads=2, intermediate_size=64, max_length=32, batch_size=4,
                            max_steps=3, eval_every=3, save_every=3, eval_max_examples=8)
    documents = ["北京是中国的首都。天安门广场在北京。我爱北京天安门！", "这本书很好。我很喜欢！你呢？"] * 4
    data = PretrainingData(tokenizer, config, texts=documents, eval_texts=documents[:2])
    assert len(data.documents) == 8 and [len(d) for d in data.documents[:2]] == [3, 3]
    pretrain(config, tmp_path / "zh", tokenizer=tokenizer, data=data, progress=False)
    assert (tmp_path / "zh" / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1] == vocab
    model, loaded = load_pretrained(tmp_path / "zh")
    assert isinstance(loaded, BertTokenizer) and loaded.tokenize("我爱北京") == ["我", "爱", "北", "京"]
    assert model.config.vocab_size == len(vocab)


def test_segmentation_scores_count_words_with_the_same_span():
    gold = [["江", "泽民", "在", "北京"], ["新华社"]]
    guess = [["江泽民", "在", "北京"], ["新华", "社"]]
    scores = zh.segmentation_scores(gold, guess)
    assert scores["precision"] == pytest.approx(2 / 5) and scores["recall"] == pytest.approx(2 / 5)
    assert scores["gold_words"] == 5 and zh.segmentation_scores(gold, gold)["f1"] == 1.0
    with pytest.raises(ValueError, match="different texts"):
        zh.segmentation_scores([["北京"]], [["上海"]])


def test_jieba_against_the_people_daily_gold_segmentation():
    """What notebook 06 states: jieba's words agree with the PKU gold words on about 80% (F1)."""
    from helpers.chinese_data import load_people_daily

    gold = load_people_daily()["validation"]["words"]
    scores = zh.segmentation_scores(gold, [zh.segment_words("".join(words)) for words in gold])
    assert 0.79 < scores["f1"] < 0.82 and scores["precision"] > scores["recall"]
