"""Training throughput: the project's pretraining step vs what a transformers user runs.

The sides train the same ``AlbertForPreTraining`` config (copies of the same weights, dropout off)
on the same examples with the same masks, alternating batch by batch so that background load on the
machine hits all of them equally:

* **standard, padded**: ``AlbertForPreTraining(**batch, labels=..., sentence_order_label=...)`` on
  batches padded to ``--max-length`` (a fixed-shape collator). The MLM head projects *every*
  position onto the vocabulary (batch x time x V logits) and the loss ignores 85% of them.
* **standard, dynamic padding**: the same forward on batches padded only to their longest
  example, from length-grouped batches: what ``DataCollatorForLanguageModeling`` (which pads per
  batch) with ``group_by_length`` gives a transformers user. This is the honest peer.
* **project**: ``helpers.pretraining.PretrainingLoss`` on the same dynamic batches: the MLM head
  runs only at the gathered masked positions.
* **project, fused GELU**: the same, with ``hidden_act="gelu_pytorch_tanh"``: the formula the
  model's ``gelu_new`` computes in Python (tanh approximation), as one fused kernel. Same weights,
  same loss to 1e-6; a model config choice, so it is reported as its own side.
* **bf16 autocast** (only on a CPU that multiplies bfloat16 matrices natively, e.g. AVX512-BF16 or
  AMX; ``--no-bf16`` skips them): the standard dynamic-padding step and the project's fused-GELU step
  under ``torch.autocast("cpu", dtype=torch.bfloat16)``: matrix products in bfloat16, weights,
  optimizer and loss reduction in float32. Not the same arithmetic, so its losses are compared with
  the float32 step's, step by step, and the gain is reported both against the float32 standard
  path and against the standard path with the same autocast (what a transformers user gets from
  ``TrainingArguments(bf16=True)``). After the timed steps the project's float32 and bf16 steps
  train on, untimed, for ``--loss-steps`` more batches, and the two loss curves are compared.

So the padding gain (standard: dynamic vs padded) and the gather gain (project vs standard, both
dynamic) are reported separately. Before timing, all sides compute the loss of one batch in eval
mode; the float32 sides must agree to 1e-4, the bf16 ones to 0.05. Tokens/s counts real (non-padding) tokens, so every side is
credited with the same work. The last lines count each side's FLOPs (``torch.utils.flop_counter``),
give the achieved FLOP/s as a share of this machine's measured float32 matmul rate, and the
ceiling that arithmetic sets: the standard step's time over the time the project's FLOPs would
take at the full float32 matmul rate. No float32 kernel tuning can beat that ceiling with the same
loss; only less arithmetic (a smaller head, less padding) or cheaper arithmetic (bf16) can.

    python benchmarks/pretrain_throughput.py            # prints the ratios last
"""

from __future__ import annotations

import argparse
import copy
import functools
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


def main(argv=None) -> float:
    from helpers.pretraining import PretrainConfig, PretrainingLoss, init_pretraining_model
    from helpers.pretraining_data import PretrainingData
    from helpers.runtime import quiet
    from helpers.tokenizer import load_or_train_tokenizer
    from helpers.training import make_optimizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 autocast sides")
    parser.add_argument("--loss-steps", type=int, default=200,
                        help="untimed steps after the timed ones in which the project's float32 and bf16 "
                             "steps keep training, to compare their losses over a longer run")
    args = parser.parse_args(argv)
    bf16 = not args.no_bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported()  # native bf16 matmuls
    if args.threads:
        torch.set_num_threads(args.threads)
    quiet()

    config = PretrainConfig(batch_size=args.batch_size, max_length=args.max_length)
    tokenizer = load_or_train_tokenizer(config.vocab_size)
    data = PretrainingData(tokenizer, config)
    examples, batches = data.epoch_batches(0)
    n_batches = args.steps + args.warmup
    dynamic = [data.collate(examples, b, (0, 0, i)) for i, b in enumerate(batches[:n_batches])]
    fixed = [data.collator.pad([examples[i] for i in b], width=args.max_length)
             for b in batches[:n_batches]]
    for f, d in zip(fixed, dynamic, strict=True):  # identical masks, just more padding
        width = d["input_ids"].shape[1]
        f["input_ids"][:, :width] = d["input_ids"]
        f["labels"] = torch.full_like(f["input_ids"], -100)
        f["labels"][:, :width] = d["labels"]

    base = init_pretraining_model(config, tokenizer)
    # No dropout anywhere (the encoder has none; the SOP head's 0.1 is switched off too), so every
    # side computes the same function and the float32 and bf16 losses differ only in arithmetic.
    base.config.classifier_dropout_prob = 0.0
    for module in base.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    standard_padded, standard_dynamic = copy.deepcopy(base), copy.deepcopy(base)
    ours = PretrainingLoss(copy.deepcopy(base))
    fused_config = copy.deepcopy(base.config)
    fused_config.hidden_act = "gelu_pytorch_tanh"
    fused = type(base)(fused_config)
    fused.load_state_dict(base.state_dict())
    ours_fused = PretrainingLoss(fused)
    standard_bf16, ours_bf16 = copy.deepcopy(base), PretrainingLoss(copy.deepcopy(fused))

    def in_bf16(loss_of):
        def run(batch):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return loss_of(batch)
        return run

    def standard_loss(model, batch):
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                     sentence_order_label=batch["sentence_label"]).loss

    sides = {"standard, padded": (lambda b: standard_loss(standard_padded, b), standard_padded, fixed),
             "standard, dynamic padding": (lambda b: standard_loss(standard_dynamic, b), standard_dynamic, dynamic),
             "project": (lambda b: ours(**b)[0], ours.model, dynamic),
             "project, fused GELU": (lambda b: ours_fused(**b)[0], ours_fused.model, dynamic)}
    if bf16:
        sides["standard, dynamic, bf16"] = (in_bf16(lambda b: standard_loss(standard_bf16, b)), standard_bf16, dynamic)
        sides["project, fused GELU, bf16"] = (in_bf16(lambda b: ours_bf16(**b)[0]), ours_bf16.model, dynamic)

    # 1. Same loss on the same batch.
    for _, model, _ in sides.values():
        model.eval()
    with torch.no_grad():
        losses = {side: float(loss_of(side_batches[0])) for side, (loss_of, _, side_batches) in sides.items()}
    print("loss on batch 0: " + "  ".join(f"{side} {loss:.6f}" for side, loss in losses.items()))
    exact = [loss for side, loss in losses.items() if not side.endswith("bf16")]
    assert max(exact) - min(exact) < 1e-4, "the float32 losses differ: a step is wrong"
    assert all(abs(loss - exact[0]) < 0.05 for loss in losses.values()), "a bf16 loss is far off"
    for _, model, _ in sides.values():
        model.train()

    # 2. Alternate training steps, timing each side.
    optimizers = {side: make_optimizer(model, config.learning_rate, config.weight_decay)
                  for side, (_, model, _) in sides.items()}
    seconds = dict.fromkeys(sides, 0.0)
    step_losses = {side: [] for side in sides}
    tokens = padded_tokens = 0
    for i in range(n_batches):
        for side, (loss_of, _, side_batches) in sides.items():
            start = time.perf_counter()
            loss = loss_of(side_batches[i])
            optimizers[side].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[side].step()
            if i >= args.warmup:
                seconds[side] += time.perf_counter() - start
            step_losses[side].append(loss.item())
        if i >= args.warmup:
            tokens += int(dynamic[i]["attention_mask"].sum())
            padded_tokens += dynamic[i]["attention_mask"].numel()
    print(f"config: E={config.embedding_size} H={config.hidden_size} L={config.num_hidden_layers} "
          f"V={len(tokenizer)} batch={args.batch_size} max_length={args.max_length} "
          f"threads={torch.get_num_threads()}; {args.steps} timed steps per side")
    for side in seconds:
        print(f"{side:>26}: {tokens / seconds[side]:8.0f} tokens/s  "
              f"({1000 * seconds[side] / args.steps:.0f} ms/step)")

    print(f"real tokens in the dynamic batches: {tokens / padded_tokens:.1%} of the positions "
          "(the rest is padding that sequence packing could remove)")
    pair = ("project, fused GELU", "project, fused GELU, bf16")
    if bf16 and args.loss_steps:  # the project's float32 and bf16 steps train on, untimed
        later = batches[n_batches:n_batches + args.loss_steps]
        for i, b in enumerate(later, start=n_batches):
            batch = data.collate(examples, b, (0, 0, i))
            for side in pair:
                loss = sides[side][0](batch)
                optimizers[side].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[side].step()
                step_losses[side].append(loss.item())
    for side, reference in (("standard, dynamic, bf16", "standard, dynamic padding"), pair[::-1]):
        if side in step_losses:  # same weights, batches and masks, no dropout: only the arithmetic differs
            steps = len(step_losses[side])
            gaps = np.abs(np.subtract(step_losses[side], step_losses[reference][:steps]))
            last = slice(max(0, steps - 20), steps)
            print(f"{side}: training loss over {steps} steps within {gaps.max():.4f} nats of the float32 "
                  f"step's (mean gap {gaps.mean():.4f}); float32 {step_losses[reference][0]:.2f} -> "
                  f"{np.mean(step_losses[reference][last]):.4f}, bf16 -> {np.mean(step_losses[side][last]):.4f} "
                  f"(mean of the last {last.stop - last.start} steps)")

    # 3. Each side's FLOPs, against this machine's float32 matmul rate.
    flops = {}
    for side, (loss_of, _, side_batches) in sides.items():
        with FlopCounterMode(display=False) as counter:
            for i in range(args.warmup, n_batches):
                loss_of(side_batches[i]).backward()
        flops[side] = counter.get_total_flops()
    peak = matmul_rate()
    for side in sides:
        achieved = flops[side] / seconds[side]
        rate, kind = (matmul_rate(dtype=torch.bfloat16), "bfloat16") if side.endswith("bf16") else (peak, "float32")
        print(f"{side:>26}: {flops[side] / args.steps / 1e9:6.1f} GFLOP/step, {achieved / 1e9:5.1f} GFLOP/s, "
              f"{achieved / rate:4.0%} of the measured {kind} matmul rate ({rate / 1e9:.0f} GFLOP/s)")
    padding_gain = seconds["standard, padded"] / seconds["standard, dynamic padding"]
    gather_gain = seconds["standard, dynamic padding"] / seconds["project"]
    fused_gain = seconds["standard, dynamic padding"] / seconds["project, fused GELU"]
    ceiling = seconds["standard, dynamic padding"] / (flops["project"] / peak)
    print(f"padding gain (standard path, dynamic padding vs padded to {args.max_length}): {padding_gain:.2f}x")
    print(f"gather gain (project vs standard path, both with dynamic padding): {gather_gain:.2f}x")
    print(f"with the fused GELU kernel: {fused_gain:.2f}x; ceiling for the project's arithmetic at the "
          f"full matmul rate: {ceiling:.2f}x")
    print(f"speed-up over the standard path with dynamic padding: {gather_gain:.2f}x "
          f"(over the padded standard path: {padding_gain * gather_gain:.2f}x)")
    if bf16:
        print(f"with bf16 autocast: project + fused GELU + bf16 over the float32 standard path with dynamic "
              f"padding: {seconds['standard, dynamic padding'] / seconds['project, fused GELU, bf16']:.2f}x; "
              f"over the standard path with the same bf16 autocast: "
              f"{seconds['standard, dynamic, bf16'] / seconds['project, fused GELU, bf16']:.2f}x")
    else:
        print("bf16 autocast: not measured (this CPU has no native bfloat16 matrix products, or --no-bf16)")
    return gather_gain


@functools.cache
def matmul_rate(size: int = 1024, repeats: int = 20, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of a square matmul on this machine (best of ``repeats``), a practical peak."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


if __name__ == "__main__":
    main()
