"""Check the http(s) links of the documentation and the notebooks' markdown cells.

Scanned: README.md, CONTRIBUTING.md, data/README.md, checkpoints/*/README.md and the markdown
cells of notebooks/*.ipynb. Links inside code (`inline` or fenced blocks) are examples, not links,
and are skipped. A Colab badge (colab.research.google.com/github/OWNER/REPO/blob/BRANCH/PATH)
answers 200 for any path, so the GitHub file it opens is checked as well.

Each link: HEAD, then GET when HEAD fails (many servers refuse HEAD), with a timeout and a few
retries for network errors, 429 and 5xx. Exit 1 if any link is broken. ``--list`` only prints the
links and where they are (no network). Runs in the workflow's link-check job, not in `make test`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "CONTRIBUTING.md", "data/README.md", "checkpoints/*/README.md")
NOTEBOOKS = "notebooks/*.ipynb"
SKIP_HOSTS = ("localhost", "127.0.0.1", "example.com", "example.org")
USER_AGENT = "Mozilla/5.0 (compatible; albert-notebooks link check)"

URL = re.compile(r"https?://[^\s<>\"'`\[\]{}|\\^]+")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
TRAILING = ".,:;!?*_~'\""
COLAB_GITHUB = re.compile(r"^https://colab\.research\.google\.com/github/([^/]+/[^/]+/blob/.+)$")


@dataclass(frozen=True)
class Link:
    url: str
    where: str  # "README.md:12" or "notebooks/01_x.ipynb cell 0 line 3"


def _trim(url: str) -> str:
    """Drop trailing punctuation and closing brackets that belong to the prose, not the URL."""
    while url:
        if url[-1] in TRAILING:
            url = url[:-1]
        elif url[-1] == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        else:
            break
    return url


def urls_in_markdown(text: str) -> list[tuple[str, int]]:
    """(url, line number) for every http(s) URL in ``text`` outside code, in order."""
    found, in_fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in URL.finditer(CODE_SPAN.sub(" ", line)):
            url = _trim(match.group())
            if url.rstrip("/") not in {"http:", "https:"}:
                found.append((url, number))
    return found


def _markdown_cells(path: Path) -> Iterable[tuple[int, str]]:
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "markdown":
            yield index, "".join(cell["source"])


def collect(root: Path = ROOT) -> list[Link]:
    """Every link in the scanned files (duplicates included, in file order)."""
    links = []
    for pattern in DOCUMENTS:
        for path in sorted(root.glob(pattern)):
            name = path.relative_to(root).as_posix()
            links += [Link(url, f"{name}:{line}") for url, line in urls_in_markdown(path.read_text())]
    for path in sorted(root.glob(NOTEBOOKS)):
        name = path.relative_to(root).as_posix()
        for index, text in _markdown_cells(path):
            links += [Link(url, f"{name} cell {index} line {line}")
                      for url, line in urls_in_markdown(text)]
    return links


def targets(links: Iterable[Link]) -> dict[str, list[str]]:
    """URL to check -> where it comes from. Fragments dropped, hosts in SKIP_HOSTS left out,
    the GitHub file behind each Colab badge added."""
    found: dict[str, list[str]] = {}
    for link in links:
        url = link.url.split("#", 1)[0]
        host = re.sub(r"^https?://([^/:]+).*$", r"\1", url).lower()
        if any(host == skip or host.endswith("." + skip) for skip in SKIP_HOSTS):
            continue
        found.setdefault(url, []).append(link.where)
        colab = COLAB_GITHUB.match(url)
        if colab:
            found.setdefault(f"https://github.com/{colab.group(1)}", []).append(
                f"{link.where} (the file its Colab badge opens)")
    return found


def _status(url: str, method: str, timeout: float) -> int:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def check(url: str, timeout: float = 15.0, retries: int = 3, pause: float = 2.0) -> tuple[bool, str]:
    """(is it alive, what was seen). HEAD, then GET if HEAD did not give a success."""
    seen = "not tried"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(pause * attempt)
        try:
            status = _status(url, "HEAD", timeout)
            if status >= 400:
                status = _status(url, "GET", timeout)
        except (urllib.error.URLError, OSError, ValueError) as error:
            seen = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            continue
        if status < 400:
            return True, str(status)
        seen = str(status)
        if status != 429 and status < 500:
            return False, seen  # 404, 410, 403...: retrying will not help
    if seen == "429":
        return True, "429 (rate limited: the server answers, so the link is taken as alive)"
    return False, seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the links and where they are")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository folder (default: this one)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=3, help="retries after a network error, 429 or 5xx")
    parser.add_argument("--workers", type=int, default=8, help="links checked at once")
    args = parser.parse_args(argv)
    found = targets(collect(args.root))
    if args.list:
        for url, where in found.items():
            print(f"{url}\t{'; '.join(where)}")
        return 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = dict(zip(found, pool.map(lambda u: check(u, args.timeout, args.retries), found),
                           strict=True))
    broken = 0
    for url, (alive, seen) in results.items():
        print(f"{'ok    ' if alive else 'BROKEN'} {seen:>4}  {url}", flush=True)
        if not alive:
            broken += 1
            for where in found[url]:
                print(f"         in {where}")
    print(f"{len(results)} links checked, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
