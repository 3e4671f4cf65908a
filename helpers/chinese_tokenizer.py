"""Chinese text for ALBERT: a character vocabulary (``vocab.txt``) and whole-word masking (notebook 06).

**Characters, not SentencePiece.** Chinese BERT and ALBERT checkpoints (Google's Chinese BERT,
CLUE's and brightmart's Chinese ALBERTs) use a WordPiece ``vocab.txt`` in which every Chinese
character is its own token and only runs of Latin letters and digits are cut into ``##`` pieces.
:func:`train_char_vocab` builds such a vocabulary from our training text with the ``tokenizers``
library (``BertWordPieceTokenizer(handle_chinese_chars=True)``: a space is put around every CJK
character before WordPiece runs). Such a vocabulary is read by ``BertTokenizer.from_pretrained``
on the folder that holds it; with transformers 5.x ``AlbertTokenizer`` cannot read it and says
nothing (every text becomes one unknown piece), and neither ``BertTokenizer(vocab_file=...)``
nor ``AutoTokenizer`` on a folder with an ALBERT ``config.json`` and a bare ``vocab.txt`` gives
the right tokenizer. :func:`save_char_tokenizer` writes ``vocab.txt`` *and* the
``tokenizer.json`` / ``tokenizer_config.json`` of a ``BertTokenizer``, so that
``AutoTokenizer.from_pretrained`` (and ``pipeline``) load the right class afterwards.

**Whole-word masking.** A Chinese word spans several characters with no space between words. The
official ALBERT masking rule treats every piece with a character outside a-z as the start of a
word, so on Chinese it masks single characters, and the model can often guess a masked character
from the rest of its word. Whole-word masking (Cui et al. 2019, arXiv:1906.08101) masks every
character of a segmented word together. :func:`token_word_starts` turns a segmentation (the
People's Daily gold words, or ``jieba``'s) into a word-start flag per token;
``helpers.masking.mask_sequence(..., starts=...)`` then masks whole words with the same n-gram
rule as the English notebooks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

from helpers.files import atomic_folder
from helpers.masking import MaskedSequence, NgramMasker
from helpers.ner import Scores
from helpers.runtime import runs_dir
from helpers.tokenizer import corpus_fingerprint

ZH_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0-4, as in our English vocabulary
ZH_VOCAB_SIZE = 8000
# A sentence ends after a run of these, with any closing quotes or brackets right after it.
SENTENCE_END = re.compile(r"([。！？!?…]+[」』”’）)]*)")


def is_cjk(char: str) -> bool:
    """A CJK unified ideograph (the basic block and extension A): what Chinese text is written in."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def train_char_vocab(texts: Iterable[str], vocab_size: int = ZH_VOCAB_SIZE,
                     min_frequency: int = 2) -> list[str]:
    """A Chinese-BERT-style WordPiece vocabulary: special tokens, then characters, then ``##`` pieces.

    Every character of ``texts`` is kept (the most frequent first if there are more than
    ``vocab_size``), so a Chinese character seen in training is never unknown; the rest of the
    budget goes to WordPiece merges of Latin letters and digits seen at least ``min_frequency``
    times. Lower-cased, as the ``BertTokenizer`` that reads it lower-cases its input.
    """
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise ValueError("train_char_vocab got no text: pass e.g. chinese_training_texts()")
    trainer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True,
                                     strip_accents=False, lowercase=True)
    # limit_alphabet: the library keeps only the 1,000 most frequent characters by default,
    # which would make most Chinese characters unknown.
    trainer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency,
                                limit_alphabet=vocab_size, special_tokens=ZH_SPECIAL_TOKENS,
                                show_progress=False)
    vocab = trainer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


def save_char_tokenizer(vocab: Sequence[str], folder: str | Path) -> BertTokenizer:
    """Write ``vocab.txt`` and a ``BertTokenizer`` for it into ``folder``; return the tokenizer."""
    folder = Path(folder)
    if list(vocab[:len(ZH_SPECIAL_TOKENS)]) != ZH_SPECIAL_TOKENS:
        raise ValueError(f"the vocabulary must start with {ZH_SPECIAL_TOKENS}: build it with train_char_vocab()")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(folder))  # not BertTokenizer(vocab_file=...): see the module doc
    tokenizer.save_pretrained(str(folder))  # tokenizer.json + tokenizer_config.json naming BertTokenizer
    return load_char_tokenizer(folder)


def write_vocab_txt(tokenizer, folder: str | Path) -> None:
    """Write ``tokenizer``'s vocabulary as ``vocab.txt`` (``save_pretrained`` writes only tokenizer.json)."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    (Path(folder) / "vocab.txt").write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")


def is_char_tokenizer_folder(folder: str | Path) -> bool:
    """Does ``folder`` hold a character (``BertTokenizer``) tokenizer rather than a SentencePiece one?"""
    folder = Path(folder)
    config = folder / "tokenizer_config.json"
    if config.exists() and json.loads(config.read_text()).get("tokenizer_class") == "BertTokenizer":
        return True
    return (folder / "vocab.txt").exists() and not (folder / "tokenizer.json").exists()


def load_char_tokenizer(folder: str | Path) -> BertTokenizer:
    """Load a saved character tokenizer and check that it really read its vocabulary."""
    folder = Path(folder)
    if not (folder / "vocab.txt").exists() and not (folder / "tokenizer.json").exists():
        raise FileNotFoundError(f"no vocab.txt in {folder}: build one with save_char_tokenizer()")
    tokenizer = BertTokenizer.from_pretrained(str(folder))
    expected = (sum(1 for _ in (folder / "vocab.txt").open(encoding="utf-8"))
                if (folder / "vocab.txt").exists() else len(tokenizer))
    if len(tokenizer) != expected or tokenizer.convert_ids_to_tokens(list(range(len(ZH_SPECIAL_TOKENS)))) != ZH_SPECIAL_TOKENS:
        raise ValueError(f"{folder}: the tokenizer has {len(tokenizer)} tokens but vocab.txt has {expected} "
                         f"(or other special tokens); rebuild the folder with save_char_tokenizer()")
    return tokenizer


def chinese_training_texts() -> list[str]:
    """The training split's text: reviews, then People's Daily sentences (words joined)."""
    from helpers.chinese_data import load_people_daily, load_reviews

    reviews = load_reviews()["train"]["text"]
    sentences = ["".join(words) for words in load_people_daily()["train"]["words"]]
    return [*reviews, *sentences]


def load_or_train_char_tokenizer(vocab_size: int = ZH_VOCAB_SIZE,
                                 texts: Iterable[str] | None = None) -> BertTokenizer:
    """The notebook's character tokenizer: trained once on the training split, then loaded from the cache."""
    texts = list(chinese_training_texts() if texts is None else texts)
    cache = runs_dir("tokenizers") / f"zh-wordpiece-{vocab_size}-{corpus_fingerprint(texts)}"
    if (cache / "tokenizer_config.json").exists():
        return load_char_tokenizer(cache)
    vocab = train_char_vocab(texts, vocab_size)
    with atomic_folder(cache) as tmp:  # an interrupted run never leaves half a folder
        save_char_tokenizer(vocab, tmp)
        (tmp / "training.json").write_text(json.dumps({"texts": len(texts), "vocab_size": len(vocab)}))
    return load_char_tokenizer(cache)


def char_word_starts(words: Sequence[str]) -> list[bool]:
    """For every character of ``"".join(words)``: does a word start there?"""
    return [i == 0 for word in words for i in range(len(word))]


def token_word_starts(tokenizer, words: Sequence[str]) -> tuple[list[int], list[bool]]:
    """Token ids of the segmented text (with [CLS]/[SEP]) and, per token, whether it starts a word.

    A token starts a word when its first character does; special tokens count as starts. Words
    that are whitespace only are dropped (the tokenizer drops them too).
    """
    words = [word for word in words if word.strip()]
    text = "".join(words)
    starts = char_word_starts(words)
    encoded = tokenizer(text, return_offsets_mapping=True)
    flags = [True if end == begin else starts[begin] for begin, end in encoded["offset_mapping"]]
    return encoded["input_ids"], flags


def wordpiece_starts(tokenizer, input_ids: Sequence[int]) -> list[bool]:
    """Per token: False for a ``##`` continuation piece, True otherwise.

    The word rule of the original Chinese BERT: a run of Latin letters or digits is one word,
    and every Chinese character is a word of its own (character masking).
    """
    return [not token.startswith("##") for token in tokenizer.convert_ids_to_tokens(list(input_ids))]


def split_chinese_sentences(text: str) -> list[str]:
    """Cut Chinese text after 。！？!? or … (and at line breaks), keeping closing quotes with their sentence."""
    return [piece.strip() for piece in SENTENCE_END.sub("\\1\n", text).splitlines() if piece.strip()]


def segment_words(text: str) -> list[str]:
    """Words of raw Chinese text, by ``jieba`` (its default dictionary and HMM for unknown words)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    return jieba.lcut(text)


class WholeWordMasker(NgramMasker):
    """``NgramMasker`` for a character vocabulary that masks whole *words* of the segmented text.

    The tokens of every run between special tokens are put back into text, segmented
    (:func:`segment_words`, ``jieba`` unless another ``segment`` is given), and a token starts a
    word where its first character does. The budget, n-gram and 80/10/10 rules stay those of
    ``rule`` (``helpers.masking``).
    """

    def __init__(self, tokenizer, *args, segment=segment_words, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        self.segment = segment
        self.vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))

    def segment_starts(self, token_ids) -> list[bool]:
        """Per position: does this token start a word of the segmentation? (Specials: True.)"""
        token_ids = [int(t) for t in token_ids]
        maskable = self.maskable(token_ids)
        starts = [True] * len(token_ids)
        run: list[int] = []
        for position in [*range(len(token_ids)), None]:
            if position is not None and maskable[position]:
                run.append(position)
                continue
            if run:
                pieces = [self.vocab[token_ids[p]] for p in run]
                pieces = ["\u25a1" if piece == "[UNK]" else piece.removeprefix("##") or piece for piece in pieces]
                offsets = np.cumsum([0] + [len(piece) for piece in pieces])
                char_start = char_word_starts([w for w in self.segment("".join(pieces)) if w])
                for p, offset in zip(run, offsets[:-1], strict=True):
                    starts[p] = char_start[offset]
                run = []
        return starts

    def mask_one(self, token_ids, rng: np.random.Generator | None = None, starts=None) -> MaskedSequence:
        if starts is None:
            starts = self.segment_starts(token_ids)
        return super().mask_one(token_ids, rng, starts=starts)


def word_spans(words: Sequence[str]) -> set[tuple[int, int]]:
    """The (start, end) character span of every word of a segmentation."""
    spans, start = set(), 0
    for word in words:
        spans.add((start, start + len(word)))
        start += len(word)
    return spans


def segmentation_scores(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> dict[str, float]:
    """Word-level precision, recall and F1 of a segmentation against a gold one (the SIGHAN bakeoff
    measure): a predicted word counts if the gold segmentation has a word with the same span."""
    correct = n_gold = n_predicted = 0
    for n, (gold_words, predicted_words) in enumerate(zip(gold, predicted, strict=True)):
        if "".join(gold_words) != "".join(predicted_words):
            raise ValueError(f"sentence {n}: the two segmentations are of different texts")
        gold_spans, predicted_spans = word_spans(gold_words), word_spans(predicted_words)
        correct += len(gold_spans & predicted_spans)
        n_gold += len(gold_spans)
        n_predicted += len(predicted_spans)
    scores = Scores.from_counts(correct, n_predicted, n_gold)
    return {"precision": scores.precision, "recall": scores.recall, "f1": scores.f1, "gold_words": n_gold}
