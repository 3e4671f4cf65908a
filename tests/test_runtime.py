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
