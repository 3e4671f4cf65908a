"""helpers.memory: the counted and the profiled memory of a training step agree with arithmetic."""

import torch
from torch import nn

from helpers.memory import (
    PROFILER_CATEGORIES,
    profile_step_memory,
    saved_activation_bytes,
    training_state_bytes,
)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 8), nn.Linear(8, 2)

    def forward(self, x):
        return self.second(torch.relu(self.first(x))).sum()


def test_training_state_is_16_bytes_per_parameter_in_float32():
    assert training_state_bytes(1000) == {"weights": 4000, "gradients": 4000, "optimizer state": 8000}
    assert sum(training_state_bytes(10, bytes_per_value=2).values()) == 80


def test_saved_activations_are_the_inputs_autograd_keeps_not_the_weights():
    x = torch.randn(3, 4)
    # first saves x (3x4); relu saves its output (3x8), which second also saves (one storage);
    # the weights are saved too but are parameters, not activations
    assert saved_activation_bytes(TwoLayers(), x=x) == (3 * 4 + 3 * 8) * 4
    assert saved_activation_bytes(TwoLayers(), x=torch.randn(30, 4)) == 10 * (3 * 4 + 3 * 8) * 4


def test_profiled_step_sees_parameters_and_adam_state():
    torch.manual_seed(0)
    model = nn.Linear(256, 256)
    optimizer = torch.optim.AdamW(model.parameters())
    x = torch.randn(64, 256)

    def step():
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    memory = profile_step_memory(step)
    assert set(memory) == {*PROFILER_CATEGORIES, "peak"}
    params = (256 * 256 + 256) * 4
    assert memory["parameter"] == params
    assert 2 * params <= memory["optimizer state"] <= 2 * params + 2 * 4  # + a step count per tensor
    assert memory["peak"] >= sum(memory[c] for c in PROFILER_CATEGORIES) >= 3 * params
