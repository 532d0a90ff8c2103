"""A worker process SIGKILLed mid-delivery: another worker resumes the same batch, and the
distributor receives exactly one batch, whole."""

from __future__ import annotations

import hashlib
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import _LOCAL, Stack, wait_until
from tests.e2e.music import masters, release_body, wav

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose API process runs no workers: the workers are separate processes."""
    return make_stack(workers=0)


def _control(stack: Stack, path: str, **kwargs: Any) -> Any:
    method = "POST" if "json" in kwargs else "GET"
    answer = _LOCAL.request(method, f"{stack.fakes_url}/distributor/_fake/{path}", **kwargs)
    answer.raise_for_status()
    return answer.json()


def test_a_worker_killed_mid_delivery_leaves_one_whole_batch(
    stack: Stack, spawn_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """Writes are slowed so the kill lands mid-upload; the second worker resumes the batch
    the first began (the same id), the distributor judges it once, and the release goes
    live: one batch, its files' MD5s the masters', one `distribution.live`."""
    first_master, second_master, art = masters(stack)
    made = stack.http.post("/v1/releases", json=release_body([first_master, second_master], art))
    assert made.status_code == 201, made.text
    release = made.json()
    _control(stack, "faults", json={"slow_writes": 0.05})
    started = stack.http.post(
        f"/v1/releases/{release['id']}/distributions", json={"channels": ["ddex"]}
    ).json()["data"][0]
    poll = {"CROSSPOST_DISTRIBUTION_POLL_SECONDS": "0.1"}
    first = spawn_worker(**poll)
    batch_id = f"{started['id']}-1"

    def mid_upload() -> bool:
        written = [w for w in _control(stack, "writes") if w["path"].startswith(batch_id)]
        return bool(written)

    wait_until("the upload to begin", mid_upload, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert _control(stack, "batches") == []  # cut off before the completion marker
    _control(stack, "faults", json={"clear": True})
    spawn_worker(**poll)

    def ended() -> dict[str, Any] | None:
        found = dict(stack.http.get(f"/v1/distributions/{started['id']}").json())
        return found if found["status"] in ("live", "failed") else None

    done = wait_until("the distribution to end", ended, timeout=120)
    assert (done["status"], done["attempt"], done["batch_id"]) == ("live", 1, batch_id), done
    [batch] = _control(stack, "batches")
    assert (batch["batch_id"], batch["status"]) == (batch_id, "Accepted")
    sessions = {w["session"] for w in _control(stack, "writes")}
    assert len(sessions) >= 2  # the killed worker's upload and the resuming one's
    received = _control(stack, f"batches/{batch_id}/files")
    for number, data in enumerate([wav(), wav(2.5, rate=48_000, bits=24)], start=1):
        name = f"resources/{release['upc']}_01_{number:03d}.wav"
        assert received[name]["md5"] == hashlib.md5(data).hexdigest(), name  # noqa: S324
    assert len(stack.events("distribution.live")) == 1
    job = stack.http.get(f"/v1/jobs/{done['job_id']}").json()
    assert job["status"] == "succeeded"
