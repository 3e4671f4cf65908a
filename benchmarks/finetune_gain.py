"""Does a pretrained checkpoint fine-tune better than the same architecture from random weights?

For each learning rate and seed, fine-tunes the checkpoint and a randomly initialised copy of its
architecture on the sentiment training split with notebook 05's recipe (AdamW, 10% warm-up then
linear decay, batch 32, max length 64, length-grouped batches, best validation epoch kept, the
encoder dropout of the checkpoint's config.json unless --dropout is given), then scores both
once on the test split. The seed sets the random weights (head, and the whole model
for the from-scratch copy) and the batch order; both models of a seed see the same batches.
One JSON line per run; the gain last: mean over seeds of (pretrained - scratch) test accuracy at
the learning rate with the best mean validation accuracy per model, with its standard error
across seeds when there are several.

    python benchmarks/finetune_gain.py                               # the shipped checkpoint
    python benchmarks/finetune_gain.py --seeds 0 1 2                 # how much is seed noise?
    python benchmarks/finetune_gain.py --model runs/my-run --lr 3e-4 1e-3 --epochs 3
    python benchmarks/finetune_gain.py --dropout 0    # fine-tune both without encoder dropout

Pick a learning rate by the *validation* column; the test column is for the report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

KINDS = ("pretrained", "scratch")


def main(argv=None) -> dict:
    from transformers import set_seed

    from helpers.data import load_sentiment
    from helpers.finetune import (
        accuracy,
        best_epoch,
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--dropout", type=float, default=None,
                        help="encoder dropout for both models (default: the checkpoint's config.json)")
    args = parser.parse_args(argv)

    tokenizer, _ = load_classifier(args.model)
    encoded = tokenize_splits(load_sentiment(), tokenizer, max_length=64)
    val = make_loader(encoded["validation"], tokenizer, 32, group_by_length=True)
    test = make_loader(encoded["test"], tokenizer, 32, group_by_length=True)
    rows = []
    for lr in args.lr:
        for seed in args.seeds:
            for kind in KINDS:
                train = make_loader(encoded["train"], tokenizer, 32, shuffle=True, seed=seed,
                                    group_by_length=True)
                set_seed(seed)
                _, model = load_classifier(args.model, pretrained=kind == "pretrained",
                                           dropout=args.dropout)
                start = time.perf_counter()
                history = train_classifier(model, train, val, epochs=args.epochs, lr=lr, progress=False)
                row = {"model": args.model, "kind": kind, "lr": lr, "seed": seed, "epochs": args.epochs,
                       "dropout": model.config.hidden_dropout_prob,
                       "validation": round(best_epoch(history)["val_accuracy"], 4),
                       "test": round(accuracy(*predict_proba(model, test)), 4),
                       "seconds": round(time.perf_counter() - start)}
                rows.append(row)
                print(json.dumps(row), flush=True)

    def runs(kind, lr):  # in seed order, as trained
        return [r for r in rows if r["kind"] == kind and r["lr"] == lr]

    best_lr = {kind: max(args.lr, key=lambda lr: statistics.mean(r["validation"] for r in runs(kind, lr)))
               for kind in KINDS}
    best_test = {kind: [r["test"] for r in runs(kind, best_lr[kind])] for kind in KINDS}
    gains = [p - s for p, s in zip(best_test["pretrained"], best_test["scratch"], strict=True)]
    gain = statistics.mean(gains)
    spread = (f" +- {100 * statistics.stdev(gains) / len(gains) ** 0.5:.1f} (SE over {len(gains)} seeds)"
              if len(gains) > 1 else "")
    print(f"best by validation: pretrained lr {best_lr['pretrained']:g} test "
          f"{statistics.mean(best_test['pretrained']):.4f}, scratch lr {best_lr['scratch']:g} test "
          f"{statistics.mean(best_test['scratch']):.4f}; gain {100 * gain:+.1f} points{spread}")
    return {"rows": rows, "gain": gain, "gains": gains}


if __name__ == "__main__":
    main()
