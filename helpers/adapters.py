"""Fine-tuning fewer parameters: LoRA adapters (``peft``) or a frozen encoder under a new head.

Three ways to fine-tune a sequence classifier, named as notebook 07 and
``benchmarks/finetune_gain.py --methods`` name them:

- ``"full"``: every weight trains (notebook 05);
- ``"lora"``: the pretrained weights stay frozen; each attention projection W (query, key, value
  and the output projection) gets a trainable low-rank update, W x + (alpha / r) B A x with
  A: r x H and B: H x r, B starting at zero (Hu et al. 2021, arXiv:2106.09685). The new
  classifier head trains in full (``peft``'s ``modules_to_save`` for sequence classification);
- ``"head"``: the whole encoder (pooler included) is frozen, only the classifier head trains.

In ALBERT every layer is the *same* module, so LoRA wraps it once: one A and one B per
projection, applied at every layer. In BERT each layer gets its own.
"""

from __future__ import annotations

import torch
from peft import LoraConfig, TaskType, get_peft_model

from helpers.configs import count_parameters

METHODS = ("full", "lora", "head")

# The attention projections, by the module names of transformers' ALBERT and BERT. peft matches a
# name or a dotted suffix of it; BERT's bare "dense" would also catch its FFN and pooler.
LORA_TARGETS = {
    "albert": ["query", "key", "value", "attention.dense"],
    "bert": ["query", "key", "value", "attention.output.dense"],
}


def add_lora(model, rank: int = 8, alpha: int = 16, dropout: float = 0.1):
    """``model`` (a transformers sequence classifier) wrapped by ``peft`` with LoRA adapters.

    Only the adapters (A, B) and the classification head are trainable afterwards.
    """
    targets = LORA_TARGETS.get(model.config.model_type)
    if targets is None:
        raise ValueError(f"no LoRA targets for model type {model.config.model_type!r}; "
                         f"known: {sorted(LORA_TARGETS)}")
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha,
                        lora_dropout=dropout, target_modules=targets)
    return get_peft_model(model, config)


def freeze_encoder(model):
    """Freeze everything but the classifier head (``model.classifier``); returns ``model``."""
    head = {id(p) for p in model.classifier.parameters()}
    for parameter in model.parameters():
        parameter.requires_grad = id(parameter) in head
    return model


def prepare(model, method: str, lora_rank: int = 8):
    """``model`` ready to fine-tune by ``method`` (one of :data:`METHODS`)."""
    if method == "full":
        return model
    if method == "lora":
        return add_lora(model, rank=lora_rank)
    if method == "head":
        return freeze_encoder(model)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, all) distinct parameters: a shared tensor counts once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad), count_parameters(model)
