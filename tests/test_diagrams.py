import matplotlib

matplotlib.use("Agg")

from helpers.diagrams import draw_bert_vs_albert  # noqa: E402


def test_diagram_names_the_three_changes():
    fig = draw_bert_vs_albert(hidden=768, embedding=128, layers=12)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "E = 128" in texts and "applied 12 times" in texts and "SOP" in texts and "NSP" in texts
    matplotlib.pyplot.close(fig)
