"""The training toolkit every loop of the series shares (notebooks 02-05, the CLI, benchmarks).

One optimizer factory, one learning-rate schedule and one length-grouped batcher. The loops
themselves are written out where they are taught: ``train_variant`` in notebook 02, the
pretraining ``train_loop`` in notebook 04, ``train_classifier`` in notebook 05.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW as the official ALBERT code's ``adamw`` option: weight decay on matrices only.

    Biases and LayerNorm weights (every parameter with fewer than two dimensions) get no decay.
    Frozen parameters (``requires_grad=False``) are left out. (The paper used LAMB, which keeps
    per-layer update sizes stable at batch 4,096; at our batch sizes AdamW is the usual choice.)
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-6)


def warmup_linear_decay(optimizer: torch.optim.Optimizer, warmup_steps: int,
                        total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate rises linearly over ``warmup_steps``, then falls linearly to 0 at ``total_steps``.

    The shape of ``transformers.get_linear_schedule_with_warmup``, except that the first step
    already runs at ``1 / warmup_steps`` of the peak rate (transformers' first step has rate 0,
    which wastes a step).
    """
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def length_grouped_batches(lengths: Sequence[int], batch_size: int,
                           seed: int | np.random.Generator = 0,
                           group_factor: int = 50) -> list[list[int]]:
    """Shuffled batches of indices whose examples have similar lengths (less padding).

    Shuffle all indices, cut them into groups of ``group_factor`` batches, sort each group by
    length, cut it into batches, and shuffle the batches: each batch is random in content but
    uniform in length, so padding each batch to its longest example wastes little compute (the
    idea of the ``Trainer``'s ``train_sampling_strategy="group_by_length"``). ``seed`` may be a
    ``numpy`` Generator, which then advances (a new grouping each epoch).
    """
    rng = np.random.default_rng(seed)  # a Generator is used as is
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    group = batch_size * group_factor
    batches = []
    for start in range(0, len(order), group):
        chunk = order[start:start + group]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]
