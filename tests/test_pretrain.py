import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import (
    AlbertConfig,
    AlbertForPreTraining,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    pipeline,
)

from helpers import checkpoints as ck
from helpers import files
from helpers import pretrain as pt
from helpers.data import load_corpus
from helpers.pretraining import (
    PretrainConfig,
    PretrainingLoss,
    evaluate_tasks,
    init_pretraining_model,
    train_loop,
)
from helpers.pretraining_data import CORPORA, PretrainingData, held_out_texts
from helpers.runtime import SHIPPED_CHECKPOINT
from helpers.training import make_optimizer, warmup_linear_decay

TINY = dict(vocab_size=1000, embedding_size=16, hidden_size=32, num_attention_heads=2,
            intermediate_size=64, max_length=32, batch_size=8, eval_every=0, save_every=3,
            log_every=2, eval_max_examples=64, learning_rate=1e-3)
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]


@pytest.fixture(scope="module")
def data(tok):
    config = PretrainConfig(**TINY)
    return PretrainingData(tok, config, texts=load_corpus()["text"][:400],
                              eval_texts=held_out_texts()[:80])


def run(tok, data, out, **kw):
    config = PretrainConfig(**{**TINY, **kw.pop("config", {})})
    return pt.pretrain(config, out, tokenizer=tok, data=data, progress=False, **kw)


def test_gathered_loss_equals_transformers_loss(tok, data):
    config = PretrainConfig(**TINY)
    model = init_pretraining_model(config, tok).eval()
    examples, batches = data.epoch_batches(0)
    batch = data.collate(examples, batches[0], (0, 0, 0))
    ours, stats = PretrainingLoss(model)(**batch)
    reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                      sentence_order_label=batch["sentence_label"]).loss
    assert torch.allclose(ours, reference, atol=1e-5)
    assert stats["mlm_count"] == int((batch["labels"] != -100).sum())


def test_a_batch_without_masked_tokens_gives_a_finite_loss(tok, data):
    config = PretrainConfig(**TINY)
    model = init_pretraining_model(config, tok)
    examples, batches = data.epoch_batches(0)
    batch = data.collate(examples, batches[0], (0, 0, 0))
    batch["labels"].fill_(-100)
    loss, stats = PretrainingLoss(model)(**batch)
    loss.backward()  # the graph still reaches the parameters
    assert torch.isfinite(loss) and stats["mlm_count"] == 0


def test_training_lowers_the_loss_and_checkpoint_round_trips(tok, data, tmp_path):
    out = tmp_path / "ckpt"
    result = run(tok, data, out, config=dict(max_steps=30, log_every=5), keep_state=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.evals and 0 <= result.evals[-1]["mlm_accuracy"] <= 1
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "pretrain_config.json",
            "training_log.json"} <= files
    assert ck.STATE_FILE not in files  # keep_state=False: a small folder
    # The same weights come back through every Auto class, with no conversion.
    batch = tok(["a fine film [MASK] ."], return_tensors="pt")
    reloaded = AlbertForPreTraining.from_pretrained(out).eval()
    result.model.eval()
    with torch.no_grad():
        expected = result.model(**batch).prediction_logits
        assert torch.allclose(reloaded(**batch).prediction_logits, expected, atol=1e-5)
        mlm = AutoModelForMaskedLM.from_pretrained(out).eval()
        assert torch.allclose(mlm(**batch).logits, expected, atol=1e-5)
    classifier = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    assert torch.equal(classifier.albert.embeddings.word_embeddings.weight,
                       reloaded.albert.embeddings.word_embeddings.weight)
    fill = pipeline("fill-mask", model=str(out), top_k=3)
    predictions = fill("the film was [MASK] .")
    assert len(predictions) == 3 and all("token_str" in p for p in predictions)


@pytest.mark.parametrize("dropout", [0.0, 0.1])  # dropout draws random masks every step
def test_resume_after_interruption_matches_an_uninterrupted_run(tok, data, tmp_path, dropout):
    steps = dict(max_steps=8, dropout=dropout)
    straight = run(tok, data, tmp_path / "a", config=steps)
    first = run(tok, data, tmp_path / "b", config=steps, stop_after=3)
    assert first.stopped_early and first.step == 3
    assert (tmp_path / "b" / ck.STATE_FILE).exists()
    resumed = run(tok, data, tmp_path / "b", config=steps)
    assert resumed.step == 8 and not resumed.stopped_early
    for (name, p), q in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
    assert [h["step"] for h in resumed.history] == [h["step"] for h in straight.history]


def test_an_epoch_shorter_than_the_first_does_not_stall_training(tok, data, monkeypatch):
    # Epoch sizes vary by a batch or so (random cut points). Steps are mapped to (epoch,
    # position) with epoch 0's size; a shorter later epoch once left the loop spinning forever.
    original = type(data).epoch_batches
    calls = []

    def shorter_second_epoch(self, epoch, rank=0, world_size=1):
        calls.append(epoch)
        if len(calls) > 10:
            raise RuntimeError("the training loop keeps rebuilding epochs without stepping")
        examples, batches = original(self, epoch, rank, world_size)
        return examples, batches[:-2] if epoch == 1 else batches

    monkeypatch.setattr(type(data), "epoch_batches", shorter_second_epoch)
    steps_per_epoch = len(original(data, 0)[1])
    result = run(tok, data, None, config=dict(max_steps=2 * steps_per_epoch + 1))
    assert result.step == 2 * steps_per_epoch + 1
    assert calls.count(1) == 1 and calls[-1] == 2  # epoch 1 topped up to full length, then epoch 2


def test_resume_refuses_a_different_config(tok, data, tmp_path):
    run(tok, data, tmp_path / "c", config=dict(max_steps=4), stop_after=2)
    with pytest.raises(ValueError, match="different config"):
        run(tok, data, tmp_path / "c", config=dict(max_steps=5))


def test_dropout_reaches_the_model_and_the_command_line(tok):
    _, config = pt.parse_args(["--out", "x", "--dropout", "0.1"])
    albert = config.albert_config(tok)
    assert albert.hidden_dropout_prob == albert.attention_probs_dropout_prob == 0.1
    assert PretrainConfig().albert_config(tok).hidden_dropout_prob == 0.0  # ALBERT v2


def test_pretraining_dropout_is_kept_for_fine_tuning(tok, data, tmp_path):
    out = tmp_path / "dropout"
    run(tok, data, out, config=dict(max_steps=2, dropout=0.1))
    for_use = AlbertConfig.from_pretrained(out)  # what from_pretrained gives a fine-tuning run
    assert for_use.hidden_dropout_prob == for_use.attention_probs_dropout_prob == 0.1
    recorded = json.loads((out / ck.CONFIG_FILE).read_text())
    assert recorded["dropout"] == 0.1


def test_a_checkpoint_saved_with_dropout_0_in_config_json_resumes_with_its_dropout(tok, data, tmp_path):
    """Older versions wrote dropout 0 to config.json; resume takes the run's own from its state."""
    out = tmp_path / "old-dropout"
    run(tok, data, out, config=dict(max_steps=4, dropout=0.1), stop_after=2)
    saved = AlbertConfig.from_pretrained(out)
    saved.hidden_dropout_prob = saved.attention_probs_dropout_prob = 0.0
    saved.save_pretrained(out)
    result = run(tok, data, out, config=dict(max_steps=4, dropout=0.1))
    assert result.step == 4 and result.model.config.hidden_dropout_prob == 0.1


def test_a_run_saved_before_a_config_field_existed_still_resumes(tok, data, tmp_path):
    out = tmp_path / "old"
    run(tok, data, out, config=dict(max_steps=4), stop_after=2)
    state = torch.load(out / ck.STATE_FILE, weights_only=True)  # plain values and tensors only
    del state["config"]["dropout"]  # as written before the field was added
    torch.save(state, out / ck.STATE_FILE)
    assert run(tok, data, out, config=dict(max_steps=4)).step == 4


def test_a_crash_mid_save_leaves_the_previous_checkpoint(tok, data, tmp_path, monkeypatch):
    out = tmp_path / "d"
    result = run(tok, data, out, config=dict(max_steps=2))
    before = AlbertForPreTraining.from_pretrained(out).state_dict()
    real_replace = os.replace
    calls = []

    def crash_on_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # out -> out.old done; tmp -> out "crashes"
            raise OSError("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", crash_on_second_rename)
    config = PretrainConfig(**{**TINY, "max_steps": 2})
    with pytest.raises(OSError, match="simulated"):
        ck.save_checkpoint(out, result.model, tok, config)
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert not out.exists()
    files.recover_folder(out)
    after = AlbertForPreTraining.from_pretrained(out).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not list(tmp_path.glob(".d.tmp-*"))


def test_cli_two_processes_with_accelerate(tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` gives two gloo processes on a CPU."""
    out = tmp_path / "ckpt"
    env = {**os.environ, "ALBERT_REPO_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1",
           "ALBERT_DATA_DIR": str(Path(__file__).resolve().parent.parent / "data" / "cache"),
           "ACCELERATE_USE_CPU": "false"}
    launcher = Path(sys.executable).with_name("accelerate")
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "helpers.pretrain",
           "--out", str(out), "--max-steps", "4", "--quiet", "--threads", "1", *TINY_FLAGS]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])  # printed by the main process only
    assert summary["world_size"] == 2 and summary["step"] == 4
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert model.config.hidden_size == TINY["hidden_size"]


def test_every_process_trains_on_its_own_shard(tok, data):
    view = data.with_config(PretrainConfig(**{**TINY, "max_steps": 6}))
    shards = [{tuple(b) for b in view.epoch_batches(0, rank, 2)[1]} for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == view.steps_per_epoch(0, 2) and not shards[0] & shards[1]
    assert [step for step, _ in view.training_batches(rank=1, world_size=2)] == list(range(6))


def test_the_notebook_loop_gives_the_same_model_as_the_command_line_run(tok, data):
    """Notebook 04 drives train_loop by hand; pretrain() runs the same loop under Accelerate."""
    config = PretrainConfig(**{**TINY, "max_steps": 5})
    by_cli = run(tok, data, None, config=dict(max_steps=5))
    model = init_pretraining_model(config, tok)
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    scheduler = warmup_linear_decay(optimizer, config.warmup_steps, config.max_steps)
    train_loop(PretrainingLoss(model), optimizer, scheduler, data.with_config(config).training_batches(),
               config.max_grad_norm)
    for (name, p), q in zip(model.state_dict().items(), by_cli.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_shipped_checkpoint_loads_with_standard_classes_and_has_a_model_card():
    """checkpoints/tiny-albert is a plain transformers folder, documented and reproducible."""
    from helpers.data import WHEEL_SHA256
    from helpers.tokenizer import check_special_ids

    path = SHIPPED_CHECKPOINT
    assert (path / "model.safetensors").is_file() and not (path / "training_state.pt").exists()
    masked_lm = AutoModelForMaskedLM.from_pretrained(path)
    classifier = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    assert torch.equal(classifier.albert.embeddings.word_embeddings.weight,
                       masked_lm.albert.embeddings.word_embeddings.weight)
    fill = pipeline("fill-mask", model=str(path), top_k=2)
    assert len(fill("a [MASK] film.")) == 2
    model, tokenizer = ck.load_pretrained(path)
    check_special_ids(tokenizer)
    card = (path / "README.md").read_text()
    assert "python -m helpers.pretrain" in card and WHEEL_SHA256 in card
    saved = PretrainConfig.from_dict(json.loads((path / "pretrain_config.json").read_text()))
    assert model.config.hidden_size == saved.hidden_size
    command = next(line for line in card.splitlines() if line.startswith("python -m helpers.pretrain"))
    _, from_command = pt.parse_args(shlex.split(command)[3:])
    assert from_command == saved, "the card's command must give the recorded configuration"
    # config.json carries the pretraining dropout, so fine-tuning uses it (the card's measured recipe)
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == saved.dropout
    # The card's description is what --model-card writes for this configuration (no drift by hand)
    regenerated = pt.model_card(saved, pt.PretrainResult(model=model, tokenizer=tokenizer), command,
                                metrics={}, hardware="")
    assert card.split("## Reproduce")[0] == regenerated.split("## Reproduce")[0]


def test_model_card_says_whether_embeddings_are_factorized():
    from helpers.pretrain import factorization_note
    from helpers.pretraining import PretrainConfig

    assert "does **not** factorize" in factorization_note(PretrainConfig(embedding_size=128, hidden_size=128))
    assert "E = 128 < H = 256" in factorization_note(PretrainConfig(embedding_size=128, hidden_size=256))


def test_evaluate_only_needs_a_checkpoint_folder_of_this_command(tmp_path):
    with pytest.raises(SystemExit, match="pretrain_config.json"):
        pt.main(["--out", str(tmp_path), "--evaluate-only"])


def test_bare_evaluation_variant_and_unknown_variant(tok, data):
    model = init_pretraining_model(PretrainConfig(**TINY), tok).eval()
    metrics = evaluate_tasks(model, data, ("sop", "sop_bare"), max_examples=32)
    assert set(metrics) == {"mlm_accuracy", "mlm_loss", "sop_accuracy", "sop_bare_accuracy"}
    with pytest.raises(ValueError, match="unknown evaluation variant"):
        data.eval_batches("sop_plain")


def test_model_card_names_the_corpus_and_its_checksum():
    from helpers.data import WHEEL_SHA256
    from helpers.documents import SOTU

    assert WHEEL_SHA256 in pt.training_data("reviews") and SOTU.sha256 not in pt.training_data("reviews")
    assert SOTU.sha256 in pt.training_data("documents") and WHEEL_SHA256 in pt.training_data("documents")
    assert "less the validation slice" in pt.training_data("documents-dev")
    assert set(pt.CORPUS_TITLES) == set(pt.HELD_OUT_TEXT) == set(CORPORA)


def test_cli_bf16_autocast_trains_like_float32(tmp_path):
    """--mixed-precision bf16 (a process-wide accelerate setting, so in subprocesses): same losses
    as float32 to bf16 rounding, and a float32 checkpoint."""
    env = {**os.environ, "ALBERT_REPO_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1",
           "ALBERT_DATA_DIR": str(Path(__file__).resolve().parent.parent / "data" / "cache")}
    runs = {}
    for precision in ("no", "bf16"):
        out = tmp_path / precision
        runs[precision] = (out, subprocess.Popen(
            [sys.executable, "-m", "helpers.pretrain", "--out", str(out), "--max-steps", "4", "--quiet",
             "--threads", "1", "--mixed-precision", precision, *TINY_FLAGS],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=Path(__file__).resolve().parent.parent))
    losses = {}
    for precision, (out, process) in runs.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
        losses[precision] = [r["loss"] for r in json.loads((out / ck.LOG_FILE).read_text())]
    assert len(losses["bf16"]) == len(losses["no"]) == 2 and losses["bf16"] != losses["no"]  # autocast ran
    assert max(abs(a - b) for a, b in zip(losses["bf16"], losses["no"], strict=True)) < 0.05, losses
    model = AlbertForPreTraining.from_pretrained(tmp_path / "bf16")
    assert all(p.dtype == torch.float32 for p in model.parameters())
