"""The from-scratch ALBERT equals transformers' AlbertModel on the same weights (both directions).

Random tiny configurations come from hypothesis: embedding and hidden sizes, heads, layers,
groups, inner groups, activation, padded batches and both segment ids.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AlbertConfig, AlbertForMaskedLM, AlbertModel, BertConfig, BertModel

from helpers.albert import (
    SHARING_STRATEGIES,
    ScratchAlbertForMaskedLM,
    ScratchAlbertModel,
    group_of_layer,
)
from helpers.configs import albert_config, count_parameters

TOL = dict(atol=1e-5, rtol=1e-5)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@st.composite
def tiny_configs(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    layers = draw(st.integers(1, 5))
    return AlbertConfig(
        vocab_size=draw(st.integers(20, 80)),
        embedding_size=draw(st.sampled_from([8, 16, 32])),
        hidden_size=heads * draw(st.sampled_from([4, 8, 16])),
        num_attention_heads=heads,
        intermediate_size=draw(st.sampled_from([16, 48, 64])),
        num_hidden_layers=layers,
        num_hidden_groups=draw(st.integers(1, layers)),
        inner_group_num=draw(st.integers(1, 2)),
        hidden_act=draw(st.sampled_from(["gelu_new", "gelu"])),
        max_position_embeddings=32,
        hidden_dropout_prob=0.1,  # must not matter in eval mode
        attention_probs_dropout_prob=0.1,
    )


def random_batch(config, generator, batch=3, seq_len=11):
    """Token ids, a right-padded attention mask (one row unpadded) and mixed segment ids."""
    input_ids = torch.randint(0, config.vocab_size, (batch, seq_len), generator=generator)
    lengths = torch.randint(1, seq_len + 1, (batch,), generator=generator)
    lengths[0] = seq_len
    attention_mask = (torch.arange(seq_len)[None, :] < lengths[:, None]).long()
    token_type_ids = (torch.arange(seq_len)[None, :] >= lengths[:, None] // 2).long()
    return input_ids, attention_mask, token_type_ids


def assert_same_outputs(hf_model, scratch, inputs):
    input_ids, attention_mask, token_type_ids = inputs
    with torch.no_grad():
        expected = hf_model(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids, output_hidden_states=True)
        got = scratch(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      output_hidden_states=True)
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, **TOL)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, **TOL)
    for mine, theirs in zip(got.hidden_states, expected.hidden_states, strict=True):
        torch.testing.assert_close(mine, theirs, **TOL)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(config=tiny_configs(), seed=st.integers(0, 2**16))
def test_transformers_weights_into_scratch(config, seed):
    torch.manual_seed(seed)
    hf_model = AlbertModel(config).eval()
    scratch = ScratchAlbertModel(config).eval()
    scratch.load_state_dict(hf_model.state_dict(), strict=True)
    assert count_parameters(scratch) == count_parameters(hf_model)
    assert_same_outputs(hf_model, scratch, random_batch(config, torch.Generator().manual_seed(seed)))


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(config=tiny_configs(), seed=st.integers(0, 2**16))
def test_scratch_weights_into_transformers(config, seed):
    torch.manual_seed(seed)
    scratch = ScratchAlbertModel(config).eval()
    hf_model = AlbertModel(scratch.config).eval()
    hf_model.load_state_dict(scratch.state_dict(), strict=True)
    assert_same_outputs(hf_model, scratch, random_batch(config, torch.Generator().manual_seed(seed)))


def test_hidden_states_count_every_layer_application():
    config = AlbertConfig(vocab_size=60, embedding_size=16, hidden_size=64, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=256, max_position_embeddings=64)
    for groups, inner, n_params, n_states in [(1, 1, 57_280, 5), (2, 1, 107_264, 5),
                                              (4, 1, 207_232, 5), (1, 2, 107_264, 9)]:
        config.num_hidden_groups, config.inner_group_num = groups, inner
        model = ScratchAlbertModel(config)
        out = model(torch.randint(0, 60, (2, 7)), output_hidden_states=True)
        assert count_parameters(model) == n_params
        assert len(out.hidden_states) == n_states
        assert out.hidden_states[0].shape == (2, 7, 64)  # after the E -> H projection


@pytest.mark.parametrize("groups", range(1, 13))
def test_layer_to_group_mapping_matches_official_code(groups):
    official = [int(i / 12 * groups) for i in range(12)]  # google-research/albert modeling.py
    assert [group_of_layer(i, 12, groups) for i in range(12)] == official
    model = ScratchAlbertModel(AlbertConfig(vocab_size=10, embedding_size=4, hidden_size=8,
                                            num_attention_heads=2, intermediate_size=8,
                                            num_hidden_layers=12, num_hidden_groups=groups))
    assert model.encoder.layer_to_group == official


# Paper Table 3/4 parameter column (arXiv:1909.11942v6, rounded there to millions) as exact counts
# for H = 768, V = 30,000.
TABLE_4 = [
    (768, "all-shared", 31_114_752), (768, "shared-attention", 83_078_400),
    (768, "shared-ffn", 57_117_696), (768, "not-shared", 109_081_344),
    (128, "all-shared", 11_683_584), (128, "shared-attention", 63_647_232),
    (128, "shared-ffn", 37_686_528), (128, "not-shared", 89_650_176),
    (64, "not-shared", 87_648_000), (256, "not-shared", 93_654_528),
    (64, "all-shared", 9_681_408), (256, "all-shared", 15_687_936),
]


@pytest.mark.parametrize("embedding_size,sharing,expected", TABLE_4)
def test_paper_table_4_parameter_counts(embedding_size, sharing, expected):
    with torch.device("meta"):  # counts only: no memory
        model = ScratchAlbertModel(albert_config("ALBERT-base", embedding_size=embedding_size),
                                   sharing=sharing, always_project=False)
    assert count_parameters(model) == expected


def test_transformers_always_projects():
    with torch.device("meta"):
        config = albert_config("ALBERT-base", embedding_size=768)
        assert count_parameters(ScratchAlbertModel(config, sharing="all-shared")) == 31_114_752 + 590_592
        assert count_parameters(ScratchAlbertModel(config, sharing="all-shared")) == count_parameters(
            AlbertModel(config))


def tiny(**overrides):
    settings_ = dict(vocab_size=50, embedding_size=8, hidden_size=16, num_attention_heads=2,
                     intermediate_size=32, num_hidden_layers=4, max_position_embeddings=16)
    return AlbertConfig(**{**settings_, **overrides})


def test_partial_sharing_reuses_the_same_modules():
    attention = ScratchAlbertModel(tiny(), sharing="shared-attention")
    ffn = ScratchAlbertModel(tiny(), sharing="shared-ffn")
    a_layers = [g.albert_layers[0] for g in attention.encoder.albert_layer_groups]
    f_layers = [g.albert_layers[0] for g in ffn.encoder.albert_layer_groups]
    assert len(a_layers) == len(f_layers) == 4
    assert all(layer.attention is a_layers[0].attention for layer in a_layers)
    assert all(layer.ffn is not a_layers[0].ffn for layer in a_layers[1:])
    assert all(layer.ffn_output is f_layers[0].ffn_output for layer in f_layers)
    assert all(layer.attention is not f_layers[0].attention for layer in f_layers[1:])
    # one gradient, accumulated over the four uses
    attention(torch.randint(0, 50, (2, 5))).last_hidden_state.sum().backward()
    assert a_layers[0].attention.query.weight.grad is not None


def test_named_strategies_agree_with_transformers_groups():
    all_shared = ScratchAlbertModel(tiny(), sharing="all-shared")
    not_shared = ScratchAlbertModel(tiny(), sharing="not-shared")
    assert all_shared.config.num_hidden_groups == 1 and not_shared.config.num_hidden_groups == 4
    for model in (all_shared, not_shared):
        AlbertModel(model.config).load_state_dict(model.state_dict(), strict=True)


@pytest.mark.parametrize("overrides,sharing,message", [
    (dict(hidden_size=18, num_attention_heads=4), None, "divisible"),
    (dict(num_hidden_groups=5), None, "larger than num_hidden_layers"),
    (dict(inner_group_num=0), None, ">= 1"),
    (dict(hidden_act="swish"), None, "hidden_act"),
    ({}, "shared-everything", "unknown sharing"),
    (dict(num_hidden_groups=2), "shared-ffn", "sets the layer groups itself"),
    (dict(inner_group_num=2), "all-shared", "sets the layer groups itself"),
])
def test_invalid_configurations_raise_clear_errors(overrides, sharing, message):
    with pytest.raises(ValueError, match=message):
        ScratchAlbertModel(tiny(**overrides), sharing=sharing)


def test_too_long_input_raises():
    with pytest.raises(ValueError, match="max_position_embeddings"):
        ScratchAlbertModel(tiny())(torch.zeros(1, 17, dtype=torch.long))


def test_every_strategy_builds_runs_and_shares_what_it_says():
    config = tiny(num_hidden_layers=3, intermediate_size=64)  # F = 4H, as in BERT and ALBERT
    counts = {}
    for strategy in SHARING_STRATEGIES:
        model = ScratchAlbertModel(config, sharing=strategy)
        out = model(torch.randint(0, config.vocab_size, (2, 5)))
        assert out.last_hidden_state.shape == (2, 5, config.hidden_size)
        counts[strategy] = count_parameters(model)
    # the FFN (2 x H x 4H) is larger than attention (4 x H x H): sharing it saves more
    assert counts["all-shared"] < counts["shared-ffn"] < counts["shared-attention"] < counts["not-shared"]


def test_masked_lm_loss_matches_transformers():
    torch.manual_seed(0)
    config = tiny(hidden_act="gelu_new", num_hidden_groups=2)
    hf_model = AlbertForMaskedLM(config).eval()
    scratch = ScratchAlbertForMaskedLM(config).eval()
    scratch.load_state_dict(hf_model.state_dict(), strict=True)
    assert count_parameters(scratch) == count_parameters(hf_model)
    assert scratch.predictions.decoder.weight is scratch.albert.embeddings.word_embeddings.weight
    input_ids, attention_mask, token_type_ids = random_batch(config, torch.Generator().manual_seed(1))
    labels = torch.full_like(input_ids, -100)
    labels[:, 0] = input_ids[:, 0]
    labels[0, 5] = input_ids[0, 5]
    with torch.no_grad():
        expected = hf_model(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids, labels=labels)
        got = scratch(input_ids, attention_mask, token_type_ids, labels=labels)
        full = scratch(input_ids, attention_mask, token_type_ids)
    torch.testing.assert_close(got.loss, expected.loss, **TOL)
    assert got.logits.shape == (4, config.vocab_size)  # only the 4 masked positions
    torch.testing.assert_close(full.logits, expected.logits, **TOL)


# BERT is ALBERT with E = H, no projection and one weight group per layer: only the names differ.
_BERT_LAYER_NAMES = {  # BertModel name inside encoder.layer.{i} -> our name inside the layer
    "attention.self.query": "attention.query",
    "attention.self.key": "attention.key",
    "attention.self.value": "attention.value",
    "attention.output.dense": "attention.dense",
    "attention.output.LayerNorm": "attention.LayerNorm",
    "intermediate.dense": "ffn",
    "output.dense": "ffn_output",
    "output.LayerNorm": "full_layer_layer_norm",
}


def albert_config_from_bert(config: BertConfig) -> AlbertConfig:
    """The ``AlbertConfig`` of a BERT: E = H, one group per layer (use with ``always_project=False``)."""
    return AlbertConfig(
        vocab_size=config.vocab_size, embedding_size=config.hidden_size, hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers, num_hidden_groups=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act, hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        max_position_embeddings=config.max_position_embeddings, type_vocab_size=config.type_vocab_size,
        initializer_range=config.initializer_range, layer_norm_eps=config.layer_norm_eps,
        pad_token_id=config.pad_token_id)


def rename_bert_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``transformers.BertModel`` state dict under this module's (= AlbertModel's) names."""
    renamed = {}
    for name, tensor in state_dict.items():
        if name.startswith("encoder.layer."):
            index, rest = name[len("encoder.layer."):].split(".", 1)
            module, kind = rest.rsplit(".", 1)
            name = f"encoder.albert_layer_groups.{index}.albert_layers.0.{_BERT_LAYER_NAMES[module]}.{kind}"
        elif name.startswith("pooler.dense."):
            name = "pooler." + name[len("pooler.dense."):]
        renamed[name] = tensor
    return renamed


def test_bert_is_the_same_code_without_projection_or_sharing():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32)
    bert = BertModel(config).eval()
    scratch = ScratchAlbertModel(albert_config_from_bert(config), always_project=False).eval()
    scratch.load_state_dict(rename_bert_state_dict(bert.state_dict()), strict=True)
    assert count_parameters(scratch) == count_parameters(bert)
    input_ids, attention_mask, token_type_ids = random_batch(config, torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        got = scratch(input_ids, attention_mask, token_type_ids)
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, **TOL)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, **TOL)


# Attention probabilities, as transformers' eager attention returns them with output_attentions=True.
def attention_config(groups=1, inner=1, dropout=0.1):
    return tiny(vocab_size=100, embedding_size=16, hidden_size=32, num_attention_heads=4,
                intermediate_size=64, num_hidden_layers=3, num_hidden_groups=groups,
                inner_group_num=inner, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


def padded_batch(config, seed=0):
    """``random_batch`` with the last row's final three tokens always padding."""
    input_ids, attention_mask, token_type_ids = random_batch(config, torch.Generator().manual_seed(seed))
    attention_mask[-1, -3:] = 0
    return input_ids, attention_mask, token_type_ids


@pytest.mark.parametrize("groups,inner", [(1, 1), (3, 1), (1, 2)])
def test_attentions_match_transformers_eager(groups, inner):
    torch.manual_seed(0)
    config = attention_config(groups, inner)
    hf_model = AlbertModel._from_config(config, attn_implementation="eager").eval()
    scratch = ScratchAlbertModel(config).eval()
    scratch.load_state_dict(hf_model.state_dict(), strict=True)
    input_ids, attention_mask, token_type_ids = padded_batch(config)
    with torch.no_grad():
        expected = hf_model(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids, output_attentions=True)
        got = scratch(input_ids, attention_mask, token_type_ids, output_attentions=True)
    assert len(got.attentions) == len(expected.attentions) == 3 * inner  # one per layer applied
    for mine, theirs in zip(got.attentions, expected.attentions, strict=True):
        assert mine.shape == (3, 4, 11, 11)
        torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, **TOL)


def test_attention_rows_sum_to_one_and_ignore_padding():
    config = attention_config()
    input_ids, attention_mask, token_type_ids = padded_batch(config)
    # train mode: the probabilities are returned before attention dropout, so rows still sum to 1
    out = ScratchAlbertModel(config).train()(input_ids, attention_mask, token_type_ids,
                                             output_attentions=True)
    padding = ~attention_mask.bool()[:, None, None, :].expand_as(out.attentions[0])
    for probs in out.attentions:
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]))
        assert (probs[padding] == 0).all()


def test_output_attentions_keeps_the_sdpa_outputs():
    torch.manual_seed(0)
    model = ScratchAlbertModel(attention_config(groups=3)).eval()
    input_ids, attention_mask, token_type_ids = padded_batch(model.config, seed=1)
    with torch.no_grad():
        sdpa = model(input_ids, attention_mask, token_type_ids, output_hidden_states=True)
        explicit = model(input_ids, attention_mask, token_type_ids, output_hidden_states=True,
                         output_attentions=True)
    assert sdpa.attentions is None
    torch.testing.assert_close(explicit.last_hidden_state, sdpa.last_hidden_state, **TOL)
    torch.testing.assert_close(explicit.pooler_output, sdpa.pooler_output, **TOL)
    for mine, theirs in zip(explicit.hidden_states, sdpa.hidden_states, strict=True):
        torch.testing.assert_close(mine, theirs, **TOL)
