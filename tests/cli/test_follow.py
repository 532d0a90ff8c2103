"""The follower's rules, on posts as the API shows them: when following stops and with which
exit code, how polling backs off and spares a key's rate limit (issue 13, items 2 and 3).
The same follower against a real server: tests/cli/test_publish_outcomes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crosspost.cli._common import ExitCode
from crosspost.cli.follow import apply_event, settled
from crosspost_sdk.ratelimit import Pacer, RateLimit


def _target(status: str, platform: str = "youtube", **extra: Any) -> dict[str, Any]:
    return {"id": f"tgt_{platform}", "platform": platform, "account_id": "acc_1",
            "status": status, **extra}  # fmt: skip


def _post(status: str, *targets: dict[str, Any]) -> dict[str, Any]:
    return {"id": "post_1", "status": status, "mode": "test", "targets": list(targets)}


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize(
    ("status", "targets", "code"),
    [
        ("published", ["published", "published"], ExitCode.OK),
        ("partially_published", ["published", "failed"], ExitCode.PARTIAL),
        ("failed", ["failed", "failed"], ExitCode.FAILED),
        ("cancelled", ["cancelled"], ExitCode.FAILED),
    ],
)
def test_a_finished_post_exits_by_its_status(status: str, targets: list[str], code: int) -> None:
    """Every target final: 0 only when published; failed, partial, cancelled are distinct
    from it (and from each other where they differ)."""
    post = _post(status, *(_target(s, f"p{i}") for i, s in enumerate(targets)))
    outcome = settled(post, None, wait=False)
    assert outcome is not None and outcome.code == code


def test_needs_reauth_stops_with_the_command_to_run_once_the_rest_settled() -> None:
    """A target in needs_reauth waits for the user: following goes on while another target
    moves, then stops with exit 12 and the command that fixes it."""
    moving = _post("publishing", _target("needs_reauth", "x"), _target("uploading", "tiktok"))
    assert settled(moving, None, wait=False) is None
    stuck = _post("publishing", _target("needs_reauth", "x"), _target("published", "tiktok"))
    outcome = settled(stuck, None, wait=False)
    assert outcome is not None and outcome.code == ExitCode.ATTENTION
    assert any("x needs_reauth — run `crosspost accounts connect x`" in a for a in outcome.advice)


def test_a_quota_day_stops_unless_told_to_wait() -> None:
    """`waiting` for a quota: stop and say until when (exit 12); with --wait, follow on."""
    error = {"kind": "quota", "code": "quotaExceeded", "message": "quota"}
    post = _post(
        "publishing", _target("waiting", last_error=error, next_attempt_at=_later(5 * 3600))
    )
    outcome = settled(post, None, wait=False)
    assert outcome is not None and outcome.code == ExitCode.ATTENTION
    assert "youtube waiting until" in outcome.advice[0] and "--wait" in outcome.advice[0]
    assert settled(post, None, wait=True) is None


def test_a_short_wait_is_followed_and_a_long_one_ends_it() -> None:
    """A rate-limit wait that ends before the deadline is followed; one beyond it stops."""
    error = {"kind": "rate_limited", "code": "429", "message": "slow down"}
    soon = _post("publishing", _target("waiting", last_error=error, next_attempt_at=_later(5)))
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    assert settled(soon, deadline, wait=False) is None
    late = _post("publishing", _target("waiting", last_error=error, next_attempt_at=_later(600)))
    outcome = settled(late, deadline, wait=False)
    assert outcome is not None and outcome.code == ExitCode.ATTENTION


def test_polling_backs_off_and_resets_on_a_change() -> None:
    """0.5 s after a change, growing while nothing changes, never above 5 s."""
    pacer = Pacer()
    delays = [pacer.next(changed=i == 0) for i in range(12)]
    assert delays[0] == 0.5 and delays[1] > delays[0] and max(delays) == 5.0
    assert pacer.next(changed=True) == 0.5


def test_polling_spares_half_of_a_free_keys_burst() -> None:
    """With half the burst spent, one poll per request the limit gives back (360 s on the
    free tier's 10 an hour); before that, the normal pace. A dormant post waits for its
    next attempt (at most 5 min)."""
    headers = {
        "RateLimit-Policy": '"hourly";q=10;w=3600, "daily";q=100;w=86400',
        "X-RateLimit-Limit": "15",
    }
    plenty = RateLimit.from_headers({**headers, "RateLimit": '"hourly";r=12;t=1000'})
    low = RateLimit.from_headers({**headers, "RateLimit": '"hourly";r=7;t=3000'})
    assert low is not None and low.interval == 360.0 and low.burst == 15
    assert Pacer().next(changed=True, rate=plenty) == 0.5
    assert Pacer().next(changed=True, rate=low) == 360.0
    assert Pacer().next(changed=True, dormant_for=7200.0) == 300.0
    assert RateLimit.from_headers({}) is None  # an unlimited key


def test_unconfirmed_past_the_deadline_needs_attention() -> None:
    """A lost publish answer is reconciled by itself; when that check comes after the
    deadline, following stops with exit 12 and says crosspost never posts twice."""
    post = _post("publishing", _target("unconfirmed", next_attempt_at=_later(900)))
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    outcome = settled(post, deadline, wait=False)
    assert outcome is not None and outcome.code == ExitCode.ATTENTION
    assert "youtube unconfirmed" in outcome.advice[0] and "never posts twice" in outcome.advice[0]
    assert settled(post, None, wait=False) is None  # no deadline: follow it through


def _event(kind: str, at: str, **data: Any) -> dict[str, Any]:
    return {"id": "msg_1", "type": kind, "timestamp": at, "data": data}


def test_an_event_newer_than_the_read_updates_the_post() -> None:
    """A target event brings its target up to date (status, URL, error, next attempt); a
    post event the post's status and its targets'."""
    post = _post("publishing", _target("uploading", updated_at="2026-03-01T12:00:00.123456Z"))
    post["updated_at"] = "2026-03-01T12:00:00.100000Z"
    waiting = {"id": "tgt_youtube", "status": "waiting", "next_attempt_at": _later(60),
               "error": {"kind": "quota", "code": "quotaExceeded", "message": "spent"}}  # fmt: skip
    assert apply_event(post, _event("target.waiting", "2026-03-01T12:00:00.123Z", target=waiting))
    target = post["targets"][0]
    assert target["status"] == "waiting" and target["last_error"]["kind"] == "quota"
    summary = {"id": "tgt_youtube", "status": "published", "external_url": "u"}
    done = {"id": "post_1", "status": "published", "targets": [summary]}
    assert apply_event(post, _event("post.published", "2026-03-01T12:00:01.000Z", post=done))
    assert post["status"] == "published" and target["external_url"] == "u"


def test_an_event_older_than_the_read_or_of_another_post_is_ignored() -> None:
    """The stream of a post starts at its first event: what the read already shows past is
    not shown again (no `uploading` after `publishing`); another post's events are not its."""
    post = _post("publishing", _target("publishing", updated_at="2026-03-01T12:00:02.000Z"))
    post["updated_at"] = "2026-03-01T12:00:00Z"
    old = _event("target.uploading", "2026-03-01T12:00:01.000Z",
                 target={"id": "tgt_youtube", "status": "uploading"})  # fmt: skip
    assert not apply_event(post, old) and post["targets"][0]["status"] == "publishing"
    other = _event("post.failed", "2026-03-01T12:00:03Z",
                   post={"id": "post_2", "status": "failed", "targets": []})  # fmt: skip
    stranger = _event("target.failed", "2026-03-01T12:00:03Z",
                      target={"id": "tgt_other", "status": "failed"})  # fmt: skip
    assert not apply_event(post, other) and not apply_event(post, stranger)
    assert post["status"] == "publishing"
