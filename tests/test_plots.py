"""helpers.plots: each helper draws what it says and returns its Axes (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_confusion_matrix_counts_and_row_shares():
    ax = plots.plot_confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ["negative", "positive"],
                                     title="test")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1\n(50%)", "1\n(50%)", "1\n(33%)", "2\n(67%)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["negative", "positive"]
    assert ax.get_title() == "test"


def test_plot_curves_draws_lines_and_reference_levels():
    _, ax = plt.subplots()
    out = plots.plot_curves({"a": ([1, 2, 3], [0.1, 0.2, 0.3]), "b": ([1, 2], [0.3, 0.1])},
                            "x", "y", ax=ax, logx=True, hlines={"baseline": 0.2})
    assert out is ax
    assert len(ax.get_lines()) == 3  # two series + one reference line
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_label_efficiency_ticks_at_the_label_counts():
    points = {"pretrained": {100: 0.6, 1000: 0.7, 10197: 0.78}, "scratch": {100: 0.5, 1000: 0.55}}
    ax = plots.plot_label_efficiency(points, hlines={"majority": 0.52})
    assert list(ax.get_xticks()) == [100, 1000, 10197]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "1,000", "10,197"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.6, 0.7, 0.78])


def test_histories_one_panel_per_key():
    history = [{"epoch": 1, "train_loss": 0.7, "val_accuracy": 0.6},
               {"epoch": 2, "train_loss": 0.5, "val_accuracy": 0.7}]
    axes = plots.plot_histories({"run": history})
    assert len(axes) == 2
    assert axes[0].get_ylabel() == "train loss" and axes[1].get_ylabel() == "val accuracy"
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [0.6, 0.7])


def test_histories_with_stored_seeds_draw_means_and_live_crosses():
    seeds = [[{"epoch": e, "train_loss": 1.0 / e + d, "val_accuracy": 0.5 + e / 10 + d} for e in (1, 2, 3)]
             for d in (0.0, 0.02)]
    live = [{"epoch": 1, "train_loss": 1.01, "val_accuracy": 0.61}]  # a live first epoch only
    axes = plots.plot_histories({"pretrained": live}, stored={"pretrained": seeds, "scratch": seeds})
    errorbars = axes[1].containers
    assert len(errorbars) == 2  # one per stored name
    np.testing.assert_allclose(np.asarray(errorbars[0].lines[0].get_ydata(), dtype=float), [0.61, 0.71, 0.81])
    crosses = [line for line in axes[1].get_lines() if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [1]
    assert crosses[0].get_color() == errorbars[0].lines[0].get_color()
    assert "pretrained (2 seeds, ± SE)" in [t.get_text() for t in axes[1].get_legend().get_texts()]


def test_confidence_histogram_splits_right_and_wrong():
    confidence = [0.55, 0.6, 0.9, 0.95, 0.99]
    correct = [False, True, True, True, False]
    ax = plots.plot_confidence_histogram(confidence, correct, bins=5)
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == len(confidence)  # stacked bars: every example counted once
    assert ax.get_xlim()[0] >= 0.5 - 0.05  # argmax confidence of 2 classes starts at 0.5


def test_label_efficiency_draws_error_bars_for_named_lines():
    points = {"a": {100: 0.6, 1000: 0.7}, "b": {100: 0.55, 1000: 0.65}}
    ax = plots.plot_label_efficiency(points, errors={"a": {100: 0.01, 1000: 0.02}})
    assert len(ax.containers) == 1  # one errorbar container, for "a" only
    assert ax.get_ylabel() == "test accuracy"


def test_histories_have_whole_epoch_ticks_and_a_title():
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_accuracy": 0.5 + e / 10} for e in (1, 2, 3)]
    axes = plots.plot_histories({"run": history}, title="Figure 1: t")
    axes[0].figure.canvas.draw()
    assert all(float(t).is_integer() for t in axes[0].get_xticks())
    assert axes[0].figure.get_suptitle() == "Figure 1: t"


def test_pretraining_history_plot_labels_every_loss():
    history = [{"step": s, "loss": 7.0 - s / 100, "mlm_loss": 6.0, "sentence_loss": 0.7} for s in (25, 50)]
    ax = plots.plot_history(history, title="Figure 1: live run")
    assert [line.get_label() for line in ax.lines] == ["total", "MLM", "sentence task"]
    assert ax.get_title() == "Figure 1: live run" and ax.get_xlabel() == "training step"
