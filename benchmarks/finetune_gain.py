"""Does a pretrained checkpoint fine-tune better than the same architecture from random weights?

For each learning rate, fine-tunes the checkpoint and a randomly initialised copy of its
architecture on the sentiment training split with notebook 05's recipe (AdamW, 10% warm-up then
linear decay, batch 32, max length 64, length-grouped batches, seed 0, best validation epoch
kept), then scores both once on the test split. One JSON line per run; the gain last.

    python benchmarks/finetune_gain.py                               # the shipped checkpoint
    python benchmarks/finetune_gain.py --model runs/my-run --lr 3e-4 1e-3 --epochs 3

Pick a learning rate by the *validation* column; the test column is for the report.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> dict:
    from transformers import set_seed

    from helpers.data import load_sentiment
    from helpers.finetune import (
        accuracy,
        default_model_dir,
        load_classifier,
        make_loader,
        predict_proba,
        tokenize_splits,
        train_classifier,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(default_model_dir()), help="checkpoint folder")
    parser.add_argument("--lr", type=float, nargs="+", default=[3e-4])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)

    tokenizer, _ = load_classifier(args.model)
    encoded = tokenize_splits(load_sentiment(), tokenizer, max_length=64)
    train = make_loader(encoded["train"], tokenizer, 32, shuffle=True, seed=0, group_by_length=True)
    val = make_loader(encoded["validation"], tokenizer, 32, group_by_length=True)
    test = make_loader(encoded["test"], tokenizer, 32, group_by_length=True)
    rows = []
    for lr in args.lr:
        for kind in ("pretrained", "scratch"):
            set_seed(0)
            _, model = load_classifier(args.model, pretrained=kind == "pretrained")
            start = time.perf_counter()
            history = train_classifier(model, train, val, epochs=args.epochs, lr=lr, progress=False)
            row = {"model": args.model, "kind": kind, "lr": lr, "epochs": args.epochs,
                   "validation": round(max(h["val_accuracy"] for h in history), 4),
                   "test": round(accuracy(*predict_proba(model, test)), 4),
                   "seconds": round(time.perf_counter() - start)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    best = {kind: max((r for r in rows if r["kind"] == kind), key=lambda r: r["validation"])
            for kind in ("pretrained", "scratch")}
    gain = best["pretrained"]["test"] - best["scratch"]["test"]
    print(f"best by validation: pretrained lr {best['pretrained']['lr']:g} test {best['pretrained']['test']:.4f}, "
          f"scratch lr {best['scratch']['lr']:g} test {best['scratch']['test']:.4f}; "
          f"gain {100 * gain:+.1f} points")
    return {"rows": rows, "gain": gain}


if __name__ == "__main__":
    main()
