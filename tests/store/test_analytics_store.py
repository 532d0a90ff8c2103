"""API analytics below the HTTP layer: the recorder's buffer and flush, exact percentiles,
range validation and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.config import Settings
from crosspost.engine import maintenance
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput, QuotaExceeded
from crosspost.jobs import RunAgain
from crosspost.jobs.context import JobContext
from crosspost.store import migrate
from crosspost.store import usage as usage_store
from crosspost.store.db import Database
from crosspost.store.tables import api_analytics, tenants
from crosspost.usage import metering
from crosspost.usage.analytics import AnalyticsRecorder, Hit, purge_expired
from crosspost.usage.analytics_report import analytics_report, percentile, resolve_range

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def migrated(database_url: str) -> Iterator[Database]:
    """A migrated database with tenant `t`."""
    db = Database(database_url)
    migrate.upgrade(db)
    with db.write() as conn:
        conn.execute(
            tenants.insert(), {"id": "t", "name": "t", "is_default": False, "created_at": NOW}
        )
    try:
        yield db
    finally:
        db.dispose()


def _hit(
    latency: float,
    *,
    status: int = 200,
    endpoint: str = "/v1/posts",
    method: str = "GET",
    key: str = "k1",
    tenant: str | None = "t",
    at: datetime = NOW,
    billable: bool = True,
) -> Hit:
    return Hit(
        tenant_id=tenant,
        key_id=key if tenant else None,
        endpoint=endpoint,
        method=method,
        status=status,
        latency_ms=latency,
        request_bytes=10,
        response_bytes=100,
        created_at=at,
        billable=billable,
    )


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(api_analytics)).scalar_one())


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 51) == 2.0


def test_flush_writes_rows_and_counts_billable_calls(migrated: Database) -> None:
    """Rows of every request are written; api_calls counts the tenant's billable ones per key."""
    recorder = AnalyticsRecorder(migrated, FrozenClock(NOW), flush_seconds=60)
    for hit in (
        _hit(1.0),
        _hit(2.0, key="k2"),
        _hit(3.0, status=401, tenant=None),
        _hit(4.0, status=402, billable=False),
    ):
        recorder.record(hit)
    assert recorder.buffered == 4
    assert recorder.flush() == 4
    assert recorder.buffered == 0
    assert _count(migrated) == 4
    with migrated.read() as conn:
        report = metering.usage_report(conn, "t", "2026-11")
    assert report["tenant"]["api_calls"] == 2
    assert {k["key_id"]: k["metrics"]["api_calls"] for k in report["keys"]} == {"k1": 1, "k2": 1}
    assert recorder.flush() == 0


def test_report_groups_and_percentiles(migrated: Database) -> None:
    """Known latencies give known nearest-rank percentiles, per endpoint, status and key."""
    recorder = AnalyticsRecorder(migrated, FrozenClock(NOW), flush_seconds=60)
    latencies = [float(v) for v in range(1, 21)]  # 1..20 ms
    for i, latency in enumerate(latencies):
        recorder.record(_hit(latency, status=404 if i % 4 == 0 else 200, key=f"k{i % 2}"))
    recorder.record(_hit(50.0, method="POST", status=201))
    recorder.record(_hit(9.0, at=NOW - timedelta(days=2)))  # outside the range
    recorder.flush()
    since, until = NOW - timedelta(hours=1), NOW + timedelta(seconds=1)
    with migrated.read() as conn:
        by_endpoint = analytics_report(conn, ["t"], since, until, "endpoint")
        by_status = analytics_report(conn, ["t"], since, until, "status")
        by_key = analytics_report(conn, ["t"], since, until, "key")
        other = analytics_report(conn, ["u"], since, until, "endpoint")
    assert by_endpoint == [
        {
            "group": "GET /v1/posts",
            "requests": 20,
            "errors": 5,
            "p50_ms": 10.0,
            "p95_ms": 19.0,
            "p99_ms": 20.0,
            "request_bytes": 200,
            "response_bytes": 2000,
        },
        {
            "group": "POST /v1/posts",
            "requests": 1,
            "errors": 0,
            "p50_ms": 50.0,
            "p95_ms": 50.0,
            "p99_ms": 50.0,
            "request_bytes": 10,
            "response_bytes": 100,
        },
    ]
    assert [(g["group"], g["requests"], g["errors"]) for g in by_status] == [
        ("200", 15, 0),
        ("404", 5, 5),
        ("201", 1, 0),
    ]
    assert [(g["group"], g["requests"]) for g in by_key] == [("k1", 11), ("k0", 10)]
    assert other == []


def test_the_operators_report_spans_the_tenants_asked_for(migrated: Database) -> None:
    """Across tenants: one group per tenant with its own percentiles, or every tenant's
    requests of an endpoint together; a tenant not asked for is left out."""
    with migrated.write() as conn:
        conn.execute(tenants.insert(), [
            {"id": t, "name": t, "is_default": False, "created_at": NOW} for t in ("u", "w")
        ])  # fmt: skip
    recorder = AnalyticsRecorder(migrated, FrozenClock(NOW), flush_seconds=60)
    for latency in (1.0, 2.0, 3.0):
        recorder.record(_hit(latency, tenant="t"))
    for latency in (10.0, 20.0):
        recorder.record(_hit(latency, tenant="u", status=500))
    recorder.record(_hit(99.0, tenant="w"))
    recorder.flush()
    since, until = NOW - timedelta(hours=1), NOW + timedelta(seconds=1)
    with migrated.read() as conn:
        by_tenant = analytics_report(conn, ["t", "u"], since, until, "tenant")
        by_endpoint = analytics_report(conn, ["t", "u", "w"], since, until, "endpoint")
    assert [(g["group"], g["requests"], g["errors"], g["p50_ms"], g["p99_ms"])
            for g in by_tenant] == [("t", 3, 0, 2.0, 3.0), ("u", 2, 2, 10.0, 20.0)]  # fmt: skip
    assert [(g["group"], g["requests"], g["errors"], g["p99_ms"]) for g in by_endpoint] == [
        ("GET /v1/posts", 6, 2, 99.0)
    ]


def test_a_failing_database_keeps_rows_buffered_and_bounded(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With no table to write to, rows stay buffered up to the bound, the rest are dropped
    and logged; once the database works, the kept rows are written."""
    db = Database(empty_database_url)
    try:
        recorder = AnalyticsRecorder(db, FrozenClock(NOW), flush_seconds=60, max_buffered=5)
        for i in range(8):
            recorder.record(_hit(float(i), tenant=None))
        assert recorder.buffered == 5
        assert recorder.dropped == 3
        with pytest.raises(sa.exc.DBAPIError):
            recorder.flush()
        assert recorder.buffered == 5
        recorder.record(_hit(99.0, tenant=None))
        assert recorder.dropped == 4
        with caplog.at_level(logging.WARNING, logger="crosspost.analytics"):
            recorder.close()  # logs rather than raises
        assert "dropped 4 request rows" in caplog.text
        assert "cannot write request rows" in caplog.text
        migrate.upgrade(db)
        assert recorder.flush() == 5
        assert _count(db) == 5
    finally:
        db.dispose()


def test_the_flusher_thread_writes_without_being_asked(migrated: Database) -> None:
    """A full batch wakes the flusher at once (no wait for the interval)."""
    recorder = AnalyticsRecorder(migrated, FrozenClock(NOW), flush_seconds=3600, batch_size=10)
    recorder.start()
    try:
        for i in range(10):
            recorder.record(_hit(float(i)))
        deadline = time.monotonic() + 10
        while _count(migrated) < 10 and time.monotonic() < deadline:
            threading.Event().wait(0.01)  # poll the condition until the deadline
        assert _count(migrated) == 10
    finally:
        recorder.close()


def test_api_calls_hard_limit_refuses_until_the_quota_changes(migrated: Database) -> None:
    """After a flush reaches the hard limit, the tenant's calls are refused (402) except the
    usage routes; forgetting (a quota change) or a new month lets them through."""
    clock = FrozenClock(NOW)
    recorder = AnalyticsRecorder(migrated, clock, flush_seconds=60)
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="api_calls", soft_limit=None, hard_limit=3)
    for _ in range(3):
        recorder.record(_hit(1.0))
    recorder.check_api_calls("t", "/v1/posts")
    recorder.flush()
    with pytest.raises(QuotaExceeded) as refused:
        recorder.check_api_calls("t", "/v1/posts")
    assert refused.value.extra == {
        "quota": "api_calls", "scope": "tenant", "limit": 3, "used": 3, "period": "2026-11"
    }  # fmt: skip
    recorder.check_api_calls("t", "/v1/usage/quotas")
    recorder.check_api_calls("t", "/v1/analytics")
    recorder.check_api_calls("u", "/v1/posts")
    assert recorder.is_refusing("t")
    recorder.forget("t")
    recorder.check_api_calls("t", "/v1/posts")
    recorder.record(_hit(1.0, status=402, billable=False))
    recorder.flush()  # the refused call is not counted, but the tenant is re-checked
    assert recorder.is_refusing("t")
    with migrated.read() as conn:
        assert (
            usage_store.get_value(
                conn, tenant_id="t", key_id="", period="2026-11", metric="api_calls"
            )
            == 3
        )
    clock.advance(20 * 86400)  # December
    recorder.check_api_calls("t", "/v1/posts")
    assert not recorder.is_refusing("t")


def test_time_ranges() -> None:
    since, until = resolve_range(None, None, NOW)
    assert (since, until) == (NOW - timedelta(hours=24), NOW)
    since, until = resolve_range("2026-11-01", "2026-11-02T00:00:00+01:00", NOW)
    assert since == datetime(2026, 11, 1, tzinfo=UTC)
    assert until == datetime(2026, 11, 1, 23, tzinfo=UTC)
    assert resolve_range("2026-11-01T00:00:00Z", "2026-12-02T00:00:00Z", NOW)[0].day == 1
    # `+01:00` sent unencoded in a query string arrives as ` 01:00`.
    assert resolve_range("2026-11-01T01:00:00 01:00", None, NOW)[0] == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    for start, end, message in (
        ("yesterday", None, "not an ISO 8601 time"),
        (None, "2026-13-01", "not an ISO 8601 time"),
        ("2026-11-02", "2026-11-01", "must be before"),
        ("2026-11-01", "2026-11-01", "must be before"),
        ("2026-10-01", "2026-11-02", "31 days at most"),
    ):
        with pytest.raises(InvalidInput, match=message) as refused:
            resolve_range(start, end, NOW)
        assert refused.value.code == "invalid_time_range"


def test_retention_purges_only_old_rows(migrated: Database) -> None:
    """Rows past the retention go, in chunks; younger ones stay; an empty table is fine."""
    assert purge_expired(migrated, NOW, 90) == 0
    recorder = AnalyticsRecorder(migrated, FrozenClock(NOW), flush_seconds=60)
    for age in (200, 120, 91, 89, 1):
        recorder.record(_hit(1.0, at=NOW - timedelta(days=age)))
    recorder.flush()
    assert purge_expired(migrated, NOW, 90, chunk=2) == 3  # two full chunks, then a partial
    with migrated.read() as conn:
        kept: list[datetime] = list(conn.execute(sa.select(api_analytics.c.created_at)).scalars())
    left = sorted((NOW - when).days for when in kept)
    assert left == [1, 89]
    assert purge_expired(migrated, NOW, 90) == 0


def test_the_hourly_maintenance_job_purges_expired_analytics(
    tmp_path: Path, database_url: str
) -> None:
    """The maintenance job applies `analytics_retention_days`."""
    settings = Settings(
        _env_file=None, home=tmp_path, database_url=database_url, analytics_retention_days=7
    )
    svc = Services.build(settings, clock=FrozenClock(NOW))
    try:
        migrate.upgrade(svc.db)
        recorder = AnalyticsRecorder(svc.db, svc.clock, flush_seconds=60)
        for age in (8, 6):
            recorder.record(_hit(1.0, tenant=None, at=NOW - timedelta(days=age)))
        recorder.flush()
        maintenance.ensure_scheduled(svc)
        [job] = svc.jobs.claim("w", limit=1, lease_seconds=30)
        outcome = maintenance.make_handler(svc)(
            JobContext(job, svc.jobs, lease_seconds=30, clock=svc.clock)
        )
        assert isinstance(outcome, RunAgain)
        assert _count(svc.db) == 1
    finally:
        svc.close()
