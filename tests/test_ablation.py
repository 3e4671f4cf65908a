"""The ablation command: argv round trip, per-example scores, and a report over a tiny suite."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from helpers import ablation
from helpers import pretrain as pt
from helpers.data import load_corpus
from helpers.pretraining import PretrainConfig, evaluate, init_pretraining_model
from helpers.pretraining_data import PretrainingData, held_out_texts
from helpers.seed_stats import bootstrap_ratio

TINY = dict(vocab_size=1000, embedding_size=16, hidden_size=32, num_attention_heads=2,
            intermediate_size=64, max_length=32, batch_size=8, max_steps=4, eval_every=2,
            save_every=2, log_every=2, eval_max_examples=32)


def test_every_suite_variant_goes_through_the_pretrain_command_line():
    for name, suite in ablation.SUITES.items():
        for variant in suite.variants:
            config = suite.config(variant, seed=3)
            _, parsed = pt.parse_args(["--out", "x", *ablation.pretrain_argv(config)])
            assert parsed == config, (name, variant)
        with pytest.raises(ValueError, match="unknown variant"):
            suite.config("bert", 0)


def test_sentence_suite_differs_only_in_the_task():
    suite = ablation.SUITES["sentence-tasks"]
    configs = {v: suite.config(v, 0) for v in suite.variants}
    assert {c.task for c in configs.values()} == {"none", "nsp", "sop"}
    assert len({json.dumps({**c.__dict__, "task": None}) for c in configs.values()}) == 1
    assert configs["sop"].corpus == "documents" and "sop_bare" in suite.eval_tasks


def test_long_sentence_suite_only_trains_longer():
    short, long = ablation.SUITES["sentence-tasks"], ablation.SUITES["sentence-tasks-long"]
    assert long.variants == short.variants and long.eval_tasks == short.eval_tasks
    assert {key for key in long.base if long.base[key] != short.base[key]} == {"max_steps", "eval_every", "save_every"}
    assert long.config("sop", 0).max_steps == 8 * short.config("sop", 0).max_steps


def test_128_token_suite_only_doubles_the_pair_length():
    long, wide = ablation.SUITES["sentence-tasks-long"], ablation.SUITES["sentence-tasks-128"]
    assert wide.variants == long.variants and wide.eval_tasks == long.eval_tasks
    assert {key for key in wide.base if wide.base[key] != long.base[key]} == {"max_length", "batch_size"}
    sop = wide.config("sop", 0)
    assert sop.max_length * sop.batch_size == long.config("sop", 0).max_length * long.config("sop", 0).batch_size
    assert sop.max_length == 128


def test_dev_suite_trains_twice_as_long_without_the_validation_slice():
    long, dev = ablation.SUITES["sentence-tasks-long"], ablation.SUITES["sentence-tasks-40k-dev"]
    assert dev.variants == long.variants and dev.eval_tasks == long.eval_tasks
    assert {key for key in dev.base if dev.base[key] != long.base[key]} == {"corpus", "max_steps", "eval_every"}
    assert dev.config("nsp", 0).corpus == "documents-dev" and dev.config("nsp", 0).max_steps == 40000
    dropout = ablation.SUITES["sentence-tasks-40k-dev-dropout"]
    assert {key for key in dropout.base if dropout.base[key] != dev.base.get(key)} == {"dropout"}
    assert dropout.config("sop", 0).dropout == 0.1 and dev.config("sop", 0).dropout == 0.0


def test_bootstrap_ratio():
    value, se = bootstrap_ratio([1, 0, 1, 1])
    assert value == 0.75 and 0 < se < 0.5
    assert bootstrap_ratio([2.0, 4.0], [1, 1], draws=50)[0] == 3.0
    with pytest.raises(ValueError):
        bootstrap_ratio([1.0], [1.0, 2.0])


@pytest.fixture(scope="module")
def tiny_data(tok):
    return PretrainingData(tok, PretrainConfig(**TINY), texts=load_corpus()["text"][:300],
                           eval_texts=held_out_texts()[:60])


def test_example_scores_add_up_to_the_aggregate_evaluation(tok, tiny_data):
    model = init_pretraining_model(PretrainConfig(**TINY), tok)
    batches = tiny_data.eval_batches("sop", max_examples=40)
    scores = ablation.example_scores(model, batches)
    total = evaluate(model, batches)
    assert len(scores["sentence_correct"]) == 40
    assert scores["mlm_loss_sum"].sum() / scores["mlm_count"].sum() == pytest.approx(total["mlm_loss"], rel=1e-5)
    assert scores["sentence_correct"].mean() == pytest.approx(total["sentence_accuracy"])
    assert ablation.context_free_loss(tiny_data, batches) > 0


def test_report_scores_finished_runs_and_summarizes_seeds(tok, tiny_data, tmp_path, monkeypatch):
    suite = ablation.Suite("tiny", base=TINY, variants={"sop": {"task": "sop"}, "none": {"task": "none"}},
                           eval_tasks=("sop", "sop_bare"), seeds=(0, 1))
    monkeypatch.setitem(ablation.SUITES, "tiny", suite)
    texts, held = load_corpus()["text"][:300], held_out_texts()[:60]
    monkeypatch.setattr("helpers.pretraining_data.corpus_texts", lambda corpus: (texts, held))
    for seed in (0, 1):
        for variant in ("sop", "none"):
            pt.pretrain(suite.config(variant, seed), ablation.run_dir(tmp_path, "tiny", variant, seed),
                        tokenizer=tok, data=tiny_data, progress=False, eval_tasks=suite.eval_tasks)
    record = ablation.report("tiny", tmp_path, tmp_path / "out.json", command="report")
    assert json.loads((tmp_path / "out.json").read_text())["summary"] == record["summary"]
    assert record["summary"]["sop"]["seeds"] == [0, 1]
    mean, se = record["summary"]["sop"]["sop_accuracy"]
    assert mean == pytest.approx(np.mean([r["final"]["sop_accuracy"][0] for r in record["runs"]
                                          if r["variant"] == "sop"]), abs=1e-4)
    assert {r["step"] for r in record["runs"]} == {4} and record["held_out_examples"]["sop"] > 0
    assert record["runs"][0]["evals"][0]["step"] == 2
    with pytest.raises(SystemExit, match="train them first"):
        ablation.report("tiny", tmp_path / "empty", None)

    # --merge: seed 1 reported into a file that holds seed 0 gives the same table as both at once
    ablation.report("tiny", tmp_path, tmp_path / "merged.json", seeds=[0], command="report 0")
    merged = ablation.report("tiny", tmp_path, tmp_path / "merged.json", seeds=[1], command="report 1", merge=True)
    assert merged["summary"] == record["summary"]
    assert [(r["variant"], r["seed"]) for r in merged["runs"]] == [(r["variant"], r["seed"]) for r in record["runs"]]
    assert merged["commands"]["report"] == "report 1" and merged["commands"]["earlier_reports"] == ["report 0"]
    stored = json.loads((tmp_path / "merged.json").read_text())
    stored["config"]["max_steps"] = 8
    (tmp_path / "merged.json").write_text(json.dumps(stored))
    with pytest.raises(SystemExit, match="another config"):
        ablation.report("tiny", tmp_path, tmp_path / "merged.json", seeds=[1], merge=True)

    # --eval-corpus: the same checkpoints scored on another corpus's held-out text (a test split)
    test_texts = held_out_texts()[60:120]
    own = TINY.get("corpus", "reviews")
    monkeypatch.setattr("helpers.pretraining_data.corpus_texts",
                        lambda corpus: (texts, held if corpus == own else test_texts))
    tested = ablation.report("tiny", tmp_path, None, seeds=[0], eval_corpus="documents")
    expected = PretrainingData(tok, PretrainConfig(**TINY), texts=texts, eval_texts=test_texts)
    assert tested["held_out_examples"]["sop"] == sum(len(b["input_ids"]) for b in expected.eval_batches("sop"))
    assert "'documents'" in tested["scored_on"] and "'documents'" not in record["scored_on"]
    assert tested["runs"][0]["evals"] == record["runs"][0]["evals"]  # the training curves are the run's own
    with pytest.raises(SystemExit, match="another scored_on"):
        ablation.report("tiny", tmp_path, tmp_path / "out.json", seeds=[1], merge=True, eval_corpus="documents")
    monkeypatch.setattr("helpers.pretraining_data.corpus_texts",
                        lambda corpus: (texts, held if corpus == own else list(texts[:40])))
    with pytest.raises(SystemExit, match="part of it is in the training text"):
        ablation.report("tiny", tmp_path, None, seeds=[0], eval_corpus="documents")


@pytest.mark.parametrize(("name", "suite_name", "variants", "seeds"), [
    ("sentence_tasks", "sentence-tasks", ("none", "nsp", "sop"), (0, 1)),
    ("sentence_tasks_long", "sentence-tasks-long", ("none", "nsp", "sop"), (0, 1)),  # notebook 04, section 7
    ("sentence_tasks_40k_dev", "sentence-tasks-40k-dev", ("nsp", "sop"), (0,)),  # recipe choice, validation
])
def test_the_stored_sentence_task_runs_say_how_they_were_made(name, suite_name, variants, seeds):
    """benchmarks/results/<name>.json: commands, machine, data, and every variant x seed, finished."""
    from helpers.data import split_fingerprint
    from helpers.runtime import repo_root
    record = json.loads((repo_root() / f"benchmarks/results/{name}.json").read_text())
    assert record["data"]["split"] == split_fingerprint(), "measured on another data split: run it again"
    assert record["commands"]["report"].startswith(f"python -m helpers.ablation report {suite_name} ")
    assert record["training"]["machines"] and record["training"]["wall_seconds"] > 0
    assert record["config"] == {**asdict(ablation.SUITES[suite_name].config("sop", 0)), "task": None, "seed": None}
    assert {(r["variant"], r["seed"]) for r in record["runs"]} == {(v, s) for v in variants for s in seeds}
    assert all(r["finished"] for r in record["runs"])
