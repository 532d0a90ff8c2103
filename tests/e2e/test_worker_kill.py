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
    digest = hashlib.sha256(stack.svc.storage.path_for(media["id"]).read_bytes()).hexdigest()
    assert posts[0]["sha256"] == digest
    ledger = stack.http.get(f"/v1/posts/{post_id}/ledger").json()
    assert [e["event_type"] for e in ledger].count("publish_successful") == 1
