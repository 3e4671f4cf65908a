"""ALBERT's masked-language-model corruption: n-gram whole-word masking, 80/10/10.

The ``"official"`` rule is the one of ``create_masked_lm_predictions`` in the official
``create_pretraining_data.py`` (github.com/google-research/albert; ALBERT paper §4.1, after
SpanBERT):

* **Budget:** ``min(max_predictions, max(1, round(len(tokens) * 0.15)))`` tokens, where
  ``len(tokens)`` counts [CLS] and [SEP] (not padding) and ``max_predictions`` is 20 (the
  official ``max_predictions_per_seq``).
* **Whole words** (``_is_start_piece_sp``): a piece starts a word if it begins with "▁" or "<",
  if it is a single punctuation character, or if it has a character outside a-z and ASCII
  punctuation (a digit, an apostrophe, a letter of another script). A word is masked completely
  or not at all.
* **n-grams:** candidate starts are visited in random order; at each, n consecutive words are
  taken with p(n) = (1/n) / sum_k (1/k) for n = 1..3, i.e. 6/11, 3/11, 2/11 (mean 18/11 words),
  always: near the end of the sequence an n-gram simply runs short. If the n-gram would exceed
  the budget, shorter n-grams are tried, and the start is skipped if even one word does not fit.
  n-grams never overlap.
* **80/10/10**, decided per masked token: 80% become ``[MASK]``, 10% a random token, 10% stay
  unchanged. The label is the original token at every chosen position and -100 (ignored by the
  loss) everywhere else. Special tokens and padding are never chosen.

Two deliberate deviations, kept in every rule: the random replacement draws from the non-special
vocabulary (the official code draws from the whole vocabulary, so it can put a [CLS] or a <pad>
inside a sentence); and a special token always ends a word (the official code lets a piece after
[SEP] that does not start a word join the word before the [SEP]).

The ``"official"`` rule is the default (``NgramMasker``, ``PretrainConfig.masking_rule``). The
``"legacy"`` rule is kept as an option because the shipped ``checkpoints/tiny-albert`` was
pretrained with it (its ``pretrain_config.json`` says so): the budget counts only maskable tokens
and has no cap, only "▁" starts a word (punctuation is masked together with the word before it),
and near the end of a sequence p(n) is renormalised over the n-grams that fit. On the series' own
SOP examples (max length 128, mean 29 tokens) it masks 3.9 tokens per sequence where the official
rule masks 4.4 (``tests/test_masking.py`` checks both against a transcription of the official
code).

Unlike the official code (static masks, ``dupe_factor=40``), we mask *dynamically* in the
collator, as RoBERTa does: each epoch sees fresh masks of the same text, which matters when a
small corpus is read many times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from helpers.tokenizer import word_start_flags

IGNORE_INDEX = -100  # label value that cross_entropy ignores


MASKING_RULES = ("official", "legacy")
OFFICIAL_MAX_PREDICTIONS = 20  # the official max_predictions_per_seq
_ASCII_PUNCTUATION = frozenset('!"#$%&()*+,-./:;?@[\\]^_`{|}~')  # the official special_pieces
_ENGLISH_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


def is_start_piece_official(piece: str) -> bool:
    """The official ``_is_start_piece_sp``: does this SentencePiece piece start a new word?"""
    return (piece.startswith("▁") or piece.startswith("<") or piece in _ASCII_PUNCTUATION
            or not all(ch.lower() in _ENGLISH_LETTERS or ch in _ASCII_PUNCTUATION for ch in piece))


def word_starts(tokenizer, rule: str = "official") -> np.ndarray:
    """Boolean array over the vocabulary: True where a piece starts a word under ``rule``."""
    check_rule(rule)
    if rule == "legacy":
        return np.asarray(word_start_flags(tokenizer), dtype=bool)
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    specials = set(tokenizer.all_special_tokens)
    return np.asarray([is_start_piece_official(p) or p in specials for p in vocab], dtype=bool)


def check_rule(rule: str) -> None:
    if rule not in MASKING_RULES:
        raise ValueError(f"masking rule must be one of {MASKING_RULES}, got {rule!r}")


def ngram_probabilities(max_ngram: int = 3) -> np.ndarray:
    """p(n) proportional to 1/n for n = 1..max_ngram (ALBERT: 6/11, 3/11, 2/11)."""
    weights = 1.0 / np.arange(1, max_ngram + 1)
    return weights / weights.sum()


@dataclass
class MaskedSequence:
    """One corrupted sequence: model inputs, labels and the chosen n-grams (for display)."""
    input_ids: list[int]
    labels: list[int]
    spans: list[list[int]]  # token positions of each masked n-gram, in the order chosen


def group_words(token_ids, word_start: np.ndarray, maskable: np.ndarray,
                starts=None) -> list[list[int]]:
    """Group the maskable positions of one sequence into words (lists of token positions).

    A new word starts at every piece flagged in ``word_start`` (or, if ``starts`` is given, at
    every position flagged there) and after every non-maskable position (a special token or
    padding ends the previous word).
    """
    words: list[list[int]] = []
    previous_maskable = False
    for position, token in enumerate(token_ids):
        if not maskable[position]:
            previous_maskable = False
            continue
        starts_word = word_start[token] if starts is None else starts[position]
        if starts_word or not previous_maskable:
            words.append([position])
        else:
            words[-1].append(position)
        previous_maskable = True
    return words


def mask_sequence(token_ids, *, word_start: np.ndarray, maskable: np.ndarray, mask_id: int,
                  random_ids: np.ndarray, rng: np.random.Generator, mlm_probability: float = 0.15,
                  max_ngram: int = 3, mask_replace_prob: float = 0.8,
                  random_replace_prob: float = 0.1, max_predictions: int | None = None,
                  budget_tokens: int | None = None,
                  renormalise_at_end: bool = False, starts=None) -> MaskedSequence:
    """Apply n-gram whole-word masking to one sequence (see the module docstring).

    Args:
        token_ids: the sequence (a list or 1-D array of ids), specials included.
        word_start: boolean array over the vocabulary, True where a piece starts a word
            (``helpers.tokenizer.word_start_flags``).
        maskable: boolean array over positions, False for special tokens and padding.
        mask_id: the ``[MASK]`` id.
        random_ids: ids a "random replacement" draws from (the non-special vocabulary).
        rng: a NumPy generator: the same seed gives the same masks.
        max_predictions: optional cap on masked tokens per sequence (official: 20).
        budget_tokens: how many tokens the 15% is taken of (official: the sequence's length
            with [CLS]/[SEP], without padding); None counts the maskable tokens (legacy).
        renormalise_at_end: near the end of the sequence, draw n only among the n-grams that fit
            (legacy); the official rule keeps p(n) and lets the n-gram run short.
        starts: optional word-start flag per *position*, overriding ``word_start``: whole words
            from a segmentation, as in Chinese whole-word masking
            (``helpers.chinese_tokenizer.token_word_starts``).
    """
    token_ids = [int(t) for t in token_ids]
    if starts is not None and len(starts) != len(token_ids):
        raise ValueError(f"starts has {len(starts)} flags for {len(token_ids)} tokens: give one per position")
    words = group_words(token_ids, word_start, maskable, starts)
    n_maskable = int(np.sum(maskable))
    base = n_maskable if budget_tokens is None else budget_tokens
    budget = max(1, int(round(base * mlm_probability))) if n_maskable else 0
    if max_predictions is not None:
        budget = min(budget, max_predictions)
    pvals = ngram_probabilities(max_ngram)
    covered: set[int] = set()
    spans: list[list[int]] = []
    n_masked = 0
    for start in rng.permutation(len(words)):
        if n_masked >= budget:
            break
        if renormalise_at_end:
            available = min(max_ngram, len(words) - start)
            n = int(rng.choice(available, p=pvals[:available] / pvals[:available].sum())) + 1
        else:  # official: p(n) unchanged; words[start:start + n] may hold fewer than n words
            n = int(rng.choice(max_ngram, p=pvals)) + 1
            n = min(n, len(words) - start)
        # Try shorter n-grams while this one exceeds the budget.
        while n > 0:
            positions = [p for word in words[start:start + n] for p in word]
            if n_masked + len(positions) <= budget:
                break
            n -= 1
        if n == 0 or any(p in covered for p in positions):
            continue
        covered.update(positions)
        spans.append(positions)
        n_masked += len(positions)

    inputs = list(token_ids)
    labels = [IGNORE_INDEX] * len(token_ids)
    for positions in spans:
        for position in positions:
            labels[position] = token_ids[position]
            draw = rng.random()
            if draw < mask_replace_prob:
                inputs[position] = mask_id
            elif draw < mask_replace_prob + random_replace_prob:
                inputs[position] = int(rng.choice(random_ids))
            # else: keep the original token (the model must still predict it)
    return MaskedSequence(inputs, labels, spans)


class NgramMasker:
    """Masks padded batches of token ids for MLM, the ALBERT way (see the module docstring).

    >>> masker = NgramMasker(tokenizer)                     # doctest: +SKIP
    >>> inputs, labels = masker(batch["input_ids"])         # doctest: +SKIP

    ``inputs`` is a corrupted copy of ``input_ids``; ``labels`` holds the original id at masked
    positions and -100 elsewhere, the format of ``AlbertForMaskedLM(labels=...)``.
    """
    def __init__(self, tokenizer, mlm_probability: float = 0.15, max_ngram: int = 3,
                 mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
                 max_predictions: int | None | str = "rule", seed: int = 0,
                 rule: str = "official"):
        """``max_predictions``: a cap on masked tokens per sequence, None for none; "rule" takes
        the rule's own (official: 20, legacy: none)."""

        if not 0 < mlm_probability < 1:
            raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
        if mask_replace_prob + random_replace_prob > 1:
            raise ValueError("mask_replace_prob + random_replace_prob must be <= 1")
        check_rule(rule)
        self.rule, legacy = rule, rule == "legacy"
        if max_predictions == "rule":
            max_predictions = None if legacy else OFFICIAL_MAX_PREDICTIONS
        self.word_start = word_starts(tokenizer, rule)
        self.special_ids = np.asarray(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id
        self.random_ids = np.setdiff1d(np.arange(len(tokenizer)), self.special_ids)
        self.settings = dict(mlm_probability=mlm_probability, max_ngram=max_ngram,
                             mask_replace_prob=mask_replace_prob,
                             random_replace_prob=random_replace_prob,
                             max_predictions=max_predictions, renormalise_at_end=legacy)
        self.budget_counts_specials = not legacy
        self.rng = np.random.default_rng(seed)

    def maskable(self, token_ids) -> np.ndarray:
        """True where a token may be masked: not a special token, not padding."""
        return ~np.isin(np.asarray(token_ids), self.special_ids)

    def mask_one(self, token_ids, rng: np.random.Generator | None = None,
                 starts=None) -> MaskedSequence:
        """Mask one (unpadded or padded) sequence; returns inputs, labels and the n-gram spans.

        ``starts``: optional word-start flag per position (whole words from a segmentation)."""
        length = int(np.sum(np.asarray(token_ids) != self.pad_id))  # [CLS]/[SEP] count, padding not
        return mask_sequence(token_ids, word_start=self.word_start,
                             maskable=self.maskable(token_ids), mask_id=self.mask_id,
                             random_ids=self.random_ids, rng=rng or self.rng,
                             budget_tokens=length if self.budget_counts_specials else None,
                             starts=starts, **self.settings)

    def __call__(self, input_ids: torch.Tensor,
                 rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask a (batch, time) tensor; returns (corrupted inputs, labels), both (batch, time)."""
        rows = [self.mask_one(row, rng) for row in input_ids.tolist()]
        inputs = torch.tensor([r.input_ids for r in rows], dtype=torch.long)
        labels = torch.tensor([r.labels for r in rows], dtype=torch.long)
        return inputs, labels
