"""The customer's view agrees with the platform's: a retried commit refused because the post
is already there is adopted (never failed), and transient errors on one step after another
never use up a target's attempts. Real HTTP against the fakes, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig, Faults
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.store import posts
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}
# The fakes hold every call this long before deciding its fault, so a fault switched on when
# a phase is reached catches that phase's first call.
LATENCY_MS = 300
FAILURES_PER_STEP = 3  # five steps of three: more than the old lifetime budget of eight


class SkewedClock:
    """The wall clock, `ahead` in advance of the platforms' (a host whose NTP drifted)."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        """Wall time plus the skew."""
        return datetime.now(UTC) + self.ahead


class HeldClock(SkewedClock):
    """A SkewedClock the test can stop: while held, every job due later waits for release."""

    def __init__(self, ahead: timedelta) -> None:
        super().__init__(ahead)
        self.held: datetime | None = None

    def now(self) -> datetime:
        """The held instant, or wall time plus the skew."""
        return self.held or super().now()

    def hold(self) -> None:
        """Stop time where it is."""
        self.held = super().now()

    def release(self) -> None:
        """Let time run (it jumps to wall time plus the skew)."""
        self.held = None


@pytest.fixture(scope="module")
def uncapped_fakes() -> Iterator[RunningServer]:
    """Fakes without the platforms' posting caps, so one X user can post 120 times at once."""
    config = FakeConfig(faults=Faults(processing_seconds=0.05)).without_rate_limits()
    server = serve_in_thread(create_sandbox_app(config))
    yield server
    server.stop()


def _ledger(stack: Stack, post_id: str) -> list[dict[str, Any]]:
    return list(stack.http.get(f"/v1/posts/{post_id}/ledger").json())


def _create(stack: Stack, media_id: str, platform: str, text: str) -> str:
    response = stack.http.post(
        "/v1/posts", json={"media_id": media_id, "text": text, "targets": [platform]}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_x_retry_refused_as_duplicate_adopts_the_existing_post(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """X makes the post but its answer is lost; our clock runs ahead of X's by more than
    reconcile's allowance, so reconcile misses the post and the retry is refused as duplicate
    content. That refusal proves the post exists: the target is published with its id."""
    stack = make_stack(clock=SkewedClock(timedelta(minutes=10)))
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("x", "faults", json={"drop_response_after_commit": 1})
    post_id = _create(stack, media["id"], "x", "adopt me #clip")
    post = stack.wait_post(post_id, lambda p: p["status"] in FINAL, timeout=60)

    tweets = stack.fake("x", "state")["posts"]
    assert len(tweets) == 1, tweets
    target = post["targets"][0]
    assert target["status"] == "published", target
    assert target["external_id"] == tweets[0]["id"]
    events = [e["event_type"] for e in _ledger(stack, post_id)]
    assert "reconcile_not_found" in events, events  # the premise: reconcile missed it
    assert "publish_refused_as_existing" in events, events
    assert "publish_failed" not in events, events
    success = [e for e in _ledger(stack, post_id) if e["event_type"] == "publish_successful"]
    assert len(success) == 1 and success[0]["data"]["adopted"] is True, success


def test_x_adoption_pages_to_a_post_behind_many_newer_ones(
    make_stack: Callable[..., Stack], uncapped_fakes: RunningServer
) -> None:
    """As above, but the user posts 120 times elsewhere before crosspost looks again, so the
    post is only on the timeline's second page: the adopted target still carries its id."""
    clock = HeldClock(timedelta(minutes=10))
    stack = make_stack(clock=clock, on=uncapped_fakes)
    stack.fake("x", "faults", json={"drop_response_after_commit": 1})
    clock.hold()  # the first run posts; its reconcile, due a second later, waits for release
    post_id = stack.http.post("/v1/posts", json={"text": "adopt me, deep", "targets": ["x"]})
    post_id.raise_for_status()
    stack.wait_post(post_id.json()["id"], lambda p: p["targets"][0]["status"] == "unconfirmed")
    account = stack.fake("x", "accounts", json={"handle": "sandbox_x"})
    for n in range(120):
        httpx.post(
            f"{stack.fakes_url}/x/2/tweets",
            json={"text": f"from another app {n}"},
            headers={"Authorization": f"Bearer {account['access_token']}"},
        ).raise_for_status()
    assert "users.tweets" not in stack.fake("x", "state")["calls"]  # nothing looked yet
    clock.release()
    post = stack.wait_post(post_id.json()["id"], lambda p: p["status"] in FINAL, timeout=60)

    state = stack.fake("x", "state")
    [ours] = [t for t in state["posts"] if t["text"] == "adopt me, deep"]
    assert len(state["posts"]) == 121, state["posts"]
    target = post["targets"][0]
    assert target["status"] == "published" and target["external_id"] == ours["id"], target
    events = [e["event_type"] for e in _ledger(stack, post["id"])]
    assert "reconcile_not_found" in events and "publish_refused_as_existing" in events, events
    assert state["calls"]["users.tweets"] >= 3  # reconcile's page, then two to reach ours


def test_a_duplicate_on_a_first_try_still_fails(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Without an earlier unknown outcome, X's duplicate-content refusal is the customer's own
    repeat (not ours to adopt): the second post fails with X's reason."""
    stack = make_stack()
    first = stack.wait_post(
        stack.http.post("/v1/posts", json={"text": "said twice", "targets": ["x"]}).json()["id"],
        lambda p: p["status"] in FINAL,
    )
    assert first["status"] == "published", first
    second = stack.wait_post(
        stack.http.post("/v1/posts", json={"text": "said twice", "targets": ["x"]}).json()["id"],
        lambda p: p["status"] in FINAL,
    )
    assert second["status"] == "failed", second
    assert second["targets"][0]["last_error"]["code"] == "duplicate_content"
    assert len(stack.fake("x", "state")["posts"]) == 1


def test_linkedin_text_retry_refused_as_duplicate_adopts_the_named_post(
    make_stack: Callable[..., Stack],
) -> None:
    """A LinkedIn text post lands but its answer is lost, and the reconcile cannot see it
    (clock skew); the retry's 422 DUPLICATE_POST names the existing post, which is adopted."""
    stack = make_stack(clock=SkewedClock(timedelta(minutes=30)))
    stack.fake("linkedin", "faults", json={"drop_response_after_commit": 1})
    post_id = stack.http.post(
        "/v1/posts", json={"text": "adopt me on LinkedIn", "targets": ["linkedin"]}
    ).json()["id"]
    post = stack.wait_post(post_id, lambda p: p["status"] in FINAL, timeout=60)

    held = stack.fake("linkedin", "state")["posts"]
    assert len(held) == 1, held
    target = post["targets"][0]
    assert target["status"] == "published", target
    assert target["external_id"] == held[0]["id"], (target, held)
    events = [e["event_type"] for e in _ledger(stack, post_id)]
    assert "reconcile_not_found" in events and "publish_refused_as_existing" in events, events


def _phase(stack: Stack, post_id: str) -> str | None:
    with stack.svc.db.read() as conn:
        target = posts.targets_of(conn, [post_id])[post_id][0]
    if target["status"] in FINAL:
        return "<final>"
    return (target["session"] or {}).get("phase")


def _target(stack: Stack, post_id: str) -> dict[str, Any]:
    return dict(stack.http.get(f"/v1/posts/{post_id}").json()["targets"][0])


def _calls(stack: Stack, platform: str) -> int:
    return sum(stack.fake(platform, "state")["calls"].values())


def _fail_each_phase(
    stack: Stack, platform: str, post_id: str, phases: list[str], times: int
) -> None:
    """As the target reaches each phase, make the fake answer every call with its own 5xx
    until `times` calls have failed, then let calls through again."""
    for phase in phases:
        deadline = time.monotonic() + 30
        while (seen := _phase(stack, post_id)) != phase:
            assert seen != "<final>", f"target ended before phase {phase}"
            assert time.monotonic() < deadline, f"never reached phase {phase} (at {seen})"
            time.sleep(0.005)
        start = _calls(stack, platform)
        stack.fake(platform, "faults", json={"failure_rate": 1.0})
        # One more call than `times` has arrived: the `times` before it were decided (failed).
        while _calls(stack, platform) < start + times + 1:
            assert _phase(stack, post_id) != "<final>", _target(stack, post_id)
            assert time.monotonic() < deadline, f"phase {phase}: too few calls"
            time.sleep(0.005)
        stack.fake(platform, "faults", json={"failure_rate": 0.0})


def _five_xx_on_every_step(
    stack: Stack, tmp_path: Path, platform: str, first: str, phases: list[str]
) -> dict[str, Any]:
    media = stack.upload_video(tmp_path, seconds=3.0, width=720, height=1280)
    stack.fake(platform, "faults", json={"latency_ms": LATENCY_MS, "failure_rate": 1.0})
    post_id = _create(stack, media["id"], platform, f"{platform} through 5xx #clip")
    # The first phase is the one a new target starts at (no session yet): fail it from the
    # start, then each later phase as it is reached.
    deadline = time.monotonic() + 30
    while _calls(stack, platform) < FAILURES_PER_STEP + 1:
        assert time.monotonic() < deadline, f"{first}: too few calls"
        time.sleep(0.005)
    stack.fake(platform, "faults", json={"failure_rate": 0.0})
    _fail_each_phase(stack, platform, post_id, phases, FAILURES_PER_STEP)
    stack.fake(platform, "faults", json={"latency_ms": 0})
    post = stack.wait_post(post_id, lambda p: p["status"] in FINAL, timeout=90)
    retried = [
        e
        for e in _ledger(stack, post_id)
        if e["event_type"] in ("publish_retrying", "publish_unconfirmed")
    ]
    assert len(retried) >= FAILURES_PER_STEP * (len(phases) + 1), retried
    return post


def test_linkedin_5xx_on_every_step_is_retried_until_published(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """LinkedIn answers 500 three times in a row at init, part upload, finalize, status and
    the post itself (and at the reconcile that follows): every step is retried on its own
    budget, the post is made exactly once and the target ends `published`."""
    stack = make_stack()
    post = _five_xx_on_every_step(
        stack, tmp_path, "linkedin", "init", ["upload", "finalize", "status", "post"]
    )
    assert post["status"] == "published", post
    assert len(stack.fake("linkedin", "state")["posts"]) == 1


def test_instagram_code_2_on_every_step_is_retried_until_published(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Graph's code 2 ("unexpected error, retry later") three times in a row at container
    creation, upload, status poll, quota check, media_publish and permalink: retried, the
    Reel is published exactly once and the target ends `published`."""
    stack = make_stack()
    post = _five_xx_on_every_step(
        stack, tmp_path, "instagram", "create", ["upload", "poll", "quota", "publish", "permalink"]
    )
    assert post["status"] == "published", post
    assert len(stack.fake("instagram", "state")["posts"]) == 1
    error_codes = {
        e["data"].get("code")
        for e in _ledger(stack, post["id"])
        if e["event_type"] in ("publish_retrying", "publish_unconfirmed")
    }
    assert "2" in error_codes, error_codes


@pytest.mark.parametrize("platform", ["linkedin", "instagram"])
def test_5xx_at_the_commit_and_its_reconcile_never_fail_the_target(
    make_stack: Callable[..., Stack], tmp_path: Path, platform: str
) -> None:
    """The publish call answers 5xx (its outcome is unknown) and then every reconcile call
    fails too, many more times than the transient budget: a target whose post may exist is
    never failed; once the platform answers it is reconciled and published once."""
    stack = make_stack(target_max_transient_errors=3)
    media = stack.upload_video(tmp_path, seconds=3.0, width=720, height=1280)
    stack.fake(platform, "faults", json={"latency_ms": LATENCY_MS})
    post_id = _create(stack, media["id"], platform, f"{platform} commit 5xx #clip")
    commit = "post" if platform == "linkedin" else "publish"
    _fail_each_phase(stack, platform, post_id, [commit], times=8)
    stack.fake(platform, "faults", json={"latency_ms": 0})
    post = stack.wait_post(post_id, lambda p: p["status"] in FINAL, timeout=90)
    assert post["status"] == "published", post
    assert len(stack.fake(platform, "state")["posts"]) == 1
