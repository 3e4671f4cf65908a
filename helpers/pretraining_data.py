"""Pretraining examples: sentence pairs for SOP (ALBERT) or NSP (BERT), batching, collation.

Every example is ``[CLS] A [SEP] B [SEP]`` with segment ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``, where A and B are two consecutive *segments* of one document (a segment is one or
more sentences, as in ALBERT's ``create_pretraining_data.py``):

* **SOP** (sentence-order prediction): with p = 0.5 the two segments are swapped; label 1 =
  swapped, 0 = original order (transformers' ``sentence_order_label``).
* **NSP** (next-sentence prediction): with p = 0.5 B is replaced by a segment of *another*
  document; label 1 = random B, 0 = the true continuation (``next_sentence_label``).
* ``none``: the pair in its original order, no sentence-level label (MLM only).

Two details follow the official code because they decide what the labels can be read from: SOP
swaps the segments *before* truncating them (truncation trims the longer segment, B on a tie, so
truncating first would make A the longer one in every long unswapped pair), and NSP reads its
random B from another document until the pair is as long as the chunk's target, as a true pair.

Our corpus differs from books and Wikipedia: most documents are one-sentence critic snippets,
while plot synopses have ~5 sentences. A one-sentence chunk is split at a random word boundary
into two segments (the official code would instead draw B from another document and label it 1,
which would turn SOP into topic detection on a corpus like ours). Note the cue this leaves:
a snippet's final punctuation ends segment B in the original order, A when swapped; SOP
accuracy on snippets therefore partly measures "where does a sentence end".

With probability ``short_seq_prob`` (10%, as in the paper) a chunk aims at a random shorter
length, so the model also sees short inputs like the ones it is fine-tuned on.

Examples are rebuilt every epoch from a new seed (new chunk boundaries, swaps and NSP partners)
and masked in the collator, so many passes over a small corpus keep producing new examples.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from transformers import BertTokenizer

from helpers.data import labeled_frame, load_corpus, raw_frame, split_sentences
from helpers.masking import IGNORE_INDEX, NgramMasker
from helpers.tokenizer import word_start_flags
from helpers.training import length_grouped_batches

EVAL_SEED = 12345  # held-out examples and their masks are fixed: metrics are comparable

TASKS = ("sop", "nsp", "none")
CORPORA = ("reviews", "documents", "documents-dev", "chinese")
# Evaluation variants: "sop_bare" = SOP scored with each segment's final punctuation removed
EVAL_VARIANTS = ("bare",)
PUNCTUATION = (set(string.punctuation) | set("\u201c\u201d\u2018\u2019\u2014\u2013\u2026")
               | set("。，、！？；：「」『』（）《》"))  # Chinese (full-width) punctuation too
SPECIALS_PER_PAIR = 3  # [CLS] A [SEP] B [SEP]
DEV_MOVIE_SHARE = 0.1  # training movies whose synopses the "documents-dev" corpus sets aside


@dataclass
class PairExample:
    """One pretraining example before masking and padding."""
    input_ids: list[int]
    token_type_ids: list[int]
    label: int  # SOP: 1 = swapped; NSP: 1 = random B; -100 when the task is "none"
    source: int  # index of the document it came from


def tokenize_documents(texts, tokenizer, splitter=split_sentences) -> list[list[list[int]]]:
    """Each document as a list of sentences, each sentence as token ids (no special tokens).

    ``splitter`` cuts a text into sentences (``helpers.chinese_tokenizer.split_chinese_sentences``
    for Chinese)."""
    documents = []
    for text in texts:
        sentences = splitter(text) or [text]
        encoded = tokenizer(sentences, add_special_tokens=False)["input_ids"]
        encoded = [ids for ids in encoded if ids]
        if encoded:
            documents.append(encoded)
    return documents


def _split_sentence(ids: list[int], word_start: np.ndarray, rng) -> tuple[list[int], list[int]] | None:
    """Split one sentence at a random word boundary into two non-empty halves (None if 1 word)."""
    boundaries = [i for i in range(1, len(ids)) if word_start[ids[i]]]
    if not boundaries:
        return None
    cut = boundaries[int(rng.integers(len(boundaries)))]
    return ids[:cut], ids[cut:]


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng) -> None:
    """Trim the longer segment, from the front or the back at random, until both fit (official)."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def document_chunks(document: list[list[int]], max_tokens: int, short_seq_prob: float,
                    word_start: np.ndarray, rng) -> list[tuple[list[int], list[int], int]]:
    """Cut one document into (A, B, target length) in original order, as the official code does.

    Sentences are accumulated until the chunk reaches its target length; the chunk is then cut
    at a random sentence boundary (or, for a one-sentence chunk, a random word boundary).
    """
    pairs = []
    target = max_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_tokens + 1))
    chunk: list[list[int]] = []
    length = 0
    for i, sentence in enumerate(document):
        chunk.append(sentence)
        length += len(sentence)
        if i == len(document) - 1 or length >= target:
            if len(chunk) >= 2:
                a_end = int(rng.integers(1, len(chunk)))
                a = [t for s in chunk[:a_end] for t in s]
                b = [t for s in chunk[a_end:] for t in s]
                pairs.append((a, b, target))
            else:
                halves = _split_sentence(chunk[0], word_start, rng)
                if halves is not None:
                    pairs.append((list(halves[0]), list(halves[1]), target))
            chunk, length = [], 0
            target = max_tokens
            if rng.random() < short_seq_prob:
                target = int(rng.integers(2, max_tokens + 1))
    return pairs


def build_examples(documents: list[list[list[int]]], tokenizer, task: str = "sop",
                   max_length: int = 64, short_seq_prob: float = 0.1,
                   seed: int = 0) -> list[PairExample]:
    """All pair examples of one pass over ``documents`` (one "epoch"), for ``task``.

    Labels are balanced in expectation (p = 0.5 swap or random B). The same ``seed`` gives the
    same examples; use a new seed per epoch for fresh pairs.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if max_length < SPECIALS_PER_PAIR + 2:
        raise ValueError(f"max_length={max_length} leaves no room for two segments")
    # Separate streams, so "none", "sop" and "nsp" cut the same chunks from the same seed.
    chunk_rng, label_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    word_start = _word_starts(tokenizer)
    max_tokens = max_length - SPECIALS_PER_PAIR
    chunks = [(doc_index, pair) for doc_index, document in enumerate(documents)
              for pair in document_chunks(document, max_tokens, short_seq_prob, word_start,
                                          chunk_rng)]
    several_documents = len({doc_index for doc_index, _ in chunks}) > 1
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples = []
    for index, (doc_index, (a, b, target)) in enumerate(chunks):
        a, b = list(a), list(b)
        label = IGNORE_INDEX
        if task == "nsp":
            label = int(label_rng.random() < 0.5)
            if label and several_documents:
                # As the official code: B is read from a random sentence of another document
                # until the pair reaches the chunk's target length, as a true pair does. (On
                # one-sentence snippets a true pair is shorter than that: there, the length
                # alone hints at the label; notebook 04 measures how much.)
                other = doc_index
                while other == doc_index:  # a document drawn in proportion to its chunks
                    other = chunks[int(label_rng.integers(len(chunks)))][0]
                b = _segment_from(documents[other], max(1, target - len(a)), label_rng)
            else:
                label = 0
        elif task == "sop":
            label = int(label_rng.random() < 0.5)
            if label:
                a, b = b, a
        # Truncate *after* the swap, as the official code: the rule trims the longer segment
        # (B on a tie), so truncating first would leave A one piece longer than B in every
        # long unswapped pair, and the order could be read off the segment lengths.
        if len(a) + len(b) > max_tokens:  # the last sentence of a chunk may overshoot
            _truncate_pair(a, b, max_tokens, np.random.default_rng([seed, 2, index]))
        ids = [cls_id] + a + [sep_id] + b + [sep_id]
        types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        examples.append(PairExample(ids, types, label, doc_index))
    return examples


def _segment_from(document: list[list[int]], length: int, rng) -> list[int]:
    """Sentences of ``document`` from a random one on, until at least ``length`` tokens."""
    segment: list[int] = []
    for sentence in document[int(rng.integers(len(document))):]:
        segment.extend(sentence)
        if len(segment) >= length:
            break
    return segment


def _word_starts(tokenizer) -> np.ndarray:
    """Where a one-sentence chunk may be cut: a SentencePiece piece starting with "▁", or, in a
    WordPiece (character) vocabulary, any token but a ``##`` continuation."""
    if isinstance(tokenizer, BertTokenizer):
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        return np.asarray([not token.startswith("##") for token in vocab], dtype=bool)
    return np.asarray(word_start_flags(tokenizer), dtype=bool)


def top_up(batches: list, count: int) -> list:
    """``batches`` repeated from its start until there are at least ``count`` (a short epoch made full).

    The number of pairs, and so of full batches, varies a little from epoch to epoch (random cut
    points). Repeating a few batches keeps every epoch at least as long as the first one.
    """
    if not batches:
        raise ValueError("no batches to repeat")
    return batches + [batches[i % len(batches)] for i in range(count - len(batches))]


def shard(batches: list, rank: int, world_size: int) -> list:
    """This process's share of ``batches``: every world_size-th one, equal counts on all ranks."""
    usable = len(batches) - len(batches) % world_size
    return batches[rank:usable:world_size]


class PretrainingCollator:
    """Pads a list of ``PairExample`` to the longest one and applies n-gram MLM masking.

    Returns a dict of tensors: ``input_ids`` (masked), ``attention_mask``, ``token_type_ids``,
    ``labels`` (MLM targets, -100 where not masked) and ``sentence_label`` (SOP/NSP, -100 for
    task "none").
    """
    def __init__(self, tokenizer, masker: NgramMasker | None = None):
        self.pad_id = tokenizer.pad_token_id
        self.masker = masker or NgramMasker(tokenizer)

    def pad(self, examples: list[PairExample], width: int | None = None) -> dict[str, torch.Tensor]:
        """Pad without masking (``width`` forces a length, e.g. a fixed max length)."""
        longest = max(len(e.input_ids) for e in examples)
        width = max(width or 0, longest)
        ids = torch.full((len(examples), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(examples), width), dtype=torch.long)
        attention = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            types[row, :n] = torch.tensor(example.token_type_ids)
            attention[row, :n] = 1
        return {"input_ids": ids, "attention_mask": attention, "token_type_ids": types,
                "sentence_label": torch.tensor([e.label for e in examples], dtype=torch.long)}

    def __call__(self, examples: list[PairExample], rng: np.random.Generator | None = None,
                 width: int | None = None) -> dict[str, torch.Tensor]:
        batch = self.pad(examples, width)
        batch["input_ids"], batch["labels"] = self.masker(batch["input_ids"], rng=rng)
        return batch


def _held_out_plots() -> list[str]:
    """Plot synopses of validation-split movies (never in ``load_corpus()``)."""
    labeled = labeled_frame()
    movies = set(labeled.loc[labeled["split"] == "validation", "movie"])
    raw = raw_frame()
    plots = raw[(raw["category"] == "plot") & raw["movie"].isin(movies)]
    return plots.drop_duplicates(subset="text")["text"].tolist()


def held_out_texts() -> list[str]:
    """Text never trained on, for held-out MLM/SOP/NSP metrics.

    The validation-split snippets plus the plot synopses of validation-split movies (neither is
    in ``load_corpus()``). Test-split text is never used.
    """
    labeled = labeled_frame()
    return labeled.loc[labeled["split"] == "validation", "text"].tolist() + _held_out_plots()


def corpus_texts(corpus: str) -> tuple[list[str], list[str]]:
    """(training documents, held-out documents) of a pretraining corpus.

    * ``"reviews"``: ``load_corpus()`` (training-split snippets + synopses of training movies),
      held out: ``held_out_texts()``.
    * ``"documents"``: the State of the Union addresses of the training presidents + the
      synopses of training movies; held out: the addresses of the held-out presidents + the
      synopses of validation movies (``helpers.documents``). Long, coherent documents: NSP's
      random B comes from another address or film, and SOP swaps whole sentences.
    * ``"documents-dev"``: for choosing a recipe without touching the held-out documents. The
      ``"documents"`` training text less the addresses of the validation presidents
      (``helpers.documents.validation_presidents``) and the synopses of a seeded 10% of the
      training movies; held out: those addresses and synopses.
    * ``"chinese"``: the training split's Chinese reviews and People's Daily lines
      (``helpers.chinese_tokenizer.chinese_training_texts``); held out: their validation splits.
    """
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {CORPORA}, got {corpus!r}")
    if corpus == "chinese":
        from helpers.chinese_data import load_people_daily, load_reviews
        from helpers.chinese_tokenizer import chinese_training_texts

        held_out = (list(load_reviews()["validation"]["text"])
                    + ["".join(words) for words in load_people_daily()["validation"]["words"]])
        return chinese_training_texts(), held_out
    if corpus == "reviews":
        return list(load_corpus()["text"]), held_out_texts()
    from helpers.documents import load_addresses  # fetches the addresses on first use

    addresses = load_addresses()
    reviews = load_corpus()
    plots = [(text, movie) for text, source, movie
             in zip(reviews["text"], reviews["source"], reviews["movie"], strict=True) if source == "plot"]
    if corpus == "documents":
        return ([a["text"] for a in addresses["train"]] + [text for text, _ in plots],
                list(addresses["held_out"]["text"]) + _held_out_plots())
    from helpers.documents import SPLIT_SEED, validation_presidents

    presidents = validation_presidents()
    movies = sorted({movie for _, movie in plots})
    rng = np.random.default_rng(SPLIT_SEED + 1)
    dev_movies = {movies[i] for i in rng.permutation(len(movies))[:round(DEV_MOVIE_SHARE * len(movies))]}
    train = ([a["text"] for a in addresses["train"] if a["name"] not in presidents]
             + [text for text, movie in plots if movie not in dev_movies])
    dev = ([a["text"] for a in addresses["train"] if a["name"] in presidents]
           + [text for text, movie in plots if movie in dev_movies])
    return train, dev


def punctuation_flags(tokenizer) -> np.ndarray:
    """True for vocabulary pieces made only of punctuation (".", "?", "▁!", ...)."""
    flags = np.zeros(len(tokenizer), dtype=bool)
    for piece, index in tokenizer.get_vocab().items():
        bare = piece.lstrip("\u2581")
        flags[index] = bool(bare) and all(ch in PUNCTUATION for ch in bare)
    return flags


def strip_final_punctuation(example: PairExample, punctuation: np.ndarray) -> PairExample:
    """``example`` with the punctuation pieces at the end of segment A and of segment B removed.

    Scoring SOP on such pairs measures how much of the accuracy comes from "which segment ends
    like a sentence" rather than from the order of the content.
    """
    first_sep = example.token_type_ids.index(1) - 1
    a, b = example.input_ids[1:first_sep], example.input_ids[first_sep + 1:-1]
    for segment in (a, b):
        while len(segment) > 1 and punctuation[segment[-1]]:
            segment.pop()
    cls_id, sep_id = example.input_ids[0], example.input_ids[first_sep]
    return PairExample([cls_id] + a + [sep_id] + b + [sep_id],
                       [0] * (len(a) + 2) + [1] * (len(b) + 1), example.label, example.source)


def make_masker(tokenizer, config) -> NgramMasker:
    """The MLM masker of a run: n-gram whole-word masking under ``config.masking_rule``; for the
    Chinese corpus, whole words of the ``jieba`` segmentation (``WholeWordMasker``)."""
    if config.corpus == "chinese":
        from helpers.chinese_tokenizer import WholeWordMasker

        return WholeWordMasker(tokenizer, mlm_probability=config.mlm_probability, rule=config.masking_rule)
    return NgramMasker(tokenizer, mlm_probability=config.mlm_probability, rule=config.masking_rule)


class PretrainingData:
    """Tokenized corpus + held-out text, turned into per-epoch batches for one process.

    ``config`` is a ``helpers.pretraining.PretrainConfig`` (task, lengths, batch size, seed).
    """
    def __init__(self, tokenizer, config, texts=None, eval_texts=None):

        self.tokenizer = tokenizer
        self.config = config
        if texts is None or eval_texts is None:
            train_texts, held_texts = corpus_texts(config.corpus)
            texts = train_texts if texts is None else texts
            eval_texts = held_texts if eval_texts is None else eval_texts
        splitter = split_sentences
        if config.corpus == "chinese":
            from helpers.chinese_tokenizer import split_chinese_sentences as splitter
        self.documents = tokenize_documents(texts, tokenizer, splitter)
        self.eval_documents = tokenize_documents(eval_texts, tokenizer, splitter)
        self.collator = PretrainingCollator(tokenizer, make_masker(tokenizer, config))

    def with_config(self, config) -> PretrainingData:
        """The same tokenized text, batched and masked for another ``config`` (no re-tokenizing)."""
        if config == self.config:
            return self
        view = copy.copy(self)
        view.config = config
        if (config.mlm_probability, config.masking_rule) != (self.config.mlm_probability,
                                                             self.config.masking_rule):
            view.collator = PretrainingCollator(self.tokenizer, make_masker(self.tokenizer, config))
        return view

    def epoch_batches(self, epoch: int, rank: int = 0, world_size: int = 1):
        """(examples, this process's batches of example indices) for ``epoch``.

        Every process builds the same examples and batch order from the same seed, then keeps
        its own shard, so no data is duplicated across processes.
        """
        c = self.config
        examples = build_examples(self.documents, self.tokenizer, c.task, c.max_length,
                                  c.short_seq_prob, seed=c.seed * 100_003 + epoch)
        batches = length_grouped_batches([len(e.input_ids) for e in examples], c.batch_size,
                                         seed=c.seed * 100_003 + epoch)
        batches = [b for b in batches if len(b) == c.batch_size] or batches  # no ragged tails
        return examples, shard(batches, rank, world_size)

    def collate(self, examples, indices, seed_parts) -> dict[str, torch.Tensor]:
        """Pad and mask one batch; its masks depend only on ``seed_parts`` (resume-exact)."""
        rng = np.random.default_rng(list(seed_parts))
        return self.collator([examples[i] for i in indices], rng=rng)

    def steps_per_epoch(self, rank: int = 0, world_size: int = 1) -> int:
        """Batches per epoch for one process (epoch 0's count; later epochs are made as long)."""
        steps = len(self.epoch_batches(0, rank, world_size)[1])
        if not steps:
            raise ValueError(
                f"The corpus gives no batch of {self.config.batch_size} pairs for each of "
                f"{world_size} process(es): use a smaller --batch-size or fewer processes.")
        return steps

    def training_batches(self, start_step: int = 0, rank: int = 0, world_size: int = 1,
                         device: str | torch.device = "cpu") -> Iterator[tuple[int, dict]]:
        """``(step, batch)`` from ``start_step`` to ``config.max_steps``, new pairs and masks each epoch.

        The epoch and the position in it follow from the step alone, and so do a batch's masks
        and the dropout seed, so a run resumed at any step continues exactly as if it had never
        stopped.
        """
        c = self.config
        steps_per_epoch = self.steps_per_epoch(rank, world_size)
        step = start_step
        while step < c.max_steps:
            epoch, position = divmod(step, steps_per_epoch)
            examples, batches = self.epoch_batches(epoch, rank, world_size)
            # An epoch may hold a batch more or fewer than epoch 0. A longer one runs in full (the
            # next starts that much later); a shorter one is topped up, else the step would never
            # reach the end of its epoch and this loop would spin forever.
            for indices in top_up(batches, steps_per_epoch)[position:]:
                batch = self.collate(examples, indices, (c.seed, epoch, step, rank))
                torch.manual_seed(c.seed * 1_000_003 + step)  # dropout: resume-exact
                yield step, {k: v.to(device) for k, v in batch.items()}
                step += 1
                if step >= c.max_steps:
                    return

    def eval_batches(self, task: str, batch_size: int = 128,
                     max_examples: int | None = None) -> list[dict[str, torch.Tensor]]:
        """Fixed held-out batches for ``task`` (same examples and masks every time).

        ``task`` is a task of ``TASKS`` or one with an evaluation variant, e.g. ``"sop_bare"``:
        the same examples with each segment's final punctuation removed.
        """
        base, _, variant = task.partition("_")
        if variant and variant not in EVAL_VARIANTS:
            raise ValueError(f"unknown evaluation variant {variant!r} in {task!r}; "
                             f"known: {EVAL_VARIANTS}")
        examples = build_examples(self.eval_documents, self.tokenizer, base,
                                  self.config.max_length, short_seq_prob=0.0, seed=EVAL_SEED)
        examples = examples[:max_examples] if max_examples else examples
        if variant == "bare":
            punctuation = punctuation_flags(self.tokenizer)
            examples = [strip_final_punctuation(e, punctuation) for e in examples]
        rng = np.random.default_rng(EVAL_SEED)
        order = np.argsort([len(e.input_ids) for e in examples], kind="stable")
        return [self.collator([examples[i] for i in order[s:s + batch_size]], rng=rng)
                for s in range(0, len(order), batch_size)]
