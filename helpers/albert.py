"""ALBERT written from scratch in plain PyTorch, with the parameter names of transformers.

The encoder, top to bottom (Lan et al. 2020, §3.1; official ``modeling.py``):

1. **Embeddings** of width E: token + absolute position + segment, summed, then LayerNorm.
2. **E -> H projection** (``embedding_hidden_mapping_in``): the factorized embedding.
3. **L layers**, each post-LN: multi-head self-attention + residual + LayerNorm, then a
   feed-forward network (FFN) + residual + LayerNorm. *Cross-layer sharing* decides which layers
   hold the same weights: in PyTorch, sharing simply means registering the *same module object*
   in several places.
4. **Pooler**: tanh(W h_[CLS] + b), the input of sentence-level heads.

BERT is the same code with E = H, no projection (``always_project=False``) and no sharing.

Every parameter has the name it has in ``transformers.AlbertModel``, so weights move both ways
with ``load_state_dict(..., strict=True)`` for every configuration transformers can express.
The paper's Table 4 strategies that transformers cannot express ("shared-attention",
"shared-FFN") are extra ``sharing`` options here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AlbertConfig

SHARING_STRATEGIES = ("all-shared", "not-shared", "shared-attention", "shared-ffn")


ACTIVATIONS = {
    "gelu_new": partial(F.gelu, approximate="tanh"),  # the released v2 models; the TF code's gelu
    "gelu": F.gelu,  # exact (erf) GELU: BERT and the v1 configs on the Hub
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
}


def group_of_layer(layer_index: int, num_layers: int, num_groups: int) -> int:
    """Which weight group layer ``layer_index`` uses (the formula of transformers and the TF code).

    Groups are contiguous blocks: 12 layers in 3 groups use groups 0,0,0,0,1,1,1,1,2,2,2,2.
    The official TF code writes ``int(layer_index / num_layers * num_groups)``; in floating point
    that differs from transformers' form in rare shapes (22 layers in 22 groups: layer 15 -> group
    14), never for 6, 12, 24 or 48 layers. We follow transformers, whose weights we load.
    """
    return int(layer_index / (num_layers / num_groups))


def resolve_sharing(config: AlbertConfig, sharing: str | None) -> tuple[int, str | None]:
    """Check ``config`` and ``sharing``; return (number of layer groups, strategy or None).

    ``sharing=None`` follows ``config.num_hidden_groups`` and ``config.inner_group_num`` exactly as
    transformers does. A named strategy decides the grouping itself.
    """
    hidden, heads = config.hidden_size, config.num_attention_heads
    layers, groups, inner = config.num_hidden_layers, config.num_hidden_groups, config.inner_group_num
    if heads < 1 or hidden % heads:
        raise ValueError(f"hidden_size ({hidden}) must be divisible by num_attention_heads ({heads}); "
                         f"pick e.g. num_attention_heads={max(1, hidden // 64)} (head size 64).")
    if layers < 1 or groups < 1 or inner < 1:
        raise ValueError("num_hidden_layers, num_hidden_groups and inner_group_num must all be >= 1 "
                         f"(got {layers}, {groups}, {inner}).")
    if groups > layers:
        raise ValueError(f"num_hidden_groups ({groups}) is larger than num_hidden_layers ({layers}): "
                         f"some groups would never run. Use at most {layers} groups.")
    if config.hidden_act not in ACTIVATIONS:
        raise ValueError(f"hidden_act {config.hidden_act!r} is not implemented; use one of {list(ACTIVATIONS)}.")
    if sharing is None:
        return groups, None
    if sharing not in SHARING_STRATEGIES:
        raise ValueError(f"unknown sharing strategy {sharing!r}; use None (follow the config's "
                         f"num_hidden_groups) or one of {SHARING_STRATEGIES}.")
    wanted = 1 if sharing == "all-shared" else layers
    if inner != 1 or groups not in (1, wanted):
        raise ValueError(f"sharing={sharing!r} sets the layer groups itself: leave num_hidden_groups "
                         f"and inner_group_num at 1 (got {groups} and {inner}), or pass sharing=None.")
    return wanted, sharing


class Embeddings(nn.Module):
    """Token + absolute position + segment embeddings (each E wide), summed, then LayerNorm."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        E = config.embedding_size
        self.word_embeddings = nn.Embedding(config.vocab_size, E, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, E)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, E)
        self.LayerNorm = nn.LayerNorm(E, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        if seq_len > self.position_embeddings.num_embeddings:
            raise ValueError(f"sequence of {seq_len} tokens is longer than max_position_embeddings "
                             f"({self.position_embeddings.num_embeddings}); truncate the input.")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(seq_len, device=input_ids.device)  # absolute, learned
        summed = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
                  + self.position_embeddings(positions))  # (B, T, E): broadcast over the batch
        return self.dropout(self.LayerNorm(summed))


class SelfAttention(nn.Module):
    """Multi-head self-attention, then dropout, residual and LayerNorm (post-LN, as BERT)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        H = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_size = H // self.num_heads
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.dense = nn.Linear(H, H)  # mixes the heads back together
        self.LayerNorm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.attention_dropout = config.attention_probs_dropout_prob
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, heads, T, H / heads)."""
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None = None,
                attentions: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``keep``: boolean (B, 1, 1, T), True where a key may be attended to (not padding).

        ``attentions``: a list to append this layer's attention probabilities (B, heads, T, T) to.
        """
        q, k, v = (self.split_heads(proj(hidden)) for proj in (self.query, self.key, self.value))
        dropout_p = self.attention_dropout if self.training else 0.0
        if attentions is None:
            # softmax(q k^T / sqrt(d)) v per head; SDPA picks a fused kernel when one is available.
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout_p)
        else:  # SDPA does not return the probabilities: the same computation, written out
            scores = q @ k.transpose(-2, -1) * self.head_size**-0.5
            if keep is not None:  # the dtype's minimum, as transformers: exp() of it is exactly 0
                scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
            probs = scores.softmax(dim=-1)
            attentions.append(probs)  # before dropout, as transformers returns them
            context = F.dropout(probs, dropout_p) @ v
        context = context.transpose(1, 2).reshape(hidden.shape)  # heads side by side again
        return self.LayerNorm(hidden + self.output_dropout(self.dense(context)))


class TransformerLayer(nn.Module):
    """One encoder block: attention, then FFN (H -> intermediate -> H) + residual + LayerNorm.

    ``ffn``, ``ffn_output`` and ``full_layer_layer_norm`` are transformers' names for the FFN part.
    """

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.attention = SelfAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.activation = ACTIVATIONS[config.hidden_act]
        # The official TF code (and BERT) drop out the FFN output; transformers' AlbertLayer does
        # not. Irrelevant in eval mode and with the v2 setting hidden_dropout_prob = 0.
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None = None,
                attentions: list[torch.Tensor] | None = None) -> torch.Tensor:
        attended = self.attention(hidden, keep, attentions)
        transformed = self.ffn_output(self.activation(self.ffn(attended)))
        return self.full_layer_layer_norm(attended + self.dropout(transformed))


class LayerGroup(nn.Module):
    """``inner_group_num`` distinct layers, run one after the other every time the group is used."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.inner_group_num))


class Encoder(nn.Module):
    """The E -> H projection, then ``num_hidden_layers`` passes through the (shared) layer groups."""

    def __init__(self, config: AlbertConfig, num_groups: int, sharing: str | None, always_project: bool):
        super().__init__()
        E, H = config.embedding_size, config.hidden_size
        # transformers always creates the projection; the official TF code (and BERT) skip it when E == H.
        self.embedding_hidden_mapping_in = nn.Linear(E, H) if always_project or E != H else nn.Identity()
        groups = [LayerGroup(config) for _ in range(num_groups)]
        first = groups[0].albert_layers[0]
        for group in groups[1:]:  # Table 4 partial sharing: the *same* module object in every layer
            layer = group.albert_layers[0]
            if sharing == "shared-attention":
                layer.attention = first.attention
            elif sharing == "shared-ffn":
                layer.ffn, layer.ffn_output = first.ffn, first.ffn_output
                layer.full_layer_layer_norm = first.full_layer_layer_norm
        self.albert_layer_groups = nn.ModuleList(groups)
        self.layer_to_group = [group_of_layer(i, config.num_hidden_layers, num_groups)
                               for i in range(config.num_hidden_layers)]

    def forward(self, embedded: torch.Tensor, keep: torch.Tensor | None = None,
                attentions: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """All hidden states: the projected embeddings, then the output of every layer applied.

        If ``attentions`` is a list, every layer applied appends its attention probabilities to it.
        """
        states = [self.embedding_hidden_mapping_in(embedded)]
        for group_index in self.layer_to_group:
            for layer in self.albert_layer_groups[group_index].albert_layers:
                states.append(layer(states[-1], keep, attentions))
        return states


@dataclass
class EncoderOutput:
    last_hidden_state: torch.Tensor  # (B, T, H)
    pooler_output: torch.Tensor | None  # (B, H), tanh(W h_[CLS] + b)
    hidden_states: tuple[torch.Tensor, ...] | None = None  # projected embeddings + every layer
    attentions: tuple[torch.Tensor, ...] | None = None  # (B, heads, T, T) per layer applied


def init_weights(module: nn.Module, std: float) -> None:
    """transformers' initialisation: N(0, std) weights, zero biases, LayerNorm = identity."""
    for sub in module.modules():  # modules() visits a shared module once
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, std=std)
            if sub.padding_idx is not None:
                with torch.no_grad():
                    sub.weight[sub.padding_idx].zero_()
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


class ScratchAlbertModel(nn.Module):
    """The ALBERT encoder with the parameter names of ``transformers.AlbertModel``.

    Args:
        config: a ``transformers.AlbertConfig`` (E = ``embedding_size``, H = ``hidden_size``, ...).
        sharing: ``None`` uses ``num_hidden_groups``/``inner_group_num`` as transformers does;
            or one of ``SHARING_STRATEGIES`` (paper Table 4). "shared-attention" and "shared-ffn"
            keep one layer group per layer and reuse the first layer's attention (with its
            LayerNorm) or FFN (with its LayerNorm) in all of them.
        always_project: keep the E -> H projection even when E == H, as transformers does.
            ``False`` drops it when E == H, as the official TF code and BERT do.
        add_pooling_layer: build the tanh pooler (as ``AlbertModel``'s argument of that name).

    ``self.config`` is a copy whose ``num_hidden_groups`` matches the layer groups built, so
    ``transformers.AlbertModel(model.config)`` holds the same weights whenever transformers can
    express the configuration.
    """

    def __init__(self, config: AlbertConfig, sharing: str | None = None, always_project: bool = True,
                 add_pooling_layer: bool = True):
        super().__init__()
        num_groups, self.sharing = resolve_sharing(config, sharing)
        self.config = copy.deepcopy(config)
        self.config.num_hidden_groups = num_groups
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config, num_groups, self.sharing, always_project)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        init_weights(self, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                output_hidden_states: bool = False, output_attentions: bool = False) -> EncoderOutput:
        """``attention_mask``: 1 for real tokens, 0 for padding (as from a tokenizer).

        ``output_attentions``: also return every layer's attention probabilities, as transformers'
        eager attention does (slower: the fused SDPA kernel does not return them).
        """
        keep = None
        if attention_mask is not None and not bool(attention_mask.all()):
            keep = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): broadcast over heads, queries
        attentions = [] if output_attentions else None
        states = self.encoder(self.embeddings(input_ids, token_type_ids), keep, attentions)
        last = states[-1]
        pooled = torch.tanh(self.pooler(last[:, 0])) if self.pooler is not None else None
        return EncoderOutput(last, pooled, tuple(states) if output_hidden_states else None,
                             tuple(attentions) if output_attentions else None)


class MaskedLMHead(nn.Module):
    """ALBERT's MLM head: dense H -> E, activation, LayerNorm, then the decoder E -> V.

    The decoder's weight *is* the input word-embedding matrix (tied) and its bias is ``bias``,
    as in ``transformers.AlbertMLMHead``.
    """

    def __init__(self, config: AlbertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.activation = ACTIVATIONS[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)
        self.decoder.weight = word_embeddings.weight  # tied: one V x E matrix in and out
        self.decoder.bias = self.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.activation(self.dense(hidden))))


@dataclass
class MaskedLMOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor  # (N masked, V) when labels are given, else (B, T, V)


class ScratchAlbertForMaskedLM(nn.Module):
    """Encoder (no pooler) + MLM head, named like ``transformers.AlbertForMaskedLM``.

    With ``labels`` (-100 = not masked), only the masked positions go through the head: the
    V-wide projection is the most expensive matrix product of a small model, and the loss
    ignores every other position anyway.
    """

    def __init__(self, config: AlbertConfig, sharing: str | None = None, always_project: bool = True):
        super().__init__()
        self.albert = ScratchAlbertModel(config, sharing, always_project, add_pooling_layer=False)
        self.config = self.albert.config
        self.predictions = MaskedLMHead(config, self.albert.embeddings.word_embeddings)
        for part in (self.predictions.dense, self.predictions.LayerNorm):  # the decoder is tied: leave it
            init_weights(part, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> MaskedLMOutput:
        hidden = self.albert(input_ids, attention_mask, token_type_ids).last_hidden_state
        if labels is None:
            return MaskedLMOutput(None, self.predictions(hidden))
        masked = labels != -100
        logits = self.predictions(hidden[masked])  # gather first: (N masked, H) -> (N masked, V)
        return MaskedLMOutput(F.cross_entropy(logits, labels[masked]), logits)


# --- BERT is the same code -------------------------------------------------------------------
