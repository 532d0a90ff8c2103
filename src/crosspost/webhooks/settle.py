"""Settling claimed deliveries: a whole batch of outcomes in one transaction.

Only claims whose lease still holds are written (a dispatcher that lost its lease changes
nothing). For each: the attempt is logged, the delivery becomes `succeeded`, `pending` for
its next attempt, or `failed` when the schedule is exhausted (or a manual attempt failed);
the endpoint's failure streak is updated, and an endpoint that answered 410, or has failed
for too long or too many times in a row, is disabled with an `endpoint.disabled` event
emitted in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.config import Settings
from crosspost.store import webhook_deliveries as store
from crosspost.store.rows import Row
from crosspost.webhooks import outbox
from crosspost.webhooks.retry import Verdict, classify, next_delay, overloaded
from crosspost.webhooks.sender import Response

TEST_EVENT = "webhook.test"
DISABLED_EVENT = "endpoint.disabled"


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery held under a lease, with everything sending it needs."""

    id: str
    tenant_id: str
    event_id: str
    endpoint_id: str
    lease: datetime
    attempts: int
    trigger: str  # scheduled | manual | test
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    completed_at: datetime | None
    mode: str
    url: str
    sealed_headers: str | None = field(repr=False)
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)
    previous_expires_at: datetime | None
    max_concurrency: int
    throttle_per_second: int | None
    event_type: str
    payload: str | None

    @classmethod
    def from_rows(cls, row: Row, details: Row, lease: datetime) -> Claim:
        """A claim of a row from `due_deliveries` or `stale_deliveries`, with its
        `claim_details`."""
        if details["event_type"] == TEST_EVENT:
            trigger = "test"
        elif row["completed_at"] is not None:
            trigger = "manual"  # re-armed by resend or recover
        else:
            trigger = "scheduled"
        return cls(
            id=row["id"],
            tenant_id=row["tenant_id"],
            event_id=row["event_id"],
            endpoint_id=row["endpoint_id"],
            lease=lease,
            attempts=row["attempts"],
            trigger=trigger,
            next_attempt_at=row["next_attempt_at"],
            last_status_code=row["last_status_code"],
            last_error=row["last_error"],
            completed_at=row["completed_at"],
            mode=details["mode"],
            url=details["url"],
            sealed_headers=details["sealed_headers"],
            secret=details["secret"],
            previous_secret=details["previous_secret"],
            previous_expires_at=details["previous_expires_at"],
            max_concurrency=max(1, int(row["max_concurrency"])),
            throttle_per_second=row["throttle_per_second"],
            event_type=details["event_type"],
            payload=details["payload"],
        )


@dataclass(frozen=True, slots=True)
class Attempted:
    """A request was made (or tried): its outcome, and any `Retry-After` it asked for."""

    claim: Claim
    started_at: datetime
    finished_at: datetime
    response: Response
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Released:
    """Not sent (throttled, shutting down, an internal error): pending again at `at`,
    with no attempt counted."""

    claim: Claim
    at: datetime


@dataclass(frozen=True, slots=True)
class Abandoned:
    """Cannot ever be sent (its payload expired): failed, with no attempt counted."""

    claim: Claim
    reason: str


Outcome = Attempted | Released | Abandoned


@dataclass(frozen=True)
class Rules:
    """The retry and disabling settings."""

    schedule: tuple[float, ...]
    disable_after: timedelta
    disable_after_failures: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules configured in `settings`."""
        return cls(
            schedule=tuple(settings.webhook_retry_schedule),
            disable_after=timedelta(seconds=settings.webhook_disable_after_seconds),
            disable_after_failures=settings.webhook_disable_after_failures,
        )


@dataclass
class Settled:
    """What one settle did."""

    attempts: int = 0  # attempts logged
    finished: int = 0  # deliveries settled (attempts logged + abandoned)
    stale: int = 0  # outcomes dropped because their lease had been lost
    disabled: list[str] = field(default_factory=list)


@dataclass
class _Streak:
    succeeded: bool = False
    tail: int = 0  # failures since the batch's last success (or its start)
    tail_since: datetime | None = None
    gone: bool = False  # a 410 among those


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _http_error(code: int) -> str | None:
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed; point the endpoint at the final URL"
    if code == 410:
        return "HTTP 410 Gone: the endpoint asked to stop receiving events and was disabled"
    return None


def _attempt_row(outcome: Attempted) -> dict[str, Any]:
    claim, response = outcome.claim, outcome.response
    error = response.error
    if error is None and response.status_code is not None:
        error = _http_error(response.status_code)
    return {
        "tenant_id": claim.tenant_id,
        "delivery_id": claim.id,
        "event_id": claim.event_id,
        "endpoint_id": claim.endpoint_id,
        "attempt": claim.attempts + 1,
        "trigger": claim.trigger,
        "status_code": response.status_code,
        "latency_ms": round(response.latency_ms, 3),
        "response_headers": response.headers,
        "response_body": response.body,
        "error": error,
        "created_at": outcome.started_at,
    }


def _delivery_row(
    outcome: Outcome, *, now: datetime, rules: Rules, rng: random.Random
) -> dict[str, Any]:
    claim = outcome.claim
    row: dict[str, Any] = {
        "id": claim.id,
        "lease": claim.lease,
        "now": now,
        "status": store.PENDING,
        "attempts": claim.attempts,
        "next_attempt_at": claim.next_attempt_at,
        "last_status_code": claim.last_status_code,
        "last_error": claim.last_error,
        "completed_at": claim.completed_at,
    }
    if isinstance(outcome, Released):
        row["next_attempt_at"] = outcome.at
        return row
    if isinstance(outcome, Abandoned):
        row.update(status=store.FAILED, last_error=outcome.reason, completed_at=now)
        return row
    response = outcome.response
    attempts = claim.attempts + 1
    code = response.status_code
    row.update(
        attempts=attempts,
        last_status_code=code,
        last_error=response.error or (_http_error(code) if code is not None else None),
    )
    if classify(code) is Verdict.SUCCESS:
        row.update(status=store.SUCCEEDED, last_error=None, completed_at=now)
        return row
    # A manual attempt is one attempt, as in Svix: it is not retried.
    delay = None
    if claim.trigger != "manual":
        delay = next_delay(
            rules.schedule,
            attempts,
            rng=rng,
            retry_after=outcome.retry_after,
            overload=overloaded(code, timed_out=response.timed_out),
        )
    if delay is None:
        row.update(status=store.FAILED, completed_at=now)
    else:
        row.update(next_attempt_at=now + timedelta(seconds=delay), completed_at=None)
    return row


def _streaks(attempted: Sequence[Attempted]) -> dict[str, _Streak]:
    streaks: dict[str, _Streak] = {}
    for outcome in attempted:  # in the order the attempts ended
        streak = streaks.setdefault(outcome.claim.endpoint_id, _Streak())
        verdict = classify(outcome.response.status_code)
        if verdict is Verdict.SUCCESS:
            streak.succeeded, streak.tail, streak.tail_since, streak.gone = True, 0, None, False
        else:
            streak.tail += 1
            streak.tail_since = streak.tail_since or outcome.finished_at
            streak.gone = streak.gone or verdict is Verdict.GONE
    return streaks


def _disable_reason(
    streak: _Streak, count: int, since: datetime | None, *, now: datetime, rules: Rules
) -> str | None:
    if streak.tail == 0:
        return None
    if streak.gone:
        return "the endpoint answered 410 Gone"
    if count >= rules.disable_after_failures:
        return f"{count} consecutive failed attempts (the limit is {rules.disable_after_failures})"
    if since is not None and now - since > rules.disable_after:
        return f"failing for more than {_duration(rules.disable_after)} (since {_iso(since)})"
    return None


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


def _update_endpoints(
    conn: Connection, attempted: Sequence[Attempted], *, now: datetime, rules: Rules
) -> list[str]:
    streaks = _streaks(attempted)
    current = {r["id"]: r for r in store.endpoint_streaks(conn, streaks)}
    # Most batches are all successes to healthy endpoints: nothing to write, nothing locked.
    dirty = {
        endpoint_id
        for endpoint_id, streak in streaks.items()
        if endpoint_id in current
        and (
            streak.tail
            or current[endpoint_id]["consecutive_failures"]
            or current[endpoint_id]["failing_since"] is not None
        )
    }
    if not dirty:
        return []
    if conn.dialect.name == "postgresql":
        current = {r["id"]: r for r in store.endpoint_streaks(conn, dirty, lock=True)}
    writes: list[dict[str, Any]] = []
    disabled: list[str] = []
    for endpoint_id in sorted(dirty):
        row = current.get(endpoint_id)
        if row is None:
            continue  # deleted meanwhile
        streak = streaks[endpoint_id]
        if streak.succeeded:
            count, since = streak.tail, streak.tail_since
        else:
            count = row["consecutive_failures"] + streak.tail
            since = row["failing_since"] or streak.tail_since
        if (count, since) != (row["consecutive_failures"], row["failing_since"]):
            writes.append(
                {
                    "id": endpoint_id,
                    "failing_since": since,
                    "consecutive_failures": count,
                    "now": now,
                }
            )
        reason = _disable_reason(streak, count, since, now=now, rules=rules)
        if (
            row["active"]
            and reason
            and store.disable_endpoint(conn, endpoint_id, reason=reason, now=now)
        ):
            disabled.append(endpoint_id)
            outbox.emit(
                conn,
                tenant_id=row["tenant_id"],
                mode=row["mode"],
                event_type=DISABLED_EVENT,
                data={
                    "endpoint_id": endpoint_id,
                    "url": row["url"],
                    "reason": reason,
                    "failing_since": _iso(since),
                    "consecutive_failures": count,
                },
                now=now,
            )
    store.set_streaks(conn, writes)
    return disabled


def settle_batch(
    conn: Connection,
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    rules: Rules,
    rng: random.Random,
) -> Settled:
    """Write a batch of outcomes in the caller's transaction; outcomes whose lease was lost
    are dropped whole (no attempt logged, no streak counted)."""
    valid = store.held(conn, {o.claim.id: o.claim.lease for o in outcomes})
    kept = [o for o in outcomes if o.claim.id in valid]
    report = Settled(stale=len(outcomes) - len(kept))
    attempted = [o for o in kept if isinstance(o, Attempted)]
    store.insert_attempts(conn, [_attempt_row(o) for o in attempted])
    # Jitter is drawn in id order, so a seeded generator gives reproducible schedules.
    ordered = sorted(kept, key=lambda o: o.claim.id)
    store.settle(conn, [_delivery_row(o, now=now, rules=rules, rng=rng) for o in ordered])
    report.attempts = len(attempted)
    report.finished = len(attempted) + sum(isinstance(o, Abandoned) for o in kept)
    report.disabled = _update_endpoints(conn, attempted, now=now, rules=rules)
    return report
