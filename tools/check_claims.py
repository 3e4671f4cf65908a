"""Do the notebooks' claims hold under other seeds and thread counts?

A notebook's live training run is one draw: another seed, or the same seed on another CPU (whose
floating-point sums run in another order), trains another model. Its claims must hold for any
such draw, and the outputs nbval compares must not change at all. This command runs strict
``pytest --nbval`` over the notebooks once per combination of training seed (``$ALBERT_SEED``,
read by ``helpers.runtime.training_seed``) and CPU thread count (``$ALBERT_THREADS``, applied by
``setup_notebook`` and by the variant runs of notebooks 02 and 03), one combination after
another, and prints one line per combination. ``--out`` stores the outcome with the command,
machine and wall time (resumable: a combination already stored is not run again).

    python tools/check_claims.py --seeds 0 1 2 --threads 1 2 --out benchmarks/results/claim_checks.json
    python tools/check_claims.py --pairs 1:1 2:2 --out benchmarks/results/claim_checks.json  # chosen pairs
    python tools/check_claims.py --seeds 3 --threads 1 --notebooks notebooks/05_sentiment_finetuning.ipynb

Exit status 1 if any combination failed; its pytest output is kept under ``runs/claim_checks/``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NBVAL_ARGS = ["--nbval", "--nbval-current-env", "--nbval-cell-timeout=600",
              "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider", "-q"]


def run_combination(notebooks: list[str], seed: int, threads: int, log_dir: Path) -> dict:
    """Strict nbval over ``notebooks`` with this seed and thread count; counts and seconds."""
    env = {**os.environ, "ALBERT_SEED": str(seed), "ALBERT_THREADS": str(threads)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", *notebooks, *NBVAL_ARGS], cwd=ROOT, env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = round(time.perf_counter() - start)
    counts = {word: int(number) for number, word in
              re.findall(r"(\d+) (passed|failed|error|errors|skipped)", result.stdout.splitlines()[-1]
                         if result.stdout.strip() else "")}
    log = log_dir / f"seed{seed}-threads{threads}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.stdout + result.stderr)
    return {"seed": seed, "threads": threads, "passed": counts.get("passed", 0),
            "failed": counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0),
            "exit_code": result.returncode, "seconds": seconds,
            "log": str(log.relative_to(ROOT))}


def main(argv=None) -> int:
    from helpers.seed_stats import StoredRuns

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pairs", nargs="+", default=None, metavar="SEED:THREADS",
                        help="run these seed:threads pairs instead of every seed with every thread count")
    parser.add_argument("--notebooks", nargs="+", default=None, help="default: every notebook")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every combination")
    args = parser.parse_args(argv)
    try:
        pairs = ([tuple(int(part) for part in pair.split(":")) for pair in args.pairs] if args.pairs
                 else [(seed, threads) for seed in args.seeds for threads in args.threads])
    except ValueError:
        parser.error(f"--pairs takes SEED:THREADS, e.g. 1:2, got {' '.join(args.pairs)}")
    if any(len(pair) != 2 or pair[0] < 0 or pair[1] < 1 for pair in pairs):
        parser.error("seeds must be >= 0 and thread counts >= 1 (--pairs takes SEED:THREADS)")
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    missing = [n for n in notebooks if not (ROOT / n).exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)} (paths are relative to {ROOT})")

    command = "python tools/check_claims.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    runs = StoredRuns(args.out, command, runs="one combination at a time")
    runs.record["notebooks"] = notebooks
    done = runs.done("seed", "threads")
    for seed, threads in pairs:
        if (seed, threads) not in done:
            runs.add(run_combination(notebooks, seed, threads, ROOT / "runs" / "claim_checks"))
    failed = [r for r in runs.rows if r["exit_code"] != 0]
    for row in runs.rows:
        print(f"seed {row['seed']}, {row['threads']} thread(s): {row['passed']} passed, "
              f"{row['failed']} failed ({row['seconds']} s)")
    print("every combination passed" if not failed else f"{len(failed)} combination(s) failed: see their logs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
