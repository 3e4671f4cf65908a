"""A SentencePiece unigram tokenizer with ALBERT's layout, trained on the project corpus.

ALBERT's released models use a 30,000-piece SentencePiece *unigram* vocabulary, lower-cased,
trained with (official README)::

    spm_train --model_type=unigram --pad_id=0 --unk_id=1 --eos_id=-1 --bos_id=-1
              --control_symbols=[CLS],[SEP],[MASK] ...

so the special ids are ``<pad>`` = 0, ``<unk>`` = 1, ``[CLS]`` = 2, ``[SEP]`` = 3, ``[MASK]`` = 4.
We do the same on *our* corpus (``helpers.data.load_corpus()``: training-split snippets and
plot synopses, never validation or test text) with a much smaller vocabulary: with about 300
thousand words of text, every row of a 30k x E embedding table would be seen a handful of times
at best, while a few thousand pieces are each seen often enough to be learned.

transformers 5.x pitfalls this module avoids (transformers' ``AlbertTokenizer`` documentation):

* ``AlbertTokenizer(vocab_file="x.model")`` silently ignores the file (every word becomes
  ``<unk>``). We build the tokenizer from the trained pieces instead:
  ``AlbertTokenizer(vocab=[(piece, score), ...])``, and ``save_pretrained`` writes a
  ``tokenizer.json`` that ``AutoTokenizer.from_pretrained`` reloads exactly.
* ``AlbertTokenizer`` normalises text (NFKD, accents stripped, lower-cased) *before* the unigram
  model sees it. We run that very normaliser over the training text, so the pieces are learned
  from the same strings they will be applied to.
* ``tokenizer(a, b)`` returns no ``token_type_ids`` in 5.x: pass ``return_token_type_ids=True``
  for sentence pairs.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm
from tokenizers import normalizers
from transformers import AlbertTokenizer, AutoTokenizer

from helpers.data import load_corpus
from helpers.files import atomic_folder
from helpers.runtime import SHIPPED_CHECKPOINT, runs_dir

SPECIAL_TOKENS = {"<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
DEFAULT_VOCAB_SIZE = 8000


def albert_normalizer() -> normalizers.Normalizer:
    """The normaliser ``AlbertTokenizer`` applies (defaults: no accents kept, lower case)."""
    return AlbertTokenizer()._tokenizer.normalizer


def normalize_texts(texts: Iterable[str]) -> list[str]:
    """Texts as the tokenizer will see them: NFKD, accents stripped, lower-cased."""
    normalizer = albert_normalizer()
    return [normalizer.normalize_str(text) for text in texts]


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE,
                    out_dir: str | Path | None = None, seed: int = 0) -> AlbertTokenizer:
    """Train a SentencePiece unigram model on ``texts`` and wrap it as an ``AlbertTokenizer``.

    Args:
        texts: the training text (one document per item). Use ``load_corpus()["text"]``: never
            validation or test text.
        vocab_size: number of pieces, the 5 special tokens included.
        out_dir: if given, the tokenizer is saved there with ``save_pretrained`` (and the raw
            SentencePiece model as ``spiece.model`` for reference).
        seed: SentencePiece's sampling seed; training runs on one thread, so the same texts
            and seed give the same vocabulary on every machine.

    Returns:
        An ``AlbertTokenizer`` with ``<pad>``=0, ``<unk>``=1, ``[CLS]``=2, ``[SEP]``=3,
        ``[MASK]``=4, lower-casing like the released ALBERT models.
    """
    spm.set_random_generator_seed(seed)
    lines = [line for text in normalize_texts(texts) for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("train_tokenizer got no text: pass e.g. load_corpus()['text']")
    with tempfile.TemporaryDirectory() as tmp:
        corpus_file = Path(tmp) / "corpus.txt"
        corpus_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        prefix = Path(tmp) / "spiece"
        spm.SentencePieceTrainer.train(
            input=str(corpus_file), model_prefix=str(prefix), vocab_size=vocab_size,
            model_type="unigram", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"],
            # The text is already normalised exactly as AlbertTokenizer will normalise it.
            normalization_rule_name="identity",
            character_coverage=1.0, num_threads=1,
            max_sentence_length=1 << 16, minloglevel=2,
        )
        processor = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
        pieces = [(processor.id_to_piece(i), processor.get_score(i))
                  for i in range(processor.get_piece_size())]
        spm_bytes = Path(str(prefix) + ".model").read_bytes()
    tokenizer = AlbertTokenizer(vocab=pieces)
    check_special_ids(tokenizer)
    if out_dir is not None:
        out_dir = Path(out_dir)
        tokenizer.save_pretrained(out_dir)
        (out_dir / "spiece.model").write_bytes(spm_bytes)
    return tokenizer


def check_special_ids(tokenizer) -> None:
    """Raise if ``tokenizer`` does not use ALBERT's special-token ids."""
    for token, expected in SPECIAL_TOKENS.items():
        got = tokenizer.convert_tokens_to_ids(token)
        if got != expected:
            raise ValueError(f"{token} has id {got}, ALBERT expects {expected}: retrain the "
                             "tokenizer with train_tokenizer()")


def corpus_fingerprint(texts: Iterable[str]) -> str:
    """A short hash of the training text: the cache key of a trained tokenizer."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def load_tokenizer(path: str | Path) -> AlbertTokenizer:
    """Load a saved tokenizer folder (``tokenizer.json``) and check its special ids."""
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    check_special_ids(tokenizer)
    return tokenizer


def load_or_train_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE, *, prefer_shipped: bool = True,
                            texts: Iterable[str] | None = None, seed: int = 0,
                            shipped_dir: Path = SHIPPED_CHECKPOINT) -> AlbertTokenizer:
    """The project tokenizer: the shipped checkpoint's if present, else trained once and cached.

    1. If ``prefer_shipped`` and ``shipped_dir/tokenizer.json`` (the shipped checkpoint's)
       exists with the requested ``vocab_size``, load it: models fine-tuned from the shipped
       checkpoint must use its exact vocabulary.
    2. Otherwise train on ``texts`` (default: ``load_corpus()["text"]``) and cache the result in
       ``runs/tokenizers/spm-<vocab_size>-<corpus hash>/``, so the next call loads it (~0.1 s)
       instead of training again (a few seconds).
    """
    if prefer_shipped and (shipped_dir / "tokenizer.json").exists():
        tokenizer = load_tokenizer(shipped_dir)
        if len(tokenizer) == vocab_size:
            return tokenizer
    if texts is None:

        texts = load_corpus()["text"]
    texts = list(texts)
    cache = runs_dir("tokenizers") / f"spm-{vocab_size}-{corpus_fingerprint(texts)}-s{seed}"
    if (cache / "tokenizer.json").exists():
        return load_tokenizer(cache)
    with atomic_folder(cache) as tmp:  # an interrupted run never leaves half a folder
        tokenizer = train_tokenizer(texts, vocab_size, out_dir=tmp, seed=seed)
    return tokenizer


def word_start_flags(tokenizer) -> list[bool]:
    """For every id, whether that piece starts a new word (it begins with SentencePiece's "▁").

    Special tokens count as word starts: whole-word masking uses this to group a word's pieces.
    """
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return [piece.startswith("▁") or piece in SPECIAL_TOKENS for piece in vocab]
