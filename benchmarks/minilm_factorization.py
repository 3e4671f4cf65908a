"""What does factorizing a real pretrained BERT's word embedding cost? (notebook 02, section 5)

all-MiniLM-L6-v2 (``helpers.minilm``) spends half of its 22.7M parameters on a 30,522 x 384 word
embedding. For each rank E this command replaces that table by its best rank-E approximation
(``helpers.minilm.factorize_embedding``: a V x E table times an E x H projection, from a truncated
SVD) and measures, with everything else unchanged and nothing retrained:

- ``energy``: the share of the table's squared singular values the rank keeps;
- ``cosine``: the mean cosine similarity between each validation text's sentence vector
  (mean-pooled last layer) and the unfactorized model's (``cosine_first_256``: over the first 256
  validation texts, what the notebook recomputes live);
- ``frozen_accuracy``: validation accuracy of a logistic regression (scikit-learn, C = 1, on
  standardized features) trained on the frozen sentence vectors of all training snippets.

Nothing here is fitted on the validation split (no choice is made: the rank is the variable), and
the test split is not used. Every rank is stored in ``--out`` as it finishes (resumable).

    python benchmarks/minilm_factorization.py --out benchmarks/results/minilm_factorization.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

RANKS = (32, 64, 128, 256, 384)


def measure(rank: int | None, tokenizer, model, weight, energy, splits, base) -> dict:
    """One row: rank None is the unfactorized model. ``energy[r - 1]``: the share of the squared
    singular values the first r keep (computed once for all ranks)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from helpers.minilm import factorize_embedding, sentence_vectors

    start = time.perf_counter()
    vocab, hidden = weight.shape
    if rank is None:
        table, projection, parameters = weight, None, vocab * hidden
    else:
        table, projection = factorize_embedding(weight, rank)
        parameters = vocab * rank + rank * hidden
    embedding = model.embeddings.word_embeddings
    with torch.no_grad():
        embedding.weight.copy_(table if projection is None else table @ projection)
    features = {split: sentence_vectors(model, tokenizer, splits[split]["text"]) for split in ("train", "validation")}
    with torch.no_grad():
        embedding.weight.copy_(weight)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    classifier.fit(features["train"].numpy(), splits["train"]["label"])
    cosine = torch.nn.functional.cosine_similarity(features["validation"], base, dim=-1)
    return {"rank": rank if rank is not None else "none", "embedding_parameters": parameters,
            "energy": 1.0 if rank is None else round(float(energy[rank - 1]), 4), "cosine": round(float(cosine.mean()), 4),
            "cosine_first_256": round(float(cosine[:256].mean()), 4),
            "frozen_accuracy": round(float(classifier.score(features["validation"].numpy(),
                                                            splits["validation"]["label"])), 4),
            "seconds": round(time.perf_counter() - start)}


def main(argv=None) -> dict:
    import torch

    from helpers import minilm
    from helpers.data import load_sentiment
    from helpers.runtime import quiet
    from helpers.seed_stats import StoredRuns

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=list(RANKS))
    parser.add_argument("--out", type=Path, default=None, help="JSON file that stores every rank")
    args = parser.parse_args(argv)
    quiet()
    command = "python benchmarks/minilm_factorization.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    runs = StoredRuns(args.out, command, runs=f"one at a time, {torch.get_num_threads()} torch threads")
    runs.record["model"] = f"{minilm.HUB_ID} at {minilm.HUB_REVISION} (helpers.minilm)"
    tokenizer, model = minilm.load()
    splits = load_sentiment()
    weight = model.embeddings.word_embeddings.weight.detach().clone()
    singular = torch.linalg.svdvals(weight.double())
    energy = (singular**2).cumsum(0) / (singular**2).sum()
    base = minilm.sentence_vectors(model, tokenizer, splits["validation"]["text"])
    done = runs.done("rank")
    for rank in [None, *args.ranks]:
        if ("none" if rank is None else rank,) in done:
            continue
        runs.add(measure(rank, tokenizer, model, weight, energy, splits, base))
    return runs.record


if __name__ == "__main__":
    main()
