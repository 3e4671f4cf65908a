"""Pretraining checkpoints: plain transformers folders, saved atomically, with a model card.

A checkpoint folder holds ``config.json``, ``model.safetensors`` and the tokenizer files, so
``AutoModelForMaskedLM``, ``AutoModelForSequenceClassification`` and ``pipeline("fill-mask")``
load it directly; ``pretrain_config.json`` records the run. While training,
``training_state.pt`` (optimizer, schedule, step, history: tensors and plain values only, so
it loads with ``torch.load(..., weights_only=True)``) sits next to them so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import AlbertForPreTraining, BertTokenizer

from helpers.chinese_tokenizer import is_char_tokenizer_folder, load_char_tokenizer, write_vocab_txt
from helpers.files import atomic_folder
from helpers.pretraining import PretrainConfig
from helpers.runtime import SHIPPED_CHECKPOINT
from helpers.tokenizer import load_tokenizer

STATE_FILE = "training_state.pt"
CONFIG_FILE = "pretrain_config.json"
LOG_FILE = "training_log.json"


def save_checkpoint(out_dir: Path, model, tokenizer, config: PretrainConfig,
                    state: dict | None = None) -> Path:
    """Write a transformers checkpoint (+ training state) to ``out_dir`` atomically.

    Files of an earlier save that this one does not rewrite (e.g. a model card) are carried
    over. If the process dies mid-save, ``out_dir`` or ``<out_dir>.old`` holds a complete
    checkpoint, and :func:`helpers.files.recover_folder` (called on resume) puts it back.
    """
    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if isinstance(tokenizer, BertTokenizer):  # a character vocabulary: ship vocab.txt, as Chinese checkpoints do
            write_vocab_txt(tokenizer, tmp)
        (tmp / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")
        if state is not None:
            torch.save(state, tmp / STATE_FILE)
            (tmp / LOG_FILE).write_text(json.dumps(state.get("history", []), indent=1) + "\n")
        if out_dir.exists():
            for item in out_dir.iterdir():
                if item.is_file() and not (tmp / item.name).exists() and item.name != STATE_FILE:
                    shutil.copy2(item, tmp / item.name)
    return out_dir


def load_training_state(out_dir: Path) -> dict | None:
    """The saved ``training_state.pt`` of an interrupted run (None if there is none)."""
    path = Path(out_dir) / STATE_FILE
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def load_pretrained(path: str | Path = SHIPPED_CHECKPOINT):
    """(AlbertForPreTraining, tokenizer) from a checkpoint folder, e.g. the shipped one."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train one with `python -m helpers.pretrain --out {path}`")
    tokenizer = load_char_tokenizer(path) if is_char_tokenizer_folder(path) else load_tokenizer(path)
    return AlbertForPreTraining.from_pretrained(path), tokenizer


def hardware_summary() -> str:
    """One line describing where this ran (CPU model, cores, threads, GPU if any)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"
            f"{gpu}; {platform.system()} {platform.release()}, torch {torch.__version__}")
