"""A tenant's own settings and the `X-API-Key` header over real HTTP, on SQLite and
PostgreSQL: the webhook endpoint limit, the default tier of new keys, and the shorter
retention of analytics and webhook payloads that the hourly maintenance applies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import maintenance, tenants
from crosspost.engine.keys import issue_key
from crosspost.errors import InvalidInput
from crosspost.identity.audit import Actor
from crosspost.identity.operators import issue as issue_operator_key
from crosspost.jobs import RunAgain
from crosspost.jobs.context import JobContext
from crosspost.store.rows import Row
from crosspost.store.tables import api_analytics, webhook_events
from crosspost.store.webhook_deliveries import expire_payloads
from crosspost.usage.analytics import AnalyticsRecorder, Hit, purge_expired
from crosspost.webhooks import outbox
from crosspost.webhooks.catalogue import EVENT_TYPES
from tests.e2e.conftest import Stack, expect_problem

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hooks/crosspost"  # test mode may target loopback over http
_MARK = "/retention-test"  # the endpoint of the analytics rows this test writes itself
_EVENT = "post.published"  # the type of the webhook events it writes (the stack makes others)


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """Tenant A: a stack without workers (nothing delivers, nothing purges on its own)."""
    return make_stack(workers=0)


@pytest.fixture
def anon(idle: Stack) -> Iterator[httpx.Client]:
    """A client that sends no credentials unless a request brings its own."""
    with httpx.Client(base_url=idle.api_url, trust_env=False, timeout=60) as client:
        yield client


def _tenant(stack: Stack, name: str = "tenant B", **settings: Any) -> Row:
    with stack.svc.db.write() as conn:
        return tenants.create(stack.svc, conn, name=name, actor=Actor.cli(), **settings)


def _owner(stack: Stack, tenant_id: str) -> tuple[str, str]:
    """An owner key of the tenant: (id, secret)."""
    return issue_key(
        stack.svc, tenant_id=tenant_id, name="owner", mode=Mode.TEST, role=KeyRole.OWNER
    )


# --- X-API-Key ---------------------------------------------------------------------------


def test_x_api_key_authenticates_like_bearer(idle: Stack, anon: httpx.Client) -> None:
    """The key alone as `X-API-Key` is the same caller as `Authorization: Bearer`; it can
    read and write, and a bad one is refused as a bad bearer key is."""
    bearer = anon.get("/v1/me", headers={"Authorization": f"Bearer {idle.key}"})
    header = anon.get("/v1/me", headers={"X-API-Key": idle.key})
    assert bearer.status_code == header.status_code == 200, header.text
    assert header.json() == bearer.json()
    assert header.json()["tenant"]["id"] == idle.tenant_id
    made = anon.post(
        "/v1/posts", headers={"X-API-Key": idle.key}, json={"text": "hi", "targets": ["x"]}
    )
    assert made.status_code == 201, made.text
    assert idle.http.get(f"/v1/posts/{made.json()['id']}").status_code == 200
    # The same key in both headers is one credential.
    both = anon.get(
        "/v1/me", headers={"Authorization": f"Bearer {idle.key}", "X-API-Key": idle.key}
    )
    assert both.status_code == 200, both.text
    mistyped = idle.key[:-1] + ("A" if idle.key[-1] != "A" else "B")
    expect_problem(anon.get("/v1/me", headers={"X-API-Key": mistyped}), 401, "invalid_api_key")
    expect_problem(anon.get("/v1/me"), 401, "missing_api_key")


def test_two_different_credentials_are_refused(idle: Stack, anon: httpx.Client) -> None:
    """`Authorization` and `X-API-Key` carrying different keys answer 401
    `conflicting_credentials`, whichever is valid, and even for the same tenant."""
    _, other = issue_key(idle.svc, tenant_id=idle.tenant_id, name="other", mode=Mode.TEST)
    for bearer, header in ((idle.key, other), (other, idle.key), (idle.key, "cp_test_nope")):
        answer = anon.get(
            "/v1/me", headers={"Authorization": f"Bearer {bearer}", "X-API-Key": header}
        )
        expect_problem(answer, 401, "conflicting_credentials")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    # A key seen lately (cached) is no exception.
    assert idle.http.get("/v1/me").status_code == 200
    cached = idle.http.get("/v1/me", headers={"X-API-Key": other})
    expect_problem(cached, 401, "conflicting_credentials")


def test_the_operator_key_works_as_x_api_key_on_admin_only(idle: Stack, anon: httpx.Client) -> None:
    """An operator key sent as `X-API-Key` reaches /v1/admin; elsewhere it is refused."""
    _, operator = issue_operator_key(idle.svc, name="ops")
    listed = anon.get("/v1/admin/tenants", headers={"X-API-Key": operator})
    assert listed.status_code == 200, listed.text
    assert idle.tenant_id in {t["id"] for t in listed.json()["data"]}
    expect_problem(
        anon.get("/v1/posts", headers={"X-API-Key": operator}), 403, "operator_key_not_allowed"
    )
    expect_problem(
        anon.get("/v1/admin/tenants", headers={"X-API-Key": idle.key}),
        403,
        "operator_key_required",
    )


# --- the webhook endpoint limit ------------------------------------------------------------


def test_a_tenant_limit_on_webhook_endpoints(idle: Stack) -> None:
    """With `webhook_max_endpoints` 2 (set by the operator through /v1/admin) the third
    endpoint, in any mode, is 409 `too_many_webhook_endpoints`; a deleted one frees its
    place; other tenants keep the server's limit; null returns the tenant to it."""
    _, operator_key = issue_operator_key(idle.svc, name="ops")
    with httpx.Client(
        base_url=idle.api_url, headers={"Authorization": f"Bearer {operator_key}"}, timeout=30
    ) as operator:
        changed = operator.patch(
            f"/v1/admin/tenants/{idle.tenant_id}", json={"webhook_max_endpoints": 2}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["webhook_max_endpoints"] == 2
        _, live_key = issue_key(idle.svc, tenant_id=idle.tenant_id, name="live", mode=Mode.LIVE)
        with httpx.Client(
            base_url=idle.api_url, headers={"Authorization": f"Bearer {live_key}"}
        ) as live:
            keyed = {"Idempotency-Key": "endpoint-1"}
            first = idle.http.post("/v1/webhooks", json={"url": HOOK}, headers=keyed)
            assert first.status_code == 201, first.text
            made = live.post("/v1/webhooks", json={"url": "https://hooks.example.com/live"})
            assert made.status_code == 201, made.text
            refused = idle.http.post("/v1/webhooks", json={"url": HOOK})
            body = expect_problem(refused, 409, "too_many_webhook_endpoints")
            assert "2" in body["detail"]
            # A retry of a create that succeeded is its answer again, not a refusal.
            replay = idle.http.post("/v1/webhooks", json={"url": HOOK}, headers=keyed)
            assert replay.status_code == 201, replay.text
            assert replay.json()["id"] == first.json()["id"]
            expect_problem(
                live.post("/v1/webhooks", json={"url": "https://hooks.example.com/2"}),
                409,
                "too_many_webhook_endpoints",
            )
        assert len(idle.http.get("/v1/webhooks").json()["data"]) == 1
        # Another tenant has the server's limit (50), not this one's.
        _, other_key = _owner(idle, _tenant(idle)["id"])
        with httpx.Client(
            base_url=idle.api_url, headers={"Authorization": f"Bearer {other_key}"}
        ) as other:
            for _ in range(3):
                assert other.post("/v1/webhooks", json={"url": HOOK}).status_code == 201
        assert idle.http.delete(f"/v1/webhooks/{first.json()['id']}").status_code == 204
        again = idle.http.post("/v1/webhooks", json={"url": HOOK})
        assert again.status_code == 201, again.text
        expect_problem(
            idle.http.post("/v1/webhooks", json={"url": HOOK}), 409, "too_many_webhook_endpoints"
        )
        reset = operator.patch(
            f"/v1/admin/tenants/{idle.tenant_id}", json={"webhook_max_endpoints": None}
        )
        assert reset.status_code == 200 and reset.json()["webhook_max_endpoints"] is None
    assert idle.http.post("/v1/webhooks", json={"url": HOOK}).status_code == 201


def test_parallel_endpoint_creation_stops_at_the_limit(idle: Stack) -> None:
    """8 endpoints created at once under a tenant limit of 3 (set with
    `engine.tenants.update`): exactly 3 are made, 5 refused with 409."""
    with idle.svc.db.write() as conn:
        tenants.update(idle.svc, conn, idle.tenant_id, {"webhook_max_endpoints": 3}, Actor.cli())

    def create(i: int) -> int:
        with httpx.Client(
            base_url=idle.api_url, headers={"Authorization": f"Bearer {idle.key}"}, timeout=60
        ) as client:
            return client.post("/v1/webhooks", json={"url": f"{HOOK}/{i}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] * 3 + [409] * 5, statuses
    assert len(idle.http.get("/v1/webhooks").json()["data"]) == 3


# --- the default tier ------------------------------------------------------------------------


def test_a_tenants_default_tier_is_given_to_keys_made_without_one(idle: Stack) -> None:
    """POST /v1/keys (and /v1/oauth-clients) without a tier gives the tenant's
    `default_tier`; an explicit tier wins; a tenant without one keeps the server's (none)."""
    tenant = _tenant(idle, default_tier="pro")
    _, owner = _owner(idle, tenant["id"])
    with httpx.Client(
        base_url=idle.api_url, headers={"Authorization": f"Bearer {owner}"}, timeout=30
    ) as client:
        plain = client.post("/v1/keys", json={"name": "plain"})
        assert plain.status_code == 201, plain.text
        assert plain.json()["tier"] == "pro"
        assert client.get(f"/v1/keys/{plain.json()['id']}").json()["tier"] == "pro"
        chosen = client.post("/v1/keys", json={"name": "chosen", "tier": "free"})
        assert chosen.status_code == 201 and chosen.json()["tier"] == "free"
        app = client.post("/v1/oauth-clients", json={"name": "app", "scopes": ["posts:read"]})
        assert app.status_code == 201 and app.json()["tier"] == "pro", app.text
    # The key is limited as a `pro` key: its answers carry that tier's burst.
    with httpx.Client(
        base_url=idle.api_url, headers={"X-API-Key": plain.json()["key"]}, timeout=30
    ) as new_key:
        me = new_key.get("/v1/me")
        assert me.status_code == 200 and me.json()["tier"] == "pro", me.text
        burst = idle.svc.settings.rate_limit_tiers["pro"]["burst"]
        assert me.headers["X-RateLimit-Limit"] == str(burst)
    mine = idle.http.post("/v1/keys", json={"name": "tenant A's"})
    assert mine.status_code == 201 and mine.json()["tier"] is None, mine.text


# --- per-tenant retention --------------------------------------------------------------------


@pytest.fixture
def frozen(make_stack: Callable[..., Stack]) -> Stack:
    """Tenant A on a frozen clock, no workers: the maintenance runs only when the test runs it."""
    return make_stack(workers=0, clock=FrozenClock(NOW))


def _old_rows(stack: Stack, tenant_ids: list[str], ages: tuple[int, ...]) -> None:
    """For each tenant and age in days: one analytics row and one webhook event (payload
    kept) of that age, oldest first (as flushes write them: ids follow time)."""
    recorder = AnalyticsRecorder(stack.svc.db, stack.svc.clock, flush_seconds=3600)
    when = [
        (NOW - timedelta(days=age, hours=1), t)
        for age in sorted(ages, reverse=True)
        for t in tenant_ids
    ]
    for at, tenant_id in when:
        recorder.record(
            Hit(
                tenant_id=tenant_id, key_id="key_x", endpoint=_MARK, method="GET", status=200,
                latency_ms=1.0, request_bytes=0, response_bytes=0, created_at=at,
            )
        )  # fmt: skip
    recorder.flush()
    with stack.svc.db.write() as conn:
        for at, tenant_id in when:
            outbox.emit(
                conn, tenant_id=tenant_id, mode="test", event_type=_EVENT,
                data=EVENT_TYPES[_EVENT].example, now=at,
            )  # fmt: skip


def _kept(stack: Stack) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per tenant, the ages (days) of the analytics rows left and of the events whose
    payload is still kept."""
    analytics: dict[str, list[int]] = {}
    payloads: dict[str, list[int]] = {}
    with stack.svc.db.read() as conn:
        for tenant_id, at in conn.execute(
            sa.select(api_analytics.c.tenant_id, api_analytics.c.created_at).where(
                api_analytics.c.endpoint == _MARK
            )
        ):
            analytics.setdefault(tenant_id, []).append((NOW - at).days)
        for tenant_id, at, expired, payload in conn.execute(
            sa.select(
                webhook_events.c.tenant_id,
                webhook_events.c.created_at,
                webhook_events.c.payload_expired,
                webhook_events.c.payload,
            ).where(webhook_events.c.event_type == _EVENT)
        ):
            assert expired == (payload is None), (tenant_id, at)
            if not expired:
                payloads.setdefault(tenant_id, []).append((NOW - at).days)
    return (
        {t: sorted(a) for t, a in analytics.items()},
        {t: sorted(a) for t, a in payloads.items()},
    )


def test_the_hourly_maintenance_applies_a_tenants_shorter_retention(frozen: Stack) -> None:
    """Tenant B keeps analytics and webhook payloads 1 day, the server 90 and 30 days: the
    maintenance job removes B's 2-day-old rows and payloads and keeps A's."""
    settings = frozen.svc.settings
    assert (settings.analytics_retention_days, settings.webhook_payload_retention_days) == (
        90, 30
    )  # fmt: skip
    b = _tenant(frozen, analytics_retention_days=1, webhook_payload_retention_days=1)["id"]
    a = frozen.tenant_id
    _old_rows(frozen, [a, b], (0, 2, 40, 100))
    maintenance.ensure_scheduled(frozen.svc)
    [job] = frozen.svc.jobs.claim("w", limit=1, lease_seconds=30, kinds=[maintenance.KIND])
    outcome = maintenance.make_handler(frozen.svc)(
        JobContext(job, frozen.svc.jobs, lease_seconds=30, clock=frozen.svc.clock)
    )
    assert isinstance(outcome, RunAgain)
    analytics, payloads = _kept(frozen)
    assert analytics == {a: [0, 2, 40], b: [0]}
    assert payloads == {a: [0, 2], b: [0]}


def test_purges_take_a_map_of_shorter_retentions(frozen: Stack) -> None:
    """`purge_expired(…, shorter={B: 1})` and `expire_payloads(…, {B: 1})` cut B at one day
    and everyone else at the server's retention."""
    b = _tenant(frozen)["id"]
    a = frozen.tenant_id
    _old_rows(frozen, [a, b], (0, 2, 40, 100))
    # The 100-day rows of both, then B's 2- and 40-day rows, one row per transaction.
    assert purge_expired(frozen.svc.db, NOW, 90, shorter={b: 1}, chunk=1) == 4
    with frozen.svc.db.write() as conn:
        # Past 30 days: A's and B's 40- and 100-day payloads; then B's 2-day one.
        assert expire_payloads(conn, NOW, 30, {b: 1}) == 5
    analytics, payloads = _kept(frozen)
    assert analytics == {a: [0, 2, 40], b: [0]}
    assert payloads == {a: [0, 2], b: [0]}
    with frozen.svc.db.write() as conn:
        assert expire_payloads(conn, NOW, 30, {b: 1}) == 0  # nothing twice


def test_a_tenant_cannot_keep_data_longer_than_the_server(idle: Stack) -> None:
    """A retention above the server's is refused (422 `invalid_retention`), from the
    operator's API and from `engine.tenants` alike; nothing changes."""
    b = _tenant(idle)["id"]
    with idle.svc.db.write() as conn, pytest.raises(InvalidInput) as refused:
        tenants.update(idle.svc, conn, b, {"analytics_retention_days": 91}, Actor.cli())
    assert refused.value.code == "invalid_retention"
    _, operator_key = issue_operator_key(idle.svc, name="ops")
    with httpx.Client(
        base_url=idle.api_url, headers={"Authorization": f"Bearer {operator_key}"}, timeout=30
    ) as operator:
        answer = operator.patch(
            f"/v1/admin/tenants/{b}", json={"webhook_payload_retention_days": 31}
        )
        expect_problem(answer, 422, "invalid_retention")
        kept = operator.get(f"/v1/admin/tenants/{b}").json()
    assert (kept["analytics_retention_days"], kept["webhook_payload_retention_days"]) == (
        None, None
    )  # fmt: skip
