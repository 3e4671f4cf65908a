"""Official BERT and ALBERT configurations, exact parameter counts and FLOPs per token.

Everything here is computed from ``transformers`` configs with random (or no) weights: no
download. Models are built on the ``meta`` device for counting, which allocates no memory, so
even BERT-large and ALBERT-xxlarge count in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel

from helpers.albert import ScratchAlbertModel

# Paper Table 1 (arXiv:1909.11942v6): the parameter counts the paper prints.
PAPER_PARAMS = {
    "BERT-base": 108e6,
    "BERT-large": 334e6,
    "ALBERT-base": 12e6,
    "ALBERT-large": 18e6,
    "ALBERT-xlarge": 60e6,
    "ALBERT-xxlarge": 235e6,
}

# Paper Table 2: training data throughput relative to BERT-large (same TPUs).
PAPER_SPEEDUP = {
    "BERT-base": 4.7,
    "BERT-large": 1.0,
    "ALBERT-base": 5.6,
    "ALBERT-large": 1.7,
    "ALBERT-xlarge": 0.6,
    "ALBERT-xxlarge": 0.3,
}

_ALBERT_SHAPES = {  # (layers, hidden, heads) as in the released v2 configs
    "ALBERT-base": (12, 768, 12),
    "ALBERT-large": (24, 1024, 16),
    "ALBERT-xlarge": (24, 2048, 16),  # H/64 would give 32 heads; the release uses 16
    "ALBERT-xxlarge": (12, 4096, 64),
}
_BERT_SHAPES = {"BERT-base": (12, 768, 12), "BERT-large": (24, 1024, 16)}

PRESET_NAMES = list(PAPER_PARAMS)


def albert_config(name: str, **overrides) -> AlbertConfig:
    """The released ALBERT v2 configuration ``name`` (e.g. "ALBERT-base"), E = 128, V = 30,000."""
    layers, hidden, heads = _ALBERT_SHAPES[name]
    settings = dict(vocab_size=30000, embedding_size=128, hidden_size=hidden,
                    num_hidden_layers=layers, num_attention_heads=heads,
                    intermediate_size=4 * hidden, hidden_act="gelu_new",
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    max_position_embeddings=512, type_vocab_size=2)
    settings.update(overrides)
    return AlbertConfig(**settings)


def bert_config(name: str, vocab_size: int = 30522, **overrides) -> BertConfig:
    """The released BERT (uncased) configuration; the ALBERT paper's baselines used V = 30,000."""
    layers, hidden, heads = _BERT_SHAPES[name]
    settings = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                    num_attention_heads=heads, intermediate_size=4 * hidden, hidden_act="gelu",
                    max_position_embeddings=512, type_vocab_size=2)
    settings.update(overrides)
    return BertConfig(**settings)


def preset_config(name: str, **overrides):
    """Any name in ``PRESET_NAMES``: a ``BertConfig`` or an ``AlbertConfig``."""
    if name in _BERT_SHAPES:
        return bert_config(name, **overrides)
    if name in _ALBERT_SHAPES:
        return albert_config(name, **overrides)
    raise ValueError(f"unknown preset {name!r}; choose one of {PRESET_NAMES}")


def build_model(config, device: str | torch.device = "meta"):
    """An ``AlbertModel`` or ``BertModel`` with random weights (on ``meta``: no memory at all)."""
    model_class = AlbertModel if isinstance(config, AlbertConfig) else BertModel
    with torch.device(device):
        return model_class(config)


def count_parameters(module: torch.nn.Module) -> int:
    """Distinct parameters (a shared or tied tensor counts once, as in the checkpoint file)."""
    return sum(p.numel() for p in module.parameters())


@dataclass(frozen=True)
class ParameterBreakdown:
    embeddings: int
    encoder: int
    pooler: int

    @property
    def total(self) -> int:
        return self.embeddings + self.encoder + self.pooler


def parameter_breakdown(model: torch.nn.Module) -> ParameterBreakdown:
    """Split an ``AlbertModel``/``BertModel`` count into embeddings, encoder and pooler.

    For ALBERT the encoder includes the E -> H projection (``embedding_hidden_mapping_in``).
    """
    pooler = model.pooler if getattr(model, "pooler", None) is not None else None
    return ParameterBreakdown(
        embeddings=count_parameters(model.embeddings),
        encoder=count_parameters(model.encoder),
        pooler=count_parameters(pooler) if pooler is not None else 0,
    )


def unshared_parameters(config: AlbertConfig) -> int:
    """What an ALBERT config would hold if every layer had its own weights."""
    unshared = AlbertConfig(**{**config.to_dict(), "num_hidden_groups": config.num_hidden_layers})
    return count_parameters(build_model(unshared))


def flops_per_token(config, seq_len: int) -> int:
    """Forward FLOPs per token of the encoder (a multiply-add counts as 2 FLOPs).

    Counts the matrix products: Q, K, V and output projections (4 H^2), the FFN (2 H F), the
    attention scores and weighted sum (2 * seq_len * H each), the E -> H projection for ALBERT.
    Sharing does not appear anywhere: a shared layer is still *run* L times.
    """
    hidden, ffn = config.hidden_size, config.intermediate_size
    depth = config.num_hidden_layers * getattr(config, "inner_group_num", 1)
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 2 * 2 * seq_len * hidden
    projection = 2 * config.embedding_size * hidden if isinstance(config, AlbertConfig) else 0
    return depth * per_layer + projection


def checkpoint_megabytes(n_parameters: int, bytes_per_parameter: int = 4) -> float:
    """Size of a float32 ``model.safetensors`` holding ``n_parameters`` (header ignored)."""
    return n_parameters * bytes_per_parameter / 1e6


# Paper parameter columns (arXiv:1909.11942v6), ALBERT-base shape (L = 12, H = 768, V = 30,000).
# Keys: (sharing strategy, E) -> millions as printed.
PAPER_TABLE_3 = {("not-shared", 64): 87, ("not-shared", 128): 89, ("not-shared", 256): 93,
                 ("not-shared", 768): 108, ("all-shared", 64): 10, ("all-shared", 128): 12,
                 ("all-shared", 256): 16, ("all-shared", 768): 31}
PAPER_TABLE_4 = {("all-shared", 768): 31, ("shared-attention", 768): 83, ("shared-ffn", 768): 57,
                 ("not-shared", 768): 108, ("all-shared", 128): 12, ("shared-attention", 128): 64,
                 ("shared-ffn", 128): 38, ("not-shared", 128): 89}


def paper_parameter_table(paper: Mapping[tuple[str, int], int]):
    """Exact counts for the paper's ablation rows next to the figure the paper prints.

    Each model is ALBERT-base with embedding size E and the row's sharing, built on the ``meta``
    device (no memory). As in the official TF code there is no E -> H projection when E == H.
    The paper does not say whether its counts include the pooler (H^2 + H = 590,592), so both
    are shown, rounded to millions, with the convention(s) that reproduce the paper's figure.
    """
    rows = []
    for (sharing, embedding_size), printed in paper.items():
        with torch.device("meta"):
            model = ScratchAlbertModel(albert_config("ALBERT-base", embedding_size=embedding_size),
                                       sharing=sharing, always_project=False)
        total = count_parameters(model)
        without_pooler = total - count_parameters(model.pooler)
        matches = [name for name, count in (("with pooler", total), ("without pooler", without_pooler))
                   if round(count / 1e6) == printed]
        rows.append({"sharing": sharing, "E": embedding_size, "parameters": total,
                     "without pooler": without_pooler, "paper (M)": printed,
                     "paper = rounded count": " and ".join(matches) or "no"})
    return pd.DataFrame(rows)


def show_counts(frame, columns: Sequence[str] = ("parameters", "without pooler")) -> str:
    """``frame`` as plain text, thousands separators in the count columns (stable for nbval)."""
    return frame.to_string(index=False, formatters={c: "{:,}".format for c in columns if c in frame})
