"""Where the memory of a training step goes: parameters, gradients, optimizer state, activations.

Two ways to know, used by notebook 07:

- **count** (:func:`training_state_bytes`, :func:`saved_activation_bytes`): the weights, their
  gradients and AdamW's two moments are 4 + 4 + 8 bytes per parameter in float32, so they follow
  from the parameter count; the activations are the tensors autograd saves during the forward
  pass for the backward pass, which a ``saved_tensors_hooks`` context sees one by one;
- **measure** (:func:`profile_step_memory`): ``torch.profiler`` with ``profile_memory=True``
  records every allocation of one training step and sorts it into categories (parameter,
  gradient, optimizer state, activation, ...); the step's peak is the moment their sum is
  largest.

ALBERT's sharing shrinks the first three; it does nothing to the fourth, which grows with batch
size and sequence length.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import torch

# AdamW keeps two float tensors per parameter: the running mean of the gradient and of its square.
ADAM_MOMENTS = 2


def training_state_bytes(num_parameters: int, bytes_per_value: int = 4) -> dict[str, int]:
    """Bytes of the weights, their gradients and AdamW's moments (float32 by default)."""
    one_copy = num_parameters * bytes_per_value
    return {"weights": one_copy, "gradients": one_copy, "optimizer state": ADAM_MOMENTS * one_copy}


def saved_activation_bytes(model: torch.nn.Module, **batch) -> int:
    """Bytes of the tensors autograd keeps from ``model(**batch)``'s forward pass for backward.

    Each storage counts once (several saved views of one tensor share it); the parameters
    themselves are saved too but are not activations, so they are left out. Run it in the mode
    you train in: dropout masks are saved only in ``train()`` mode.
    """
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(**batch)
    del output  # the graph (and every saved tensor) goes with it
    return sum(saved.values())


# The columns of torch.profiler's memory timeline, in its own order (torch/profiler/_memory_profiler.py).
PROFILER_CATEGORIES = ("parameter", "optimizer state", "input", "temporary", "activation",
                       "gradient", "autograd detail", "unknown")


@contextlib.contextmanager
def _no_native_stderr():
    """Kineto, the profiler's C++ side, writes start/stop lines straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def profile_step_memory(step, device: str = "cpu") -> dict[str, int]:
    """Bytes per category at the peak of one call of ``step()`` (a whole training step).

    Call ``step`` once before, so that the optimizer state exists as in a running loop. Returns
    ``{category: bytes}`` at the moment the total is highest, plus ``"peak"``, the total.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CUDA if device.startswith("cuda") else ProfilerActivity.CPU]
    with _no_native_stderr(), profile(activities=activities, profile_memory=True, record_shapes=True,
                                      with_stack=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timeline.json"
        with warnings.catch_warnings():  # recent torch marks it deprecated (its successor is CUDA-only)
            warnings.simplefilter("ignore", FutureWarning)
            prof.export_memory_timeline(str(path), device=device)
        _, sizes = json.loads(path.read_text())
    at_peak = max((row[1:] for row in sizes), key=sum)  # column 0 is unused by the profiler
    return {**dict(zip(PROFILER_CATEGORIES, at_peak, strict=True)), "peak": sum(at_peak)}
