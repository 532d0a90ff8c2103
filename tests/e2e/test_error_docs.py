"""Every problem's `type` resolves to its entry on the answering server's /docs/errors page,
and the catalogue the page is made from holds every code in the source."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from crosspost.api.problem_types import anchor, catalogue
from tests.e2e.conftest import Stack

# What this tests (a page, a client library) does not depend on the store: SQLite only.
pytestmark = pytest.mark.one_database

SCANNER = Path(__file__).resolve().parents[2] / "docs" / "problem_codes.py"


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


def test_the_catalogue_holds_every_code_in_the_source() -> None:
    """docs/problem_codes.py --check rescans the source and compares."""
    done = subprocess.run(
        [sys.executable, str(SCANNER), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    codes = {entry["code"] for entry in catalogue()}
    assert {"not_found", "validation_error", "invalid_api_key", "rate_limited"} <= codes
    assert all(entry["statuses"] for entry in catalogue() if entry["problem"])


def test_a_problems_type_leads_to_its_entry(stack: Stack) -> None:
    """A 404, a 422 and a 401: each `type` resolves, on this server, to an element with the
    code's id that names the code."""
    answers = [
        stack.http.get("/v1/posts/post_nope"),
        stack.http.post("/v1/posts", json={"targets": "x"}),
        httpx.get(f"{stack.api_url}/v1/me", headers={"Authorization": "Bearer cp_test_x"}),
    ]
    for answer in answers:
        problem = answer.json()
        link = urljoin(str(answer.url), problem["type"])
        page_url, _, fragment = link.partition("#")
        assert urlsplit(page_url).netloc == urlsplit(stack.api_url).netloc
        assert fragment == anchor(problem["code"])
        page = httpx.get(page_url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        ids = _Ids()
        ids.feed(page.text)
        assert fragment in ids.ids, problem["code"]
        section = re.search(rf'<section id="{fragment}">(.*?)</section>', page.text, re.S)
        assert section and f"<code>{problem['code']}</code>" in section.group(1)
