"""Local folder or Hugging Face Hub: paths told apart from ids, offline detected, state restored."""

import os

import pytest

from helpers import hub


@pytest.mark.parametrize("name, is_path", [
    ("albert/albert-base-v2", False), ("albert-base-v2", False), ("./checkpoints/x", True),
    ("/abs/model", True), ("~/models/x", True), ("a/b/c", True), ("..\\model", True)])
def test_paths_and_hub_ids_are_told_apart(name, is_path):
    assert hub.looks_like_path(name) is is_path


def test_simulated_offline_restores_the_previous_state(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = constants.HF_HUB_OFFLINE
    with hub.simulated_offline():
        assert constants.HF_HUB_OFFLINE is True and not hub.hub_reachable()
    assert constants.HF_HUB_OFFLINE == before
    assert "HF_HUB_OFFLINE" not in os.environ


def test_offline_causes_are_found_in_the_exception_chain():
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        try:
            raise LocalEntryNotFoundError("not cached")
        except LocalEntryNotFoundError as inner:
            raise OSError("We couldn't connect") from inner
    except OSError as exc:
        assert hub.offline_cause(exc)
    assert not hub.offline_cause(OSError("x is not a valid model identifier"))


def test_the_hub_clients_connection_errors_count_as_offline():
    """huggingface_hub 2 talks through httpx2 (1.x through httpx): its connection errors mean offline."""
    assert hub._transport_errors(), "found neither httpx2 nor httpx"
    error_type = hub._transport_errors()[0]
    assert hub.offline_cause(OSError("could not load")) is False
    wrapped = OSError("We couldn't connect")
    wrapped.__cause__ = error_type("connection refused")
    assert hub.offline_cause(wrapped)
