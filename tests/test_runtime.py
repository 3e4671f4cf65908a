import pytest
import torch

from helpers import runtime


def test_repo_root_and_runs_dir_do_not_depend_on_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = runtime.repo_root()
    assert (root / "pyproject.toml").exists()
    assert runtime.runs_dir("05-sentiment") == root / "runs" / "05-sentiment"


def test_device_order_and_override(monkeypatch):
    monkeypatch.delenv("ALBERT_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert runtime.pick_device().type == expected
    monkeypatch.setenv("ALBERT_DEVICE", "cpu")
    assert runtime.pick_device().type == "cpu"


def test_set_seed_makes_torch_repeatable():
    runtime.set_seed(3)
    a = torch.rand(3)
    runtime.set_seed(3)
    assert torch.equal(a, torch.rand(3))


def test_repository_url_lives_in_pyproject():
    assert runtime.repository_url().startswith("https://github.com/")


def test_setup_notebook_prints_versions(capsys):
    device = runtime.setup_notebook(seed=0)
    out = capsys.readouterr().out
    assert "transformers 5." in out and "device:" in out
    assert isinstance(device, torch.device)


def test_training_seed_and_threads_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("ALBERT_SEED", raising=False)
    monkeypatch.delenv("ALBERT_THREADS", raising=False)
    assert runtime.training_seed() == 0 and runtime.training_threads() is None
    assert runtime.training_threads(1) == 1
    monkeypatch.setenv("ALBERT_SEED", "3")
    monkeypatch.setenv("ALBERT_THREADS", "2")
    assert runtime.training_seed() == 3 and runtime.training_threads(1) == 2


@pytest.mark.parametrize("name, value", [("ALBERT_SEED", "-1"), ("ALBERT_SEED", "one"),
                                         ("ALBERT_THREADS", "0"), ("ALBERT_THREADS", "two")])
def test_bad_seed_or_thread_settings_say_what_is_wrong(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        runtime.training_seed() if name == "ALBERT_SEED" else runtime.training_threads()


def test_setup_notebook_applies_albert_threads(monkeypatch, capsys):
    threads = torch.get_num_threads()
    monkeypatch.setenv("ALBERT_THREADS", "1")
    try:
        runtime.setup_notebook(seed=0)
        assert torch.get_num_threads() == 1 and "(1 CPU threads)" in capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
