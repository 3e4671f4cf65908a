"""Pretraining a tiny ALBERT with MLM + SOP (or NSP): the run's config, the loss, the loop.

This is the teachable core of notebook 04, where :class:`PretrainingLoss` and
:func:`train_loop` are written out in cells (``tests/test_notebook_code.py`` keeps those cells
and this file identical). The command line (``python -m helpers.pretrain``, with resume,
checkpoints and Accelerate) is a layer on top of the same loss and loop.

**The loss** computes the MLM cross-entropy only where tokens were masked: the encoder output
is *gathered* at the ~15% masked positions before the vocabulary projection, so the
H -> E -> V head runs on ~15% of the tokens. ``AlbertForPreTraining(labels=...)`` computes
full-vocabulary logits for every position and then ignores 85% of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AlbertConfig, AlbertForPreTraining

from helpers.masking import IGNORE_INDEX
from helpers.progress import ProgressBar


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved next to the checkpoint)."""

    # model (an AlbertConfig is built from these)
    vocab_size: int = 8000
    embedding_size: int = 128
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    num_hidden_groups: int = 1
    max_length: int = 128  # also the number of position embeddings
    # hidden + attention dropout: 0 as ALBERT v2 (plenty of data); BERT's 0.1 regularises long
    # runs over a small corpus (about 10% more CPU time per step). config.json records it, so
    # fine-tuning from the checkpoint uses it too, as with BERT and the ALBERT v1 configs.
    dropout: float = 0.0
    # objective and data
    task: str = "sop"  # "sop", "nsp" or "none" (MLM only)
    # "reviews" (the movie corpus: snippets + synopses) or "documents" (State of the Union
    # addresses + synopses: long documents, so NSP and SOP pairs have real structure);
    # "documents-dev" holds out a validation slice of the latter, for choosing a recipe
    corpus: str = "reviews"
    mlm_probability: float = 0.15
    # "official" (create_pretraining_data.py) or "legacy" (the shipped tiny-albert's rule; see
    # helpers.masking): recorded so a checkpoint says how its masks were drawn
    masking_rule: str = "official"
    short_seq_prob: float = 0.1
    # optimisation
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_steps: int = 2000
    minutes: float | None = None  # stop early (and save) after this much training time
    seed: int = 0
    # bookkeeping
    eval_every: int = 500
    save_every: int = 500
    log_every: int = 50
    eval_max_examples: int = 1024

    @property
    def warmup_steps(self) -> int:
        return max(1, int(self.warmup_fraction * self.max_steps))

    def albert_config(self, tokenizer) -> AlbertConfig:
        """The transformers ``AlbertConfig`` of this run (dropout 0 by default, as ALBERT v2)."""
        return AlbertConfig(
            vocab_size=len(tokenizer), embedding_size=self.embedding_size,
            hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size, num_hidden_groups=self.num_hidden_groups,
            hidden_act="gelu_new", hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            classifier_dropout_prob=0.1, max_position_embeddings=self.max_length,
            type_vocab_size=2, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        )

    @classmethod
    def from_dict(cls, values: dict) -> PretrainConfig:
        """A config from saved values; fields added since they were saved take their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown PretrainConfig fields {sorted(unknown)}")
        # Saved before masking_rule was recorded: those runs masked with the legacy rule.
        return cls(**{"masking_rule": "legacy", **values})


def init_pretraining_model(config: PretrainConfig, tokenizer, seed: int | None = None) -> AlbertForPreTraining:
    """A randomly initialised ``AlbertForPreTraining`` for ``config`` (seeded)."""
    torch.manual_seed(config.seed if seed is None else seed)
    return AlbertForPreTraining(config.albert_config(tokenizer))


class PretrainingLoss(nn.Module):
    """MLM + sentence-task loss of an ``AlbertForPreTraining``, with the MLM head run only where masked."""

    def __init__(self, model):
        super().__init__()
        self.model = model  # an AlbertForPreTraining: its encoder and both heads are used

    def forward(self, input_ids, attention_mask, token_type_ids, labels, sentence_label):
        out = self.model.albert(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids)
        masked = labels != IGNORE_INDEX  # (batch, time), True at the ~15% masked positions
        # Gather first: (n_masked, H) instead of (batch, time, H) into the H -> E -> V head.
        logits = self.model.predictions(out.last_hidden_state[masked])  # (n_masked, V)
        targets = labels[masked]
        if targets.numel():
            mlm_loss = F.cross_entropy(logits, targets)
        else:  # no masked token in the whole batch (rare: tiny sequences of long words)
            mlm_loss = out.last_hidden_state.sum() * 0.0  # zero, but keeps the graph connected
        stats = {"mlm_loss": mlm_loss.detach(),
                 "mlm_correct": (logits.argmax(-1) == targets).sum(),
                 "mlm_count": targets.numel()}
        loss = mlm_loss
        if (sentence_label != IGNORE_INDEX).any():  # SOP or NSP: a 2-way head on the pooled [CLS]
            sentence_logits = self.model.sop_classifier(out.pooler_output)
            sentence_loss = F.cross_entropy(sentence_logits, sentence_label)
            loss = loss + sentence_loss
            stats.update(sentence_loss=sentence_loss.detach(),
                         sentence_correct=(sentence_logits.argmax(-1) == sentence_label).sum(),
                         sentence_count=sentence_label.numel())
        stats["loss"] = loss.detach()
        return loss, stats


def train_loop(loss_model, optimizer, scheduler, batches, max_grad_norm=1.0, on_step=None,
               accelerator=None):
    """Train on ``batches``, which yields ``(step, batch)``: one update per batch.

    After every update ``on_step(steps_done, stats)`` is called (logging, evaluation, saving);
    if it returns True the loop stops. ``accelerator`` (an ``accelerate.Accelerator``; None in
    a notebook) runs backward and clipping when several processes train together.
    """
    loss_model.train()
    for step, batch in batches:
        loss, stats = loss_model(**batch)  # forward: the gathered MLM loss + the sentence loss
        optimizer.zero_grad(set_to_none=True)
        if accelerator is None:
            loss.backward()
        else:
            accelerator.backward(loss)  # gradients averaged over the processes
        if max_grad_norm:  # cap the global gradient norm: one odd batch cannot throw the weights far
            clip = torch.nn.utils.clip_grad_norm_ if accelerator is None else accelerator.clip_grad_norm_
            clip(loss_model.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()  # warm-up, then linear decay
        if on_step is not None and on_step(step + 1, stats):
            break


class TrainingLog:
    """The ``on_step`` of a run: mean training losses every ``every`` steps, and a progress bar.

    ``history`` gets one record per ``every`` steps (and the last): step, learning rate,
    seconds since the start and the mean of each loss over those steps.
    """

    def __init__(self, scheduler, every: int, total: int, start_step: int = 0,
                 seconds: float = 0.0, history: list | None = None, progress: bool = True,
                 desc: str = "pretrain"):
        self.scheduler, self.every, self.total = scheduler, every, total
        self.history = [] if history is None else history
        self.started = time.perf_counter() - seconds
        self.running: dict[str, float] = {}
        self.bar = ProgressBar(total, desc, initial=start_step, disable=not progress)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, step: int, stats: dict) -> bool:
        for key in ("loss", "mlm_loss", "sentence_loss"):
            if key in stats:
                self.running[key] = self.running.get(key, 0.0) + float(stats[key])
        self.running["n"] = self.running.get("n", 0) + 1
        self.bar.update(1)
        if step % self.every == 0 or step == self.total:
            n = self.running.pop("n")
            record = {"step": step, "lr": self.scheduler.get_last_lr()[0],
                      "seconds": round(self.seconds, 2),
                      **{k: v / n for k, v in self.running.items()}}
            self.history.append(record)
            self.bar.set_postfix(loss=f"{record['loss']:.3f}")
            self.running = {}
        return False

    def close(self) -> str:
        last = self.history[-1]["loss"] if self.history else float("nan")
        return self.bar.close(f"training loss {last:.3f}")


@torch.no_grad()
def evaluate(model, batches) -> dict[str, float]:
    """Held-out MLM accuracy/loss and sentence-task accuracy of an ``AlbertForPreTraining``."""
    loss_model = model if isinstance(model, PretrainingLoss) else PretrainingLoss(model)
    was_training = loss_model.training
    loss_model.eval()
    device = next(loss_model.parameters()).device
    totals: dict[str, float] = {}
    for batch in batches:
        _, stats = loss_model(**{k: v.to(device) for k, v in batch.items()})
        totals["mlm_loss"] = totals.get("mlm_loss", 0.0) + float(stats["mlm_loss"]) * stats["mlm_count"]
        for key in ("mlm_correct", "mlm_count", "sentence_correct", "sentence_count"):
            totals[key] = totals.get(key, 0) + int(stats.get(key, 0))
    loss_model.train(was_training)
    result = {"mlm_accuracy": totals["mlm_correct"] / totals["mlm_count"],
              "mlm_loss": totals["mlm_loss"] / totals["mlm_count"]}
    if totals.get("sentence_count"):
        result["sentence_accuracy"] = totals["sentence_correct"] / totals["sentence_count"]
    return result


def evaluate_tasks(model, data, tasks=("sop", "nsp"), max_examples: int | None = None) -> dict[str, float]:
    """MLM accuracy and loss (on the first task's examples) and the accuracy on each sentence task.

    ``data`` is a ``helpers.pretraining_data.PretrainingData``. The same 2-way head is read as
    "swapped?" for SOP and "random B?" for NSP (label 1 in both), which is how the paper's
    Table 5 scores an NSP-trained model on SOP and vice versa.
    """
    result = {}
    for task in tasks:
        metrics = evaluate(model, data.eval_batches(task, max_examples=max_examples))
        if "mlm_accuracy" not in result:
            result["mlm_accuracy"] = metrics["mlm_accuracy"]
            result["mlm_loss"] = metrics["mlm_loss"]
        result[f"{task}_accuracy"] = metrics["sentence_accuracy"]
    return result
