"""Renders over real HTTP on SQLite and PostgreSQL: a clip rendered by the studio's pool
into a publishable media item with a poster, its task's progress, `export.ready` delivered
once (or `export.failed`), every bad request, the quotas, tenant isolation, and a worker
SIGKILLed mid-render (one artifact, one event).

Sources are tiny (180x320, a few seconds): the renderer's own tests cover the picture.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.fakes.server import serve_in_thread
from crosspost.ids import new_id
from crosspost.media.samples import make_image, make_video
from crosspost.store import tasks as task_rows
from crosspost.store.tables import media as media_table
from crosspost.store.tables import usage_counters
from crosspost.store.tables_studio import brand_kits, clips, project_sources, projects, renders
from crosspost.usage.metering import period_of
from crosspost.webhooks.catalogue import validate_payload
from crosspost.webhooks.dispatcher import WebhookDispatcher
from tests.e2e.conftest import Stack, expect_problem

FPS = 30
WORDS = ("every", "clip", "gets", "its", "captions")


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without pools: jobs run only where a test says (`spawn_worker`)."""
    return make_stack(workers=0)


# --- helpers ------------------------------------------------------------------------------


def _upload(stack: Stack, tmp_path: Path, seconds: float = 2.0) -> dict[str, Any]:
    """A 180x320 video with a tone, uploaded (rendered at 360x640)."""
    path = make_video(tmp_path / f"source-{new_id('s')}.mp4", seconds=seconds, width=180,
                      height=320)  # fmt: skip
    answer = stack.http.post(
        "/v1/media",
        content=path.read_bytes(),
        headers={"Content-Type": "video/mp4", "X-Filename": "source.mp4"},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _transcript() -> dict[str, Any]:
    words = [[0.3 + i * 0.25, 0.5 + i * 0.25, w] for i, w in enumerate(WORDS)]
    return {"language": "en", "segments": [
        {"start": 0.3, "end": 1.5, "text": " ".join(WORDS), "words": words}]}  # fmt: skip


def _clip(
    stack: Stack,
    source: dict[str, Any],
    start: float,
    end: float,
    *,
    transcript: dict[str, Any] | None = None,
    brand_kit_id: str | None = None,
    tenant_id: str | None = None,
) -> str:
    """A project with `source` and one clip of it, written as the studio's API would."""
    tenant = tenant_id or stack.tenant_id
    now = stack.svc.clock.now()
    project_id, clip_id = new_id("prj"), new_id("clp")
    with stack.svc.db.write() as conn:
        conn.execute(projects.insert().values(
            id=project_id, tenant_id=tenant, name="launch", brand_kit_id=brand_kit_id,
            created_at=now, updated_at=now))  # fmt: skip
        conn.execute(project_sources.insert().values(
            project_id=project_id, media_id=source["id"], tenant_id=tenant,
            transcript=transcript, transcript_origin="attached" if transcript else None,
            added_at=now))  # fmt: skip
        conn.execute(clips.insert().values(
            id=clip_id, tenant_id=tenant, project_id=project_id, media_id=source["id"],
            start_seconds=start, end_seconds=end, origin="manual", score=None, reasons=[],
            title="the good part", created_at=now, updated_at=now))  # fmt: skip
    return clip_id


def _brand_kit(stack: Stack, tmp_path: Path) -> str:
    """A brand kit with a logo (uploaded) and the default settings."""
    logo = make_image(tmp_path / "logo.png", 64, 64)
    answer = stack.http.post(
        "/v1/media", content=logo.read_bytes(), headers={"Content-Type": "image/png"}
    )
    assert answer.status_code == 201, answer.text
    kit_id, now = new_id("bk"), stack.svc.clock.now()
    with stack.svc.db.write() as conn:
        conn.execute(brand_kits.insert().values(
            id=kit_id, tenant_id=stack.tenant_id, name="house", logo_media_id=answer.json()["id"],
            logo={"position": "top-right", "scale": 0.2, "opacity": 0.9, "margin": 0.04},
            colors={"background": "#102030", "primary": "#FFFFFF", "accent": "#FFD400"},
            caption_style={"font_size": 0.08, "color": "#FFFFFF", "outline_color": "#000000",
                           "outline_width": 0.1, "position": "bottom", "max_chars_per_line": 24,
                           "max_lines": 2, "highlight_color": "#FFD400"},
            default_aspect="1:1", created_at=now, updated_at=now))  # fmt: skip
    return kit_id


def _ask(stack: Stack, clip_id: str, **body: Any) -> dict[str, Any]:
    answer = stack.http.post(f"/v1/clips/{clip_id}/renders", json=body)
    assert answer.status_code == 202, answer.text
    made: dict[str, Any] = answer.json()
    assert answer.headers["location"] == f"/v1/renders/{made['id']}"
    return made


def _wait(
    stack: Stack, render_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = stack.http.get(f"/v1/renders/{render_id}").json()
        if done(seen):
            return seen
        time.sleep(0.05)
    pytest.fail(f"render {render_id} did not get there: {seen}")


def _ended(stack: Stack, render_id: str) -> dict[str, Any]:
    return _wait(stack, render_id, lambda r: r["status"] in ("ready", "failed"))


def _task(stack: Stack, task_id: str) -> dict[str, Any]:
    with stack.svc.db.read() as conn:
        row = task_rows.get_any(conn, task_id)
    assert row is not None
    return row


def _counter(stack: Stack, metric: str) -> int:
    with stack.svc.db.read() as conn:
        value = conn.execute(
            sa.select(usage_counters.c.value).where(
                usage_counters.c.tenant_id == stack.tenant_id,
                usage_counters.c.key_id == "",
                usage_counters.c.metric == metric,
                usage_counters.c.period == period_of(datetime.now(UTC)),
            )
        ).scalar_one_or_none()
    return int(value or 0)


@contextmanager
def _receiver(stack: Stack, events: list[str]) -> Iterator[list[dict[str, Any]]]:
    """An endpoint of the stack's tenant for `events`, delivered by a running dispatcher to a
    local receiver; yields the bodies received."""
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})

    server = serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    dispatcher = WebhookDispatcher(stack.svc, poll_seconds=0.05)
    dispatcher.start()
    try:
        made = stack.http.post("/v1/webhooks", json={"url": f"{server.url}/hook",
                                                     "event_types": events})  # fmt: skip
        assert made.status_code == 201, made.text
        yield received
    finally:
        dispatcher.stop(timeout=10)
        server.stop()


def _wait_for(what: str, done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _tenant_b(stack: Stack) -> httpx.Client:
    """Another tenant's client, with an owner key (every scope)."""
    key = stack.other_tenant_key()
    return httpx.Client(base_url=stack.api_url, headers={"X-API-Key": key}, timeout=30)


# --- a render, end to end -----------------------------------------------------------------


def test_a_render_becomes_a_publishable_video_with_a_poster_announced_once(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """The tiktok preset's 9:16 render of 1.5 s of a clip: 202 queued with `Location`, then
    ready with its video (a media item three platforms publish) and a JPEG poster; the task
    counted its frames; `export.ready` reached the receiver once with seed 000's payload;
    one render and its minutes were metered."""
    stack = make_stack()
    clip_id = _clip(stack, _upload(stack, tmp_path), 0.2, 1.7)
    with _receiver(stack, ["export.*"]) as received:
        made = _ask(stack, clip_id, platform_preset="tiktok")
        assert made["id"].startswith("rnd_") and made["status"] in ("queued", "rendering")
        assert made["spec"] == {"aspect": "9:16", "reframe": "center", "captions": False,
                                "brand_kit_id": None, "max_duration": 600.0,
                                "platform_preset": "tiktok"}  # fmt: skip
        assert made["output"] is None and made["poster_url"] is None and made["error"] is None
        render = _ended(stack, made["id"])
        _wait_for("export.ready", lambda: len(received) >= 1)
    assert render["status"] == "ready", render
    output = render["output"]
    assert (output["width"], output["height"]) == (360, 640)
    assert output["duration_seconds"] == pytest.approx(1.5, abs=0.1)
    assert output["url"] == f"/v1/media/{output['media_id']}"
    assert render["progress"] == {"done": 45.0, "total": 45.0, "unit": "frames"}
    item = stack.http.get(output["url"]).json()
    assert item["status"] == "ready" and item["kind"] == "video", item
    assert (item["sha256"], item["size_bytes"]) == (output["sha256"], output["size_bytes"])
    assert item["filename"] == f"{made['id']}.mp4" and item["content_type"] == "video/mp4"

    poster = stack.http.get(render["poster_url"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.content)).size == (360, 640)

    task = _task(stack, render["job_id"])
    assert (task["kind"], task["status"], task["subject_id"]) == ("render", "succeeded", made["id"])
    assert task["result"]["id"] == made["id"] and task["result"]["status"] == "ready"

    (event,) = received
    validate_payload(event)
    assert event["type"] == "export.ready"
    assert event["data"] == {
        "exportId": made["id"],
        "status": "COMPLETED",
        "clipId": clip_id,
        "projectId": render["project_id"],
        "artifacts": {
            "video": {
                "mediaId": output["media_id"],
                "url": output["url"],
                "durationSeconds": output["duration_seconds"],
                "sizeBytes": output["size_bytes"],
                "sha256": output["sha256"],
                "width": 360,
                "height": 640,
            },
            "poster": {"url": render["poster_url"]},
        },
        "error": None,
    }
    assert [e["data"]["exportId"] for e in stack.events("export.ready")] == [made["id"]]
    assert _counter(stack, "renders") == 1
    assert _counter(stack, "processing_minutes") == pytest.approx(1500, abs=100)  # ms

    targets = ["youtube", "tiktok", "x"]
    post = stack.http.post(
        "/v1/posts", json={"media_id": output["media_id"], "text": "rendered", "targets": targets}
    )
    assert post.status_code == 201, post.text
    ended = ("published", "partially_published", "failed")
    published = stack.wait_post(post.json()["id"], lambda p: p["status"] in ended, timeout=60)
    assert {t["status"] for t in published["targets"]} == {"published"}, published

    listed = stack.http.get("/v1/renders", params={"clip_id": clip_id}).json()
    assert [r["id"] for r in listed["data"]] == [made["id"]] and listed["has_more"] is False
    assert listed["data"][0] == stack.http.get(f"/v1/renders/{made['id']}").json()


def test_captions_and_a_brand_kit_shape_the_render(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """The project's brand kit is the default (its 1:1 aspect too), captions default to on
    when the source has a transcript, and the render is made with them."""
    stack = make_stack()
    kit_id = _brand_kit(stack, tmp_path)
    clip_id = _clip(stack, _upload(stack, tmp_path), 0.0, 1.5, transcript=_transcript(),
                    brand_kit_id=kit_id)  # fmt: skip
    made = _ask(stack, clip_id, reframe="blur")
    assert made["spec"] == {"aspect": "1:1", "reframe": "blur", "captions": True,
                            "brand_kit_id": kit_id, "max_duration": None,
                            "platform_preset": None}  # fmt: skip
    render = _ended(stack, made["id"])
    assert render["status"] == "ready", render
    assert render["output"]["width"] == render["output"]["height"] == 640


def test_several_clips_page_newest_first(make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    """Three renders (no pool runs them) in pages of two, each once, newest first; a clip
    filter keeps its own."""
    stack = make_stack(workers=0)
    source = _upload(stack, tmp_path)
    first, second = _clip(stack, source, 0, 1), _clip(stack, source, 0.5, 1.5)
    made = [_ask(stack, first)["id"], _ask(stack, second)["id"], _ask(stack, first)["id"]]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = stack.http.get("/v1/renders", params=params).json()
        seen += [r["id"] for r in page["data"]]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == made[::-1]
    only = stack.http.get("/v1/renders", params={"clip_id": first}).json()["data"]
    assert [r["id"] for r in only] == [made[2], made[0]]
    assert all(r["status"] == "queued" and r["progress"]["done"] == 0 for r in only)


# --- failures -----------------------------------------------------------------------------


def test_a_render_the_renderer_refuses_fails_with_export_failed(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A clip that starts past its source's end: the render and its task fail with the
    renderer's code, `export.failed` is emitted once, nothing is stored, no poster."""
    stack = make_stack()
    clip_id = _clip(stack, _upload(stack, tmp_path), 5.0, 8.0)
    made = _ask(stack, clip_id)
    render = _ended(stack, made["id"])
    assert render["status"] == "failed" and render["output"] is None, render
    assert render["error"]["code"] == "start_past_end"
    assert "pick a start inside it" in render["error"]["message"]
    assert render["completed_at"] is not None
    task = _task(stack, render["job_id"])
    assert (task["status"], task["error_code"]) == ("failed", "start_past_end")
    (event,) = stack.events("export.failed")
    validate_payload(event)
    assert event["data"] == {
        "exportId": made["id"],
        "status": "FAILED",
        "clipId": clip_id,
        "projectId": render["project_id"],
        "artifacts": None,
        "error": render["error"],
    }
    assert stack.events("export.ready") == []
    expect_problem(stack.http.get(f"/v1/renders/{made['id']}/poster"), 409, "render_not_ready")
    assert not list(stack.svc.storage.keys("posters/"))
    assert _counter(stack, "processing_minutes") == 0


def test_a_source_gone_before_the_job_runs_fails_the_render(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """The source's file disappears between the request and the job: `source_missing`."""
    stack = make_stack(workers=0)
    source = _upload(stack, tmp_path)
    made = _ask(stack, _clip(stack, source, 0, 1))
    with stack.svc.db.read() as conn:
        key = conn.execute(
            sa.select(media_table.c.storage_key).where(media_table.c.id == source["id"])
        ).scalar_one()
    stack.svc.storage.delete(key)
    make_stack()  # a second stack on the same database and media, whose pools run the job
    render = _ended(stack, made["id"])
    assert (render["status"], render["error"]["code"]) == ("failed", "source_missing"), render
    assert len(stack.events("export.failed")) == 1


# --- bad requests, quotas, tenants ----------------------------------------------------------


def test_bad_requests_are_refused_each_with_its_code(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Every refusal is a problem+json with a stable code and says what to change; none
    creates a render."""
    stack = make_stack(workers=0)
    source = _upload(stack, tmp_path)
    clip_id = _clip(stack, source, 0, 1)
    url = f"/v1/clips/{clip_id}/renders"
    expect_problem(stack.http.post("/v1/clips/clp_nope/renders", json={}), 404, "clip_not_found")
    for body in (
        {"aspect": "3:4"},
        {"reframe": "zoom"},
        {"max_duration": 0},
        {"max_duration": 601},
        {"platform_preset": "myspace"},
        {"captions": "maybe"},
        {"colour": "red"},
    ):
        field = next(iter(body))
        problem = expect_problem(stack.http.post(url, json=body), 422, "validation_error")
        assert field in problem["detail"], problem
    problem = expect_problem(stack.http.post(url, json={"captions": True}), 422, "no_transcript")
    assert "captions: false" in problem["detail"]
    expect_problem(
        stack.http.post(url, json={"brand_kit_id": "bk_nope"}), 422, "brand_kit_not_found"
    )
    problem = expect_problem(
        stack.http.post(url, json={"platform_preset": "youtube_shorts", "max_duration": 200}),
        422,
        "max_duration_over_platform_limit",
    )
    assert "180 s" in problem["detail"]
    with stack.svc.db.write() as conn:
        conn.execute(media_table.update().where(media_table.c.id == source["id"])
                     .values(deleted_at=stack.svc.clock.now()))  # fmt: skip
    expect_problem(stack.http.post(url, json={}), 422, "source_missing")
    expect_problem(stack.http.get("/v1/renders/rnd_nope"), 404, "render_not_found")
    expect_problem(stack.http.get("/v1/renders/rnd_nope/poster"), 404, "render_not_found")
    expect_problem(stack.http.get("/v1/renders", params={"limit": 0}), 422)
    assert stack.http.get("/v1/renders").json()["data"] == []
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(renders)).scalar_one() == 0


def test_a_queued_render_has_no_poster_and_idempotency_keys_answer_the_same(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """The same Idempotency-Key and body answer the same render, made and counted once."""
    stack = make_stack(workers=0)
    clip_id = _clip(stack, _upload(stack, tmp_path), 0, 1)
    headers = {"Idempotency-Key": "render-once"}
    first = stack.http.post(f"/v1/clips/{clip_id}/renders", json={}, headers=headers)
    again = stack.http.post(f"/v1/clips/{clip_id}/renders", json={}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert len(stack.http.get("/v1/renders").json()["data"]) == 1
    assert _counter(stack, "renders") == 1
    problem = expect_problem(
        stack.http.get(f"/v1/renders/{first.json()['id']}/poster"), 409, "render_not_ready"
    )
    assert "queued" in problem["detail"]


def test_quotas_refuse_a_render_before_anything_is_made(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A `renders` hard limit of 1 takes one render and refuses the next (402); a
    `processing_minutes` hard limit of 0 refuses any render; nothing is queued for them."""
    stack = make_stack(workers=0)
    clip_id = _clip(stack, _upload(stack, tmp_path), 0, 1)
    url = f"/v1/clips/{clip_id}/renders"
    quota = stack.http.put("/v1/usage/quotas", json={"metric": "renders", "hard_limit": 1})
    assert quota.status_code == 200, quota.text
    _ask(stack, clip_id)
    problem = expect_problem(stack.http.post(url, json={}), 402, "quota_exceeded")
    assert (problem["quota"], problem["limit"], problem["used"]) == ("renders", 1, 1)
    stack.http.put("/v1/usage/quotas", json={"metric": "renders"})
    quota = stack.http.put("/v1/usage/quotas",
                           json={"metric": "processing_minutes", "hard_limit": 0})  # fmt: skip
    assert quota.status_code == 200, quota.text
    problem = expect_problem(stack.http.post(url, json={}), 402, "quota_exceeded")
    assert problem["quota"] == "processing_minutes"
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(renders)).scalar_one() == 1
    usage = stack.http.get("/v1/usage").json()
    assert usage["tenant"]["renders"] == 1 and usage["tenant"]["processing_minutes"] == 0


def test_another_tenant_neither_sees_nor_renders_a_clip(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Tenant B gets 404 for A's clip, render and poster, and an empty list."""
    stack = make_stack(workers=0)
    clip_id = _clip(stack, _upload(stack, tmp_path), 0, 1)
    made = _ask(stack, clip_id)
    with _tenant_b(stack) as other:
        expect_problem(other.post(f"/v1/clips/{clip_id}/renders", json={}), 404, "clip_not_found")
        expect_problem(other.get(f"/v1/renders/{made['id']}"), 404, "render_not_found")
        expect_problem(other.get(f"/v1/renders/{made['id']}/poster"), 404, "render_not_found")
        assert other.get("/v1/renders").json()["data"] == []
        assert other.get("/v1/renders", params={"clip_id": clip_id}).json()["data"] == []
    assert stack.http.get(f"/v1/renders/{made['id']}").json()["id"] == made["id"]


# --- a worker killed mid-render -----------------------------------------------------------


def test_a_worker_killed_mid_render_is_replaced_and_one_artifact_is_announced_once(
    stack: Stack,
    spawn_worker: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """The first worker is SIGKILLed while rendering; another takes the job over once its
    lease runs out and renders it again: one media item, one poster, one `export.ready`,
    no write left pending and no scratch file left."""
    source = _upload(stack, tmp_path, seconds=10.0)
    made = _ask(stack, _clip(stack, source, 0.0, 9.5))
    env = {"CROSSPOST_RENDER_WORKERS": "1", "CROSSPOST_RENDER_PROGRESS_SECONDS": "0.05"}
    first = spawn_worker(1, **env)

    # A worker process takes seconds to start on a busy machine.
    _wait_for("the first frames", lambda: _task(stack, made["job_id"])["progress_done"] > 0,
              timeout=120)  # fmt: skip
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = stack.http.get(f"/v1/renders/{made['id']}").json()
    assert cut["status"] == "rendering", f"the kill came too late to test anything: {cut}"
    spawn_worker(1, **env)
    render = _ended(stack, made["id"])
    assert render["status"] == "ready", render
    output_id = render["output"]["media_id"]
    with stack.svc.db.read() as conn:
        items = conn.execute(sa.select(media_table.c.id).order_by(media_table.c.id)).scalars()
        assert sorted(items) == sorted([source["id"], output_id])
    assert [e["data"]["exportId"] for e in stack.events("export.ready")] == [made["id"]]
    assert sorted(stack.svc.storage.keys("med_")) == sorted([source["id"], output_id])
    assert list(stack.svc.storage.keys("posters/")) == [f"posters/{made['id']}.jpg"]
    assert stack.svc.storage.pending() == []
    scratch = stack.svc.settings.resolved_media_dir / ".renders"
    assert not list(scratch.glob("*"))
    task = _task(stack, made["job_id"])
    assert task["status"] == "succeeded" and task["progress_done"] == task["progress_total"]
    assert _counter(stack, "processing_minutes") == pytest.approx(9500, abs=200)
