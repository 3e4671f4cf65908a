"""Pretraining examples: sentence pairs for SOP (ALBERT) or NSP (BERT), batching, collation.

Every example is ``[CLS] A [SEP] B [SEP]`` with segment ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``, where A and B are two consecutive *segments* of one document (a segment is one or
more sentences, as in ALBERT's ``create_pretraining_data.py``):

* **SOP** (sentence-order prediction): with p = 0.5 the two segments are swapped; label 1 =
  swapped, 0 = original order (transformers' ``sentence_order_label``).
* **NSP** (next-sentence prediction): with p = 0.5 B is replaced by a segment of *another*
  document; label 1 = random B, 0 = the true continuation (``next_sentence_label``).
* ``none``: the pair in its original order, no sentence-level label (MLM only).

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

from dataclasses import dataclass

import numpy as np
import torch

from helpers.masking import IGNORE_INDEX, NgramMasker

TASKS = ("sop", "nsp", "none")
SPECIALS_PER_PAIR = 3  # [CLS] A [SEP] B [SEP]


@dataclass
class PairExample:
    """One pretraining example before masking and padding."""

    input_ids: list[int]
    token_type_ids: list[int]
    label: int  # SOP: 1 = swapped; NSP: 1 = random B; -100 when the task is "none"
    source: int  # index of the document it came from


def tokenize_documents(texts, tokenizer) -> list[list[list[int]]]:
    """Each document as a list of sentences, each sentence as token ids (no special tokens)."""
    from helpers.data import split_sentences

    documents = []
    for text in texts:
        sentences = split_sentences(text) or [text]
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
                    word_start: np.ndarray, rng) -> list[tuple[list[int], list[int]]]:
    """Cut one document into (A, B) segment pairs in original order, as the official code does.

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
                pairs.append((a, b))
            else:
                halves = _split_sentence(chunk[0], word_start, rng)
                if halves is not None:
                    pairs.append((list(halves[0]), list(halves[1])))
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
    for index, (doc_index, (a, b)) in enumerate(chunks):
        a, b = list(a), list(b)
        label = IGNORE_INDEX
        if task == "nsp":
            label = int(label_rng.random() < 0.5)
            if label and several_documents:
                other = int(label_rng.integers(len(chunks)))
                while chunks[other][0] == doc_index:
                    other = int(label_rng.integers(len(chunks)))
                b = list(chunks[other][1][1])  # the B segment of a chunk of another document
            else:
                label = 0
        if len(a) + len(b) > max_tokens:  # the last sentence of a chunk may overshoot
            _truncate_pair(a, b, max_tokens, np.random.default_rng([seed, 2, index]))
        if task == "sop":
            label = int(label_rng.random() < 0.5)
            if label:
                a, b = b, a
        ids = [cls_id] + a + [sep_id] + b + [sep_id]
        types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        examples.append(PairExample(ids, types, label, doc_index))
    return examples


def _word_starts(tokenizer) -> np.ndarray:
    from helpers.tokenizer import word_start_flags

    return np.asarray(word_start_flags(tokenizer), dtype=bool)


def length_grouped_batches(lengths, batch_size: int, seed: int = 0,
                           group_factor: int = 50) -> list[list[int]]:
    """Shuffled batches of indices whose examples have similar lengths (less padding).

    Shuffle all indices, cut them into groups of ``group_factor`` batches, sort each group by
    length, cut it into batches, and shuffle the batches: each batch is random in content but
    uniform in length, so dynamic padding wastes little compute.
    """
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    group = batch_size * group_factor
    batches = []
    for start in range(0, len(order), group):
        chunk = order[start:start + group]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


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

    def __init__(self, tokenizer, masker: NgramMasker | None = None, pad_to_multiple_of: int = 1):
        self.pad_id = tokenizer.pad_token_id
        self.masker = masker or NgramMasker(tokenizer)
        self.multiple = pad_to_multiple_of

    def pad(self, examples: list[PairExample], width: int | None = None) -> dict[str, torch.Tensor]:
        """Pad without masking (``width`` forces a length, e.g. a fixed max length)."""
        longest = max(len(e.input_ids) for e in examples)
        width = max(width or 0, -(-longest // self.multiple) * self.multiple)
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


def held_out_texts(max_plots: int | None = None) -> list[str]:
    """Text never trained on, for held-out MLM/SOP/NSP metrics.

    The validation-split snippets plus the plot synopses of validation-split movies (neither is
    in ``load_corpus()``). Test-split text is never used.
    """
    from helpers.data import labeled_frame, raw_frame

    labeled = labeled_frame()
    validation = labeled[labeled["split"] == "validation"]
    movies = set(validation["movie"])
    raw = raw_frame()
    plots = raw[(raw["category"] == "plot") & raw["movie"].isin(movies)]
    plots = plots.drop_duplicates(subset="text")["text"].tolist()
    if max_plots is not None:
        plots = plots[:max_plots]
    return validation["text"].tolist() + plots
