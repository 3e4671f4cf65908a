"""The shared training toolkit: optimizer factory, schedule, length-grouped batches."""

import numpy as np
import pytest
import torch
from transformers import AlbertConfig, AlbertForSequenceClassification

from helpers.training import length_grouped_batches, make_optimizer, warmup_linear_decay


def test_optimizer_excludes_bias_and_layernorm_from_decay():
    model = AlbertForSequenceClassification(AlbertConfig(
        vocab_size=30, embedding_size=8, hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32))
    decay, no_decay = make_optimizer(model, lr=1e-3, weight_decay=0.01).param_groups
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decay["params"])
    total = sum(1 for p in model.parameters())
    assert len(decay["params"]) + len(no_decay["params"]) == total


def test_schedule_warms_up_then_decays_to_zero():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = warmup_linear_decay(optimizer, warmup_steps=4, total_steps=10)
    rates = []
    for _ in range(10):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0]
    assert rates[4] == 1.0 and rates[-1] == pytest.approx(1 / 6)
    assert scheduler.get_last_lr()[0] == 0.0


def test_frozen_parameters_are_left_out_of_the_optimizer():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    decay, no_decay = make_optimizer(model, lr=1e-3).param_groups
    assert [p.shape for p in decay["params"]] == [(2, 4)] and len(no_decay["params"]) == 1


def test_length_grouped_batches_cover_everything_once():
    lengths = np.random.default_rng(0).integers(5, 100, size=1000)
    batches = length_grouped_batches(lengths, 32, seed=0, group_factor=4)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) == 32])
    assert spread < np.ptp(lengths) / 2  # grouped batches are much more uniform


def test_length_grouped_batches_accept_a_generator_that_advances():
    lengths = list(range(100))
    rng = np.random.default_rng(0)
    first, second = length_grouped_batches(lengths, 8, rng), length_grouped_batches(lengths, 8, rng)
    assert first != second  # a new grouping each epoch
    assert first == length_grouped_batches(lengths, 8, seed=0)  # a seed gives the generator's first
