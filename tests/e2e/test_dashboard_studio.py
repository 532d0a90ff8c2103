"""The studio's screens over real HTTP, each doing through the API what a person asks: a
project made (one per form however often it is sent) and listed a page at a time, a source
added, highlights found by the workers, a clip rendered into a poster and a video; and the
API's refusals shown on the page."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from crosspost.studio.highlight_samples import make_highlight_source
from tests.e2e.axe import check_pages
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.dashboard import FORM_KEY, Browser, with_owner

# The dashboard is a client of the API (whose routes run on both stores elsewhere): SQLite
# only.
pytestmark = pytest.mark.one_database


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose one-slot pools scan for highlights and render."""
    return with_owner(make_stack(workers=1))


def _form_key(page: str, suffix: str = "") -> str:
    keys: list[str] = [k for k in FORM_KEY.findall(page) if k.endswith(suffix)]
    assert keys, f"no form key ending {suffix!r}"
    return keys[0]


def _ended(stack: Stack, path: str, **params: Any) -> dict[str, Any] | None:
    """The first of a list's items that has ended (a job or a render)."""
    found = stack.http.get(path, params=params).json()["data"]
    done = ("succeeded", "failed", "ready")
    return next((item for item in found if item["status"] in done), None)


def test_a_project_is_made_scanned_and_its_clip_rendered_from_the_studio(
    stack: Stack, tmp_path: Path
) -> None:
    browser = Browser(stack)
    first = browser.http.get("/app/studio")
    assert first.status_code == 200 and "No projects yet" in first.text
    assert "style=" not in first.text and "'none'" in first.headers["content-security-policy"]
    # A tiny source with one loud, busy stretch for the scan to find.
    source = make_highlight_source(tmp_path / "stream.mp4", seconds=6, loud=((2.0, 4.5),),
                                   cuts=(2.5, 3.5))  # fmt: skip
    kind = {"Content-Type": "video/mp4", "X-Filename": "stream.mp4"}
    video = stack.http.post("/v1/media", content=source.read_bytes(), headers=kind)
    assert video.status_code == 201, video.text
    media_id = video.json()["id"]
    page = browser.http.get("/app/studio")
    assert f'<option value="{media_id}">stream.mp4 · video' in page.text

    # Refused: the API's reason on the form, which keeps what was typed; nothing is made.
    refused = browser.post("/app/studio", {"name": "   ", "form_key": "empty-name"})
    assert refused.status_code == 422, refused.text
    assert 'id="project-error"' in refused.text and "name" in unescape(refused.text)
    assert stack.http.get("/v1/projects").json()["data"] == []
    form = {"name": "Launch stream", "form_key": _form_key(page.text)}
    made = browser.post("/app/studio", form)
    assert made.status_code == 303, made.text
    assert browser.post("/app/studio", form).headers["location"] == made.headers["location"]
    url = made.headers["location"]
    project_id = url.rsplit("/", 1)[1]
    listed = stack.http.get("/v1/projects").json()["data"]
    assert [(p["id"], p["name"], p["sources"]) for p in listed] == [
        (project_id, "Launch stream", [])
    ]
    link = f'href="/app/studio/projects/{project_id}">Launch stream</a>'
    assert link in browser.http.get("/app/studio").text
    empty = browser.http.get(url)
    assert "No source yet" in empty.text and "No scan yet" in empty.text
    assert "No clips yet" in empty.text and "<h1>Launch stream</h1>" in empty.text

    # A source from the library; the same one twice is the API's 409, said on the page.
    added = browser.post(f"{url}/sources", {"media_id": media_id})
    assert added.status_code == 303 and added.headers["location"] == f"{url}?done=source"
    twice = browser.post(f"{url}/sources", {"media_id": media_id})
    assert twice.status_code == 409 and "already a source" in unescape(twice.text)
    project = stack.http.get(f"/v1/projects/{project_id}").json()
    assert [s["media_id"] for s in project["sources"]] == [media_id]
    shown = browser.http.get(f"{url}?done=source")
    assert "Source added." in shown.text and "stream.mp4" in shown.text
    assert '<span class="status status-none">none</span>' in shown.text  # no transcript

    # Highlights: a bad request is the API's 422 with the form as typed; a good one a job.
    bad = browser.post(f"{url}/highlights", {"min_seconds": "30", "max_seconds": "10",
                                             "form_key": "bad-bounds"})  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert "min_seconds must not exceed max_seconds" in unescape(bad.text)
    assert 'name="min_seconds" inputmode="decimal" maxlength="20" value="30"' in bad.text
    ask = {"min_seconds": "1", "max_seconds": "3", "count": "1",
           "form_key": _form_key(shown.text, "-highlights")}  # fmt: skip
    scan = browser.post(f"{url}/highlights", ask)
    assert scan.status_code == 303 and scan.headers["location"] == f"{url}?done=highlights"
    assert browser.post(f"{url}/highlights", ask).status_code == 303  # a double click: one job
    job = wait_until(
        "the scan to end", lambda: _ended(stack, "/v1/jobs", subject_id=project_id), 120
    )
    assert job["status"] == "succeeded", job
    assert job["params"]["max_seconds"] == 3 and job["params"]["count"] == 1
    assert len(stack.http.get("/v1/jobs", params={"subject_id": project_id}).json()["data"]) == 1
    clips = stack.http.get(f"/v1/projects/{project_id}/clips").json()["data"]
    assert [c["id"] for c in clips] == job["result"]["clip_ids"] and len(clips) == 1
    clip = clips[0]
    scanned = browser.http.get(url)
    assert '<span class="status status-succeeded">succeeded</span>' in scanned.text
    assert f'<li class="card" id="clip-{clip["id"]}">' in scanned.text
    assert "1 clip found" in scanned.text
    assert "not rendered" in scanned.text and unescape(clip["reasons"][0]) in unescape(scanned.text)

    # Rendering: an unknown clip is the API's 404 on the project's page; a real one renders.
    nope = browser.post(f"{url}/clips/clp_nope/render", {"platform_preset": "tiktok"})
    assert nope.status_code == 404 and "<h1>Launch stream</h1>" in nope.text
    assert "clp_nope" in unescape(nope.text) and 'id="studio-error"' in nope.text
    choice = {"platform_preset": "tiktok", "reframe": "blur", "captions": "",
              "form_key": _form_key(scanned.text, f"-render-{clip['id']}")}  # fmt: skip
    asked = browser.post(f"{url}/clips/{clip['id']}/render", choice)
    assert asked.status_code == 303 and asked.headers["location"] == f"{url}?done=render"
    assert "Render queued" in browser.http.get(asked.headers["location"]).text
    render = wait_until(
        "the render to end", lambda: _ended(stack, "/v1/renders", clip_id=clip["id"]), 180
    )
    assert render["status"] == "ready", render
    assert (render["spec"]["platform_preset"], render["spec"]["reframe"]) == ("tiktok", "blur")
    assert render["spec"]["aspect"] == "9:16"
    ready = browser.http.get(url)
    assert f'<li id="render-{render["id"]}">' in ready.text
    assert '<span class="status status-ready">ready</span>' in ready.text
    assert f'<img src="{render["poster_url"]}"' in ready.text
    assert render["output"]["media_id"] in ready.text
    poster = browser.http.get(render["poster_url"])  # the page's image, as the browser gets it
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    live = browser.http.get(f"{url}/live")
    assert live.status_code == 200 and f'id="render-{render["id"]}"' in live.text
    assert "<h1" not in live.text

    # An unknown project is the API's 404, explained.
    missing = browser.http.get("/app/studio/projects/prj_nope")
    assert missing.status_code == 404 and "That did not work" in missing.text

    # A page at a time, newest first, with the API's cursor behind "Older projects".
    for n in range(20):
        assert stack.http.post("/v1/projects", json={"name": f"Project {n:02d}"}).is_success
    newest = browser.http.get("/app/studio")
    assert "Project 19" in newest.text and "Launch stream" not in newest.text
    older = newest.text.split('<a href="/app/studio?cursor=')[1].split('"')[0]
    oldest = browser.http.get(f"/app/studio?cursor={unescape(older)}")
    assert oldest.status_code == 200 and "Launch stream" in oldest.text
    assert "Project 19" not in oldest.text and "Newest projects" in oldest.text
    # In Chromium, with axe: a project with its scan, clip card and ready render.
    check_pages(browser.http, {"project": f"/app/studio/projects/{project_id}"}, tmp_path)
