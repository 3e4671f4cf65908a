"""Short, fixed-budget MLM comparisons of tiny encoder variants (notebooks 02 and 03).

The recipe, the same for every variant so that only the architecture differs:

* **Text.** Training: ``helpers.data.load_corpus()`` (training snippets + plot synopses).
  Held-out: the validation-split snippets of ``load_sentiment()``, which are never in the corpus.
  Both are tokenized with the project tokenizer and *packed*: documents are joined with
  ``[SEP]`` and cut into blocks of ``seq_len`` tokens that start with ``[CLS]``, so no compute
  is spent on padding.
* **Masking.** ALBERT's n-gram whole-word masking (``helpers.masking.NgramMasker``). Every
  training batch and its masks are drawn *once* from a fixed seed (:meth:`MLMData.batches`)
  and replayed for every variant; the held-out blocks are masked once, also from a fixed seed.
* **Training.** AdamW with warm-up and linear decay (``helpers.training``), gradient clipping,
  the same seed for every variant's initialisation. The MLM output bias starts at the log
  training-token frequencies (:func:`unigram_log_probs`), so every variant starts at the
  unigram reference below and the short budget goes into learning to use the context. (From
  a zero bias, Adam spends hundreds of steps just learning the word frequencies, and in our
  trials the models with a small E learned them slowest, so a few-hundred-step comparison
  measured mostly that.)
* **Metric.** Mean cross-entropy over the masked held-out tokens. The MLM head runs on the
  masked positions only (``ScratchAlbertForMaskedLM``), which is all the loss needs.
  :func:`paired_difference` puts a bootstrap standard error (over held-out blocks) on the
  difference between two variants.

:func:`unigram_loss` gives a reference level: a model that ignores the context and always
predicts the training-token frequencies. A variant below it has learned to use the context.

In a notebook: ``experiment = prepare_experiment()``, ``results = run_variants(variants,
experiment.data, experiment.budget)``, then ``helpers.plots.plot_comparison`` and
:func:`results_table`. :func:`train_variant` is written out in notebook 02.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import AlbertConfig

from helpers.albert import ScratchAlbertForMaskedLM
from helpers.configs import count_parameters
from helpers.data import load_corpus, load_sentiment
from helpers.masking import IGNORE_INDEX, NgramMasker
from helpers.progress import ProgressBar
from helpers.runtime import training_threads
from helpers.seed_stats import bootstrap_ratio
from helpers.tokenizer import load_or_train_tokenizer
from helpers.training import make_optimizer, warmup_linear_decay


@dataclass(frozen=True)
class Budget:
    """What every variant gets: the same steps, batches, learning rate and seed.

    The defaults train one variant of the tiny encoder in 50 s (Intel Xeon VM) to 150 s (AMD EPYC
    VM) on one CPU core; four of them train two at a time on two cores (:func:`run_variants`).
    Notebooks 02 and 03 train the first 100 steps live (``stop_after``) and load the full runs.
    Every variant of notebooks 02 and 03 ends below the unigram reference. At this compute,
    16-block batches learned faster than fewer 32-block ones.
    """
    steps: int = 500
    batch_size: int = 16
    seq_len: int = 64
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    eval_every: int = 100
    heldout_blocks: int = 160
    seed: int = 0
    start_from_unigram: bool = True  # MLM output bias = log training-token frequencies (see module doc)
    stop_after: int | None = None  # train only the first steps of the schedule: a live prefix of a stored run
    device: str = "cpu"  # "cuda" for long runs on a GPU (benchmarks/variant_seeds.py --device)


def tiny_config(vocab_size: int, embedding_size: int = 128, hidden_size: int = 128,
                num_hidden_layers: int = 4, seq_len: int = 64, **overrides) -> AlbertConfig:
    """A small ALBERT configuration: head size 32, FFN 4H, no dropout (as the v2 models)."""
    settings = dict(vocab_size=vocab_size, embedding_size=embedding_size, hidden_size=hidden_size,
                    num_hidden_layers=num_hidden_layers, num_attention_heads=max(1, hidden_size // 32),
                    intermediate_size=4 * hidden_size, hidden_act="gelu_new",
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    max_position_embeddings=seq_len, type_vocab_size=2)
    settings.update(overrides)
    return AlbertConfig(**settings)


def pack_blocks(texts: Sequence[str], tokenizer, seq_len: int) -> torch.Tensor:
    """Token ids of ``texts`` joined by ``[SEP]``, cut into ``[CLS]`` + (seq_len - 1) token blocks.

    Returns a (blocks, seq_len) tensor. The incomplete last block is dropped.
    """
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    stream = [token for ids in encoded for token in [*ids, tokenizer.sep_token_id]]
    body = seq_len - 1
    n_blocks = len(stream) // body
    if n_blocks == 0:
        raise ValueError(f"{len(stream)} tokens do not fill one block of {seq_len}: pass more text.")
    blocks = torch.tensor(stream[:n_blocks * body], dtype=torch.long).view(n_blocks, body)
    return torch.cat([torch.full((n_blocks, 1), tokenizer.cls_token_id), blocks], dim=1)


@dataclass
class MLMData:
    """Packed training blocks and a fixed, already-masked held-out set."""
    train_blocks: torch.Tensor  # (N, T)
    heldout_inputs: torch.Tensor  # (M, T), masked
    heldout_labels: torch.Tensor  # (M, T), -100 where not masked
    vocab_size: int
    masker: NgramMasker = field(repr=False)

    @property
    def heldout_blocks(self) -> torch.Tensor:
        """The held-out blocks before masking (the original token at every position)."""
        return torch.where(self.heldout_labels != IGNORE_INDEX, self.heldout_labels, self.heldout_inputs)

    @property
    def heldout_targets(self) -> int:
        return int((self.heldout_labels != IGNORE_INDEX).sum())

    @property
    def block_targets(self) -> np.ndarray:
        """Masked tokens per held-out block."""
        return (self.heldout_labels != IGNORE_INDEX).sum(dim=1).numpy()

    def batches(self, budget: Budget) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``budget.steps`` masked training batches, the same for a given seed (drawn once, replayed)."""
        generator = torch.Generator().manual_seed(budget.seed)
        rng = np.random.default_rng(budget.seed)
        order = torch.cat([torch.randperm(len(self.train_blocks), generator=generator)
                           for _ in range(1 + budget.steps * budget.batch_size // len(self.train_blocks))])
        return [self.masker(self.train_blocks[order[i * budget.batch_size:(i + 1) * budget.batch_size]], rng)
                for i in range(budget.steps)]


def prepare_data(tokenizer, budget: Budget = Budget()) -> MLMData:
    """The project's data: the pretraining corpus, and the validation snippets held out."""
    return build_data(load_corpus()["text"], load_sentiment()["validation"]["text"], tokenizer, budget)


def build_data(train_texts: Sequence[str], heldout_texts: Sequence[str], tokenizer,
               budget: Budget = Budget()) -> MLMData:
    """Pack both texts; keep ``budget.heldout_blocks`` random held-out blocks and mask them once."""
    train = pack_blocks(train_texts, tokenizer, budget.seq_len)
    heldout = pack_blocks(heldout_texts, tokenizer, budget.seq_len)
    pick = torch.randperm(len(heldout), generator=torch.Generator().manual_seed(budget.seed))
    heldout = heldout[pick[:budget.heldout_blocks].sort().values]
    masker = NgramMasker(tokenizer, seed=budget.seed)
    inputs, labels = masker(heldout, np.random.default_rng(budget.seed + 1))
    return MLMData(train, inputs, labels, len(tokenizer), masker)


@dataclass
class Experiment:
    """What every comparison in notebooks 02 and 03 shares: tokenizer, data, budget, reference."""
    tokenizer: Any
    budget: Budget
    data: MLMData
    reference_loss: float  # held-out loss of the context-free unigram guess

    def summary(self) -> str:
        data, budget = self.data, self.budget
        seen = budget.steps * budget.batch_size * budget.seq_len
        return "\n".join([
            f"vocabulary {len(self.tokenizer):,}; training blocks {tuple(data.train_blocks.shape)} = "
            f"{data.train_blocks.numel():,} tokens; held-out blocks {tuple(data.heldout_inputs.shape)} "
            f"with {data.heldout_targets:,} masked tokens",
            f"budget: {budget.steps} steps x {budget.batch_size} blocks = {seen:,} tokens seen, "
            f"learning rate {budget.learning_rate:g}",
            f"reference: a context-free guess (training token frequencies) scores {self.reference_loss:.3f}"])


def prepare_experiment(budget: Budget = Budget(), threads: int | None = 1) -> Experiment:
    """The project tokenizer, the packed corpus and held-out set, and the unigram reference loss.

    ``threads`` (default 1) is passed to ``torch.set_num_threads`` for the rest of the session:
    the tiny encoder's matrices are small, so one thread is about as fast as two, and much
    faster when other programs share the CPU (threads then wait for each other). ``None``
    leaves PyTorch's setting alone; ``$ALBERT_THREADS`` overrides it (``tools/check_claims.py``).
    """
    if threads is not None:
        torch.set_num_threads(training_threads(threads))
    tokenizer = load_or_train_tokenizer(prefer_shipped=False)  # trained on the corpus, not the checkpoint's
    data = prepare_data(tokenizer, budget)
    return Experiment(tokenizer, budget, data, unigram_loss(data))


def unigram_log_probs(data: MLMData) -> torch.Tensor:
    """Log frequency of every vocabulary entry in the training blocks (add-one smoothed), (V,)."""
    counts = torch.bincount(data.train_blocks.flatten(), minlength=data.vocab_size).double() + 1
    return (counts / counts.sum()).log()


def unigram_loss(data: MLMData) -> float:
    """Held-out MLM loss of a context-free guess: training-token frequencies (add-one smoothed)."""
    targets = data.heldout_labels[data.heldout_labels != IGNORE_INDEX]
    return float(-unigram_log_probs(data)[targets].mean())


@torch.no_grad()
def heldout_block_losses(model: ScratchAlbertForMaskedLM, data: MLMData, batch_size: int = 80) -> np.ndarray:
    """Summed cross-entropy over the masked tokens of every held-out block, shape (M,)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(len(data.heldout_inputs), dtype=torch.float64)
    for start in range(0, len(data.heldout_inputs), batch_size):
        labels = data.heldout_labels[start:start + batch_size]
        masked = labels != IGNORE_INDEX
        inputs = data.heldout_inputs[start:start + batch_size].to(device)
        logits = model(inputs, labels=labels.to(device)).logits.cpu()  # (N masked, V)
        token_loss = F.cross_entropy(logits, labels[masked], reduction="none").double()
        block = start + masked.nonzero()[:, 0]  # the block of every masked token, in the same order
        sums.index_add_(0, block, token_loss)
    model.train(was_training)
    return sums.numpy()


def heldout_loss(model: ScratchAlbertForMaskedLM, data: MLMData, batch_size: int = 80) -> float:
    """Mean cross-entropy over every masked held-out token."""
    return float(heldout_block_losses(model, data, batch_size).sum() / data.heldout_targets)


@dataclass(frozen=True)
class Variant:
    """One architecture to compare: a config plus the from-scratch model's sharing options."""
    config: AlbertConfig
    sharing: str | None = None
    always_project: bool = True

    def build(self, seed: int) -> ScratchAlbertForMaskedLM:
        torch.manual_seed(seed)
        return ScratchAlbertForMaskedLM(self.config, self.sharing, self.always_project)


FACTORIZATION_BASELINE = "E=H=128 (no projection)"
SHARING_BASELINE = "not-shared"


def factorization_variants(vocab_size: int) -> dict[str, Variant]:
    """Notebook 02's sweep: all layers shared, E = 16, 32, 64, and E = H = 128 without projection."""
    variants = {f"E={size}": Variant(tiny_config(vocab_size, embedding_size=size), sharing="all-shared")
                for size in (16, 32, 64)}
    variants[FACTORIZATION_BASELINE] = Variant(tiny_config(vocab_size, embedding_size=128),
                                               sharing="all-shared", always_project=False)
    return variants


def sharing_variants(vocab_size: int) -> dict[str, Variant]:
    """Notebook 03's strategies, on the E = H = 128 encoder without projection (02's baseline)."""
    config = tiny_config(vocab_size, embedding_size=128, hidden_size=128, num_hidden_layers=4)
    return {strategy: Variant(config, sharing=strategy, always_project=False)
            for strategy in (SHARING_BASELINE, "shared-attention", "shared-ffn", "all-shared")}


@dataclass
class VariantResult:
    name: str
    parameters: int  # the encoder: embeddings, projection, layers (no MLM head, no pooler)
    eval_steps: list[int]
    heldout_losses: list[float]
    train_losses: list[float]
    seconds: float
    model: ScratchAlbertForMaskedLM = field(repr=False)
    block_losses: np.ndarray = field(repr=False)  # after training: summed loss per held-out block
    block_targets: np.ndarray = field(repr=False)  # masked tokens per held-out block

    @property
    def final_loss(self) -> float:
        return self.heldout_losses[-1]


def train_variant(name: str, variant: Variant, data: MLMData, budget: Budget,
                  batches: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None) -> VariantResult:
    """Train one variant on ``budget.steps`` MLM steps; record held-out loss every ``eval_every``.

    With ``budget.stop_after``, stop after that many steps of the same schedule: the first part
    of exactly the run that ``stop_after=None`` would make.
    """
    batches = batches if batches is not None else data.batches(budget)
    last = budget.steps if budget.stop_after is None else min(budget.stop_after, budget.steps)
    model = variant.build(budget.seed).to(budget.device)
    if budget.start_from_unigram:
        with torch.no_grad():
            model.predictions.bias.copy_(unigram_log_probs(data))
    model.train()
    optimizer = make_optimizer(model, budget.learning_rate)
    scheduler = warmup_linear_decay(optimizer, budget.warmup_steps, budget.steps)  # the full schedule
    eval_steps, train_losses = [0], []
    heldout = [heldout_loss(model, data)]
    start = time.perf_counter()
    for step, (inputs, labels) in enumerate(batches[:last], start=1):
        loss = model(inputs.to(budget.device), labels=labels.to(budget.device)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        train_losses.append(loss.item())
        if step % budget.eval_every == 0 or step == last:
            eval_steps.append(step)
            if step == last:
                block_losses = heldout_block_losses(model, data)
                heldout.append(float(block_losses.sum() / data.heldout_targets))
            else:
                heldout.append(heldout_loss(model, data))
    model.eval()
    return VariantResult(name, count_parameters(model.albert), eval_steps, heldout, train_losses,
                         time.perf_counter() - start, model, block_losses, data.block_targets)


def default_workers() -> int:
    """CPU cores this process may use (what ``run_variants`` trains side by side)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _train_in_worker(name: str, variant: Variant, data: MLMData, budget: Budget,
                     batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> VariantResult:
    # one core per process (the same arithmetic as a one-thread run), unless $ALBERT_THREADS says otherwise
    torch.set_num_threads(training_threads(1))
    return train_variant(name, variant, data, budget, batches)


def run_variants(variants: Mapping[str, Variant], data: MLMData, budget: Budget = Budget(),
                 verbose: bool = True, workers: int | None = None) -> dict[str, VariantResult]:
    """Train every variant on the same batches and masks; print one line per variant.

    The variants are independent, so with ``workers`` > 1 (default: one per CPU core) they train
    side by side in separate processes, one thread each. A tiny model keeps one core busy but
    gains little from a second thread, so on a 2-core machine this halves the wall time. Each
    process computes exactly what a one-thread run in this process would: the results do not
    depend on ``workers``. ``workers=1`` trains one after another here.
    """
    batches = data.batches(budget)
    if workers is None:  # one process per core, each with training_threads() threads (default 1)
        workers = max(1, default_workers() // training_threads(1))
    workers = min(len(variants), workers)
    bar = ProgressBar(len(variants), f"training {len(variants)} variants ({workers} at a time)",
                      disable=not verbose, unit="variant")
    if workers > 1:
        # "spawn" starts clean interpreters: safe under Jupyter, macOS and Windows alike.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {name: pool.submit(_train_in_worker, name, variant, data, budget, batches)
                       for name, variant in variants.items()}
            for _ in as_completed(futures.values()):
                bar.update()
            results = {name: future.result() for name, future in futures.items()}
    else:
        results = {}
        for name, variant in variants.items():
            results[name] = train_variant(name, variant, data, budget, batches)
            bar.update()
    bar.close()
    if verbose:
        for name, result in results.items():
            print(f"{name:<22} {result.parameters:>10,} parameters  held-out loss "
                  f"{result.heldout_losses[0]:.2f} -> {result.final_loss:.3f} after {result.eval_steps[-1]} steps"
                  f"  ({result.seconds:.0f} s)")
    return results


def paired_difference(a: VariantResult, b: VariantResult, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Final held-out loss of ``a`` minus that of ``b``, and its bootstrap standard error.

    Both variants are scored on the same masked tokens, so the comparison is paired: the
    held-out blocks are resampled with replacement ``draws`` times and the difference recomputed.
    The standard error says how much the verdict depends on *which* held-out text we happened
    to pick. It does not cover other sources of noise, such as a different training seed.
    """
    if not np.array_equal(a.block_targets, b.block_targets):
        raise ValueError("a and b were scored on different held-out sets: train them on the same MLMData.")
    return bootstrap_ratio(a.block_losses - b.block_losses, a.block_targets, draws, seed)


def results_table(results: Mapping[str, VariantResult], baseline: str | None = None):
    """One row per variant: parameters, held-out loss at the start and the end, seconds.

    With ``baseline`` (a key of ``results``), two more columns: each variant's final loss minus
    the baseline's and the bootstrap standard error of that difference (:func:`paired_difference`).
    """
    rows = []
    for name, r in results.items():
        row = {"variant": name, "parameters": r.parameters,
               "held-out loss (init)": round(r.heldout_losses[0], 3),
               "held-out loss (end)": round(r.final_loss, 3)}
        if baseline is not None:
            difference, error = paired_difference(r, results[baseline])
            row[f"minus {baseline}"] = round(difference, 3)
            row["std. error"] = round(error, 3)
        rows.append({**row, "train seconds": round(r.seconds, 1)})
    return pd.DataFrame(rows).set_index("variant")


@torch.no_grad()
def layer_transitions(model, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """The paper's Figure 1 measurement: how far each layer moves its input.

    For every layer application l, between its input h_{l-1} and output h_l (per token, then
    averaged over the real tokens): the L2 distance ||h_l - h_{l-1}|| and the angle
    arccos(cos(h_l, h_{l-1})) in degrees. ``model`` is a ``ScratchAlbertModel`` (or anything
    returning ``hidden_states`` the same way).

    Returns arrays ``l2`` and ``angle`` (one value per layer application) and ``norm``: the mean
    token norm of every hidden state, the projected embeddings first (one value more).
    """
    was_training = model.training
    model.eval()
    states = model(input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states
    model.train(was_training)
    weight = (torch.ones_like(input_ids) if attention_mask is None else attention_mask).double()
    def token_mean(values: torch.Tensor) -> float:
        return float((values * weight).sum() / weight.sum())

    norm = [token_mean(state.double().norm(dim=-1)) for state in states]
    l2, angle = [], []
    for before, after in zip(states[:-1], states[1:], strict=True):
        before, after = before.double(), after.double()
        distance = (after - before).norm(dim=-1)
        cosine = F.cosine_similarity(after, before, dim=-1).clamp(-1.0, 1.0)
        l2.append(token_mean(distance))
        angle.append(token_mean(torch.rad2deg(torch.arccos(cosine))))
    return {"l2": np.array(l2), "angle": np.array(angle), "norm": np.array(norm)}
