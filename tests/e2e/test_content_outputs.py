"""What a pipeline's content becomes, over real HTTP on SQLite and PostgreSQL: a transcript
imported from WebVTT (kept over the transcription API's), a recap announced on Discord (the
fake's execute-webhook) and by job.completed / job.failed, and posts made from a content
item (its clip as a video) and from a recap (a text post), with the bad inputs refused."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from crosspost.store import content_items as rows
from tests.e2e.conftest import Stack, expect_problem, wait_until
from tests.e2e.pipelines import REPO, clip_range, make_pipeline, pulls_opened, run

VTT = """WEBVTT

00:00:00.000 --> 00:00:02.500
We fix the webhook retry bug in the worker

00:00:02.500 --> 00:00:04.000
and ship the <i>release</i> &amp; tests
"""


@pytest.fixture
def ran(stack: Stack) -> tuple[Stack, dict[str, Any], dict[str, str], dict[str, Any]]:
    """A pipeline telling a Discord webhook of the fake's, run over a day and a half."""
    hook = stack.fake("discord", "webhooks", json={"name": "recaps"})
    pipeline = make_pipeline(stack, discord_webhook_url=hook["url"])
    assert pipeline["discord_webhook_set"] is True and hook["token"] not in str(pipeline)
    window = clip_range(hours=36)
    run(stack, pipeline, window)
    return stack, pipeline, window, hook


def _items(stack: Stack, pipeline_id: str) -> list[dict[str, Any]]:
    answer = stack.http.get("/v1/content-items", params={"pipeline_id": pipeline_id, "limit": 100})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def _generate(stack: Stack, window: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = stack.http.post(
        "/v1/content/generate",
        json={
            "date_range": {"start": window["since"], "end": window["until"]},
            "content_type": "daily_recap",
            **body,
        },
    )
    assert answer.status_code in (200, 202), answer.text
    return dict(answer.json())


def test_an_imported_transcript_replaces_the_heard_one_and_is_judged_again(
    ran: tuple[Stack, dict[str, Any], dict[str, str], dict[str, Any]],
) -> None:
    """PUT a WebVTT file: the item keeps it (origin `imported`), goes back to be matched and
    judged, and the next run finishes it without transcribing it again."""
    stack, pipeline, window, _ = ran
    item = _items(stack, pipeline["id"])[0]
    assert item["transcript_origin"] == "transcribed"
    put = stack.http.put(
        f"/v1/content-items/{item['content_item_id']}/transcript",
        content=VTT.encode(),
        headers={"Content-Type": "text/vtt"},
    )
    assert put.status_code == 200, put.text
    changed = put.json()
    assert changed["transcript_origin"] == "imported"
    assert changed["processing_status"] == "transcribed"
    assert changed["transcript_summary"].startswith("We fix the webhook retry bug")
    stored = stack.http.get(f"/v1/content-items/{item['content_item_id']}/transcript").json()
    assert [s["text"] for s in stored["segments"]][1] == "and ship the release & tests"
    again = run(stack, pipeline, window)["result"]
    assert again["processed"] == 1 and again["failed"] == []
    done = stack.http.get(f"/v1/content-items/{item['content_item_id']}").json()
    assert done["processing_status"] == "ready_for_content"
    assert done["transcript_origin"] == "imported"
    assert "webhook" in done["judgement"]["reasons"][1] or "webhook" in done["content_tags"]


@pytest.mark.parametrize(
    ("content", "ctype", "status", "code"),
    [
        (VTT.encode(), "text/html", 415, "unsupported_transcript_type"),
        (b"hello there", "text/vtt", 422, "transcript_unreadable"),
        (b"WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nbackwards\n", "text/vtt", 422, None),
        (b"\xff\xfe\xfa not text", "application/x-subrip", 422, "transcript_unreadable"),
        (b"x" * (5 * 1024 * 1024 + 1), "text/vtt", 413, "transcript_too_large"),
    ],
)
def test_bad_transcripts_are_refused_and_change_nothing(
    stack: Stack, content: bytes, ctype: str, status: int, code: str | None
) -> None:
    """Each is refused naming what to change; an unknown item is 404 before any read."""
    expect_problem(
        stack.http.put(
            "/v1/content-items/ci_nope/transcript",
            content=VTT.encode(),
            headers={"Content-Type": "text/vtt"},
        ),
        404,
        "content_item_not_found",
    )
    pipeline = make_pipeline(stack)
    item = _seed_item(stack, pipeline["id"])
    answer = stack.http.put(
        f"/v1/content-items/{item}/transcript", content=content, headers={"Content-Type": ctype}
    )
    expect_problem(answer, status, code)
    kept = stack.http.get(f"/v1/content-items/{item}").json()
    assert kept["transcript_origin"] is None and kept["processing_status"] == "pending"


def _seed_item(stack: Stack, pipeline_id: str) -> str:
    """A pending item of a clip, as a run's discovery would add it (no run needed)."""
    now = datetime.now(UTC)
    with stack.svc.db.write() as conn:
        rows.add_item(
            conn,
            {
                "id": "ci_seeded", "tenant_id": stack.tenant_id, "pipeline_id": pipeline_id,
                "platform": "twitch", "clip_id": "SeededClip", "clip_title": "Seeded",
                "clip_url": "https://clips.twitch.tv/SeededClip", "clip_embed_url": "",
                "clip_thumbnail_url": "", "clip_duration": 30.0, "clip_view_count": 1,
                "clip_created_at": now, "broadcaster_name": "sandbox_streamer",
                "creator_name": "someone", "processing_status": "pending", "review": "pending",
                "stored_at": now, "updated_at": now,
            },
        )  # fmt: skip
    return "ci_seeded"


def test_a_recap_is_announced_and_posted_and_so_is_a_clip(
    ran: tuple[Stack, dict[str, Any], dict[str, str], dict[str, Any]],
) -> None:
    """A generation ends with job.completed and one Discord message (its outcome kept on the
    job); its recap posts as text to X and a content item's clip as a YouTube video; a failed
    generation says job.failed; bad sources are refused."""
    stack, pipeline, window, hook = ran
    made = _generate(stack, window, pipeline_id=pipeline["id"])
    job_id = made["job_id"]
    [completed] = [e for e in stack.events("job.completed") if e["data"]["job_id"] == job_id]
    assert completed["data"]["kind"] == "content_generation"

    def discord_outcome() -> dict[str, Any]:
        return dict(stack.http.get(f"/v1/jobs/{job_id}").json()["result"].get("discord") or {})

    outcome = wait_until("the Discord message", discord_outcome)
    assert outcome["status"] == "sent", outcome
    state = stack.fake("discord", "state")
    [mine] = [w for w in state["webhooks"] if w["id"] == hook["id"]]
    [message] = mine["messages"]
    assert message["id"] == outcome["message_id"]
    assert made["suggested_title"] in message["content"]
    assert message["embeds"][0]["title"] == made["suggested_title"]

    recap_post = stack.http.post("/v1/posts", json={"recap_job_id": job_id, "targets": ["x"]})
    assert recap_post.status_code in (201, 202), recap_post.text
    text = recap_post.json()["text"]
    assert (
        text.startswith(made["suggested_title"])
        and f"{made['summary']['total_clips']} clip" in text
    )
    stack.wait_post(recap_post.json()["id"], lambda p: p["status"] == "published")

    item = _items(stack, pipeline["id"])[0]
    clip_post = stack.http.post(
        "/v1/posts", json={"content_item_id": item["content_item_id"], "targets": ["youtube"]}
    )
    assert clip_post.status_code in (201, 202), clip_post.text
    assert clip_post.json()["media_id"] == item["media_id"]
    assert clip_post.json()["text"] == item["clip_title"]
    stack.wait_post(clip_post.json()["id"], lambda p: p["status"] == "published", timeout=60)

    stack.http.post(
        f"/v1/content-items/{item['content_item_id']}/review", json={"review": "rejected"}
    )
    for body, code in [
        ({"content_item_id": item["content_item_id"]}, "content_item_rejected"),
        ({"content_item_id": "ci_nope"}, "content_item_not_found"),
        ({"recap_job_id": "job_nope"}, "recap_not_found"),
        ({"recap_job_id": job_id, "content_item_id": item["content_item_id"]},
         "content_source_conflict"),
        ({"content_item_id": item["content_item_id"], "media_id": item["media_id"]},
         "media_conflict"),
    ]:  # fmt: skip
        problem = expect_problem(stack.http.post("/v1/posts", json={**body, "targets": ["x"]}), 422)
        assert code in str(problem), (body, problem)

    stack.http.put(
        "/v1/content/templates/daily_recap", json={"template": "{{ ''.__class__.__mro__ }}"}
    )
    queued = _generate(stack, window, pipeline_id=pipeline["id"], mode="async")
    failed = stack.wait_job(queued["job_id"])
    assert failed["status"] == "failed"
    [event] = [e for e in stack.events("job.failed") if e["data"]["job_id"] == queued["job_id"]]
    assert event["data"]["error"]["code"] == failed["error"]["code"] == "template_failed"


def test_a_worker_killed_mid_generation_leaves_one_job_and_one_pull_request(
    make_stack: Callable[..., Stack], spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """GitHub slowed down, the generation's worker is SIGKILLed while its commit is in
    flight; another takes the job over: it succeeds once, announced once, with one pull
    request holding the post."""
    stack = make_stack(workers=0)
    env = {"CROSSPOST_RENDER_WORKERS": "1"}
    first = spawn_worker(1, **env)
    pipeline = make_pipeline(stack, recap={"repository": REPO})
    window = clip_range(hours=36)
    run(stack, pipeline, window)
    stack.fake("github", "faults", json={"latency_ms": 1500})
    queued = _generate(stack, window, pipeline_id=pipeline["id"], mode="async",
                       open_pull_request=True)  # fmt: skip

    def writing() -> bool:
        calls = stack.fake("github", "state")["requests"]
        return any(c["method"] == "POST" and "/git/" in c["path"] for c in calls)

    wait_until("the recap commit", writing, timeout=120)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert stack.http.get(f"/v1/jobs/{queued['job_id']}").json()["status"] == "running"
    stack.fake("github", "faults", json={"latency_ms": 0})
    spawn_worker(1, **env)
    job = stack.wait_job(queued["job_id"], timeout=120)
    assert job["status"] == "succeeded", job
    [pull] = pulls_opened(stack)
    assert pull["number"] == job["result"]["pull_request"]["number"]
    for event_type in ("content.generated", "job.completed"):
        mine = [e for e in stack.events(event_type) if e["data"]["job_id"] == queued["job_id"]]
        assert len(mine) == 1, event_type


def test_llm_prose_opens_the_recap_and_is_metered(
    ran: tuple[Stack, dict[str, Any], dict[str, str], dict[str, Any]],
) -> None:
    """`writer: llm` puts the chat model's paragraph under the title (the facts stay the
    template's), counts its tokens, and is refused 402 once the month's tokens are spent;
    the template writer is never refused for it."""
    stack, pipeline, window, _ = ran
    plain = _generate(stack, window, pipeline_id=pipeline["id"])["post"]["markdown"]
    written = _generate(stack, window, pipeline_id=pipeline["id"], writer="llm")
    body = written["post"]["markdown"].split("---\n", 2)[2].strip()
    title, intro, facts = body.split("\n\n", 3)[:3]
    assert title == f"# {written['suggested_title']}"
    assert intro.strip() and intro not in plain
    assert facts == plain.split("---\n", 2)[2].strip().split("\n\n", 2)[1]
    used = stack.http.get("/v1/usage").json()["tenant"]["llm_tokens"]
    assert used > 0
    stack.http.put("/v1/usage/quotas", json={"metric": "llm_tokens", "hard_limit": used})
    refused = expect_problem(
        stack.http.post(
            "/v1/content/generate",
            json={"date_range": {"start": window["since"], "end": window["until"]},
                  "content_type": "daily_recap", "writer": "llm"},
        ),
        402,
        "quota_exceeded",
    )  # fmt: skip
    assert refused["quota"] == "llm_tokens"
    again = _generate(stack, window, pipeline_id=pipeline["id"])
    assert again["post"]["markdown"] == plain
