"""helpers.adapters: what LoRA and a frozen encoder leave trainable, for ALBERT and BERT."""

import pytest
import torch
from transformers import (
    AlbertConfig,
    AlbertForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
)

from helpers.adapters import METHODS, add_lora, freeze_encoder, prepare, trainable_parameters

H, LAYERS, RANK = 32, 3, 4


def albert():
    torch.manual_seed(0)
    return AlbertForSequenceClassification(AlbertConfig(
        vocab_size=50, embedding_size=16, hidden_size=H, num_hidden_layers=LAYERS,
        num_attention_heads=4, intermediate_size=64, num_labels=2))


def bert():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=H, num_hidden_layers=LAYERS, num_attention_heads=4,
        intermediate_size=64, num_labels=2))


def lora_modules(model) -> list[str]:
    return [name for name, module in model.named_modules() if hasattr(module, "lora_A")]


def test_shared_albert_layer_gets_one_adapter_per_projection_bert_one_per_layer():
    head = H * 2 + 2
    lora_albert = add_lora(albert(), rank=RANK)
    assert len(lora_modules(lora_albert)) == 4  # query, key, value, output: once for all layers
    assert trainable_parameters(lora_albert)[0] == 4 * RANK * (H + H) + head
    lora_bert = add_lora(bert(), rank=RANK)
    assert len(lora_modules(lora_bert)) == 4 * LAYERS
    assert not any("intermediate" in n or "pooler" in n for n in lora_modules(lora_bert))
    assert trainable_parameters(lora_bert)[0] == LAYERS * 4 * RANK * (H + H) + head


def test_lora_starts_as_the_original_model():
    model = albert().eval()
    ids = torch.randint(5, 50, (2, 7))
    before = model(input_ids=ids).logits
    after = add_lora(model, rank=RANK).eval()(input_ids=ids).logits
    torch.testing.assert_close(before, after)  # B = 0 at the start: W + BA = W


def test_frozen_encoder_trains_only_the_head():
    model = freeze_encoder(albert())
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}
    assert trainable_parameters(model) == (H * 2 + 2, sum(p.numel() for p in model.parameters()))


def test_prepare_names_every_method_and_rejects_others():
    assert prepare(albert(), "full").classifier.weight.requires_grad
    for method in METHODS:
        prepare(albert(), method)
    with pytest.raises(ValueError, match="choose one of"):
        prepare(albert(), "prefix")
