"""The fixed-budget MLM comparison: packing, fixed masks, training, Figure 1 metrics."""

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import helpers.encoder_variants
import helpers.tokenizer
from helpers.albert import ScratchAlbertModel
from helpers.configs import PAPER_TABLE_3, PAPER_TABLE_4, paper_parameter_table, show_counts
from helpers.encoder_variants import (
    FACTORIZATION_BASELINE,
    Budget,
    Variant,
    build_data,
    factorization_variants,
    heldout_block_losses,
    heldout_loss,
    layer_transitions,
    pack_blocks,
    paired_difference,
    prepare_experiment,
    results_table,
    run_variants,
    sharing_variants,
    tiny_config,
    train_variant,
    unigram_log_probs,
    unigram_loss,
)
from helpers.masking import IGNORE_INDEX
from helpers.plots import plot_comparison

WORDS = ("the film is a quiet and moving story about love loss and time but the plot "
         "never quite works although the cast is great fun to watch").split()


def sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(5, 15))) + "." for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer(tok):
    return tok  # the session's corpus tokenizer (tests/conftest.py)


BUDGET = Budget(steps=20, batch_size=8, seq_len=16, learning_rate=1e-2, warmup_steps=2,
                eval_every=10, heldout_blocks=12, seed=0, start_from_unigram=False)


@pytest.fixture(scope="module")
def data(tokenizer):
    return build_data(sentences(300, 1), sentences(60, 2), tokenizer, BUDGET)


def test_pack_blocks(tokenizer):
    blocks = pack_blocks(["the film", "a story", "the cast is great"], tokenizer, seq_len=4)
    assert blocks.shape[1] == 4
    assert (blocks[:, 0] == tokenizer.cls_token_id).all()
    stream = blocks[:, 1:].flatten().tolist()
    assert stream.count(tokenizer.sep_token_id) >= 2  # documents are separated by [SEP]
    assert tokenizer.pad_token_id not in stream  # packed: no padding
    with pytest.raises(ValueError, match="do not fill one block"):
        pack_blocks(["the"], tokenizer, seq_len=64)


def test_tiny_config():
    config = tiny_config(vocab_size=100, embedding_size=16, hidden_size=64)
    assert (config.num_attention_heads, config.intermediate_size, config.hidden_dropout_prob) == (2, 256, 0.0)


def test_notebook_03s_all_shared_is_notebook_02s_unfactorized_model():
    """Notebook 03 takes its all-shared long runs from notebook 02's E = H = 128 runs: the same model."""
    all_shared, unfactorized = sharing_variants(8000)["all-shared"], factorization_variants(8000)[FACTORIZATION_BASELINE]
    assert all_shared == unfactorized and all_shared.config.to_dict() == unfactorized.config.to_dict()


def test_heldout_set_is_fixed_and_masked(tokenizer, data):
    again = build_data(sentences(300, 1), sentences(60, 2), tokenizer, BUDGET)
    assert torch.equal(data.heldout_inputs, again.heldout_inputs)
    assert torch.equal(data.heldout_labels, again.heldout_labels)
    assert data.heldout_inputs.shape == (12, 16)
    masked = data.heldout_labels != IGNORE_INDEX
    assert 0 < data.heldout_targets == int(masked.sum())
    assert (data.heldout_inputs[masked] == tokenizer.mask_token_id).any()
    original = data.heldout_blocks
    assert torch.equal(original[masked], data.heldout_labels[masked])
    assert torch.equal(original[~masked], data.heldout_inputs[~masked])
    assert (original != tokenizer.mask_token_id).all()


def test_batches_replay_with_the_same_seed(data):
    first, second = data.batches(BUDGET), data.batches(BUDGET)
    assert len(first) == BUDGET.steps
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, second, strict=True))
    other = data.batches(Budget(**{**BUDGET.__dict__, "seed": 1}))
    assert not torch.equal(first[0][0], other[0][0])


def test_unigram_reference_is_better_than_uniform(data):
    assert 0 < unigram_loss(data) < math.log(data.vocab_size)
    log_probs = unigram_log_probs(data)
    assert log_probs.shape == (data.vocab_size,)
    assert torch.isclose(log_probs.exp().sum(), torch.tensor(1.0, dtype=torch.float64))


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_training_lowers_heldout_loss_and_is_reproducible(data):
    config = tiny_config(data.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                         seq_len=BUDGET.seq_len)
    variants = {"a": Variant(config, sharing="all-shared"), "b": Variant(config, sharing="all-shared"),
                "c": Variant(config, sharing="not-shared")}
    results = run_variants(variants, data, BUDGET, verbose=False, workers=1)
    a, b, c = results["a"], results["b"], results["c"]
    assert a.eval_steps == [0, 10, 20]
    assert a.final_loss < a.heldout_losses[0] - 0.3  # it learns (mostly token frequencies here)
    assert a.heldout_losses == b.heldout_losses  # same seed, same batches: same numbers
    assert c.parameters > a.parameters
    table = results_table(results)
    assert list(table.index) == ["a", "b", "c"] and table.loc["c", "parameters"] == c.parameters
    # the final loss is the per-block sums pooled over every masked token
    assert math.isclose(c.final_loss, c.block_losses.sum() / data.heldout_targets)
    assert math.isclose(heldout_loss(c.model, data), c.final_loss, rel_tol=1e-6)
    assert np.allclose(heldout_block_losses(c.model, data), c.block_losses)
    assert (c.block_targets == data.block_targets).all() and data.block_targets.sum() == data.heldout_targets
    # paired comparison: the difference of the final losses, with a bootstrap standard error
    assert paired_difference(a, b) == (0.0, 0.0)
    difference, error = paired_difference(c, a)
    assert math.isclose(difference, c.final_loss - a.final_loss, abs_tol=1e-9) and error > 0
    assert paired_difference(a, c)[0] == pytest.approx(-difference)
    compared = results_table(results, baseline="a")
    assert list(compared.columns) == ["parameters", "held-out loss (init)", "held-out loss (end)",
                                      "minus a", "std. error", "train seconds"]
    assert compared.loc["a", "minus a"] == 0 and compared.loc["c", "minus a"] == round(difference, 3)
    fig = plot_comparison(results, reference=unigram_loss(data))
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3 + 1  # a line per variant + the reference
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_live_prefix_is_the_start_of_the_full_run(data):
    """``stop_after`` trains the first steps of the same schedule: the full run's numbers, cut short."""
    config = tiny_config(data.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                         seq_len=BUDGET.seq_len)
    variants = {"a": Variant(config, sharing="all-shared")}
    full = run_variants(variants, data, BUDGET, verbose=False, workers=1)["a"]
    prefix = run_variants(variants, data, replace(BUDGET, stop_after=10), verbose=False, workers=1)["a"]
    assert prefix.eval_steps == [0, 10] and full.eval_steps == [0, 10, 20]
    assert prefix.heldout_losses == full.heldout_losses[:2]  # same batches, same learning rates
    assert prefix.train_losses == full.train_losses[:10]
    assert math.isclose(prefix.block_losses.sum() / data.heldout_targets, prefix.final_loss)
    odd = run_variants(variants, data, replace(BUDGET, stop_after=15), verbose=False, workers=1)["a"]
    assert odd.eval_steps == [0, 10, 15] and odd.train_losses == full.train_losses[:15]
    beyond = run_variants(variants, data, replace(BUDGET, stop_after=99), verbose=False, workers=1)["a"]
    assert beyond.heldout_losses == full.heldout_losses  # never past the budget

    # the figure: stored curves with the live prefix on top, for only some of the stored variants
    stored = {"a": ([0, 10, 20], [6.0, 5.5, 5.2], [0.01, 0.02, 0.02]),
              "z": ([0, 10, 20], [6.0, 5.7, 5.4], [0.01, 0.02, 0.02])}
    with pytest.raises(KeyError):
        plot_comparison({"a": prefix}, stored=stored)  # "z" has no live run and no parameter count
    fig = plot_comparison({"a": prefix}, reference=6.1, stored=stored, parameters={"z": 1234})
    live = [line for line in fig.axes[0].lines if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(live) == 1 and list(live[0].get_xdata()) == [0, 10]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["0.00M", f"{prefix.parameters / 1e6:.2f}M"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_side_by_side_processes_compute_exactly_what_one_process_does(data):
    config = tiny_config(data.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                         seq_len=BUDGET.seq_len)
    variants = {"shared": Variant(config, sharing="all-shared"), "not": Variant(config, sharing="not-shared")}
    here = run_variants(variants, data, BUDGET, verbose=False, workers=1)
    spawned = run_variants(variants, data, BUDGET, verbose=False, workers=2)
    assert list(spawned) == list(variants)  # the caller's order, whichever finishes first
    for name in variants:
        assert spawned[name].heldout_losses == here[name].heldout_losses
        assert spawned[name].train_losses == here[name].train_losses
        for (key, ours), theirs in zip(here[name].model.state_dict().items(),
                                       spawned[name].model.state_dict().values(), strict=True):
            assert torch.equal(ours, theirs), key


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_run_follows_the_cpu_run(data):
    """``Budget.device``: the same run on a GPU; float sums in another order, so close, not equal."""
    config = tiny_config(data.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                         seq_len=BUDGET.seq_len)
    variants = {"a": Variant(config, sharing="all-shared")}
    cpu = run_variants(variants, data, BUDGET, verbose=False, workers=1)["a"]
    gpu = run_variants(variants, data, replace(BUDGET, device="cuda"), verbose=False, workers=1)["a"]
    assert next(gpu.model.parameters()).is_cuda
    assert np.allclose(gpu.heldout_losses, cpu.heldout_losses, atol=1e-3)
    assert np.allclose(gpu.block_losses, cpu.block_losses, rtol=1e-3)


def test_paired_difference_needs_the_same_heldout_set(data, tokenizer):
    config = tiny_config(data.vocab_size, embedding_size=8, hidden_size=32, num_hidden_layers=1,
                         seq_len=BUDGET.seq_len)
    short = Budget(**{**BUDGET.__dict__, "steps": 2, "eval_every": 2})
    result = train_variant("a", Variant(config), data, short)
    elsewhere = build_data(sentences(300, 1), sentences(90, 3), tokenizer, Budget(**{**short.__dict__, "heldout_blocks": 10}))
    other = train_variant("b", Variant(config), elsewhere, short)
    with pytest.raises(ValueError, match="same MLMData"):
        paired_difference(result, other)


def test_start_from_unigram(data):
    """The output bias starts at the log frequencies, so the untrained model scores the unigram loss."""
    config = tiny_config(data.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                         seq_len=BUDGET.seq_len)
    start = Budget(**{**BUDGET.__dict__, "steps": 1, "eval_every": 1, "start_from_unigram": True})
    result = train_variant("a", Variant(config), data, start)
    assert abs(result.heldout_losses[0] - unigram_loss(data)) < 0.05
    cold = train_variant("a", Variant(config), data, Budget(**{**start.__dict__, "start_from_unigram": False}))
    assert abs(cold.heldout_losses[0] - math.log(data.vocab_size)) < 0.1  # a uniform guess instead


def test_prepare_experiment(monkeypatch, tokenizer):
    monkeypatch.setattr(helpers.encoder_variants, "load_or_train_tokenizer", lambda **kwargs: tokenizer)
    monkeypatch.setattr(helpers.encoder_variants, "prepare_data",
                        lambda tok, budget: build_data(sentences(300, 1), sentences(60, 2), tok, budget))
    threads = torch.get_num_threads()
    try:
        experiment = prepare_experiment(BUDGET, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert experiment.tokenizer is tokenizer and experiment.budget == BUDGET
    assert experiment.reference_loss == unigram_loss(experiment.data)
    lines = experiment.summary().splitlines()
    assert len(lines) == 3 and f"{BUDGET.steps} steps x {BUDGET.batch_size} blocks" in lines[1]
    assert f"{experiment.reference_loss:.3f}" in lines[2]


class FakeModel(torch.nn.Module):
    def __init__(self, states):
        super().__init__()
        self.states = states

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False):
        return SimpleNamespace(hidden_states=self.states)


def test_layer_transitions_by_hand():
    x = torch.tensor([[[3.0, 4.0], [1.0, 0.0]]])  # one sequence, two tokens
    states = (x, 2 * x, -2 * x)
    metrics = layer_transitions(FakeModel(states), torch.zeros(1, 2, dtype=torch.long))
    np.testing.assert_allclose(metrics["l2"], [(5 + 1) / 2, (20 + 4) / 2])
    np.testing.assert_allclose(metrics["angle"], [0.0, 180.0], atol=1e-4)
    np.testing.assert_allclose(metrics["norm"], [3.0, 6.0, 6.0])
    only_first = layer_transitions(FakeModel(states), torch.zeros(1, 2, dtype=torch.long),
                                   attention_mask=torch.tensor([[1, 0]]))
    np.testing.assert_allclose(only_first["l2"], [5.0, 20.0])  # padding is left out


def test_layer_transitions_on_a_real_model():
    model = ScratchAlbertModel(tiny_config(50, embedding_size=8, hidden_size=32, num_hidden_layers=3))
    metrics = layer_transitions(model, torch.randint(5, 50, (2, 7)))
    assert metrics["l2"].shape == metrics["angle"].shape == (3,) and metrics["norm"].shape == (4,)
    assert (metrics["l2"] > 0).all() and ((metrics["angle"] > 0) & (metrics["angle"] < 180)).all()


def test_paper_parameter_tables():
    for paper in (PAPER_TABLE_3, PAPER_TABLE_4):
        table = paper_parameter_table(paper)
        assert len(table) == len(paper) and (table["paper = rounded count"] != "no").all()
        assert (table["parameters"] - table["without pooler"] == 768 * 768 + 768).all()
    table4 = paper_parameter_table(PAPER_TABLE_4).set_index(["sharing", "E"])
    assert table4.loc[("shared-attention", 128), "parameters"] == 63_647_232
    assert "63,647,232" in show_counts(paper_parameter_table(PAPER_TABLE_4))
