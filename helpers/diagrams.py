"""Block diagrams drawn with matplotlib (no image files to keep in sync with the text)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

_SHARED = "#dbe9f6"  # what BERT and ALBERT have in common
_CHANGED = "#f9d9b9"  # where the two differ


def _box(ax, x, y, text, color, width=3.6, height=0.62):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.04", facecolor=color, edgecolor="#333333"))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, x, y_from, y_to):
    ax.annotate("", xy=(x, y_to + 0.34), xytext=(x, y_from - 0.34),
                arrowprops=dict(arrowstyle="->", color="#333333"))


def draw_bert_vs_albert(hidden: int = 768, embedding: int = 128, layers: int = 12,
                        title: str | None = None):
    """BERT and ALBERT side by side; orange boxes are where they differ. Returns the figure."""
    fig, ax = plt.subplots(figsize=(9.5, 6.2))
    columns = {
        "BERT": [
            (f"embeddings (H = {hidden}): token V x H,\nposition 512 x H, segment 2 x H", _CHANGED),
            ("sum, LayerNorm", _SHARED),
            ("(no projection: E = H)", "white"),
            (f"{layers} encoder layers, each with its OWN weights\n"
             "self-attention -> add & LN -> FFN (GELU) -> add & LN", _CHANGED),
            ("pooler: tanh(W h[CLS])", _SHARED),
            ("MLM head (H -> H -> V, tied to token embeddings)\n"
             "+ NSP head (is segment B from another document?)", _CHANGED),
        ],
        "ALBERT": [
            (f"embeddings (E = {embedding}): token V x E,\nposition 512 x E, segment 2 x E", _CHANGED),
            ("sum, LayerNorm", _SHARED),
            (f"projection E -> H  ({embedding} -> {hidden})", _CHANGED),
            (f"ONE encoder layer, applied {layers} times (shared)\n"
             "self-attention -> add & LN -> FFN (GELU, tanh) -> add & LN", _CHANGED),
            ("pooler: tanh(W h[CLS])", _SHARED),
            ("MLM head (H -> E -> V, tied to token embeddings)\n"
             "+ SOP head (were the two segments swapped?)", _CHANGED),
        ],
    }
    for x, (title, boxes) in zip((2.2, 7.0), columns.items(), strict=True):
        ax.text(x, 7.0, title, ha="center", fontsize=13, weight="bold")
        ys = [6.2 - 1.15 * i for i in range(len(boxes))]
        for (text, color), y in zip(boxes, ys, strict=True):
            _box(ax, x, y, text, color, width=4.3, height=0.8)
        for y_from, y_to in zip(ys, ys[1:], strict=False):
            _arrow(ax, x, y_from, y_to)
    ax.text(4.6, -0.45, "blue: identical in both  |  orange: where they differ  |  white: absent  |  "
            "both: absolute learned positions, post-LN, encoder only", ha="center", fontsize=8.5)
    ax.set_xlim(-0.2, 9.4)
    ax.set_ylim(-0.8, 7.4)
    ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
