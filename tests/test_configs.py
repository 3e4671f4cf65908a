"""Exact parameter counts of the paper's Table 1 models (arXiv:1909.11942v6), computed from configs."""

import pytest
import torch
from transformers import AlbertConfig

from helpers import configs

EXPECTED = {  # name: (embeddings, encoder, pooler, total)
    "ALBERT-base": (3_906_048, 7_186_944, 590_592, 11_683_584),
    "ALBERT-large": (3_906_048, 12_728_320, 1_049_600, 17_683_968),
    "ALBERT-xlarge": (3_906_048, 50_622_464, 4_196_352, 58_724_864),
    "ALBERT-xxlarge": (3_906_048, 201_908_224, 16_781_312, 222_595_584),
    "BERT-base": (23_837_184, 85_054_464, 590_592, 109_482_240),
    "BERT-large": (31_782_912, 302_309_376, 1_049_600, 335_141_888),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_breakdown(name):
    model = configs.build_model(configs.preset_config(name))
    breakdown = configs.parameter_breakdown(model)
    assert (breakdown.embeddings, breakdown.encoder, breakdown.pooler, breakdown.total) == EXPECTED[name]


def test_bert_with_paper_vocabulary():
    assert configs.count_parameters(configs.build_model(
        configs.bert_config("BERT-base", vocab_size=30000))) == 109_081_344
    assert configs.count_parameters(configs.build_model(
        configs.bert_config("BERT-large", vocab_size=30000))) == 334_607_360


@pytest.mark.parametrize("name,unshared", [
    ("ALBERT-base", 89_650_176), ("ALBERT-large", 307_397_120),
    ("ALBERT-xlarge", 1_216_965_120), ("ALBERT-xxlarge", 2_437_773_824)])
def test_unshared_counts(name, unshared):
    assert configs.unshared_parameters(configs.albert_config(name)) == unshared


def test_released_heads_and_ffn():
    assert configs.albert_config("ALBERT-xlarge").num_attention_heads == 16  # not H/64 = 32
    for name in configs.PRESET_NAMES:
        config = configs.preset_config(name)
        assert config.intermediate_size == 4 * config.hidden_size


def test_tiny_config_from_facts():
    base = dict(vocab_size=60, embedding_size=16, hidden_size=64, num_hidden_layers=4,
                num_attention_heads=4, intermediate_size=256, max_position_embeddings=64)
    for groups, inner, expected in [(1, 1, 57_280), (2, 1, 107_264), (4, 1, 207_232), (1, 2, 107_264)]:
        config = AlbertConfig(**base, num_hidden_groups=groups, inner_group_num=inner)
        assert configs.count_parameters(configs.build_model(config)) == expected


def test_flops_ignore_sharing_and_match_bert_at_equal_shape():
    albert, bert = configs.albert_config("ALBERT-base"), configs.bert_config("BERT-base")
    unshared = AlbertConfig(**{**albert.to_dict(), "num_hidden_groups": 12})
    assert configs.flops_per_token(albert, 128) == configs.flops_per_token(unshared, 128)
    # the only difference is ALBERT's E -> H projection, 2 * 128 * 768 FLOPs
    assert configs.flops_per_token(albert, 128) - configs.flops_per_token(bert, 128) == 2 * 128 * 768


def test_flops_formula_against_a_profiler():
    """flops_per_token counts exactly the matrix products the profiler sees (eager attention)."""
    config = AlbertConfig(vocab_size=100, embedding_size=16, hidden_size=64, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=256, attn_implementation="eager")
    model = configs.build_model(config, device="cpu").eval()
    seq = 32
    ids = torch.randint(0, 100, (1, seq))
    with torch.profiler.profile(with_flops=True) as prof:
        model(input_ids=ids)
    products = sum(e.flops for e in prof.key_averages() if e.key in ("aten::addmm", "aten::mm", "aten::bmm"))
    pooler = 2 * 64 * 64  # one [CLS] vector through the pooler's H x H matrix
    assert products == configs.flops_per_token(config, seq) * seq + pooler


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        configs.preset_config("ALBERT-huge")
