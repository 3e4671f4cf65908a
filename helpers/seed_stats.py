"""Claims that compare trained models rest on several seeds, not one run.

One seeded training run is not reproducible across CPUs, GPUs or thread counts (floating-point
summation order changes the trajectory), so a notebook's live run is one draw from a
distribution. A benchmark command trains the same recipe under many seeds and stores every
result (with the command, machine and wall time) under ``benchmarks/results/``; the notebook
loads that file, states the multi-seed means and differences with standard errors, and checks
its live run against the spread the seeds produced (:func:`tolerance_band`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

from helpers.checkpoints import hardware_summary
from helpers.data import WHEEL_SHA256, split_fingerprint
from helpers.files import write_json
from helpers.runtime import repo_root

RESULTS_DIR = repo_root() / "benchmarks" / "results"


def load_results(name: str) -> dict:
    """A stored multi-seed measurement, ``benchmarks/results/<name>.json``."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no stored measurement {path}: run the command in benchmarks/README.md")
    return json.loads(path.read_text())


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error (sample standard deviation / sqrt(n); 0 for one value)."""
    values = list(values)
    if not values:
        raise ValueError("no values")
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.mean(values), se


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of ``a[i] - b[i]`` (seed by seed) and its standard error."""
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length: {len(a)} and {len(b)}")
    return mean_se([x - y for x, y in zip(a, b, strict=True)])


def curves_by_variant(rows: Sequence[dict], key: str = "heldout_losses") -> dict[str, tuple[list[int], list[float], list[float]]]:
    """Stored runs' curves, per variant: (eval steps, mean over the seeds, standard error) at each step.

    ``rows`` are a variant benchmark's rows (``variant``, ``seed``, ``eval_steps`` and ``key``).
    """
    curves = {}
    for name in dict.fromkeys(r["variant"] for r in rows):
        runs = [r for r in rows if r["variant"] == name]
        steps = runs[0]["eval_steps"]
        if any(r["eval_steps"] != steps for r in runs):
            raise ValueError(f"the stored runs of {name!r} were evaluated at different steps")
        stats = [mean_se([r[key][i] for r in runs]) for i in range(len(steps))]
        curves[name] = (list(steps), [m for m, _ in stats], [e for _, e in stats])
    return curves


def curve_table(rows: Sequence[dict], steps: Sequence[int], reference: float | None = None,
                reference_name: str = "reference", key: str = "heldout_losses"):
    """Stored runs' ``key`` at chosen ``steps``, one line per variant (in the rows' order): the number
    of seeds, the mean over them (with its standard error from two seeds on) at each step, and
    how far the last step's mean lies below ``reference`` (e.g. the context-free loss)."""
    import pandas as pd

    lines = []
    for name, (eval_steps, means, errors) in curves_by_variant(rows, key).items():
        seeds = sum(r["variant"] == name for r in rows)
        missing = sorted(set(steps) - set(eval_steps))
        if missing:
            raise ValueError(f"the stored runs of {name!r} were not evaluated at steps {missing}")
        at = [eval_steps.index(step) for step in steps]
        line = {"variant": name, "seeds": seeds}
        line |= {f"step {step:,}": f"{means[i]:.3f} ± {errors[i]:.3f}" if seeds > 1 else f"{means[i]:.3f}"
                 for step, i in zip(steps, at, strict=True)}
        if reference is not None:
            line[f"below {reference_name}"] = round(reference - means[at[-1]], 3)
        lines.append(line)
    return pd.DataFrame(lines).set_index("variant")


def bootstrap_ratio(numerators: Sequence[float], denominators: Sequence[float] | None = None,
                    draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """``sum(numerators) / sum(denominators)`` and its bootstrap standard error.

    One entry per held-out unit (an example, a block): the units are resampled with replacement
    ``draws`` times. Accuracy is ``bootstrap_ratio(correct)``; a mean token loss is
    ``bootstrap_ratio(summed_loss, token_count)``. The error covers *which* held-out text was
    drawn, not the training seed.
    """
    top = np.asarray(numerators, dtype=np.float64)
    bottom = np.ones_like(top) if denominators is None else np.asarray(denominators, dtype=np.float64)
    if top.shape != bottom.shape or top.ndim != 1 or not len(top):
        raise ValueError(f"need two equal-length, non-empty 1-d sequences, got {top.shape} and {bottom.shape}")
    picks = np.random.default_rng(seed).integers(0, len(top), size=(draws, len(top)))
    resampled = top[picks].sum(axis=1) / bottom[picks].sum(axis=1)
    return float(top.sum() / bottom.sum()), float(resampled.std(ddof=1))


def tolerance_band(values: Sequence[float], false_alarm: float = 1e-3) -> tuple[float, float]:
    """Where one more seeded run is expected to land: a prediction interval from the seeds.

    ``mean +- t * sd * sqrt(1 + 1/n)``, with ``sd`` the seeds' sample standard deviation and ``t``
    Student's t quantile for ``n - 1`` degrees of freedom: if the results are roughly normal, a
    new run of the same recipe falls outside with probability ``false_alarm`` (1 in 1,000),
    however few the seeds. Few seeds know little about the spread, so their band is wide: about
    mean +- 5.0 sd for 10 seeds, 9.4 sd for 5 and 36 sd for 3. A check against it fails when
    the behaviour changes, and only rarely because the seed or the CPU did.
    """
    values = list(values)
    if len(values) < 3:
        raise ValueError("a band needs at least three seeds")
    n = len(values)
    mean, sd = statistics.mean(values), statistics.stdev(values)
    half_width = float(stats.t.ppf(1 - false_alarm / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
    return mean - half_width, mean + half_width


def check_live_steps(results, rows: Sequence[dict], false_alarm: float = 1e-3) -> int:
    """Fail unless every live evaluation lies within the stored seeds' band at the same step.

    ``results`` maps variant names to live results (``eval_steps``, ``heldout_losses``; a prefix
    of the stored runs is fine); ``rows`` are the stored runs. Each live loss at a step the stored
    runs also evaluated must lie within :func:`tolerance_band` of the stored losses there. Returns
    how many evaluations were checked.
    """
    checked = 0
    for name, result in results.items():
        runs = [r for r in rows if r["variant"] == name]
        if not runs:
            raise ValueError(f"no stored runs of {name!r}")
        for step, loss in zip(result.eval_steps, result.heldout_losses, strict=True):
            if step not in runs[0]["eval_steps"]:
                continue
            at = runs[0]["eval_steps"].index(step)
            low, high = tolerance_band([r["heldout_losses"][at] for r in runs], false_alarm)
            if not low < loss < high:
                raise AssertionError(f"this run's {name} at step {step}: {loss:.3f}, outside the stored "
                                     f"seeds' band [{low:.3f}, {high:.3f}]")
            checked += 1
    return checked


def stored_rows(record: dict) -> list[dict]:
    """A results file's rows, each with the machine it ran on (rows stored before rows carried
    their own machine take the file's, the one machine all its runs had then)."""
    return [{**row, "machine": row.get("machine", record.get("machine"))} for row in record.get("rows", [])]


class StoredRuns:
    """A benchmark's results file: every run so far, with the command, machine and wall time.

    ``add`` appends one run and rewrites the file atomically, so an interrupted benchmark loses at
    most the runs in flight; started again with the same ``path`` it skips the runs already there
    (see ``done``). ``path=None`` keeps the runs in memory only.
    """

    def __init__(self, path: str | Path | None, command: str,
                 runs: str = "one at a time", data: tuple[str, str] | None = None):
        """``data``: (sha256 of the data archive, split fingerprint); default the English
        sentiment data's (``helpers.data``); notebook 06 passes ``helpers.chinese_data``'s."""
        self.path = None if path is None else Path(path)
        stored = json.loads(self.path.read_text()) if self.path and self.path.exists() else {}
        data_sha256, split = data or (WHEEL_SHA256, split_fingerprint())
        if stored and stored.get("split") != split:
            raise ValueError(
                f"{self.path} holds runs measured on another data split (split {stored.get('split')}, "
                f"this checkout's is {split}); results of two splits must not be mixed. Move the "
                f"file aside (or pass another --out) and run again.")
        self.machine = hardware_summary()
        self.record = {"command": command, "machine": self.machine, "runs": runs,
                       "data_sha256": data_sha256, "split": split,
                       "wall_seconds": stored.get("wall_seconds", 0), "rows": stored_rows(stored)}
        self._counted_until = time.perf_counter()

    @property
    def rows(self) -> list[dict]:
        return self.record["rows"]

    def done(self, *keys: str) -> set[tuple]:
        """The ``keys`` values of every stored run (what a resumed benchmark skips)."""
        return {tuple(row[key] for key in keys) for row in self.rows}

    def add(self, row: dict) -> None:
        """Store one run, with the machine it ran on (a file may gather runs of several machines)."""
        self._keep_stored_rows()
        row = {**row, "machine": self.machine}
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        self._write()

    def _keep_stored_rows(self) -> None:
        """Rows (and wall time) another command stored in the same file since this one read it: kept,
        not overwritten (two commands may train different variants into one file side by side)."""
        if self.path is not None and self.path.exists():
            stored = json.loads(self.path.read_text())
            self.record["wall_seconds"] = max(self.record["wall_seconds"], stored.get("wall_seconds", 0))
            for row in stored_rows(stored):
                if row not in self.rows:
                    self.rows.append(row)

    def run_all(self, run: Callable[..., dict], tasks: list, workers: int = 1) -> None:
        """``run(task, threads)`` for every task, each row added as it arrives.

        With ``workers`` > 1 the runs go side by side in fresh ("spawn") interpreters at one torch
        thread each, so they do not contend; otherwise here, one after another, with torch's own
        thread count."""
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for row in pool.map(run, tasks, [1] * len(tasks)):
                    self.add(row)
        else:
            for task in tasks:
                self.add(run(task))

    def save(self) -> None:
        """Write the record (atomically), this command's wall time since the last save added to the
        file's: with two commands on one file it is the sum of their wall times."""
        self._keep_stored_rows()
        self._write()

    def _write(self) -> None:
        """``save`` once the other commands' rows and wall time are in (``add`` has just read them)."""
        now = time.perf_counter()
        self.record["wall_seconds"] = round(self.record["wall_seconds"] + now - self._counted_until)
        self._counted_until = now
        if self.path is not None:
            write_json(self.path, self.record)
