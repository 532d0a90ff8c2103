"""The releases screens over real HTTP: the list (newest first, a page at a time), a release's
page with its tracks and a status card per store, and distributing, retrying and taking down
through the API against the fake distributor over SFTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from tests.e2e.axe import check_pages
from tests.e2e.conftest import Stack
from tests.e2e.dashboard import FORM_KEY, Browser, with_owner
from tests.e2e.music import OTHER_UPC, UPC, release_body
from tests.e2e.test_distributions import STORES, _ended, _fault, _release

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose worker delivers and reads the distributor's reports every tenth of a
    second."""
    return with_owner(
        make_stack(
            workers=1, distribution_poll_seconds=0.1, distribution_scheduled_poll_seconds=0.1
        )
    )


def _cards(page: str) -> dict[str, str]:
    """Each store's status card on a release's page, by store."""
    found = re.findall(r'<li class="card" data-store="([^"]+)">(.*?)</li>', page, re.S)
    return {store: unescape(card) for store, card in found}


def test_releases_list_a_release_shows_its_stores_and_is_distributed_and_taken_down(
    stack: Stack, tmp_path: Path
) -> None:
    """The list pages back through the API's cursor; a release's page shows its tracks, the
    API's refusals, and once distributed a card per store with its status, link or reason,
    and the ledger; distribute, retry and take down happen through the API."""
    browser = Browser(stack)
    empty = browser.http.get("/app/releases")
    assert empty.status_code == 200 and "No releases yet" in empty.text
    first = _release(stack)
    again = release_body([t["media_id"] for t in first["tracks"][:1]],
                         first["artwork_media_id"], title="Second Dawn", upc=OTHER_UPC)  # fmt: skip
    again["tracks"][0]["isrc"] = "USS1Z2600009"
    made = stack.http.post("/v1/releases", json=again)
    assert made.status_code == 201, made.text
    # Newest first, a page at a time: the older release is behind the "Older" link.
    newest = browser.http.get("/app/releases", params={"limit": 1})
    assert newest.status_code == 200
    assert "Second Dawn" in newest.text and "First Light" not in newest.text
    older = re.search(r'<a href="([^"]+)">Older releases</a>', newest.text)
    assert older is not None
    listed = browser.http.get(unescape(older.group(1)))
    row = re.search(rf'<tr id="release-{first["id"]}">.*?</tr>', listed.text, re.S)
    assert row is not None and "Second Dawn" not in listed.text
    assert "First Light" in row.group(0) and UPC in row.group(0)
    assert "The Examples, Guest (featured)" in row.group(0) and "status-draft" in row.group(0)
    assert f'href="/app/releases/{first["id"]}"' in row.group(0)

    page = browser.http.get(f"/app/releases/{first['id']}")
    assert page.status_code == 200
    assert "<h1>First Light</h1>" in page.text and "Not sent anywhere yet." in page.text
    assert "Song 1" in page.text and "Song 2" in page.text and "USS1Z2600002" in page.text
    assert browser.http.get("/app/releases/rel_nope").status_code == 404
    # An unknown store is the API's refusal, on the page; nothing is sent.
    path = f"/app/releases/{first['id']}/distributions"
    unknown = browser.post(path, [("channels", "myspace"), ("form_key", "k-unknown")])
    assert unknown.status_code == 422, unknown.text
    assert "Input should be 'ddex' or 'soundcloud'" in unescape(unknown.text)
    distributions = f"/v1/releases/{first['id']}/distributions"
    assert stack.http.get(distributions).json()["data"] == []

    # The distributor rejects the first batch: the page says why and offers a retry.
    _fault(stack, reject_next={"code": "ArtworkTooSmall", "text": "cover is 2999 px"})
    form_key = FORM_KEY.search(page.text)
    assert form_key is not None
    sent = browser.post(path, [("channels", "ddex"), ("form_key", form_key.group(1))])
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/app/releases/{first['id']}"
    [started] = stack.http.get(distributions).json()["data"]
    assert _ended(stack, started["id"])["status"] == "failed"
    failed = browser.http.get(f"/app/releases/{first['id']}")
    assert "ArtworkTooSmall" in failed.text and "status status-failed" in failed.text
    assert 'aria-label="Retry the distribution on the stores (DDEX)"' in failed.text

    # Retried, it goes live in every store but one, which keeps its reason on its card.
    _fault(stack, store_fails={"store": "deezer", "reason": "cover art has a URL"})
    retried = browser.post(f"{path}/{started['id']}/retry", {})
    assert retried.status_code == 303, retried.text
    done = _ended(stack, started["id"])
    assert (done["status"], done["attempt"]) == ("live", 2)
    _fault(stack, clear=True)
    live = browser.http.get(f"/app/releases/{first['id']}")
    cards = _cards(live.text)
    assert set(cards) == STORES
    assert '<span class="status status-failed">failed</span>' in cards["deezer"]
    assert "Refused: cover art has a URL" in cards["deezer"]
    spotify = next(s for s in done["stores"] if s["store"] == "spotify")
    assert '<span class="status status-live">live</span>' in cards["spotify"]
    assert f'href="{spotify["url"]}"' in cards["spotify"] and "Open in Spotify" in cards["spotify"]
    assert "<h3>Apple Music</h3>" in cards["apple_music"]
    ledger = re.search(r'<ol class="ledger"[^>]*>(.*?)</ol>', live.text, re.S)
    assert ledger is not None
    steps = re.findall(r"<strong>([^<]+)</strong>", ledger.group(1))
    assert steps[0] == "created" and steps[-1] == "live" and "failed" in steps
    # Retrying what is live is the API's refusal, shown with its status.
    twice = browser.post(f"{path}/{started['id']}/retry", {})
    assert twice.status_code == 409
    assert "only a failed distribution is retried; this one is live" in unescape(twice.text)
    assert browser.post(f"{path}/dst_nope/retry", {}).status_code == 404

    down = browser.post(f"{path}/{started['id']}/takedown", {})
    assert down.status_code == 303, down.text
    ended = _ended(stack, started["id"])
    assert (ended["status"], ended["action"]) == ("taken_down", "takedown")
    gone = _cards(browser.http.get(f"/app/releases/{first['id']}").text)
    assert all("status status-taken_down" in card for card in gone.values()), gone
    listed = browser.http.get(unescape(older.group(1)))
    row = re.search(rf'<tr id="release-{first["id"]}">.*?</tr>', listed.text, re.S)
    assert row is not None and '<span class="status status-taken_down">taken down</span>' in (
        row.group(0)
    )
    # In Chromium, with axe: the list, and a release with its cards and ledger.
    pages = {"releases": "/app/releases", "release": f"/app/releases/{first['id']}"}
    check_pages(browser.http, pages, tmp_path)
