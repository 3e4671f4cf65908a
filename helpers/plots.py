"""Small plotting helpers shared by the notebooks (matplotlib only).

Each function draws into ``ax`` when one is given (so figures can be composed) and otherwise
makes its own figure; each returns the ``Axes`` it drew on. Call ``plt.show()`` in the notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from helpers.encoder_variants import VariantResult


def _axes(ax=None, figsize=(5, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str],
                          ax=None, title: str | None = None, cmap: str = "Blues"):
    """Counts of (true, predicted) pairs, with each cell's count and share of its true row."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = len(label_names)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    ax = _axes(ax, figsize=(4, 3.5))
    ax.imshow(matrix, cmap=cmap)
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(k):
        for j in range(k):
            dark = matrix[i, j] > matrix.max() / 2
            ax.text(j, i, f"{matrix[i, j]}\n({matrix[i, j] / rows[i, 0]:.0%})", ha="center",
                    va="center", color="white" if dark else "black")
    ax.set_xticks(range(k), label_names)
    ax.set_yticks(range(k), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax


def _reference_line(ax, level: float, name: str) -> None:
    """A dashed grey level across the axes, labelled at its left end (e.g. a baseline)."""
    ax.axhline(level, linestyle="--", color="grey", linewidth=1)
    ax.annotate(name, (0.01, level), xycoords=("axes fraction", "data"), va="bottom",
                fontsize="small", color="grey")


def _parameter_axis(ax, title: str | None = None) -> None:
    """The x axis of a loss-vs-parameters panel: log scale, room for labels, grid, titles."""
    ax.set_xscale("log")
    ax.margins(x=0.2)  # room for the labels of the outermost points
    ax.set_xlabel("encoder parameters (log scale)")
    ax.set_ylabel("held-out MLM loss after training")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], xlabel: str,
                ylabel: str, ax=None, logx: bool = False, hlines: Mapping[str, float] | None = None,
                title: str | None = None, marker: str = "o"):
    """One line per named ``(x, y)`` series, optional dashed reference levels (e.g. a baseline)."""
    ax = _axes(ax)
    for name, (x, y) in curves.items():
        ax.plot(x, y, marker=marker, label=name)
    for name, level in (hlines or {}).items():
        _reference_line(ax, level, name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_label_efficiency(points: Mapping[str, Mapping[int, float]], ax=None,
                          hlines: Mapping[str, float] | None = None, title: str | None = None,
                          errors: Mapping[str, Mapping[int, float]] | None = None,
                          ylabel: str = "test accuracy"):
    """Accuracy against the number of training labels (log scale), one line per model.

    ``errors`` (model name -> {labels: standard error}) draws error bars on those lines.
    """
    curves = {name: (sorted(p), [p[n] for n in sorted(p)]) for name, p in points.items()}
    ax = plot_curves(curves, "training labels (log scale)", ylabel, ax=ax, logx=True,
                     hlines=hlines, title=title)
    for line, name in zip(ax.lines, curves, strict=False):
        if errors and name in errors:
            sizes = sorted(errors[name])
            ax.errorbar(sizes, [points[name][n] for n in sizes], yerr=[errors[name][n] for n in sizes],
                        fmt="none", color=line.get_color(), capsize=3)
    sizes = sorted({n for p in points.values() for n in p})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    return ax


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, float]]],
                   keys: Sequence[str] = ("train_loss", "val_accuracy"), axes=None,
                   title: str | None = None,
                   stored: Mapping[str, Sequence[Sequence[Mapping[str, float]]]] | None = None):
    """Per-epoch records (e.g. from ``train_classifier``), one panel per key, one line per run.

    With ``stored`` (name -> one per-epoch history per seed, e.g. the rows of
    ``benchmarks/finetune_gain.py --history``), each panel shows the seeds' mean with standard-error
    bars per stored name, and ``histories`` (a live run, possibly only its first epochs) as crosses
    on top in the same colour.
    """
    from helpers.seed_stats import mean_se

    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, keys, strict=True):
        if stored is None:
            curves = {name: ([r["epoch"] for r in h], [r[key] for r in h])
                      for name, h in histories.items()}
            plot_curves(curves, "epoch", key.replace("_", " "), ax=ax)
        else:
            for name, runs in stored.items():
                epochs = [r["epoch"] for r in runs[0]]
                stats = [mean_se([run[i][key] for run in runs]) for i in range(len(epochs))]
                line = ax.errorbar(epochs, [m for m, _ in stats], yerr=[se for _, se in stats], marker="o",
                                   markersize=4, capsize=3, label=f"{name} ({len(runs)} seeds, ± SE)")
                if histories.get(name):
                    ax.plot([r["epoch"] for r in histories[name]], [r[key] for r in histories[name]],
                            linestyle="none", marker="x", markersize=9, color=line[0].get_color())
            ax.plot([], [], linestyle="none", marker="x", color="black", label="this run (live)")
            ax.set_xlabel("epoch")
            ax.set_ylabel(key.replace("_", " "))
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_confidence_histogram(confidence: Sequence[float], correct: Sequence[bool], ax=None,
                              bins: int = 10, title: str | None = None):
    """Stacked histogram of the predicted class's probability, split into right and wrong."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    ax = _axes(ax)
    low = 0.5 if confidence.min() >= 0.5 else 0.0  # binary argmax confidence is >= 0.5
    edges = np.linspace(low, 1.0, bins + 1)
    ax.hist([confidence[correct], confidence[~correct]], bins=edges, stacked=True,
            label=["correct", "wrong"], color=["tab:green", "tab:red"])
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("examples")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_heldout_curves(results: Mapping[str, VariantResult], ax=None, reference: float | None = None,
                        skip_first: bool = False):
    """Held-out MLM loss against training steps, one line per variant.

    ``skip_first`` leaves out step 0 (the loss at initialisation): useful when a model starts at
    ln V, which would squash the interesting part of the y axis.
    """
    first = 1 if skip_first else 0
    curves = {name: (r.eval_steps[first:], r.heldout_losses[first:]) for name, r in results.items()}
    hlines = {"unigram (no context)": reference} if reference is not None else None
    return plot_curves(curves, "training step", "held-out MLM loss", ax=ax, hlines=hlines)


def plot_loss_vs_parameters(results: Mapping[str, VariantResult], ax=None, reference: float | None = None,
                            title: str | None = None):
    """Final held-out loss against encoder parameters (log scale), one labelled point per variant."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    for name, r in results.items():
        ax.scatter(r.parameters, r.final_loss, s=40)
        ax.annotate(name, (r.parameters, r.final_loss), textcoords="offset points", xytext=(5, 4),
                    fontsize="small")
    if reference is not None:
        _reference_line(ax, reference, "unigram (no context)")
    _parameter_axis(ax, title)
    return ax


def plot_comparison(results: Mapping[str, VariantResult], reference: float | None = None,
                    title: str = "after the same budget", suptitle: str | None = None,
                    stored: Mapping[str, tuple[Sequence[int], Sequence[float], Sequence[float]]] | None = None,
                    parameters: Mapping[str, int] | None = None, colors: Mapping[str, str] | None = None):
    """The two-panel figure of notebooks 02 and 03: loss curves, and final loss vs parameters.

    With ``stored`` (variant -> eval steps, mean loss, standard error over seeds, from
    :func:`helpers.seed_stats.curves_by_variant`), the curves and the final losses are the stored
    runs' means with error bars, and ``results`` (a live run, possibly a prefix, possibly of only
    some variants) are drawn on the left panel as crosses on top of them. ``parameters`` gives the
    parameter count of a stored variant that has no live result. ``colors`` (variant -> matplotlib
    colour) keeps a variant's colour across figures that show different subsets of variants.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.1), layout="constrained")
    if suptitle:
        fig.suptitle(suptitle)
    if stored is None:
        plot_heldout_curves(results, ax=axes[0], reference=reference)
        plot_loss_vs_parameters(results, ax=axes[1], reference=reference, title=title)
    else:
        sizes = {**(parameters or {}), **{name: r.parameters for name, r in results.items()}}
        for name, (steps, mean, error) in stored.items():
            line = axes[0].errorbar(steps, mean, yerr=error, marker="o", markersize=4, capsize=3, label=name,
                                    color=(colors or {}).get(name))
            if name in results:
                axes[0].plot(results[name].eval_steps, results[name].heldout_losses, linestyle="none",
                             marker="x", markersize=9, color=line[0].get_color())
            axes[1].errorbar(sizes[name], mean[-1], yerr=error[-1], marker="o", capsize=3,
                             color=line[0].get_color())
            axes[1].annotate(name, (sizes[name], mean[-1]), textcoords="offset points", xytext=(5, 4),
                             fontsize="small")
        if results:
            axes[0].plot([], [], linestyle="none", marker="x", color="black", label="this run (live)")
        if reference is not None:
            for ax in axes:
                _reference_line(ax, reference, "unigram (no context)")
        axes[0].grid(alpha=0.3)
        axes[0].set_xlabel("training step")
        axes[0].set_ylabel("held-out MLM loss")
        _parameter_axis(axes[1], title)
        plotted = sorted({sizes[name] for name in stored})
        axes[1].set_xticks(plotted, [f"{n / 1e6:.2f}M" for n in plotted])  # a tick at every point
        axes[1].minorticks_off()
    axes[0].set_title("held-out MLM loss while training")
    axes[0].legend(fontsize="small")
    return fig


def plot_history(history: Sequence[Mapping[str, float]], ax=None, title: str | None = None):
    """Pretraining loss curves (total, MLM, sentence task) against steps."""
    steps = [h["step"] for h in history]
    curves = {label: (steps, [h[key] for h in history])
              for key, label in (("loss", "total"), ("mlm_loss", "MLM"), ("sentence_loss", "sentence task"))
              if history and key in history[0]}
    return plot_curves(curves, "training step", "training loss (nats)", ax=_axes(ax, (6, 3.5)),
                       title=title, marker="")
