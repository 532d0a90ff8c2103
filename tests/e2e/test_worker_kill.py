"""A worker process SIGKILLed mid-upload: the target still publishes exactly once."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose API process runs no workers: the worker is a separate process."""
    return make_stack(workers=0)


def _target(stack: Stack, post_id: str) -> dict[str, Any]:
    return dict(stack.http.get(f"/v1/posts/{post_id}").json()["targets"][0])


@pytest.mark.parametrize("platform", ["youtube", "tiktok"])
def test_sigkill_mid_upload_publishes_exactly_once(
    stack: Stack, tmp_path: Path, spawn_worker: Callable[[], subprocess.Popen[bytes]], platform: str
) -> None:
    """Kill the worker while chunks are in flight; a new worker resumes and publishes once."""
    media = stack.upload_video(tmp_path, seconds=4.0, width=720, height=1280)
    stack.fake(platform, "faults", json={"latency_ms": 150})
    post_id = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "kill me", "targets": [platform]}
    ).json()["id"]
    first = spawn_worker()
    deadline = time.monotonic() + 60
    while True:
        target = _target(stack, post_id)
        progress = target.get("progress") or {}
        partial = progress.get("bytes_sent") and progress["bytes_sent"] < progress["bytes_total"]
        # A file under TikTok's 5 MB minimum chunk goes in one request: kill during it.
        if partial or target["status"] == "publishing":
            break
        assert target["status"] not in ("published", "failed"), target
        assert time.monotonic() < deadline, f"upload never got under way: {target}"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    stack.fake(platform, "faults", json={"latency_ms": 0})
    spawn_worker()
    post = stack.wait_post(post_id, lambda p: p["status"] in ("published", "failed"), timeout=90)
    assert post["status"] == "published", post
    posts = stack.fake(platform, "state")["posts"]
    assert len(posts) == 1, posts
    digest = hashlib.sha256(stack.stored_bytes(media["id"])).hexdigest()
    assert posts[0]["sha256"] == digest
    ledger = stack.http.get(f"/v1/posts/{post_id}/ledger").json()
    assert [e["event_type"] for e in ledger].count("publish_successful") == 1


def test_commit_still_in_flight_when_its_worker_dies_is_not_posted_twice(
    stack: Stack, tmp_path: Path, spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """The worker dies while SoundCloud is still handling its POST /tracks (the platform
    finishes it anyway). The next worker waits for the call to settle, then finds the track
    instead of uploading it again (SoundCloud, unlike X, refuses no duplicate)."""
    from crosspost.media.samples import make_audio

    track = make_audio(tmp_path / "track.mp3", seconds=2.0)
    audio = stack.http.post(
        "/v1/media", content=track.read_bytes(), headers={"Content-Type": "audio/mpeg"}
    ).json()
    stack.fake("soundcloud", "faults", json={"latency_ms": 6000})
    post_id = stack.http.post(
        "/v1/posts",
        json={"media_id": audio["id"], "text": "in flight when killed", "targets": ["soundcloud"]},
    ).json()["id"]
    first = spawn_worker(1, CROSSPOST_COMMIT_SETTLE_SECONDS="10")
    deadline = time.monotonic() + 30
    while _target(stack, post_id)["status"] != "publishing":
        assert time.monotonic() < deadline, _target(stack, post_id)
        time.sleep(0.02)
    time.sleep(0.5)  # the tweet request is at the platform now, held by its latency
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    spawn_worker(1, CROSSPOST_COMMIT_SETTLE_SECONDS="10")
    post = stack.wait_post(post_id, lambda p: p["status"] in ("published", "failed"), timeout=60)
    assert post["status"] == "published", post
    tracks = stack.fake("soundcloud", "state")["posts"]
    assert len(tracks) == 1, tracks
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post_id}/ledger").json()]
    assert "publish_settling" in events and events.count("publish_successful") == 1, events
