"""Notebooks 02 and 03's toy experiments under several training seeds: which differences hold?

Notebook 02 trains four embedding sizes and notebook 03 four sharing strategies, each for the
same 500-step MLM budget (``helpers.encoder_variants``), once, with seed 0. The bootstrap standard
error the notebooks print covers the choice of held-out text, not the training run: another seed,
CPU or thread count gives another trajectory. This command trains every variant of one notebook
under several seeds (the seed sets the initial weights, the batch order and the masks; the
held-out blocks and their masks stay those of the notebook) and stores each run's held-out loss
curve (for notebook 03 also how far each layer moves its input, the notebook's Figure 2). Seed 0
is the notebook's own run. Notebooks 02 and 03 load the results, state each
variant's mean difference to the baseline with its standard error over seeds, and check their
live run against the seeds' spread.

    python benchmarks/variant_seeds.py --notebook 02 --seeds 0 1 2 3 4 --workers 2 \\
        --out benchmarks/results/variant_seeds_02.json
    python benchmarks/variant_seeds.py --notebook 03 --seeds 0 1 2 3 4 --workers 2 \\
        --out benchmarks/results/variant_seeds_03.json

Every (variant, seed) run is stored as soon as it finishes, and a run already in ``--out`` is
not repeated, so an interrupted measurement resumes (losing only the runs in flight).

``--steps``, ``--eval-every``, ``--warmup-steps``, ``--learning-rate`` and ``--batch-size`` change
the budget, for a quick check or a long run; ``--dropout`` sets dropout on hidden states and
attention in every variant (the notebooks train without, as ALBERT v2 does; in a long-run pilot
without it the not-shared model stopped improving from step 2,000, benchmarks/README.md). The
file records the budget and refuses to mix runs of two budgets.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path


def notebook_variants(notebook: str, vocab_size: int) -> tuple[dict, str]:
    """The notebook's variants and the one the others are compared with."""
    from helpers.encoder_variants import (
        FACTORIZATION_BASELINE,
        SHARING_BASELINE,
        factorization_variants,
        sharing_variants,
    )

    if notebook == "02":
        return factorization_variants(vocab_size), FACTORIZATION_BASELINE
    return sharing_variants(vocab_size), SHARING_BASELINE


def summarize(rows: list[dict], baseline: str) -> list[str]:
    """Per variant: mean final loss and the mean paired difference to the baseline, +- SE."""
    from helpers.seed_stats import mean_se, paired_difference

    lines = []
    base = {r["seed"]: r["final_loss"] for r in rows if r["variant"] == baseline}
    for name in dict.fromkeys(r["variant"] for r in rows):
        own = {r["seed"]: r["final_loss"] for r in rows if r["variant"] == name}
        seeds = sorted(set(own) & set(base))
        mean, se = mean_se(own.values())
        line = f"{name:<24} {len(own)} seeds: final held-out loss {mean:.3f} +- {se:.3f}"
        if name != baseline and len(seeds) > 1:
            diff, diff_se = paired_difference([own[s] for s in seeds], [base[s] for s in seeds])
            line += f"; minus {baseline} {diff:+.3f} +- {diff_se:.3f}"
        lines.append(line)
    return lines


def run_one(task: tuple, threads: int | None = None) -> dict:
    """Train one (notebook, variant, seed, budget changes) run; its stored row."""
    from helpers.encoder_variants import layer_transitions, prepare_experiment, train_variant

    notebook, name, seed, changes, dropout = task
    experiment = prepare_experiment(threads=threads)  # the notebooks' data and held-out set (seed 0)
    variant = notebook_variants(notebook, len(experiment.tokenizer))[0][name]
    if dropout is not None:  # a model setting, not a Budget field: the notebooks' runs have none
        config = variant.config.to_dict() | {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
        variant = replace(variant, config=type(variant.config).from_dict(config))
    budget = replace(experiment.budget, seed=seed, **changes)
    result = train_variant(name, variant, experiment.data, budget)
    row = {"variant": name, "seed": seed, "parameters": result.parameters,
           "eval_steps": result.eval_steps,
           "heldout_losses": [round(loss, 4) for loss in result.heldout_losses],
           "final_loss": round(result.final_loss, 4), "seconds": round(result.seconds, 1),
           "device": budget.device}
    if notebook == "03":  # notebook 03's Figure 2: how far each layer moves its input
        metrics = layer_transitions(result.model.albert.cpu(), experiment.data.heldout_blocks[:64])
        row["transitions"] = {key: [round(float(v), 4) for v in metrics[key]] for key in ("l2", "angle")}
    return row


def budget_changes(args) -> dict:
    """The ``Budget`` fields the command line changes (none: the notebooks' own budget)."""
    changes = {"steps": args.steps, "eval_every": args.eval_every, "warmup_steps": args.warmup_steps,
               "learning_rate": args.learning_rate, "batch_size": args.batch_size}
    changes = {key: value for key, value in changes.items() if value is not None}
    if args.device != "cpu":
        changes["device"] = args.device
    if "steps" in changes and "eval_every" not in changes:
        changes["eval_every"] = changes["steps"]
    return changes


def main(argv=None) -> dict:
    from helpers.encoder_variants import Budget, default_workers, prepare_experiment
    from helpers.seed_stats import StoredRuns

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", choices=["02", "03"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=None, help="default: all of the notebook's")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs trained side by side, one thread each (default: one per core)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every run")
    parser.add_argument("--steps", type=int, default=None,
                        help="another budget than the notebooks' 500 steps (a quick check, or a long run)")
    parser.add_argument("--eval-every", type=int, default=None, help="held-out loss every this many steps")
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="blocks per step")
    parser.add_argument("--dropout", type=float, default=None,
                        help="dropout on hidden states and attention (default: none, as in the notebooks)")
    parser.add_argument("--device", default="cpu",
                        help="cuda: a GPU (set --workers to the runs it holds at once); default cpu")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.dropout is not None and not 0 <= args.dropout < 1:
        parser.error("--dropout must be at least 0 and below 1")

    command = "python benchmarks/variant_seeds.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    runs = StoredRuns(args.out, command, runs="runs side by side, one torch thread each")
    changes = budget_changes(args)
    budget = asdict(replace(Budget(), **changes))
    if args.dropout is not None:  # recorded only when set, so files of the notebooks' budget stay comparable
        budget["dropout"] = args.dropout
    del budget["device"]  # which hardware ran a run is in its row; runs of one budget may mix them
    stored_budget = json.loads(args.out.read_text()).get("budget", budget) if runs.rows else budget
    if stored_budget != budget:
        raise SystemExit(f"{args.out} holds runs of another budget ({stored_budget}); "
                         "pass the same budget flags, or another --out")
    runs.record["budget"] = budget
    experiment = prepare_experiment()
    runs.record["reference_loss"] = round(experiment.reference_loss, 4)
    variants, baseline = notebook_variants(args.notebook, len(experiment.tokenizer))
    unknown = set(args.variants or []) - set(variants)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; notebook {args.notebook} has {sorted(variants)}")
    runs.record["baseline"] = baseline
    done = runs.done("variant", "seed")
    tasks = [(args.notebook, name, seed, changes, args.dropout) for seed in args.seeds  # seed-major: complete tables first
             for name in (args.variants or variants) if (name, seed) not in done]
    workers = args.workers if args.workers is not None else default_workers()
    runs.run_all(run_one, tasks, min(workers, max(1, len(tasks))))
    runs.save()
    for line in summarize(runs.rows, baseline):
        print(line)
    return runs.record


if __name__ == "__main__":
    main()
