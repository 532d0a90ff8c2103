"""Webhook delivery end to end: a real receiver over HTTP, the dispatcher driven round by
round on a FrozenClock (or running on its own), SQLite and PostgreSQL.

The receiver is a Starlette app that records every request and answers as told (status,
headers, delay); signatures are checked with the `standardwebhooks` library.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crosspost.clock import FrozenClock
from crosspost.config import Settings
from crosspost.engine.services import Services
from crosspost.fakes.server import RunningServer, free_port, serve_in_thread
from crosspost.ids import new_id
from crosspost.store import migrate
from crosspost.store import webhook_deliveries as deliveries
from crosspost.store.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from crosspost.store.tenants import ensure_default_tenant
from crosspost.webhooks import WebhookVerificationError as OurVerificationError
from crosspost.webhooks import outbox, verify
from crosspost.webhooks.dispatcher import WebhookDispatcher
from crosspost.webhooks.endpoints import mask_header
from crosspost.webhooks.retry import next_delay
from crosspost.webhooks.signing import new_secret
from tests.conftest import REDIS_ENV, service_url

SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


# --- the receiver ------------------------------------------------------------------------


@dataclass
class Answer:
    """How the receiver answers one path."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Hit:
    """One request the receiver got, and the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """A webhook receiver on a real loopback port; `answers[path]` says how it answers."""

    def __init__(self, port: int = 0) -> None:
        self.default = Answer()
        self.answers: dict[str, Answer] = {}
        self.hits: list[Hit] = []
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.port = port or free_port()
        self.server: RunningServer | None = None

    def start(self) -> Receiver:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self.server = serve_in_thread(app, port=self.port)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: Request) -> Response:
        path = request.url.path.lstrip("/")
        body = await request.body()
        with self._lock:
            answer = self.answers.get(path, self.default)
            self.hits.append(Hit(path, dict(request.headers), body, answer.status))
            self.active[path] += 1
            self.max_active[path] = max(self.max_active[path], self.active[path])
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
            return Response(
                f"status {answer.status}", status_code=answer.status, headers=answer.headers
            )
        finally:
            with self._lock:
                self.active[path] -= 1

    def on(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def delivered(self, path: str) -> Counter[str]:
        """How many times each event id was answered with a 2xx on `path`."""
        return Counter(h.event_id for h in self.on(path) if 200 <= h.status < 300)

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver."""
    running = Receiver().start()
    yield running
    running.stop()


# --- services, endpoints, events ---------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    """Frozen near the real time, so signature timestamps pass a receiver's ±5 min check."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def make_svc(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> Iterator[Callable[..., Services]]:
    """Services on a fresh, migrated database (frozen clock unless `clock=None`)."""
    built: list[Services] = []
    frozen: Any = clock

    def make(*, clock: Any = frozen, **extra: Any) -> Services:
        settings = Settings(
            _env_file=None, home=tmp_path / "home", database_url=database_url, **extra
        )
        svc = Services.build(settings, clock=clock)
        migrate.upgrade(svc.db)
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.close()


class Driver:
    """Runs a dispatcher's rounds on one event loop of its own, for synchronous tests."""

    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self.dispatcher = dispatcher
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def once(self) -> int:
        future = asyncio.run_coroutine_threadsafe(self.dispatcher.run_once(), self._loop)
        return future.result(60)

    def drain(self, rounds: int = 50) -> int:
        total = 0
        for _ in range(rounds):
            settled = self.once()
            if not settled:
                return total
            total += settled
        raise AssertionError(f"still delivering after {rounds} rounds")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.dispatcher.aclose(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def make_driver() -> Iterator[Callable[..., Driver]]:
    """A factory of driven dispatchers (closed after the test)."""
    drivers: list[Driver] = []

    def make(svc: Services, **kwargs: Any) -> Driver:
        driver = Driver(WebhookDispatcher(svc, **kwargs))
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()


def tenant_of(svc: Services) -> str:
    with svc.db.write() as conn:
        return ensure_default_tenant(conn, svc.clock.now())


def add_endpoint(
    svc: Services,
    tenant_id: str,
    url: str,
    *,
    mode: str = "test",
    event_types: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    max_concurrency: int = 16,
    throttle: int | None = None,
    previous_secret: str | None = None,
    previous_expires_at: datetime | None = None,
) -> tuple[str, str]:
    """Insert an endpoint as the API would (secrets sealed); returns (id, secret)."""
    endpoint_id, secret = new_id("whep"), new_secret()

    def seal(value: str) -> str:
        return svc.keyring.encrypt(
            value, tenant_id=tenant_id, table="webhook_endpoints", row_id=endpoint_id
        )

    now = svc.clock.now()
    with svc.db.write() as conn:
        conn.execute(
            webhook_endpoints.insert().values(
                id=endpoint_id,
                tenant_id=tenant_id,
                mode=mode,
                url=url,
                description="",
                event_types=list(event_types),
                # Sealed as the API seals them, reserved names included, to show the
                # sender drops those whatever the row holds.
                headers={name: mask_header(value) for name, value in (headers or {}).items()},
                sealed_headers=seal(json.dumps(headers)) if headers else None,
                active=True,
                throttle_per_second=throttle,
                max_concurrency=max_concurrency,
                secret=seal(secret),
                previous_secret=seal(previous_secret) if previous_secret else None,
                previous_expires_at=previous_expires_at,
                consecutive_failures=0,
                created_at=now,
                updated_at=now,
            )
        )
    return endpoint_id, secret


def emit(
    svc: Services,
    tenant_id: str,
    event_type: str = "post.published",
    data: dict[str, Any] | None = None,
    *,
    mode: str = "test",
) -> str:
    with svc.db.write() as conn:
        return outbox.emit(
            conn,
            tenant_id=tenant_id,
            mode=mode,
            event_type=event_type,
            data=data or {"post": {"id": new_id("post")}},
            now=svc.clock.now(),
        )


def delivery(svc: Services, event_id: str, endpoint_id: str) -> dict[str, Any]:
    with svc.db.read() as conn:
        row = conn.execute(
            sa.select(webhook_deliveries).where(
                webhook_deliveries.c.event_id == event_id,
                webhook_deliveries.c.endpoint_id == endpoint_id,
            )
        )
        return dict(row.mappings().one())


def endpoint(svc: Services, endpoint_id: str) -> dict[str, Any]:
    with svc.db.read() as conn:
        row = conn.execute(
            sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        )
        return dict(row.mappings().one())


def attempts(svc: Services, event_id: str) -> list[dict[str, Any]]:
    """An event's attempts, oldest first."""
    with svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_attempts)
            .where(webhook_attempts.c.event_id == event_id)
            .order_by(webhook_attempts.c.id)
        )
        return [dict(r) for r in rows.mappings()]


def events_of_type(svc: Services, event_type: str) -> list[dict[str, Any]]:
    with svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events).where(webhook_events.c.event_type == event_type)
        )
        return [dict(r) for r in rows.mappings()]


def set_endpoint(svc: Services, endpoint_id: str, **values: Any) -> None:
    with svc.db.write() as conn:
        conn.execute(
            webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values)
        )


# --- signing and what is sent ------------------------------------------------------------


def test_a_delivery_is_signed_and_recorded(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """The stored payload goes out byte for byte, signed so that the Standard Webhooks
    library verifies it, with the seed's headers and the endpoint's own (which cannot
    replace ours); the attempt is logged with status, latency, headers and body."""
    svc = make_svc()
    tenant = tenant_of(svc)
    hook, secret = add_endpoint(
        svc,
        tenant,
        receiver.url("hook"),
        headers={
            "Authorization": "Bearer receiver-token",
            "X-Custom": "yes",
            "webhook-id": "forged",
            "Webhook-Signature": "v1,forged",
            "content-type": "text/plain",
            "User-Agent": "evil",
            "svix-id": "forged",
        },
    )
    event = emit(svc, tenant, "post.published", {"post": {"id": "post_1", "text": "héllo ✓"}})
    driver = make_driver(svc)
    assert driver.once() == 1
    (hit,) = receiver.hits
    data = Webhook(secret).verify(hit.body, hit.headers)
    assert data["type"] == "post.published"
    assert data["data"] == {"post": {"id": "post_1", "text": "héllo ✓"}}
    assert verify(hit.body, hit.headers, secret)["data"] == data["data"]
    with svc.db.read() as conn:
        stored: str = conn.execute(
            sa.select(webhook_events.c.payload).where(webhook_events.c.id == event)
        ).scalar_one()
    assert hit.body == stored.encode()
    headers = hit.headers
    assert headers["webhook-id"] == headers["x-webhook-id"] == event
    assert abs(int(headers["webhook-timestamp"]) - svc.clock.now().timestamp()) < 1
    assert len(headers["webhook-signature"].split()) == 1
    assert headers["x-event"] == "post.published"
    assert headers["user-agent"].startswith("crosspost/")
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer receiver-token"
    assert headers["x-custom"] == "yes"
    assert "svix-id" not in headers
    (attempt,) = attempts(svc, event)
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["attempt"] == 1 and attempt["trigger"] == "scheduled"
    assert attempt["latency_ms"] > 0
    assert attempt["response_body"] == "status 200"
    assert attempt["response_headers"]["content-length"] == "10"
    row = delivery(svc, event, hook)
    assert row["status"] == "succeeded" and row["attempts"] == 1
    assert row["completed_at"] == svc.clock.now() and row["lease_until"] is None


def test_only_the_first_4_kib_of_a_response_body_is_kept(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver]
) -> None:
    """A large answer is cut at 4 KiB in the attempt log."""

    async def big(request: Request) -> Response:
        await request.body()
        return Response("x" * 100_000, status_code=500)

    server = serve_in_thread(Starlette(routes=[Route("/big", big, methods=["POST"])]))
    try:
        svc = make_svc()
        tenant = tenant_of(svc)
        add_endpoint(svc, tenant, f"{server.url}/big")
        event = emit(svc, tenant)
        assert make_driver(svc).once() == 1
    finally:
        server.stop()
    (attempt,) = attempts(svc, event)
    assert attempt["status_code"] == 500
    assert attempt["response_body"] == "x" * 4096


def test_secret_rotation_signs_with_both_until_the_old_one_expires(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """During the overlap both secrets verify; after it only the new one does."""
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    old = new_secret()
    expires = clock.now() + timedelta(hours=24)
    _, current = add_endpoint(
        svc, tenant, receiver.url("hook"), previous_secret=old, previous_expires_at=expires
    )
    emit(svc, tenant)
    driver = make_driver(svc)
    assert driver.once() == 1
    first = receiver.hits[-1]
    assert len(first.headers["webhook-signature"].split()) == 2
    Webhook(current).verify(first.body, first.headers)
    Webhook(old).verify(first.body, first.headers)
    clock.advance(24 * 3600 + 1)
    emit(svc, tenant)
    assert driver.once() == 1
    second = receiver.hits[-1]
    assert len(second.headers["webhook-signature"].split()) == 1
    verify(second.body, second.headers, current, now=clock.now())
    with pytest.raises(OurVerificationError, match="no matching signature"):
        verify(second.body, second.headers, old, now=clock.now())


def test_a_live_endpoint_on_loopback_is_refused_at_connect_time(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """SSRF protection: a live endpoint resolving to loopback is never connected to; the
    attempt says why. An operator allow-list lets it through."""
    svc = make_svc()
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"), mode="live")
    event = emit(svc, tenant, mode="live")
    assert make_driver(svc).once() == 1
    assert receiver.hits == []
    (attempt,) = attempts(svc, event)
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("blocked by SSRF protection: 127.0.0.1")
    assert "loopback" in attempt["error"]
    assert delivery(svc, event, hook)["status"] == "pending"

    allowed = make_svc(webhook_allow_cidrs=["127.0.0.0/8"])
    driver = make_driver(allowed)
    set_endpoint(allowed, hook, url=receiver.url("allowed"))
    svc.clock.advance(10)  # type: ignore[attr-defined]
    assert driver.once() == 1
    assert [h.event_id for h in receiver.on("allowed")] == [event]


def test_a_redirect_is_a_failure_and_is_not_followed(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """3xx counts as a failure; the Location is never requested."""
    receiver.answers["moved"] = Answer(302, {"Location": receiver.url("elsewhere")})
    svc = make_svc()
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("moved"))
    event = emit(svc, tenant)
    assert make_driver(svc).once() == 1
    assert [h.path for h in receiver.hits] == ["moved"]
    (attempt,) = attempts(svc, event)
    assert attempt["status_code"] == 302
    assert "redirects are not followed" in attempt["error"]
    row = delivery(svc, event, hook)
    assert row["status"] == "pending" and row["last_status_code"] == 302


# --- retries -----------------------------------------------------------------------------


def test_failures_follow_the_jittered_schedule_then_fail(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """Eight attempts at the configured delays, each ±20 % (exactly what the seeded
    generator draws); nothing goes out early; after the eighth the delivery has failed."""
    receiver.default = Answer(500)
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"))
    event = emit(svc, tenant)
    twin = random.Random(1234)
    driver = make_driver(svc, rng=random.Random(1234))
    for attempt in range(1, len(SCHEDULE) + 1):
        assert driver.once() == 1, f"attempt {attempt} did not go out when due"
        row = delivery(svc, event, hook)
        assert row["attempts"] == attempt and row["last_status_code"] == 500
        if attempt == len(SCHEDULE):
            break
        expected = next_delay(SCHEDULE, attempt, rng=twin)
        assert expected is not None
        wait = (row["next_attempt_at"] - clock.now()).total_seconds()
        assert wait == pytest.approx(expected, abs=1e-5)
        assert SCHEDULE[attempt] * 0.8 <= wait <= SCHEDULE[attempt] * 1.2
        clock.advance(wait - 0.01)
        assert driver.once() == 0, "a retry went out before its time"
        clock.advance(0.01)
    row = delivery(svc, event, hook)
    assert row["status"] == "failed" and row["completed_at"] == clock.now()
    clock.advance(100_000)
    assert driver.once() == 0
    assert len(receiver.hits) == len(SCHEDULE)
    assert {h.event_id for h in receiver.hits} == {event}
    assert [a["attempt"] for a in attempts(svc, event)] == list(range(1, 9))


def test_retry_after_and_overload_shape_the_next_delay(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """429 waits at least 60 s (±20 %) and its Retry-After is capped at 2x; a Retry-After
    below the schedule is ignored; an HTTP-date Retry-After inside the band is honoured."""
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    twin = random.Random(99)
    driver = make_driver(svc, rng=random.Random(99))

    def attempt_once(answer: Answer) -> float:
        path = new_id("p").lower()
        receiver.answers[path] = answer
        hook, _ = add_endpoint(svc, tenant, receiver.url(path), event_types=[f"t.{path}"])
        event = emit(svc, tenant, f"t.{path}")
        assert driver.once() == 1
        row = delivery(svc, event, hook)
        assert row["status"] == "pending"
        due: datetime = row["next_attempt_at"]
        return (due - clock.now()).total_seconds()

    floor = 60.0 * twin.uniform(0.8, 1.2)
    assert attempt_once(Answer(429, {"Retry-After": "3600"})) == pytest.approx(2 * floor)
    scheduled = 5.0 * twin.uniform(0.8, 1.2)
    assert attempt_once(Answer(503, {"Retry-After": "1"})) == pytest.approx(scheduled)
    scheduled = 5.0 * twin.uniform(0.8, 1.2)
    when = clock.now() + timedelta(seconds=8)
    dated = Answer(503, {"Retry-After": format_datetime(when, usegmt=True)})
    assert attempt_once(dated) == pytest.approx(min(max(8.0, scheduled), 2 * scheduled))


def test_a_timeout_is_recorded_and_waits_at_least_a_minute(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """A receiver slower than the timeout: the attempt says so and the retry waits 60 s
    ±20 % instead of 5 s."""
    receiver.default = Answer(200, delay=1.5)
    svc = make_svc(webhook_timeout_seconds=0.5)
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("slow"))
    event = emit(svc, tenant)
    started = time.monotonic()
    assert make_driver(svc).once() == 1
    assert time.monotonic() - started < 1.4
    (attempt,) = attempts(svc, event)
    assert attempt["status_code"] is None
    assert attempt["error"] == "timeout: no complete response within 0.5 s"
    assert 400 <= attempt["latency_ms"] < 2000
    row = delivery(svc, event, hook)
    wait = (row["next_attempt_at"] - svc.clock.now()).total_seconds()
    assert 48 <= wait <= 72


# --- disabling ---------------------------------------------------------------------------


def test_410_disables_the_endpoint_and_its_deliveries_wait_for_reenabling(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """410 Gone disables at once, with an `endpoint.disabled` event to the endpoints that
    want it; the disabled endpoint gets no new events, its pending delivery waits, and
    goes out once the endpoint is enabled again."""
    receiver.answers["gone"] = Answer(410)
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    gone, _ = add_endpoint(svc, tenant, receiver.url("gone"), event_types=["post.*"])
    add_endpoint(svc, tenant, receiver.url("ops"), event_types=["endpoint.disabled"])
    first = emit(svc, tenant)
    driver = make_driver(svc)
    assert driver.once() == 1
    row = endpoint(svc, gone)
    assert row["active"] is False
    assert row["disabled_reason"] == "the endpoint answered 410 Gone"
    (attempt,) = attempts(svc, first)
    assert attempt["status_code"] == 410 and "410 Gone" in attempt["error"]
    assert driver.once() == 1  # the notice
    (notice,) = receiver.on("ops")
    body = orjson.loads(notice.body)
    assert body["type"] == "endpoint.disabled"
    assert body["data"] == {
        "endpoint_id": gone,
        "url": receiver.url("gone"),
        "reason": "the endpoint answered 410 Gone",
        "failing_since": clock.now().isoformat().replace("+00:00", "Z"),
        "consecutive_failures": 1,
    }
    second = emit(svc, tenant)
    clock.advance(3600)
    assert driver.once() == 0
    assert len(receiver.on("gone")) == 1
    assert delivery(svc, first, gone)["status"] == "pending"
    with svc.db.read() as conn:
        assert deliveries.get_delivery(conn, tenant, second, gone) is None
    receiver.answers["gone"] = Answer(200)
    set_endpoint(svc, gone, active=True, disabled_reason=None)
    assert driver.once() == 1
    assert receiver.delivered("gone") == {first: 1}
    assert delivery(svc, first, gone)["status"] == "succeeded"
    assert endpoint(svc, gone)["consecutive_failures"] == 0
    # What it missed while disabled comes with a recover.
    with svc.db.write() as conn:
        since = clock.now() - timedelta(hours=2)
        assert deliveries.recover(conn, tenant, gone, since, clock.now()) == 1
    assert driver.once() == 1
    assert receiver.delivered("gone") == {first: 1, second: 1}
    assert attempts(svc, second)[-1]["trigger"] == "manual"


def test_consecutive_failures_disable_and_a_success_resets_the_count(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """With a limit of 3: two failures, a success (count back to 0), two failures (2, not
    4: still active), one more failure: disabled, with its notice in the outbox."""
    svc = make_svc(webhook_disable_after_failures=3)
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"))
    driver = make_driver(svc)
    receiver.default = Answer(500)
    failing_at = clock.now()
    emit(svc, tenant), emit(svc, tenant)
    assert driver.once() == 2
    row = endpoint(svc, hook)
    assert row["consecutive_failures"] == 2 and row["failing_since"] == failing_at
    receiver.default = Answer(200)
    emit(svc, tenant)
    assert driver.once() == 1
    row = endpoint(svc, hook)
    assert row["consecutive_failures"] == 0 and row["failing_since"] is None
    receiver.default = Answer(500)
    clock.advance(7)  # the two failed deliveries are due again
    assert driver.once() == 2
    row = endpoint(svc, hook)
    assert row["consecutive_failures"] == 2 and row["active"] is True
    assert events_of_type(svc, "endpoint.disabled") == []
    emit(svc, tenant)
    assert driver.once() == 1
    row = endpoint(svc, hook)
    assert row["active"] is False
    assert row["disabled_reason"] == "3 consecutive failed attempts (the limit is 3)"
    (notice,) = events_of_type(svc, "endpoint.disabled")
    data = orjson.loads(notice["payload"])["data"]
    assert data["endpoint_id"] == hook and data["consecutive_failures"] == 3
    assert notice["tenant_id"] == tenant and notice["mode"] == "test"


def test_an_endpoint_failing_for_too_long_is_disabled(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """The time rule: still failing past `webhook_disable_after_seconds` since the streak
    began disables, whatever the count."""
    receiver.default = Answer(503)
    svc = make_svc(webhook_disable_after_seconds=600)
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"))
    driver = make_driver(svc)
    began = clock.now()
    emit(svc, tenant)
    assert driver.once() == 1
    clock.advance(590)
    emit(svc, tenant)
    assert driver.once() == 2  # the new event, and the first one's retry
    assert endpoint(svc, hook)["active"] is True
    clock.advance(20)
    emit(svc, tenant)
    assert driver.once() == 2  # the new event, and the second one's retry
    row = endpoint(svc, hook)
    assert row["active"] is False
    since = began.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert row["disabled_reason"] == f"failing for more than 10 minutes (since {since})"
    assert row["consecutive_failures"] == 5


# --- recovery ----------------------------------------------------------------------------


def test_a_ten_minute_outage_then_recovery_delivers_every_event_once_per_endpoint(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """One endpoint answers 503 and another refuses connections for 10 minutes while events
    keep coming; after recovery each endpoint gets every event, exactly once."""
    receiver.answers["busy"] = Answer(503)
    down = Receiver()  # its port stays closed until it starts
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    busy, _ = add_endpoint(svc, tenant, receiver.url("busy"))
    dead, _ = add_endpoint(svc, tenant, down.url("dead"))
    driver = make_driver(svc)
    events = []
    try:
        for _ in range(20):  # one event every 30 s for 10 minutes
            events.append(emit(svc, tenant))
            driver.once()
            clock.advance(30)
        assert receiver.delivered("busy") == Counter()
        with svc.db.read() as conn:
            logged = deliveries.list_attempts(conn, tenant, events[-1], 10)
        (refused,) = [a for a in logged if a["endpoint_id"] == dead]
        assert refused["error"].startswith("connection failed")
        receiver.answers["busy"] = Answer(200)
        down.start()
        for _ in range(240):  # up to 4 more hours, a minute at a time
            clock.advance(60)
            driver.once()
            with svc.db.read() as conn:
                counts = deliveries.counts_by_status(conn, [busy, dead])
            if counts[busy]["succeeded"] == counts[dead]["succeeded"] == len(events):
                break
        assert receiver.delivered("busy") == dict.fromkeys(events, 1)
        assert down.delivered("dead") == dict.fromkeys(events, 1)
        assert counts[busy]["failed"] == counts[dead]["failed"] == 0
        assert endpoint(svc, busy)["active"] and endpoint(svc, dead)["active"]
    finally:
        down.stop()


def test_resend_is_one_manual_attempt(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """Resending a delivered event sends it again, logged as `manual`; a manual attempt
    that fails is not retried."""
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"))
    event = emit(svc, tenant)
    driver = make_driver(svc)
    assert driver.once() == 1
    with svc.db.write() as conn:
        deliveries.resend(conn, tenant, hook, event, clock.now())
    assert driver.once() == 1
    assert receiver.delivered("hook") == {event: 2}
    assert [(a["attempt"], a["trigger"]) for a in attempts(svc, event)] == [
        (1, "scheduled"),
        (2, "manual"),
    ]
    receiver.default = Answer(500)
    with svc.db.write() as conn:
        deliveries.resend(conn, tenant, hook, event, clock.now())
    assert driver.once() == 1
    row = delivery(svc, event, hook)
    assert row["status"] == "failed" and row["attempts"] == 3
    clock.advance(3600)
    assert driver.once() == 0
    assert len(receiver.hits) == 3


def test_a_payload_expired_while_pending_fails_the_delivery_without_sending(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """Past retention the body is gone: the delivery fails with the reason, nothing is sent."""
    receiver.default = Answer(500)
    svc = make_svc()
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"))
    event = emit(svc, tenant)
    driver = make_driver(svc)
    assert driver.once() == 1
    clock.advance(31 * 86400)
    with svc.db.write() as conn:
        assert deliveries.expire_payloads(conn, clock.now(), 30) == 1
    assert driver.once() == 1
    row = delivery(svc, event, hook)
    assert row["status"] == "failed" and row["attempts"] == 1
    assert "payload expired" in row["last_error"]
    assert len(receiver.hits) == 1


def test_a_rolled_back_change_sends_nothing(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """An event emitted in a transaction that rolls back is never delivered."""
    svc = make_svc()
    tenant = tenant_of(svc)
    add_endpoint(svc, tenant, receiver.url("hook"))

    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with svc.db.write() as conn:
            outbox.emit(
                conn,
                tenant_id=tenant,
                mode="test",
                event_type="post.failed",
                data={"rolled": "back"},
                now=svc.clock.now(),
            )
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    kept = emit(svc, tenant)
    assert make_driver(svc).drain() == 1
    assert [h.event_id for h in receiver.hits] == [kept]


# --- concurrency and throttle ------------------------------------------------------------


def test_per_endpoint_concurrency_is_never_exceeded(
    make_svc: Callable[..., Services], make_driver: Callable[..., Driver], receiver: Receiver
) -> None:
    """Twelve slow deliveries to an endpoint allowing 3 at once: the receiver never sees
    more than 3 in flight (and does see 3); another endpoint is not held back by it."""
    receiver.default = Answer(200, delay=0.2)
    svc = make_svc()
    tenant = tenant_of(svc)
    add_endpoint(svc, tenant, receiver.url("narrow"), max_concurrency=3)
    add_endpoint(svc, tenant, receiver.url("wide"), max_concurrency=12)
    for _ in range(12):
        emit(svc, tenant)
    started = time.monotonic()
    assert make_driver(svc).drain() == 24
    assert receiver.max_active["narrow"] == 3
    assert receiver.max_active["wide"] == 12
    assert len(receiver.delivered("narrow")) == 12
    assert time.monotonic() - started >= 4 * 0.2


@pytest.mark.parametrize("limiter", ["memory", "redis"])
def test_the_throttle_paces_deliveries(
    make_svc: Callable[..., Services],
    make_driver: Callable[..., Driver],
    receiver: Receiver,
    limiter: str,
) -> None:
    """2 deliveries/s (bursts of 2): over two seconds of clock, six events go out at the
    GCRA's pace; a throttled delivery just waits (no failed attempt)."""
    extra: dict[str, Any] = {}
    if limiter == "redis":
        extra["redis_url"] = service_url(REDIS_ENV)
    svc = make_svc(**extra)
    clock: FrozenClock = svc.clock  # type: ignore[assignment]
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"), throttle=2)
    events = [emit(svc, tenant) for _ in range(6)]
    driver = make_driver(svc)
    paced = []
    for _ in range(9):  # t = 0, 0.25, ..., 2.0
        paced.append(driver.once())
        clock.advance(0.25)
    assert paced == [2, 0, 1, 0, 1, 0, 1, 0, 1]
    assert receiver.delivered("hook") == dict.fromkeys(events, 1)
    with svc.db.read() as conn:
        logged = conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts))
        assert logged.scalar() == 6
    assert all(delivery(svc, e, hook)["attempts"] == 1 for e in events)


# --- the dispatcher on its own -----------------------------------------------------------


def test_the_running_dispatcher_delivers_and_stops_cleanly(
    make_svc: Callable[..., Services], receiver: Receiver
) -> None:
    """`start()` delivers as events arrive (woken at once by `wake()`); `stop()` lets sends
    in flight finish and puts queued claims back to pending, with no lease left behind."""
    svc = make_svc(clock=None)
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("fast"))
    dispatcher = WebhookDispatcher(svc)
    dispatcher.start()
    try:
        events = [emit(svc, tenant) for _ in range(50)]
        dispatcher.wake()
        receiver.wait(lambda: len(receiver.delivered("fast")) == 50, 20, "50 deliveries")
        assert receiver.delivered("fast") == dict.fromkeys(events, 1)
        receiver.answers["slow"] = Answer(200, delay=1.0)
        slow_hook, _ = add_endpoint(
            svc, tenant, receiver.url("slow"), max_concurrency=2, event_types=["x.*"]
        )
        slow = [emit(svc, tenant, "x.slow") for _ in range(10)]
        receiver.wait(lambda: receiver.active["slow"] == 2, 10, "two slow sends in flight")
        # Fan-out runs in batches: the first two sends can start before the last events are
        # fanned out (those would simply wait in the outbox for the next dispatcher).
        receiver.wait(lambda: _deliveries_of(svc, slow_hook) == len(slow), 10, "fan-out")
    finally:
        dispatcher.stop(timeout=5)
    assert not dispatcher.running
    assert len(receiver.on("slow")) == 2  # the two in flight finished; none started after
    with svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_deliveries.c.status, webhook_deliveries.c.lease_until).where(
                webhook_deliveries.c.endpoint_id == slow_hook
            )
        ).all()
    assert len(rows) == len(slow)
    assert sorted(r.status for r in rows) == ["pending"] * 8 + ["succeeded"] * 2
    assert all(r.lease_until is None for r in rows)
    assert delivery(svc, events[0], hook)["status"] == "succeeded"


def _deliveries_of(svc: Services, endpoint_id: str) -> int:
    with svc.db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            ).scalar_one()
        )


@pytest.mark.slow
def test_a_dispatcher_process_killed_mid_delivery_is_taken_over(
    make_svc: Callable[..., Services], receiver: Receiver, tmp_path: Path
) -> None:
    """SIGKILL a `python -m crosspost.webhooks.dispatcher` while its requests are in
    flight: its leases lapse, a new process reclaims them, every event arrives."""
    svc = make_svc(clock=None)
    tenant = tenant_of(svc)
    hook, _ = add_endpoint(svc, tenant, receiver.url("hook"), max_concurrency=4)
    receiver.default = Answer(200, delay=0.5)
    events = [emit(svc, tenant) for _ in range(16)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(svc.settings.home),
        CROSSPOST_DATABASE_URL=svc.settings.resolved_database_url,
        CROSSPOST_WEBHOOK_TIMEOUT_SECONDS="1",  # a 5 s lease
        CROSSPOST_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "crosspost.webhooks.dispatcher"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
        receiver.wait(lambda: receiver.active["hook"] >= 2, 30, "requests in flight")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        with svc.db.read() as conn:
            stuck = deliveries.counts_by_status(conn, [hook])[hook]["sending"]
        assert stuck >= 2, "the kill found no delivery under way"
        receiver.default = Answer(200)
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while True:
            with svc.db.read() as conn:
                counts = deliveries.counts_by_status(conn, [hook])[hook]
            if counts["succeeded"] == len(events):
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.1)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(30)
    received = receiver.delivered("hook")
    assert set(received) == set(events)
    # At least once: a request cut off by the kill may have reached the receiver too.
    assert all(1 <= n <= 2 for n in received.values())
    assert sum(received.values()) <= len(events) + stuck
    assert procs[1].returncode == 0  # SIGTERM stops it cleanly


def test_verification_errors_are_real(receiver: Receiver) -> None:
    """The library this suite trusts does reject a wrong secret (so the checks above can
    fail)."""
    wrong = Webhook(new_secret())
    msg_id, now = "msg_x", datetime.now(UTC)
    good = Webhook(secret := new_secret())
    signature = good.sign(msg_id, now, "{}")
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp()))}
    headers["webhook-signature"] = signature
    good.verify("{}", headers)
    with pytest.raises(WebhookVerificationError):
        wrong.verify("{}", headers)
    assert secret.startswith("whsec_")
