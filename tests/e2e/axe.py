"""The dashboard in Debian's Chromium with axe-core: a screenshot of every page visited (kept
under the test's output, for when it fails) and no serious or critical violation on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import browser_path

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
_SERIOUS = ("serious", "critical")


class Screens:
    """Pages visited, so that a failure can leave a screenshot of each."""

    def __init__(self, page: Page, out: Path) -> None:
        self.page, self.out, self.seen = page, out, 0

    def check(self, name: str) -> None:
        """Axe on the page as it stands: no serious or critical violation."""
        self.seen += 1
        self.page.screenshot(path=str(self.out / f"{self.seen:02d}-{name}.png"), full_page=True)
        results = Axe().run(self.page)
        serious = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"][:3]]}
            for v in results.response["violations"]
            if v["impact"] in _SERIOUS
        ]
        assert serious == [], f"{name}: {json.dumps(serious, indent=1)}"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless; nothing else is downloaded."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=browser_path(), args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def check_pages(client: httpx.Client, paths: dict[str, str], out: Path) -> None:
    """Open each of `paths` (name → path) in Chromium as the person signed in on `client`
    (its cookies), and check it with axe."""
    base = str(client.base_url).rstrip("/")
    cookies = [{"name": c.name, "value": c.value or "", "url": base} for c in client.cookies.jar]
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        screens = Screens(page, out)
        for name, path in paths.items():
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 200, (name, path)
            screens.check(name)
