"""Loading from a local folder or the Hugging Face Hub, with a clear error when offline.

The default path of the series needs no Hub: models are local folders (the shipped
``checkpoints/tiny-albert``). A learner with internet can name a Hub id instead, such as
``"albert/albert-base-v2"``. :func:`load_local_or_hub` tries, in order: the local folder; the
Hub cache (no network); the Hub itself, but only if its host answers within seconds. When the Hub
cannot be reached it raises :class:`HubUnavailableError`, a short message that says what to do,
and it never falls back to another model on its own.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from huggingface_hub import constants
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

from helpers.runtime import SHIPPED_CHECKPOINT

Loaded = TypeVar("Loaded")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection errors: huggingface_hub 2 uses httpx2, 1.x httpx."""
    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


NETWORK_ERRORS = (LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError, TimeoutError,
                  *_transport_errors())


class HubUnavailableError(RuntimeError):
    """A Hugging Face Hub id was requested but the Hub cannot be reached (and it is not cached).

    In Jupyter the error prints as its message alone (no stack trace): the fix is the same
    wherever it was raised.
    """

    def _render_traceback_(self) -> list[str]:  # IPython hook: show the message, not a traceback
        return [f"{type(self).__name__}: {self}"]


def looks_like_path(name: str | os.PathLike) -> bool:
    """True for things only a filesystem path can be: absolute, ``./``, ``~``, or 3+ parts.

    A Hub id has the form ``name`` or ``owner/name``; anything else is meant as a folder.
    """
    text = str(name)
    return (isinstance(name, os.PathLike) or text.startswith((".", "/", "~", "\\"))
            or "\\" in text or text.count("/") > 1)


def offline_cause(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) means "the Hub could not be reached"."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, NETWORK_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def hub_message(name: str) -> str:
    return (
        f"Cannot download '{name}' from the Hugging Face Hub: this machine is offline (or "
        f"HF_HUB_OFFLINE=1 is set) and no copy is cached.\nWhat to do: connect to the internet "
        f"and run the cell again (the download is cached for next time), or use the model "
        f"shipped with the repository: MODEL = default_model_dir()  (checkpoints/tiny-albert)."
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub's host answers on port 443 within ``timeout`` seconds (no HTTP request).

    Checked before a download so an offline machine fails in seconds instead of sitting through
    ``huggingface_hub``'s retries (close to a minute).
    """
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_local_or_hub(name: str | os.PathLike, load: Callable[..., Loaded]) -> Loaded:
    """``load(source, **hub_options)`` for a local folder or a Hub id (see the module docstring)."""
    local = Path(str(name)).expanduser()
    if local.is_dir():
        return load(str(local))
    if looks_like_path(name):
        raise FileNotFoundError(
            f"No model folder at {local}. The shipped model lives in {SHIPPED_CHECKPOINT}; "
            f"if that is missing, check out the repository again (it is committed to git).")
    name = str(name)
    try:
        return load(name, local_files_only=True)  # cached earlier: no network needed
    except OSError:
        pass
    if not hub_reachable():
        raise HubUnavailableError(hub_message(name)) from None
    try:
        return load(name)
    except OSError as exc:
        if offline_cause(exc):
            raise HubUnavailableError(hub_message(name)) from None
        raise  # e.g. a misspelt id: transformers' own message names the problem


@contextlib.contextmanager
def simulated_offline() -> Iterator[None]:
    """Behave as with ``HF_HUB_OFFLINE=1`` inside the block (no network call can happen).

    ``huggingface_hub`` reads the variable once, at import, so setting the environment variable
    later has no effect: this switches the value it cached, and restores it afterwards.
    """
    before_env, before_flag = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before_flag
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env
