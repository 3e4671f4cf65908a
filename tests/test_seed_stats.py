"""Multi-seed statistics: means with standard errors, paired differences, tolerance bands."""

import json
import math
import statistics

import numpy as np
import pytest

from helpers import seed_stats
from helpers.data import split_fingerprint
from helpers.seed_stats import (
    StoredRuns,
    curve_table,
    load_results,
    mean_se,
    paired_difference,
    tolerance_band,
)


def test_mean_and_standard_error():
    mean, se = mean_se([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and se == pytest.approx(math.sqrt(5 / 3) / 2)
    assert mean_se([0.7]) == (0.7, 0.0)
    with pytest.raises(ValueError):
        mean_se([])


def test_paired_difference_is_seed_by_seed():
    gain, se = paired_difference([0.75, 0.76, 0.74], [0.72, 0.73, 0.71])
    assert gain == pytest.approx(0.03) and se == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="length"):
        paired_difference([1.0], [1.0, 2.0])


def test_tolerance_band_is_a_student_t_prediction_interval():
    low, high = tolerance_band([0.70, 0.72, 0.74])
    # t(0.9995, 2 df) = 31.599; sd 0.02; sqrt(1 + 1/3)
    assert high - 0.72 == pytest.approx(31.599 * 0.02 * (4 / 3) ** 0.5, rel=1e-4) and low + high == pytest.approx(1.44)
    ten = [0.70 + 0.01 * (i % 5) for i in range(10)]
    low, high = tolerance_band(ten)
    assert (high - low) / 2 / statistics.stdev(ten) == pytest.approx(5.01, abs=0.01)
    with pytest.raises(ValueError, match="three"):
        tolerance_band([0.7, 0.8])


def test_tolerance_band_misses_one_normal_run_in_a_thousand():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(40_000, 6))  # 5 seeds, then one more run
    outside = sum(not low < row[5] < high for row in draws for low, high in [tolerance_band(row[:5])])
    assert 0.0005 < outside / len(draws) < 0.002


def test_curves_by_variant_average_the_seeds_step_by_step():
    rows = [{"variant": "a", "seed": 0, "eval_steps": [0, 100], "heldout_losses": [6.0, 5.0]},
            {"variant": "a", "seed": 1, "eval_steps": [0, 100], "heldout_losses": [6.2, 5.4]},
            {"variant": "b", "seed": 0, "eval_steps": [0, 100], "heldout_losses": [6.1, 5.9]}]
    curves = seed_stats.curves_by_variant(rows)
    assert list(curves) == ["a", "b"]
    steps, mean, error = curves["a"]
    assert steps == [0, 100] and mean == pytest.approx([6.1, 5.2]) and error == pytest.approx([0.1, 0.2])
    assert curves["b"] == ([0, 100], [6.1, 5.9], [0.0, 0.0])
    rows.append({"variant": "b", "seed": 1, "eval_steps": [0, 50], "heldout_losses": [6.1, 5.9]})
    with pytest.raises(ValueError, match="different steps"):
        seed_stats.curves_by_variant(rows)


def test_live_steps_are_checked_against_the_stored_band():
    from types import SimpleNamespace

    rows = [{"variant": "a", "seed": seed, "eval_steps": [0, 100, 200], "heldout_losses": [6.0, 5.0 + d, 4.0 + d]}
            for seed, d in enumerate((0.00, 0.01, 0.02))]
    live = {"a": SimpleNamespace(eval_steps=[0, 100, 150], heldout_losses=[6.0, 5.01, 4.7])}
    with pytest.raises(AssertionError):  # step 0: the stored runs have no spread there
        seed_stats.check_live_steps(live, rows)
    live["a"].heldout_losses[0] = 6.0 + 1e-9
    rows[0]["heldout_losses"][0] = 5.99
    assert seed_stats.check_live_steps(live, rows) == 2  # steps 0 and 100; 150 was not stored
    live["a"].heldout_losses[1] = 5.5  # the band: 5.01 +- 0.37 (3 seeds)
    with pytest.raises(AssertionError, match="at step 100: 5.500, outside"):
        seed_stats.check_live_steps(live, rows)
    with pytest.raises(ValueError, match="no stored runs of 'b'"):
        seed_stats.check_live_steps({"b": live["a"]}, rows)


def test_missing_results_say_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.setattr(seed_stats, "RESULTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="benchmarks/README.md"):
        load_results("nothing")
    (tmp_path / "x.json").write_text(json.dumps({"rows": [1]}))
    assert load_results("x") == {"rows": [1]}


@pytest.mark.parametrize("name, script, keys", [
    ("finetune_gain", "finetune_gain", {"kind", "seed", "labels", "validation", "test"}),
    ("finetune_peft", "finetune_gain", {"method", "lr", "seed", "labels", "trainable", "test"}),
    ("recipe_choice", "choose_recipe", {"variant", "kind", "seed", "validation"}),
    ("pretrain_seeds", "pretrain_seeds", {"task", "seed", "mlm_loss", "sop_accuracy"}),
    ("variant_seeds_02", "variant_seeds", {"variant", "seed", "final_loss", "heldout_losses"}),
    ("variant_seeds_03", "variant_seeds", {"variant", "seed", "final_loss", "transitions"}),
    ("variant_seeds_02_long", "variant_seeds", {"variant", "seed", "final_loss", "heldout_losses"}),
    ("variant_seeds_03_long", "variant_seeds", {"variant", "seed", "final_loss", "transitions"})])
def test_the_stored_measurements_say_how_they_were_made(name, script, keys):
    """What the notebooks cite: every run, with the command, machine, wall time and data split."""
    record = load_results(name)
    assert record["command"].startswith(f"python benchmarks/{script}.py")
    assert record["machine"] and record["wall_seconds"] > 0 and record["data_sha256"]
    assert record["split"] == split_fingerprint(), f"{name} was measured on another data split: run it again"
    assert record["rows"] and all(keys <= set(row) for row in record["rows"])


def test_curve_table_gives_each_variants_seeds_mean_and_standard_error_at_the_chosen_steps():
    rows = [{"variant": "a", "seed": seed, "eval_steps": [0, 10, 20], "heldout_losses": [6.0, 5.0 + seed, loss]}
            for seed, loss in ((0, 4.0), (1, 4.2))]
    rows.append({"variant": "b", "seed": 0, "eval_steps": [0, 10, 20], "heldout_losses": [6.0, 5.5, 5.25]})
    table = curve_table(rows, (10, 20), reference=6.5, reference_name="unigram")
    assert table.loc["a"].to_dict() == {"seeds": 2, "step 10": "5.500 ± 0.500", "step 20": "4.100 ± 0.100",
                                        "below unigram": 2.4}
    assert table.loc["b"].to_dict() == {"seeds": 1, "step 10": "5.500", "step 20": "5.250", "below unigram": 1.25}
    with pytest.raises(ValueError, match="not evaluated at steps \\[15\\]"):
        curve_table(rows, (15,))


def test_stored_runs_resume_where_they_stopped(tmp_path, capsys):
    path = tmp_path / "results.json"
    first = StoredRuns(path, "python benchmarks/x.py --seeds 0 1")
    first.add({"seed": 0, "test": 0.7})
    again = StoredRuns(path, "python benchmarks/x.py --seeds 0 1")
    assert again.done("seed") == {(0,)} and again.rows == [{"seed": 0, "test": 0.7, "machine": first.machine}]
    again.add({"seed": 1, "test": 0.8})
    saved = json.loads(path.read_text())
    assert [r["seed"] for r in saved["rows"]] == [0, 1] and saved["machine"] and "wall_seconds" in saved
    assert capsys.readouterr().out.count("\n") == 2  # one JSON line per run


def test_stored_runs_of_two_commands_on_one_file_are_all_kept(tmp_path):
    path = tmp_path / "results.json"
    left = StoredRuns(path, "python benchmarks/x.py --variants a")
    right = StoredRuns(path, "python benchmarks/x.py --variants b")  # started before either stored a run
    left.add({"variant": "a", "seed": 0})
    right.add({"variant": "b", "seed": 0})
    left.add({"variant": "a", "seed": 1})
    assert [(r["variant"], r["seed"]) for r in json.loads(path.read_text())["rows"]] == [("a", 0), ("b", 0), ("a", 1)]


def test_stored_runs_sum_the_wall_time_of_two_commands_and_keep_each_rows_machine(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    clock = iter([0.0, 0.0, 10.0, 15.0, 20.0])  # left starts, right starts, left, right, left store
    monkeypatch.setattr("helpers.seed_stats.time.perf_counter", lambda: next(clock))
    left = StoredRuns(path, "python benchmarks/x.py --variants a")
    right = StoredRuns(path, "python benchmarks/x.py --variants b")
    right.machine = "another machine"
    left.add({"variant": "a", "seed": 0})
    right.add({"variant": "b", "seed": 0})
    left.add({"variant": "a", "seed": 1})
    saved = json.loads(path.read_text())
    assert saved["wall_seconds"] == 35  # left ran 20 s, right 15 s
    assert [r["machine"] for r in saved["rows"]] == [left.machine, "another machine", left.machine]


def test_rows_of_an_older_file_take_the_files_machine(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"machine": "old machine", "split": split_fingerprint(), "wall_seconds": 7,
                                "rows": [{"seed": 0}]}))
    runs = StoredRuns(path, "python benchmarks/x.py")
    runs.add({"seed": 1})
    saved = json.loads(path.read_text())
    assert [(r["seed"], r["machine"]) for r in saved["rows"]] == [(0, "old machine"), (1, runs.machine)]


def test_stored_runs_refuse_results_of_another_split(tmp_path):
    path = tmp_path / "runs.json"
    StoredRuns(path, "python benchmarks/x.py").add({"seed": 0, "test": 0.7})
    saved = json.loads(path.read_text())
    assert saved["split"] == split_fingerprint()
    path.write_text(json.dumps({**saved, "split": "an-older-split"}))
    with pytest.raises(ValueError, match="another data split"):
        StoredRuns(path, "python benchmarks/x.py")


def test_recipe_choice_never_scored_the_test_split():
    """Choices are made on validation: the runs that made them have no test score."""
    record = load_results("recipe_choice")
    assert all(row["test"] is None and row["validation"] is not None for row in record["rows"])
    assert set(record["choice"]) == {"pretrained", "scratch"}
