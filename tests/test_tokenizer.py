import pytest
from transformers import AutoTokenizer

from helpers import tokenizer as tk
from helpers.data import load_corpus


@pytest.fixture(scope="module")
def texts():
    return load_corpus()["text"][:3000]


@pytest.fixture(scope="module")
def trained(texts, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    return tk.train_tokenizer(texts, vocab_size=1000, out_dir=out), out


def test_special_ids_follow_albert(trained):
    tok, _ = trained
    assert len(tok) == 1000
    for token, expected in tk.SPECIAL_TOKENS.items():
        assert tok.convert_tokens_to_ids(token) == expected
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id,
            tok.mask_token_id) == (0, 1, 2, 3, 4)


def test_pairs_get_cls_sep_and_segment_ids(trained):
    tok, _ = trained
    enc = tok("A fine film.", "Too long, though!", return_token_type_ids=True)
    ids, types = enc["input_ids"], enc["token_type_ids"]
    assert ids[0] == 2 and ids[-1] == 3 and ids.count(3) == 2
    first_sep = ids.index(3)
    assert set(types[: first_sep + 1]) == {0} and set(types[first_sep + 1:]) == {1}


def test_lower_cases_and_strips_accents(trained):
    tok, _ = trained
    assert tok("HÉLLO World")["input_ids"] == tok("hello world")["input_ids"]


def test_known_words_are_not_unknown(trained, texts):
    tok, _ = trained
    ids = [i for text in texts[:200] for i in tok(text)["input_ids"]]
    assert ids.count(tok.unk_token_id) / len(ids) < 0.001


def test_round_trip_through_auto_tokenizer(trained, texts):
    tok, out = trained
    again = AutoTokenizer.from_pretrained(out)
    assert type(again).__name__ == "AlbertTokenizer"
    for text in texts[:50]:
        assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert (out / "spiece.model").exists()


def test_training_is_deterministic(texts, trained):
    tok, _ = trained
    again = tk.train_tokenizer(texts, vocab_size=1000)
    assert again.get_vocab() == tok.get_vocab()


def test_word_start_flags(trained):
    tok, _ = trained
    flags = tk.word_start_flags(tok)
    assert len(flags) == len(tok)
    assert all(flags[:5])  # specials count as word starts
    the = tok.convert_tokens_to_ids("▁the")
    assert flags[the]


def test_wrong_special_ids_are_rejected():
    from transformers import AlbertTokenizer

    bad = AlbertTokenizer(vocab=[("<unk>", 0.0), ("<pad>", 0.0), ("[CLS]", 0.0), ("[SEP]", 0.0),
                                 ("[MASK]", 0.0), ("▁a", -1.0)])
    with pytest.raises(ValueError, match="retrain"):
        tk.check_special_ids(bad)


def test_load_or_train_caches(monkeypatch, tmp_path, texts):
    monkeypatch.setenv("ALBERT_REPO_ROOT", str(tmp_path))
    small = texts[:500]
    first = tk.load_or_train_tokenizer(300, texts=small, shipped_dir=tmp_path / "none")
    cached = list((tmp_path / "runs" / "tokenizers").iterdir())
    assert len(cached) == 1 and (cached[0] / "tokenizer.json").exists()
    second = tk.load_or_train_tokenizer(300, texts=small, shipped_dir=tmp_path / "none")
    assert second.get_vocab() == first.get_vocab()


def test_empty_text_is_a_clear_error():
    with pytest.raises(ValueError, match="no text"):
        tk.train_tokenizer(["", "  "], vocab_size=100)
