"""Fine-tuning a classifier the explicit way: load, tokenize, train, evaluate, save.

Everything the Trainer API would hide is written out here so a learner can read it:
``torch.optim.AdamW`` (no decay on biases and LayerNorm), linear warm-up then linear decay,
gradient clipping, cross-entropy on one label per sequence (or per token), per-epoch validation
and "keep the best epoch". Used by notebook 05 (sentiment) and notebook 06 (Chinese reviews and
named entities, with ``helpers.ner``).

Loading (:func:`load_classifier`) accepts a local folder (the shipped ``checkpoints/tiny-albert``)
or a Hugging Face Hub id such as ``"albert/albert-base-v2"`` (``helpers.hub``: a clear error when
the Hub cannot be reached, never a silent fallback to another model).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
)

from helpers.data import LABEL_NAMES
from helpers.files import atomic_folder
from helpers.hub import load_local_or_hub
from helpers.progress import ProgressBar
from helpers.runtime import SHIPPED_CHECKPOINT
from helpers.training import length_grouped_batches, make_optimizer, warmup_linear_decay


def default_model_dir() -> Path:
    """The shipped pretrained tiny ALBERT (transformers format), found from the repository."""
    return SHIPPED_CHECKPOINT


HEADS = {"sequence": AutoModelForSequenceClassification, "token": AutoModelForTokenClassification}


def load_classifier(name: str | os.PathLike, num_labels: int | None = None,
                    label_names: Sequence[str] | None = None, pretrained: bool = True,
                    dropout: float | None = None, head: str = "sequence"):
    """Return ``(tokenizer, model)`` for sequence classification (``head="token"``: one label per
    token, e.g. named entities in notebook 06).

    ``name`` is a local folder (used as is) or a Hub id, loaded by
    :func:`helpers.hub.load_local_or_hub`: from the cache if it is there, else downloaded (and
    cached); if the Hub cannot be reached, :class:`helpers.hub.HubUnavailableError` says what to
    do. ``pretrained=False`` builds the *same* architecture from the config with random weights
    (the from-scratch baseline), with the same tokenizer. The classification head is new, so its
    weights are random either way. ``dropout`` sets the encoder's hidden and attention dropout for
    fine-tuning; ``None`` keeps the checkpoint's (0.1 for the shipped model, 0 for
    ``albert/albert-base-v2``). ``label_names`` default to the English sentiment labels for a
    sequence head and must be given for a token head; ``num_labels`` defaults to their number.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}")
    if label_names is None:
        if head == "token":
            raise ValueError("a token head needs its label_names (e.g. helpers.chinese_data.BIO_LABELS)")
        label_names = LABEL_NAMES
    num_labels = len(label_names) if num_labels is None else num_labels
    if num_labels != len(label_names):
        raise ValueError(f"num_labels={num_labels} but {len(label_names)} label names")
    auto_model = HEADS[head]
    config_overrides = {"num_labels": num_labels, "id2label": dict(enumerate(label_names)),
                        "label2id": {label: i for i, label in enumerate(label_names)}}
    if dropout is not None:
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        config_overrides |= {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}

    def load(source: str, **hub) -> tuple:
        tokenizer = AutoTokenizer.from_pretrained(source, **hub)
        if pretrained:
            model = auto_model.from_pretrained(source, **hub, **config_overrides)
        else:
            config = AutoConfig.from_pretrained(source, **hub, **config_overrides)
            model = auto_model.from_config(config)
        return tokenizer, model

    return load_local_or_hub(name, load)


# ---------------------------------------------------------------------------------------------
# Data: tokenize once with Dataset.map, pad per batch in the DataLoader


def tokenize_splits(splits, tokenizer, max_length: int = 64):
    """Tokenize every split with ``Dataset.map`` (unpadded, truncated to ``max_length``).

    Keeps only what the model needs (``input_ids``, ``attention_mask``, ``label``); padding
    happens per batch in :func:`make_loader`, so short snippets do not pay for long ones.
    """
    def encode(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    columns = ["input_ids", "attention_mask", "label"]
    encoded = splits.map(encode, batched=True)
    return encoded.select_columns(columns)


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Batches of snippets of similar length, so per-batch padding wastes little compute.

    Shuffled (training): every epoch draws new batches with
    :func:`helpers.training.length_grouped_batches` (random in content and order, but a batch no
    longer pads 20-token snippets to the one 60-token snippet it happens to contain). Not
    shuffled (evaluation): all examples sorted by length; ``order``
    lists them as served, so predictions can be put back in dataset order.
    """
    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = False, seed: int = 0):
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        if self.shuffle:  # a new grouping every epoch: the generator advances
            yield from length_grouped_batches(self.lengths, self.batch_size, self.rng)
            return
        order = self.order
        for i in range(0, len(order), self.batch_size):
            yield order[i:i + self.batch_size].tolist()

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    @property
    def order(self) -> np.ndarray:
        return np.argsort(self.lengths, kind="stable")


def make_loader(dataset, tokenizer, batch_size: int = 32, shuffle: bool = False,
                seed: int = 0, group_by_length: bool = False, collate=None) -> DataLoader:
    """A ``DataLoader`` that pads each batch to its longest sequence (``DataCollatorWithPadding``).

    Shuffling uses its own seeded generator, so the batch order is the same on every run.
    ``group_by_length`` batches snippets of similar length together (:class:`LengthGroupedBatches`):
    less padding, the same examples; :func:`predict_proba` still returns dataset order.
    ``collate`` replaces the padding collator (token labels need
    ``transformers.DataCollatorForTokenClassification``, which pads them with -100).
    """
    collate = collate or DataCollatorWithPadding(tokenizer)
    if group_by_length:
        lengths = [len(ids) for ids in dataset["input_ids"]]
        batches = LengthGroupedBatches(lengths, batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=collate)


def nested_subsets(labels: Sequence[int], sizes: Sequence[int], seed: int = 0) -> dict[int, list[int]]:
    """Row indices of class-stratified training subsets, each contained in the next larger one.

    Every class keeps its share of the full set (rounded), and the 300-example subset holds the
    100-example one: a learning curve then measures more labels, not a different draw.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    order = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    subsets = {}
    for size in sorted(sizes):
        if not 0 < size <= len(labels):
            raise ValueError(f"subset size {size} must be between 1 and {len(labels)}")
        take = np.floor(size * counts / len(labels)).astype(int)
        # hand the rounding remainder to the classes with the largest fractional parts
        remainder = size * counts / len(labels) - take
        for i in np.argsort(-remainder, kind="stable")[: size - take.sum()]:
            take[i] += 1
        picked = np.concatenate([order[c][:k] for c, k in zip(classes, take, strict=True)])
        subsets[size] = sorted(int(i) for i in picked)
    return subsets


# ---------------------------------------------------------------------------------------------
# Training


def to_device(batch: Mapping[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    """Every tensor of ``batch`` moved to ``device``."""
    return {key: value.to(device) for key, value in batch.items()}


@torch.no_grad()
def predict_proba(model: torch.nn.Module, loader: DataLoader, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N x C) and true labels (N) for every example of ``loader``."""
    model.eval()  # explicit: never rely on a mode left over from an earlier call
    probs, labels = [], []
    for batch in loader:
        batch = to_device(batch, device)
        y = batch.pop("labels")
        logits = model(**batch).logits
        probs.append(torch.softmax(logits.float(), dim=-1).cpu())
        labels.append(y.cpu())
    probs, labels = torch.cat(probs).numpy(), torch.cat(labels).numpy()
    served = served_positions(loader)
    if served is not None:
        probs, labels = probs[served], labels[served]
    return probs, labels


def served_positions(loader) -> np.ndarray | None:
    """Where each dataset row came out of ``loader``: ``outputs[served]`` puts outputs collected
    batch by batch back in dataset order. ``None`` when the loader serves dataset order already
    (no length grouping) or a random order (training)."""
    sampler = getattr(loader, "batch_sampler", None)
    if not isinstance(sampler, LengthGroupedBatches) or sampler.shuffle:
        return None
    served = np.empty_like(sampler.order)
    served[sampler.order] = np.arange(len(sampler.order))
    return served


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(probs).argmax(-1) == np.asarray(labels)).mean())


def loader_accuracy(model: torch.nn.Module, loader: DataLoader, device="cpu") -> float:
    """Accuracy of a sequence classifier over ``loader``: :func:`train_classifier`'s default score."""
    return accuracy(*predict_proba(model, loader, device))


def most_confident_mistakes(texts: Sequence[str], probs: np.ndarray, labels: Sequence[int],
                            label_names: Sequence[str] = LABEL_NAMES, k: int = 5):
    """The ``k`` wrong predictions the model was surest of, as a table (most confident first)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    predicted = probs.argmax(-1)
    frame = pd.DataFrame({"text": list(texts), "true": [label_names[i] for i in labels],
                          "predicted": [label_names[i] for i in predicted],
                          "confidence": probs.max(-1).round(3)})
    wrong = frame[predicted != labels]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(k)


def train_classifier(model, train_loader, val_loader=None, *, epochs=3, lr=1e-4, warmup_ratio=0.1,
                     weight_decay=0.01, max_grad_norm=1.0, device="cpu", progress=True,
                     desc="train", stop_after=None, score=None, score_name="accuracy"):
    """Fine-tune ``model`` with cross-entropy; keep the epoch with the best validation score.

    Returns one record per epoch: ``epoch``, ``train_loss`` (mean per labelled example or token),
    ``val_<score_name>`` (``val_accuracy`` by default), ``lr`` (at the end of the epoch) and
    ``steps``. On return the model holds the weights of the best epoch (earliest one on ties), in
    eval mode. Without ``val_loader`` nothing is validated (the score is None) and the last epoch
    is kept: a fixed recipe, cheaper to run many times. ``stop_after=k`` trains only the first k
    epochs of the ``epochs``-epoch schedule: exactly the start of a full run (notebook 05 trains
    one epoch live and loads the finished model). ``score(model, val_loader, device)`` (higher is
    better) replaces :func:`loader_accuracy`: notebook 06 keeps the epoch with the best entity F1.
    """
    score = score or loader_accuracy
    model.to(device)
    optimizer = make_optimizer(model, lr, weight_decay)  # no decay on biases and LayerNorm
    total_steps = epochs * len(train_loader)
    scheduler = warmup_linear_decay(optimizer, round(warmup_ratio * total_steps), total_steps)
    history, best_score, best_state, step = [], -math.inf, None, 0
    for epoch in range(1, (stop_after or epochs) + 1):
        model.train()
        total_loss, seen = 0.0, 0
        bar = ProgressBar(desc=f"{desc} epoch {epoch}/{epochs}", iterable=train_loader,
                          disable=not progress, unit="batch")
        for batch in bar:
            batch = to_device(batch, device)
            labels = batch.pop("labels")
            logits = model(**batch).logits  # (batch, classes), or (batch, tokens, classes) per token
            # -mean log softmax(logits)[true label], over sequences or over tokens; -100 is ignored
            loss = F.cross_entropy(logits.flatten(0, -2), labels.flatten(), ignore_index=-100)
            labelled = int((labels != -100).sum())  # sequences, or labelled tokens
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            total_loss += loss.item() * labelled
            seen += labelled
            bar.set_postfix(loss=f"{total_loss / seen:.3f}")
        val_score = None if val_loader is None else score(model, val_loader, device)
        bar.close(f"train loss {total_loss / seen:.3f}" + (
            "" if val_score is None else f", validation {score_name} {val_score:.4f}"))
        history.append({"epoch": epoch, "train_loss": total_loss / seen, f"val_{score_name}": val_score,
                        "lr": scheduler.get_last_lr()[0], "steps": step})
        if val_score is not None and val_score > best_score:
            best_score = val_score
            best_state = copy.deepcopy(model.state_dict())  # keep the best epoch's weights
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def best_epoch(history: Sequence[Mapping], key: str = "val_accuracy") -> Mapping:
    """The record of the epoch :func:`train_classifier` kept (best validation, earliest on ties)."""
    return max(history, key=lambda record: (record[key], -record["epoch"]))


def epochs_for(num_examples: int, batch_size: int, min_steps: int, max_epochs: int,
               min_epochs: int = 1) -> int:
    """Enough epochs for at least ``min_steps`` optimizer steps, capped at ``max_epochs``.

    With 100 labels one epoch is 4 steps, far too few to move the weights; with 10,000 it is
    300. Giving small subsets more epochs keeps a learning curve from measuring step count.
    """
    steps_per_epoch = math.ceil(num_examples / batch_size)
    return int(min(max_epochs, max(min_epochs, math.ceil(min_steps / steps_per_epoch))))


# ---------------------------------------------------------------------------------------------
# Saving


def sentiment_metrics(test_accuracy: Mapping[str, float],
                      label_efficiency: Mapping[str, Mapping[int, float]] | None = None,
                      **extra) -> dict:
    """The metrics record notebook 05 writes: plain model names, test accuracies, curve points.

    ``test_accuracy`` maps model name (``majority``, ``tfidf_lr``, ``scratch``, ``pretrained``)
    to accuracy; ``label_efficiency`` maps model name to ``{number of labels: accuracy}``.
    """
    record = {"models": {name: {"test_accuracy": round(float(acc), 4)}
                         for name, acc in test_accuracy.items()}}
    if label_efficiency is not None:
        record["label_efficiency"] = {
            name: [{"labels": int(n), "test_accuracy": round(float(acc), 4)}
                   for n, acc in sorted(points.items())]
            for name, points in label_efficiency.items()}
    record.update(extra)
    return record


def save_classifier(model, tokenizer, path: str | os.PathLike) -> Path:
    """``save_pretrained`` model and tokenizer into ``path``, replacing any earlier save whole.

    Written to a temporary sibling folder first and swapped in at the end
    (:func:`helpers.files.atomic_folder`), so a crash mid-save leaves the previous model intact.
    """
    with atomic_folder(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(path)
