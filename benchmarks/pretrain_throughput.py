"""Training throughput: the project's pretraining step vs transformers' standard forward.

Both sides train the same ``AlbertForPreTraining`` config (copies of the same weights) on the
same batches of the same data, alternating batch by batch so that background load on the
machine hits both equally:

* **standard**: ``AlbertForPreTraining(**batch, labels=..., sentence_order_label=...)``, which
  projects *every* position onto the vocabulary (batch x time x V logits) and ignores 85% of
  them in the loss; batches padded to ``--max-length`` as a fixed-shape collator does.
* **project**: ``helpers.pretraining.PretrainingLoss``: the MLM head runs only at the gathered
  masked positions, and batches are padded only to their longest example (dynamic padding,
  length-grouped batches). ``--same-padding`` pads both sides identically, isolating the
  gather.

Before timing, both compute the loss of one batch in eval mode; they must agree to 1e-4.
Tokens/s counts real (non-padding) tokens, so both sides are credited with the same work.

    python benchmarks/pretrain_throughput.py            # prints the speed-up ratio last
"""

from __future__ import annotations

import argparse
import copy
import time

import torch


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
    parser.add_argument("--same-padding", action="store_true",
                        help="pad both sides to --max-length (measures the gather alone)")
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
    ours_batches = fixed if args.same_padding else dynamic

    base = init_pretraining_model(config, tokenizer)
    standard_model = copy.deepcopy(base)
    ours = PretrainingLoss(copy.deepcopy(base))

    def standard_loss(model, batch):
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                     sentence_order_label=batch["sentence_label"]).loss

    # 1. Same loss on the same batch (eval mode: the SOP head's dropout off).
    standard_model.eval()
    ours.eval()
    with torch.no_grad():
        loss_standard = float(standard_loss(standard_model, fixed[0]))
        loss_ours = float(ours(**dynamic[0])[0])
    print(f"loss on batch 0: standard {loss_standard:.6f}  project {loss_ours:.6f}")
    assert abs(loss_standard - loss_ours) < 1e-4, "the two losses differ: the step is wrong"
    standard_model.train()
    ours.train()

    # 2. Alternate training steps, timing each side.
    opt_standard = make_optimizer(standard_model, config.learning_rate, config.weight_decay)
    opt_ours = make_optimizer(ours.model, config.learning_rate, config.weight_decay)
    seconds = {"standard": 0.0, "project": 0.0}
    tokens = 0
    for i in range(n_batches):
        for side in ("standard", "project"):
            start = time.perf_counter()
            if side == "standard":
                loss = standard_loss(standard_model, fixed[i])
                opt = opt_standard
            else:
                loss = ours(**ours_batches[i])[0]
                opt = opt_ours
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i >= args.warmup:
                seconds[side] += time.perf_counter() - start
        if i >= args.warmup:
            tokens += int(dynamic[i]["attention_mask"].sum())
    padding = "same padding" if args.same_padding else "dynamic padding"
    print(f"config: E={config.embedding_size} H={config.hidden_size} L={config.num_hidden_layers} "
          f"V={len(tokenizer)} batch={args.batch_size} max_length={args.max_length} "
          f"threads={torch.get_num_threads()}; {args.steps} timed steps per side ({padding})")
    for side in seconds:
        print(f"{side:>8}: {tokens / seconds[side]:8.0f} tokens/s  "
              f"({1000 * seconds[side] / args.steps:.0f} ms/step)")
    ratio = seconds["standard"] / seconds["project"]
    print(f"speed-up (project / standard tokens per second): {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()
