"""Progress bars leave one summary line; wrapping an iterable yields every item once."""

from helpers.progress import ProgressBar


def test_a_finished_bar_prints_one_summary_line(capsys):
    bar = ProgressBar(3, "train")
    for _ in range(3):
        bar.update()
    line = bar.close("loss 0.500")
    assert line.startswith("train: 3 steps in ") and line.endswith(", loss 0.500")
    assert capsys.readouterr().out == line + "\n"


def test_wrapping_an_iterable_counts_its_items(capsys):
    bar = ProgressBar(desc="epoch 1/1", iterable=range(5), unit="batch")
    assert list(bar) == [0, 1, 2, 3, 4]
    assert bar.close().startswith("epoch 1/1: 5 batches in ")


def test_a_disabled_bar_prints_nothing_but_returns_its_summary(capsys):
    bar = ProgressBar(desc="quiet", iterable=[1, 2], disable=True)
    assert list(bar) == [1, 2]
    assert bar.close("done").startswith("quiet: 2 steps in ")
    assert capsys.readouterr().out == ""
