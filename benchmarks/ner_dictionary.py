"""The dictionary and the model together: does the NER model add to a dictionary of training names?

Notebook 06's dictionary baseline (``helpers.ner.DictionaryTagger``: every name of two or more
characters seen in training) is precise on the names it knows and blind to new ones; the
fine-tuned tiny ALBERT finds new names but is less precise. This measures the obvious
combination, ``helpers.ner.add_confident_entities``: every name the dictionary finds, plus each
name the model finds that overlaps none of them and that it gives probability >= a threshold on
every token.

For each seed, fine-tunes the pretrained ``checkpoints/tiny-albert-zh`` on all People's Daily
training pieces with ``finetune_gain.py --task zh-ner``'s run (lr 1e-3, 3 epochs, the best
validation epoch kept: the same code, so seeds 0-2 reproduce ``results/zh_finetune_ner.json``'s
pretrained runs), saves it under ``--models`` and scores the combination on *validation* for
every threshold in ``THRESHOLDS``. Then the threshold with the best mean validation F1 over the
seeds is chosen, and only then is the test split scored: the dictionary alone, each seed's model
alone and the combination at the chosen threshold. ``--out`` stores every run with the command,
machine and wall time; a seed already in the file is not trained again (its saved model is
reused for the test scores), so an interrupted measurement resumes.

    python benchmarks/ner_dictionary.py --seeds 0 1 2 3 --workers 2 \\
        --out benchmarks/results/zh_ner_dictionary.json       # what notebook 06 cites
"""

from __future__ import annotations

import argparse
import shlex
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_gain import _prepared, run_one  # noqa: E402  (the same fine-tuning run and data as the measurement)

# Thresholds on the model's probability (its softmax maximum, on every token of a name) above
# which a name the dictionary does not know is added; 0 adds every name the model finds.
THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
RECIPE = dict(task="zh-ner", kind="pretrained", lr=1e-3, labels="all", epochs=3, dropout=None, dropout_asked=None)
MODEL = "checkpoints/tiny-albert-zh"


@cache
def _scored_data(first: int | None = None):
    """Encoded validation and test pieces (the ``first`` of each, or all), their loaders, and the
    dictionary's labels at the labelled tokens of each piece (built from the training split). The
    pieces and loaders are ``finetune_gain``'s own, built once per process."""
    from helpers.chinese_data import BIO_LABELS, load_people_daily
    from helpers.ner import DictionaryTagger, labels_at_tokens, token_classification_loader

    prepared = _prepared(MODEL, "zh-ner")
    train = load_people_daily()["train"]
    dictionary = DictionaryTagger([(chars, [BIO_LABELS[t] for t in tags])
                                   for chars, tags in zip(train["chars"], train["ner_tags"], strict=True)])
    scored = {}
    for split, loader_key in (("validation", "val"), ("test", "test")):
        pieces = prepared["encoded"][split][:first]
        loader = prepared[loader_key] if first is None else token_classification_loader(pieces, prepared["tokenizer"], 32)
        scored[split] = dict(loader=loader, dictionary=[labels_at_tokens(dictionary(piece["chars"]), piece) for piece in pieces])
    return scored


def combined_scores(model_dir: str | Path, split: dict, thresholds) -> dict:
    """Entity F1 of the model alone, the dictionary alone and the two together at each threshold."""
    from transformers import AutoModelForTokenClassification

    from helpers.chinese_data import BIO_LABELS
    from helpers.ner import add_confident_entities, entity_scores, predict_labels

    model = AutoModelForTokenClassification.from_pretrained(model_dir)
    true, predicted, confidence = predict_labels(model, split["loader"], BIO_LABELS, with_confidence=True)
    f1 = lambda guesses: round(entity_scores(true, guesses)["micro"].f1, 4)  # noqa: E731
    together = {str(threshold): f1([add_confident_entities(known, guess, sure, threshold)
                                    for known, guess, sure in zip(split["dictionary"], predicted, confidence, strict=True)])
                for threshold in thresholds}
    return {"model": f1(predicted), "dictionary": f1(split["dictionary"]), "together": together}


def train_seed(task: dict, threads: int | None = None) -> dict:
    """Fine-tune one seed (``finetune_gain.run_one``, test untouched), save it, score on validation."""
    row = run_one({**task, "history": True, "score_test": False}, threads)
    scores = combined_scores(task["save_to"], _scored_data()["validation"], THRESHOLDS)
    if abs(scores["model"] - row["validation"]) > 1e-3:  # the saved model is the epoch that was kept
        raise RuntimeError(f"saved model scores {scores['model']} on validation, the run kept {row['validation']}")
    return {key: value for key, value in row.items() if key not in ("save_to", "test", "score_test")} | {
        "validation_dictionary": scores["dictionary"], "validation_together": scores["together"]}


def main(argv=None) -> dict:
    from helpers.chinese_data import benchmark_data
    from helpers.seed_stats import StoredRuns, mean_se

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, default=1, help="seeds side by side, one thread each")
    parser.add_argument("--models", type=Path, default=Path("runs/ner-dictionary"),
                        help="folder for each seed's fine-tuned model (seed-N), reused when resuming")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every run")
    args = parser.parse_args(argv)
    command = "python benchmarks/ner_dictionary.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    runs = StoredRuns(args.out, command, data=benchmark_data(),
                      runs=f"{args.workers} at a time, one torch thread each" if args.workers > 1 else "one at a time")
    runs.record["model"] = MODEL
    done = {row["seed"] for row in runs.rows}
    for seed in done & set(args.seeds):
        if not (args.models / f"seed-{seed}" / "model.safetensors").exists():
            raise SystemExit(f"{args.out} holds seed {seed} but {args.models}/seed-{seed} has no model: "
                             "pass the --models folder it was trained into, or a new --out")
    tasks = [dict(model=MODEL, **RECIPE, seed=seed, save_to=str(args.models / f"seed-{seed}"))
             for seed in args.seeds if seed not in done]
    runs.run_all(train_seed, tasks, args.workers)

    rows = [row for row in runs.rows if row["seed"] in args.seeds]
    mean_val = {t: sum(row["validation_together"][t] for row in rows) / len(rows) for t in map(str, THRESHOLDS)}
    chosen = max(mean_val, key=mean_val.get)  # on validation; the test split is scored after
    test = _scored_data()["test"]
    per_seed = []
    for row in rows:
        scores = combined_scores(args.models / f"seed-{row['seed']}", test, [float(chosen)])
        per_seed.append({"seed": row["seed"], "model": scores["model"], "dictionary": scores["dictionary"],
                         "together": scores["together"][chosen]})
    runs.record["choice"] = {"threshold": float(chosen), "validation_mean": {t: round(v, 4) for t, v in mean_val.items()},
                             "seeds": sorted(row["seed"] for row in rows)}
    runs.record["test"] = per_seed
    runs.save()

    def line(name, values):
        mean, se = mean_se(values)
        return f"  {name:<32} {mean:.3f} ± {se:.3f}"

    print(f"threshold chosen on validation: {chosen} (mean validation F1 {mean_val[chosen]:.3f}; "
          f"dictionary alone {rows[0]['validation_dictionary']:.3f})")
    print(f"test, {len(per_seed)} seeds (mean ± standard error)")
    for name in ("dictionary", "model", "together"):
        print(line(name, [r[name] for r in per_seed]))
    print(line("together - dictionary", [r["together"] - r["dictionary"] for r in per_seed]))
    return runs.record


if __name__ == "__main__":
    main()
