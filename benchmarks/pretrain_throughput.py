"""Training throughput: the project's pretraining step vs what a transformers user runs.

Three sides train the same ``AlbertForPreTraining`` config (copies of the same weights) on the
same examples with the same masks, alternating batch by batch so that background load on the
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

So the padding gain (standard: dynamic vs padded) and the gather gain (project vs standard, both
dynamic) are reported separately. Before timing, all sides compute the loss of one batch in eval
mode; they must agree to 1e-4. Tokens/s counts real (non-padding) tokens, so every side is
credited with the same work. The last lines count each side's FLOPs (``torch.utils.flop_counter``),
give the achieved FLOP/s as a share of this machine's measured float32 matmul rate, and the
ceiling that arithmetic sets: the standard step's time over the time the project's FLOPs would
take at the full matmul rate. No kernel tuning can beat that ceiling with the same loss; only
less arithmetic can (a smaller head, less padding).

    python benchmarks/pretrain_throughput.py            # prints the ratios last
"""

from __future__ import annotations

import argparse
import copy
import functools
import time

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
    args = parser.parse_args(argv)
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
    standard_padded, standard_dynamic = copy.deepcopy(base), copy.deepcopy(base)
    ours = PretrainingLoss(copy.deepcopy(base))
    fused_config = copy.deepcopy(base.config)
    fused_config.hidden_act = "gelu_pytorch_tanh"
    fused = type(base)(fused_config)
    fused.load_state_dict(base.state_dict())
    ours_fused = PretrainingLoss(fused)

    def standard_loss(model, batch):
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                     sentence_order_label=batch["sentence_label"]).loss

    # 1. Same loss on the same batch (eval mode: the SOP head's dropout off).
    for module in (standard_padded, standard_dynamic, ours, ours_fused):
        module.eval()
    with torch.no_grad():
        losses = {"standard, padded": float(standard_loss(standard_padded, fixed[0])),
                  "standard, dynamic padding": float(standard_loss(standard_dynamic, dynamic[0])),
                  "project": float(ours(**dynamic[0])[0]),
                  "project, fused GELU": float(ours_fused(**dynamic[0])[0])}
    print("loss on batch 0: " + "  ".join(f"{side} {loss:.6f}" for side, loss in losses.items()))
    assert max(losses.values()) - min(losses.values()) < 1e-4, "the losses differ: a step is wrong"
    for module in (standard_padded, standard_dynamic, ours, ours_fused):
        module.train()

    # 2. Alternate training steps, timing each side.
    sides = {"standard, padded": (lambda b: standard_loss(standard_padded, b), standard_padded, fixed),
             "standard, dynamic padding": (lambda b: standard_loss(standard_dynamic, b), standard_dynamic, dynamic),
             "project": (lambda b: ours(**b)[0], ours.model, dynamic),
             "project, fused GELU": (lambda b: ours_fused(**b)[0], ours_fused.model, dynamic)}
    optimizers = {side: make_optimizer(model, config.learning_rate, config.weight_decay)
                  for side, (_, model, _) in sides.items()}
    seconds = dict.fromkeys(sides, 0.0)
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
        print(f"{side:>26}: {flops[side] / args.steps / 1e9:6.1f} GFLOP/step, {achieved / 1e9:5.1f} GFLOP/s, "
              f"{achieved / peak:4.0%} of the measured float32 matmul rate ({peak / 1e9:.0f} GFLOP/s)")
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
    return gather_gain


@functools.cache
def matmul_rate(size: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of a square float32 matmul on this machine (best of ``repeats``), a practical peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


if __name__ == "__main__":
    main()
