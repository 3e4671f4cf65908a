"""tools/check_links.py without the network: what is extracted, and HEAD/GET/retry on loopback."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers.runtime import repo_root


def _tool():
    spec = importlib.util.spec_from_file_location("check_links", repo_root() / "tools" / "check_links.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


links = _tool()


def _urls(text: str) -> list[str]:
    return [url for url, _ in links.urls_in_markdown(text)]


def test_markdown_links_autolinks_and_bare_urls():
    text = ("See [the paper](https://arxiv.org/abs/1909.11942) and <https://pypi.org/project/nbval/>.\n"
            "Bare: https://huggingface.co/docs/transformers, then prose.\n"
            "Image: ![badge](https://img.example.net/a.svg)\n"
            "[ref]: https://docs.python.org/3/library/venv.html \"title\"\n")
    assert links.urls_in_markdown(text) == [
        ("https://arxiv.org/abs/1909.11942", 1), ("https://pypi.org/project/nbval/", 1),
        ("https://huggingface.co/docs/transformers", 2), ("https://img.example.net/a.svg", 3),
        ("https://docs.python.org/3/library/venv.html", 4)]


def test_a_colab_badge_gives_both_its_links():
    badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             "(https://colab.research.google.com/github/o/r/blob/main/notebooks/01_x.ipynb)")
    assert _urls(badge) == ["https://colab.research.google.com/assets/colab-badge.svg",
                            "https://colab.research.google.com/github/o/r/blob/main/notebooks/01_x.ipynb"]


def test_brackets_and_punctuation_of_the_prose_are_not_part_of_the_url():
    text = ("(see https://en.wikipedia.org/wiki/Transformer_(deep_learning)), "
            "or https://example.net/a?b=1&c=2; and \"https://example.net/q\"! and *https://x.org/y*.")
    assert _urls(text) == ["https://en.wikipedia.org/wiki/Transformer_(deep_learning)",
                           "https://example.net/a?b=1&c=2", "https://example.net/q", "https://x.org/y"]


def test_code_is_not_scanned():
    text = ("the badge is `https://colab.research.google.com/github/OWNER/REPO/blob/main/X.ipynb`\n"
            "```bash\ncurl https://pypi.org/simple/\n```\n"
            "~~~\nhttps://inside.tilde.fence/\n~~~\n"
            "after: https://after.fence.org/ and ``https://double.tick/`` and http:// alone\n")
    assert _urls(text) == ["https://after.fence.org/"]


def test_collect_scans_the_documents_and_notebook_markdown_only(tmp_path):
    (tmp_path / "README.md").write_text("top https://a.org/readme\n")
    (tmp_path / "CONTRIBUTING.md").write_text("\n\n[c](https://a.org/contributing)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.md").write_text("https://a.org/data\n")
    (tmp_path / "checkpoints" / "tiny").mkdir(parents=True)
    (tmp_path / "checkpoints" / "tiny" / "README.md").write_text("https://a.org/card#section\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("https://a.org/not-scanned\n")
    (tmp_path / "notebooks").mkdir()
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# T\n", "https://a.org/nb\n"]},
             {"cell_type": "code", "metadata": {}, "source": ["# https://a.org/in-code\n"],
              "outputs": [], "execution_count": None},
             {"cell_type": "markdown", "metadata": {}, "source": "again https://a.org/readme"}]
    (tmp_path / "notebooks" / "01_t.ipynb").write_text(json.dumps({"cells": cells}))
    found = links.collect(tmp_path)
    assert [(link.url, link.where) for link in found] == [
        ("https://a.org/readme", "README.md:1"),
        ("https://a.org/contributing", "CONTRIBUTING.md:3"),
        ("https://a.org/data", "data/README.md:1"),
        ("https://a.org/card#section", "checkpoints/tiny/README.md:1"),
        ("https://a.org/nb", "notebooks/01_t.ipynb cell 0 line 2"),
        ("https://a.org/readme", "notebooks/01_t.ipynb cell 2 line 1")]
    checked = links.targets(found)
    assert list(checked) == ["https://a.org/readme", "https://a.org/contributing",
                             "https://a.org/data", "https://a.org/card", "https://a.org/nb"]
    assert checked["https://a.org/readme"] == ["README.md:1", "notebooks/01_t.ipynb cell 2 line 1"]


def test_targets_add_the_github_file_behind_a_colab_badge_and_skip_local_hosts():
    found = [links.Link("https://colab.research.google.com/github/o/r/blob/main/notebooks/01.ipynb", "nb"),
             links.Link("http://localhost:8888/lab", "README.md:1"),
             links.Link("https://www.example.com/x", "README.md:2")]
    assert links.targets(found) == {
        "https://colab.research.google.com/github/o/r/blob/main/notebooks/01.ipynb": ["nb"],
        "https://github.com/o/r/blob/main/notebooks/01.ipynb": ["nb (the file its Colab badge opens)"]}


def test_the_repository_documents_have_links_and_list_needs_no_network(capsys):
    found = links.collect(repo_root())
    assert any("colab.research.google.com/github/" in link.url for link in found)
    assert all(link.url.startswith(("http://", "https://")) for link in found)
    assert not any("OWNER/REPO" in link.url for link in found)  # CONTRIBUTING's example is code
    assert links.main(["--list"]) == 0
    assert "colab-badge.svg" in capsys.readouterr().out


# --- HEAD, the GET fallback and retries, against a server on loopback -------------------------

class _Handler(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}

    def _answer(self, head: bool):
        key = f"{self.command} {self.path}"
        self.calls[key] = self.calls.get(key, 0) + 1
        if self.path == "/ok":
            code = 200
        elif self.path == "/no-head":
            code = 405 if head else 200
        elif self.path == "/flaky":
            code = 503 if self.calls[key] == 1 else 200
        elif self.path == "/down":
            code = 502
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        else:
            code = 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self._answer(head=True)

    def do_GET(self):  # noqa: N802
        self._answer(head=False)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Handler.calls = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_head_then_get_then_retries(server):
    assert links.check(server + "/ok", timeout=5, pause=0) == (True, "200")
    assert links.check(server + "/no-head", timeout=5, pause=0) == (True, "200")
    assert _Handler.calls == {"HEAD /ok": 1, "HEAD /no-head": 1, "GET /no-head": 1}
    assert links.check(server + "/moved", timeout=5, pause=0) == (True, "200")
    assert links.check(server + "/flaky", timeout=5, pause=0) == (True, "200")  # 503 then 200
    assert links.check(server + "/missing", timeout=5, retries=3, pause=0) == (False, "404")
    assert _Handler.calls["HEAD /missing"] == 1, "a 404 is not retried"
    assert links.check(server + "/down", timeout=5, retries=2, pause=0) == (False, "502")
    assert _Handler.calls["GET /down"] == 3, "a 5xx is retried"


def test_a_refused_connection_is_broken_after_the_retries(server):
    port = int(server.rsplit(":", 1)[1])
    alive, seen = links.check(f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/x",
                              timeout=2, retries=1, pause=0)
    assert not alive and "URLError" in seen
