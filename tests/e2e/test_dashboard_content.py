"""The dashboard's Content screens over real HTTP: the pipelines and their latest run, the
content items filtered and paged, a pipeline run started once however often its form is
sent, an item's parts and its review, each done through the API and read back from it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest

from tests.e2e.axe import check_pages
from tests.e2e.conftest import Stack
from tests.e2e.dashboard import FORM_KEY, Browser, with_owner
from tests.e2e.pipelines import REPO, make_pipeline

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database

ISSUED = re.compile(r'name="issued" value="([^"]+)"')
ITEM_LINK = re.compile(r'href="/app/content/items/([^"]+)"')
OLDER = re.compile(r'href="([^"]+)">Older content items<')


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose worker runs pipelines."""
    return with_owner(make_stack(workers=1))


def test_content_screens_run_a_pipeline_and_review_its_items(stack: Stack, tmp_path: Path) -> None:
    browser = Browser(stack)
    empty = browser.http.get("/app/content")
    assert empty.status_code == 200
    assert "No pipeline yet" in empty.text and "No content items yet." in empty.text
    # Two clips of the last hours: one whose video is there, one whose video is gone.
    now = datetime.now(UTC)
    ready_clip = stack.fake("twitch", "clips", json={
        "title": "Wiring the content screen", "view_count": 50, "duration": 20,
        "created_at": (now - timedelta(hours=2)).isoformat()})  # fmt: skip
    gone_clip = stack.fake("twitch", "clips", json={
        "title": "A clip whose video is gone", "missing_media": True, "view_count": 3,
        "duration": 10, "created_at": (now - timedelta(hours=3)).isoformat()})  # fmt: skip
    pipeline = make_pipeline(stack, name="Dashboard streams")
    pipeline_page = f"/app/content/pipelines/{pipeline['id']}"
    page = browser.http.get(pipeline_page)
    assert page.status_code == 200
    assert "<h1>Pipeline Dashboard streams</h1>" in page.text
    assert "sandbox_streamer" in page.text and REPO in page.text and "No job yet." in page.text
    form_key, issued = FORM_KEY.search(page.text), ISSUED.search(page.text)
    assert form_key is not None and issued is not None
    # A window not offered is explained; nothing starts.
    bad = browser.post(f"{pipeline_page}/runs", {"window": "40", "form_key": "x"})
    assert bad.status_code == 422 and "choose which clips" in bad.text
    # Run now, over the last day; a second press of the same form is the same run.
    form = {"window": "1", "form_key": form_key.group(1), "issued": unescape(issued.group(1))}
    started = browser.post(f"{pipeline_page}/runs", form)
    assert started.status_code == 303, started.text
    assert started.headers["location"] == f"{pipeline_page}?started=1"
    assert browser.post(f"{pipeline_page}/runs", form).status_code == 303
    jobs = stack.http.get("/v1/jobs", params={"subject_id": pipeline["id"]}).json()["data"]
    assert [j["kind"] for j in jobs] == ["pipeline_run"]
    job = stack.wait_job(jobs[0]["id"], timeout=240)
    assert job["status"] == "succeeded" and len(job["result"]["failed"]) == 1, job
    shown = browser.http.get(f"{pipeline_page}?started=1")
    assert "Run started" in shown.text
    card = re.search(rf'<li class="card" id="job-{job["id"]}">.*?</li>', shown.text, re.S)
    assert card is not None and "Pipeline run" in card.group(0)
    assert '<span class="status status-succeeded">succeeded</span>' in card.group(0)
    assert f"{job['result']['clips_found']} clips found" in card.group(0)
    assert "1 failed" in card.group(0)
    # The list: the pipeline with its last run, its items with their statuses.
    home = browser.http.get("/app/content")
    row = re.search(rf'<tr>\s*<td><a href="{pipeline_page}">.*?</tr>', home.text, re.S)
    assert row is not None and "Dashboard streams" in row.group(0)
    assert "status-succeeded" in row.group(0) and "not connected" in row.group(0)
    for title in (ready_clip["title"], gone_clip["title"]):
        assert title in home.text
    assert '<span class="status status-failed">failed</span>' in home.text
    assert '<label for="item-status">Processing status</label>' in home.text
    failed = browser.http.get("/app/content", params={"status": "failed"})
    assert gone_clip["title"] in failed.text and ready_clip["title"] not in failed.text
    assert '<option value="failed" selected>' in failed.text
    # A page at a time: "Older" goes on from where the page ended.
    first = browser.http.get("/app/content", params={"limit": 1})
    older = OLDER.search(first.text)
    assert len(ITEM_LINK.findall(first.text)) == 1 and older is not None
    second = browser.http.get(unescape(older.group(1)))
    assert second.status_code == 200
    assert ITEM_LINK.findall(second.text)[0] != ITEM_LINK.findall(first.text)[0]
    items = stack.http.get(
        "/v1/content-items", params={"pipeline_id": pipeline["id"], "limit": 100}
    ).json()["data"]
    by_clip = {i["clip_id"]: i for i in items}
    ready, gone = by_clip[ready_clip["id"]], by_clip[gone_clip["id"]]
    # An item: its facts and parts; the transcript link reads through the API.
    item_page = f"/app/content/items/{ready['content_item_id']}"
    item = browser.http.get(item_page)
    assert item.status_code == 200 and f"<h1>{ready_clip['title']}</h1>" in item.text
    assert "ready for content" in item.text and "Dashboard streams" in item.text
    assert unescape(ready["transcript_summary"]) in unescape(item.text)
    transcript = f"/v1/content-items/{ready['content_item_id']}/transcript"
    assert f'href="{transcript}"' in item.text
    assert browser.http.get(transcript).json()["segments"]
    assert f'aria-label="Approve {ready_clip["title"]}"' in item.text
    # Approve it: the API holds the review; the page says so.
    approved = browser.post(f"{item_page}/review", {"review": "approved"})
    assert approved.status_code == 303, approved.text
    read_back = stack.http.get(f"/v1/content-items/{ready['content_item_id']}").json()
    assert read_back["review"] == "approved"
    after = browser.http.get(approved.headers["location"])
    assert "Marked approved." in after.text
    assert '<span class="status status-approved">approved</span>' in after.text
    # Refusals come back on the item's page with the API's reason; nothing changes.
    maybe = browser.post(f"{item_page}/review", {"review": "maybe"})
    assert maybe.status_code == 422 and 'class="error" role="alert"' in maybe.text
    assert "Input should be 'approved' or 'rejected'" in unescape(maybe.text)
    not_ready = browser.post(
        f"/app/content/items/{gone['content_item_id']}/review", {"review": "approved"}
    )
    assert not_ready.status_code == 409
    assert "review it once it is ready_for_content" in unescape(not_ready.text)
    assert (
        stack.http.get(f"/v1/content-items/{gone['content_item_id']}").json()["review"] == "pending"
    )
    assert "It can be reviewed once it is ready for content" in not_ready.text
    # Unknown ids are the API's 404, explained.
    for path in ("/app/content/items/item_nope", "/app/content/pipelines/pipe_nope"):
        missing = browser.http.get(path)
        assert missing.status_code == 404 and "That did not work" in missing.text
    # In Chromium, with axe: the screens with what this test put on them.
    pages = {"content": "/app/content", "pipeline": pipeline_page, "item": item_page}
    check_pages(browser.http, pages, tmp_path)
