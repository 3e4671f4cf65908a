"""Small plotting helpers shared by the notebooks (matplotlib only).

Each function draws into ``ax`` when one is given (so figures can be composed) and otherwise
makes its own figure; each returns the ``Axes`` it drew on. Call ``plt.show()`` in the notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


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


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], xlabel: str,
                ylabel: str, ax=None, logx: bool = False, hlines: Mapping[str, float] | None = None,
                title: str | None = None, marker: str = "o"):
    """One line per named ``(x, y)`` series, optional dashed reference levels (e.g. a baseline)."""
    ax = _axes(ax)
    for name, (x, y) in curves.items():
        ax.plot(x, y, marker=marker, label=name)
    for name, level in (hlines or {}).items():
        ax.axhline(level, linestyle="--", color="grey", linewidth=1)
        ax.annotate(name, (0.01, level), xycoords=("axes fraction", "data"), va="bottom",
                    fontsize="small", color="grey")
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
                          hlines: Mapping[str, float] | None = None, title: str | None = None):
    """Accuracy against the number of training labels (log scale), one line per model."""
    curves = {name: (sorted(p), [p[n] for n in sorted(p)]) for name, p in points.items()}
    ax = plot_curves(curves, "training labels (log scale)", "test accuracy", ax=ax, logx=True,
                     hlines=hlines, title=title)
    sizes = sorted({n for p in points.values() for n in p})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    return ax


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, float]]],
                   keys: Sequence[str] = ("train_loss", "val_accuracy"), axes=None):
    """Per-epoch records (e.g. from ``train_classifier``), one panel per key, one line per run."""
    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, keys, strict=True):
        curves = {name: ([r["epoch"] for r in h], [r[key] for r in h])
                  for name, h in histories.items()}
        plot_curves(curves, "epoch", key.replace("_", " "), ax=ax)
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
