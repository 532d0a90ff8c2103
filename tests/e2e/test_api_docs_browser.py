"""/docs in a real browser (Debian's chromium, driven by Playwright) with every request to
another origin refused: Swagger UI renders, Authorize takes a key, and "Try it out" gets
a 200 from the server — what a user sees with the network unplugged."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from tests.conftest import browser_path
from tests.e2e.conftest import Stack

# What this tests (a page, a client library) does not depend on the store: SQLite only.
pytestmark = pytest.mark.one_database

# The flags a root, offline, screenless machine needs; without the background-networking
# ones chromium keeps calling Google's hosts.
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(make_stack: Callable[..., Stack]) -> Iterator[tuple[Stack, Page, list[str]]]:
    """A page that can reach only the test server; the list collects what it tried elsewhere."""
    stack = make_stack(workers=0)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(stack.api_url))
    elsewhere: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path(), args=_FLAGS, headless=True)
        context = browser.new_context()

        def guard(route: Route) -> None:
            url = route.request.url
            if url.startswith(origin + "/") or url == origin:
                route.continue_()
            else:
                elsewhere.append(url)
                route.abort()

        context.route("**/*", guard)
        yield stack, context.new_page(), elsewhere
        browser.close()


def test_docs_render_offline_and_authorize_makes_try_it_out_succeed(
    page: tuple[Stack, Page, list[str]],
) -> None:
    """Swagger UI draws every tag from this server alone; after Authorize with a test key,
    GET /v1/posts from "Try it out" answers 200, and without it 401."""
    stack, tab, elsewhere = page
    tab.goto(f"{stack.api_url}/docs")
    get_posts = tab.locator("#operations-posts-list_posts_v1_posts_get")
    get_posts.wait_for(timeout=30_000)
    assert elsewhere == [], f"the page asked other origins for {elsewhere}"

    def try_it() -> str:
        """Execute GET /v1/posts from its panel; the status of this execution's answer."""
        if not get_posts.locator("button.execute").is_visible():
            get_posts.locator(".opblock-summary").click()
            get_posts.locator("button.try-out__btn").click()
        clear = get_posts.locator("button.btn-clear")
        if clear.is_visible():
            clear.click()  # else the last answer's status would be read as this one's
        status = get_posts.locator(".live-responses-table .response .response-col_status")
        status.first.wait_for(state="detached", timeout=10_000)
        get_posts.locator("button.execute").click()
        status.first.wait_for(timeout=30_000)
        return str(status.first.inner_text()).strip()

    assert try_it() == "401"

    tab.locator("button.authorize").first.click()
    dialog = tab.locator(".modal-ux")
    bearer = dialog.locator(".auth-container").filter(has_text=re.compile(r"^bearer\b"))
    bearer.locator("input").first.fill(stack.key)
    bearer.locator("button.authorize").click()
    bearer.get_by_text("Logout").wait_for(timeout=10_000)  # Swagger UI took the key
    dialog.locator(".modal-ux-header button.close-modal").click()
    dialog.wait_for(state="hidden", timeout=10_000)

    assert try_it() == "200"
    assert elsewhere == [], f"the page asked other origins for {elsewhere}"
