"""A pipeline run end to end, over real HTTP against the Twitch, GitHub and transcription
fakes, on SQLite and PostgreSQL: the sample channel's clips become content items, each
stored, transcribed, matched with the sample repository's activity and judged; a clip
whose media is gone fails alone with its reason; a rerun adds nothing twice and picks up
only what is missing."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.store.tables import media as media_table
from tests.e2e.conftest import _LOCAL, Stack, expect_problem
from tests.e2e.pipelines import clip_range, make_pipeline, run


def _items(stack: Stack, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = stack.http.get("/v1/content-items", params={"limit": 2, **params}).json()
    while True:
        found += page["data"]
        if not page["has_more"]:
            return found
        page = stack.http.get(
            "/v1/content-items", params={"limit": 2, **params, "cursor": page["next_cursor"]}
        ).json()


def test_a_run_turns_the_channels_clips_into_ready_content_items(stack: Stack) -> None:
    """Twelve clips, twelve items ready for content: video a media item, transcript and
    GitHub context readable, a score; a second run finds nothing new to do."""
    pipeline = make_pipeline(stack)
    window = clip_range()
    job = run(stack, pipeline, window)
    result = job["result"]
    assert (result["clips_found"], result["clips_new"], result["failed"]) == (12, 12, [])
    assert result["statuses"] == {"ready_for_content": 12}
    assert job["progress"] == {"done": 12.0, "total": 12.0, "unit": "clips"}
    items = _items(stack, pipeline_id=pipeline["id"])
    assert len(items) == 12 and len({i["clip_id"] for i in items}) == 12
    for item in items:
        assert item["schema_version"] == "1.0.0" and item["platform"] == "twitch"
        assert item["processing_status"] == "ready_for_content" and item["error"] is None
        assert item["media_id"] and item["content_score"] is not None
        assert item["transcript_summary"] and item["transcript_size_bytes"] > 0
        assert item["judgement"]["judge"] == "heuristic"
        assert item["content_category"] in ("development", "gaming", "tutorial", "review", "other")
    # Newest clip first by default; each part reads back through the API.
    created = [i["clip_created_at"] for i in items]
    assert created == sorted(created, reverse=True)
    first = items[0]
    transcript = stack.http.get(first["transcript_url"].removeprefix(stack.api_url))
    assert transcript.status_code == 200 and transcript.json()["segments"]
    context = stack.http.get(first["github_context_url"].removeprefix(stack.api_url)).json()
    assert isinstance(context["events"], list)
    assert any(i["match_confidence"] > 0 for i in items)  # the sample repo was busy then
    audio = stack.http.get(first["audio_file_url"].removeprefix(stack.api_url))
    assert audio.status_code == 200 and audio.content[:4] == b"OggS"
    video = stack.http.get(f"/v1/media/{first['media_id']}").json()
    assert video["kind"] == "video" and video["duration_seconds"] > 0
    events = stack.http.get(
        f"/v1/pipelines/{pipeline['id']}/github-events", params={"limit": 100}
    ).json()["data"]
    assert events and {e["source"] for e in events} == {"backfill"}
    again = run(stack, pipeline, window)["result"]
    assert (again["clips_found"], again["clips_new"], again["processed"]) == (12, 0, 0)
    assert len(_items(stack, pipeline_id=pipeline["id"])) == 12


def test_a_clip_without_media_fails_alone_and_a_rerun_retries_only_it(stack: Stack) -> None:
    """The clip whose download is gone ends `failed` with the reason; the others are
    ready; after the media is back, a rerun processes only the failed one."""
    clip = stack.fake(
        "twitch",
        "clips",
        json={
            "title": "Shipping the recap generator",
            "missing_media": True,
            "view_count": 40,
            "duration": 12,
            "created_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        },
    )
    pipeline = make_pipeline(stack)
    window = clip_range(hours=36)  # a third of the sample clips, and the one made here
    result = run(stack, pipeline, window)["result"]
    ready = result["clips_found"] - 1
    assert result["statuses"] == {"ready_for_content": ready, "failed": 1}
    [failed] = result["failed"]
    assert failed["clip_id"] == clip["id"] and failed["code"] and failed["message"]
    item = stack.http.get(f"/v1/content-items/{failed['content_item_id']}").json()
    assert item["processing_status"] == "failed" and item["error"]["code"] == failed["code"]
    expect_problem(
        stack.http.get(f"/v1/content-items/{item['content_item_id']}/transcript"),
        404,
        "content_item_part_missing",
    )
    listed = _items(stack, status="failed")
    assert [i["clip_id"] for i in listed] == [clip["id"]]
    again = run(stack, pipeline, window)["result"]
    assert (again["clips_new"], again["processed"]) == (0, 1)
    assert again["statuses"] == {"ready_for_content": ready, "failed": 1}


def test_items_are_filtered_sorted_and_reviewed(stack: Stack) -> None:
    """Seed 002's filters and sorts, each page walked without a repeat; a rejected item
    is marked; bad filters are refused naming the parameter."""
    pipeline = make_pipeline(stack)
    run(stack, pipeline, clip_range(hours=36))
    everything = _items(stack)
    by_views = _items(stack, sort_by="view_count", sort_order="asc")
    assert [i["clip_view_count"] for i in by_views] == sorted(
        i["clip_view_count"] for i in everything
    )
    by_score = _items(stack, sort_by="content_score")
    assert [i["content_score"] for i in by_score] == sorted(
        (i["content_score"] for i in everything), reverse=True
    )
    median = sorted(i["clip_view_count"] for i in everything)[len(everything) // 2]
    popular = _items(stack, min_views=median)
    assert popular and all(i["clip_view_count"] >= median for i in popular)
    assert len(popular) == sum(i["clip_view_count"] >= median for i in everything)
    short = _items(stack, max_duration=20)
    assert all(i["clip_duration"] <= 20 for i in short)
    assert len(short) == sum(i["clip_duration"] <= 20 for i in everything)
    category = everything[0]["content_category"]
    assert {i["content_category"] for i in _items(stack, category=category)} == {category}
    target = everything[0]["content_item_id"]
    reviewed = stack.http.post(
        f"/v1/content-items/{target}/review", json={"review": "rejected"}
    ).json()
    assert reviewed["review"] == "rejected"
    assert [i["content_item_id"] for i in _items(stack, review="rejected")] == [target]
    for params, name in (
        ({"sort_by": "likes"}, "sort_by"),
        ({"min_views": -1}, "min_views"),
        ({"status": "done"}, "status"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"min_duration": 30, "max_duration": 10}, "min_duration"),
    ):
        problem = expect_problem(stack.http.get("/v1/content-items", params=params), 422)
        assert name in json.dumps(problem)
    cursor = stack.http.get("/v1/content-items", params={"limit": 1}).json()["next_cursor"]
    expect_problem(
        stack.http.get("/v1/content-items", params={"cursor": cursor, "sort_by": "duration"}),
        422,
        "invalid_cursor",
    )
    expect_problem(
        stack.http.post(f"/v1/content-items/{target}/review", json={"review": "maybe"}), 422
    )


def test_a_run_over_a_bad_range_or_another_tenants_pipeline_is_refused(stack: Stack) -> None:
    """until before since, a range over 31 days, a pipeline of another tenant."""
    pipeline = make_pipeline(stack)
    path = f"/v1/pipelines/{pipeline['id']}/runs"
    now = datetime.now(UTC)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()}
    expect_problem(stack.http.post(path, json=backwards), 422, "invalid_range")
    huge = {"since": (now - timedelta(days=40)).isoformat(), "until": now.isoformat()}
    expect_problem(stack.http.post(path, json=huge), 422, "invalid_range")
    naive = {"since": "2026-12-01T00:00:00"}
    expect_problem(stack.http.post(path, json=naive), 422)
    for far in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        problem = expect_problem(stack.http.post(path, json={"since": far}), 422)
        assert "between 2000 and 2100" in json.dumps(problem)
    other = {"Authorization": f"Bearer {stack.other_tenant_key()}"}
    expect_problem(
        _LOCAL.post(stack.api_url + path, json=clip_range(), headers=other),
        404,
        "pipeline_not_found",
    )


def test_a_worker_killed_mid_run_is_replaced_and_each_clip_is_one_item(
    make_stack: Callable[..., Stack], spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """The run's worker is SIGKILLed after some items are done; another takes the job over
    once its lease runs out: one task ending once, one item per clip with one media item,
    one set of stored parts per item, no write left pending."""
    stack = make_stack(workers=0)
    pipeline = make_pipeline(stack)
    # The last day and a half: a third of the sample channel's clips, enough to cut into.
    until = datetime.now(UTC) + timedelta(minutes=5)
    since = until - timedelta(hours=36)
    clips = [
        c
        for c in stack.fake("twitch", "state")["clips"]
        if since <= datetime.fromisoformat(c["created_at"].replace("Z", "+00:00")) < until
    ]
    assert len(clips) >= 3
    window = {"since": since.isoformat(), "until": until.isoformat()}
    started = stack.http.post(f"/v1/pipelines/{pipeline['id']}/runs", json=window).json()
    env = {"CROSSPOST_RENDER_WORKERS": "1"}
    first = spawn_worker(1, **env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = stack.http.get(f"/v1/jobs/{started['id']}").json()
        if job["progress"]["done"] >= 1:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the run never got going: {job}")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = stack.http.get(f"/v1/jobs/{started['id']}").json()
    assert cut["status"] == "running", f"the kill came too late to test anything: {cut}"
    spawn_worker(1, **env)
    job = stack.wait_job(started["id"], timeout=240)
    assert job["status"] == "succeeded", job
    assert job["result"]["statuses"] == {"ready_for_content": len(clips)}
    items = _items(stack, pipeline_id=pipeline["id"])
    assert sorted(i["clip_id"] for i in items) == sorted(c["id"] for c in clips)
    with stack.svc.db.read() as conn:
        media_ids = sorted(conn.execute(sa.select(media_table.c.id)).scalars())
    assert media_ids == sorted(i["media_id"] for i in items)
    keys = sorted(stack.svc.storage.keys("pipeline/"))
    assert len(keys) == len(clips) * 4  # clip, audio, transcript, GitHub context of each
    assert stack.svc.storage.pending() == []
