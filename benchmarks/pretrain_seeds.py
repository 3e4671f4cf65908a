"""Notebook 04's live pretraining run under several seeds: how much does one run vary?

Trains notebook 04's live configuration (the shipped checkpoint's shape, batch 32, 300 steps,
learning rate 5e-4, no dropout) from scratch with MLM + SOP and with MLM + NSP, one seed per run
(the seed sets the initial weights, the pairs and the masks), with the same ``train_loop`` the
notebook writes out, and scores each on the held-out examples the notebook uses (512 per task).
``--out`` stores every run with the command, machine and wall time; notebook 04 loads
``benchmarks/results/pretrain_seeds.json`` and checks its own run against that spread. A run
already in the file is not repeated.

    python benchmarks/pretrain_seeds.py --seeds 0 1 2 3 4 --tasks sop nsp --workers 2 \\
        --out benchmarks/results/pretrain_seeds.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path


def live_config(seed: int, task: str):
    """Notebook 04's live run (section 5) for ``seed`` and ``task``: the shipped checkpoint's
    configuration with a short budget and the official masking rule (the checkpoint used the legacy one)."""
    from helpers.pretraining import PretrainConfig
    from helpers.runtime import SHIPPED_CHECKPOINT

    shipped = PretrainConfig.from_dict(json.loads((SHIPPED_CHECKPOINT / "pretrain_config.json").read_text()))
    return replace(shipped, batch_size=32, max_steps=300, learning_rate=5e-4, dropout=0.0,
                   masking_rule="official", eval_every=0, save_every=0, log_every=25, eval_max_examples=512, seed=seed, task=task)


def run_one(seed: int, task: str) -> dict:
    import torch

    from helpers.pretraining import (
        PretrainingLoss,
        TrainingLog,
        evaluate_tasks,
        init_pretraining_model,
        train_loop,
    )
    from helpers.pretraining_data import PretrainingData
    from helpers.runtime import SHIPPED_CHECKPOINT, quiet
    from helpers.tokenizer import load_tokenizer
    from helpers.training import make_optimizer, warmup_linear_decay

    torch.set_num_threads(1)
    quiet()
    config = live_config(seed, task)
    tokenizer = load_tokenizer(SHIPPED_CHECKPOINT)
    data = PretrainingData(tokenizer, config)
    start = time.perf_counter()
    model = init_pretraining_model(config, tokenizer)
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    scheduler = warmup_linear_decay(optimizer, config.warmup_steps, config.max_steps)
    log = TrainingLog(scheduler, config.log_every, config.max_steps, progress=False)
    train_loop(PretrainingLoss(model), optimizer, scheduler, data.training_batches(),
               config.max_grad_norm, on_step=log)
    scores = evaluate_tasks(model, data, ("sop", "nsp"), max_examples=config.eval_max_examples)
    return {"task": task, "seed": seed, **{k: round(v, 4) for k, v in scores.items()},
            "final_training_mlm_loss": round(log.history[-1]["mlm_loss"], 4),
            "seconds": round(time.perf_counter() - start)}


def main(argv=None) -> dict:
    from helpers.seed_stats import StoredRuns

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tasks", nargs="+", default=["sop", "nsp"], choices=["sop", "nsp"])
    parser.add_argument("--workers", type=int, default=1, help="runs side by side, one thread each")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every run")
    args = parser.parse_args(argv)
    runs = StoredRuns(args.out, "python benchmarks/pretrain_seeds.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]), runs=f"{max(1, args.workers)} at a time, one torch thread each")
    done = runs.done("task", "seed")
    todo = [(seed, task) for task in args.tasks for seed in args.seeds if (task, seed) not in done]
    with ProcessPoolExecutor(max(1, args.workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for row in pool.map(run_one, *zip(*todo, strict=True)) if todo else []:
            runs.add(row)
    return runs.record


if __name__ == "__main__":
    main()
