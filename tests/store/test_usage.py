"""Usage metering and quotas on SQLite and PostgreSQL: exact counters under concurrency,
hard limits that refuse without writing, soft limits that warn once per month."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.config import Settings
from crosspost.domain.enums import Mode, TargetStatus
from crosspost.domain.models import PostCreate
from crosspost.engine.posts import create_post
from crosspost.engine.services import Services
from crosspost.engine.transitions import transition
from crosspost.errors import InvalidInput, QuotaExceeded
from crosspost.store import migrate
from crosspost.store import usage as store
from crosspost.store.db import Database
from crosspost.store.posts import get_target
from crosspost.store.tables import ledger_events, posts, social_accounts, targets, tenants
from crosspost.usage import metering

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
PERIOD = "2026-11"


def _tenant(conn: sa.Connection, tenant_id: str) -> None:
    conn.execute(
        tenants.insert(),
        {"id": tenant_id, "name": tenant_id, "is_default": False, "created_at": NOW},
    )


def _account(conn: sa.Connection, tenant_id: str, account_id: str, platform: str = "x") -> None:
    conn.execute(
        social_accounts.insert(),
        {
            "id": account_id,
            "tenant_id": tenant_id,
            "platform": platform,
            "mode": "test",
            "handle": account_id,
            "external_id": account_id,
            "role": "main",
            "status": "active",
            "scopes": [],
            "created_at": NOW,
            "updated_at": NOW,
        },
    )


@pytest.fixture
def migrated(database_url: str) -> Iterator[Database]:
    """A migrated database with tenants `t` and `u`."""
    db = Database(database_url)
    migrate.upgrade(db)
    with db.write() as conn:
        _tenant(conn, "t")
        _tenant(conn, "u")
    try:
        yield db
    finally:
        db.dispose()


def _value(
    db: Database, tenant_id: str, metric: str, key_id: str = "", period: str = PERIOD
) -> int:
    with db.read() as conn:
        return store.get_value(
            conn, tenant_id=tenant_id, key_id=key_id, period=period, metric=metric
        )


def _threshold_events(db: Database, tenant_id: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(ledger_events.c.data).where(
                ledger_events.c.tenant_id == tenant_id,
                ledger_events.c.event_type == metering.THRESHOLD_EVENT,
            )
        )
        return [dict(r.data) for r in rows]


def test_counters_are_kept_per_key_and_per_tenant(migrated: Database) -> None:
    """Each count lands on the key's row and on the tenant total; key '' only on the total."""
    with migrated.write() as conn:
        metering.meter(conn, tenant_id="t", key_id="key_a", amounts={"posts": 1}, now=NOW)
        metering.meter(conn, tenant_id="t", key_id="key_a", amounts={"posts": 2}, now=NOW)
        metering.meter(conn, tenant_id="t", key_id="key_b", amounts={"posts": 1}, now=NOW)
        metering.meter(conn, tenant_id="t", key_id="", amounts={"posts": 1}, now=NOW)
        metering.meter(
            conn,
            tenant_id="u",
            key_id="key_c",
            amounts={"bytes_uploaded": 1000, "media_minutes": 90_500},
            now=NOW,
        )
    assert _value(migrated, "t", "posts") == 5
    assert _value(migrated, "t", "posts", "key_a") == 3
    assert _value(migrated, "t", "posts", "key_b") == 1
    with migrated.read() as conn:
        report = metering.usage_report(conn, "t", PERIOD)
        other = metering.usage_report(conn, "u", PERIOD)
    assert report["tenant"]["posts"] == 5
    assert report["tenant"]["bytes_uploaded"] == 0
    assert [k["key_id"] for k in report["keys"]] == ["key_a", "key_b"]
    assert report["keys"][0]["metrics"]["posts"] == 3
    # Milliseconds are shown as minutes with two decimals; tenants never see each other.
    assert other["tenant"]["media_minutes"] == 1.51
    assert other["tenant"]["posts"] == 0
    with migrated.read() as conn:
        assert metering.usage_report(conn, "t", "2026-10")["tenant"]["posts"] == 0


def test_counters_follow_the_calendar_month_in_utc(migrated: Database) -> None:
    """23:59 on 31 Oct in New York is already November in UTC."""
    late_october_local = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    first_november = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    with migrated.write() as conn:
        metering.meter(conn, tenant_id="t", key_id="", amounts={"posts": 1}, now=late_october_local)
        metering.meter(conn, tenant_id="t", key_id="", amounts={"posts": 1}, now=first_november)
    assert _value(migrated, "t", "posts", period="2026-10") == 1
    assert _value(migrated, "t", "posts", period="2026-11") == 1


def test_hard_limit_refuses_without_counting(migrated: Database) -> None:
    """The request that would pass the hard limit raises 402 and changes nothing."""
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=None, hard_limit=2)
    for _ in range(2):
        with migrated.write() as conn:
            metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW)
    with pytest.raises(QuotaExceeded) as refused, migrated.write() as conn:
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW)
    err = refused.value
    assert err.status == 402 and err.code == "quota_exceeded"
    assert err.extra == {
        "quota": "posts", "scope": "tenant", "limit": 2, "used": 2, "period": PERIOD
    }  # fmt: skip
    assert "PUT /v1/usage/quotas" in err.detail and "2026-12-01" in err.detail
    assert _value(migrated, "t", "posts") == 2
    assert _value(migrated, "t", "posts", "k") == 2
    # Another tenant is not limited by t's quota.
    with migrated.write() as conn:
        metering.meter(conn, tenant_id="u", key_id="k", amounts={"posts": 5}, now=NOW)
    # The next month starts from zero.
    with migrated.write() as conn:
        metering.meter(
            conn,
            tenant_id="t",
            key_id="k",
            amounts={"posts": 1},
            now=datetime(2026, 12, 1, tzinfo=UTC),
        )


def test_amount_larger_than_the_whole_limit_is_refused(migrated: Database) -> None:
    """A first upload bigger than the byte quota is refused although no row exists yet."""
    with migrated.write() as conn:
        metering.set_quota(
            conn, tenant_id="t", metric="bytes_uploaded", soft_limit=None, hard_limit=100
        )
    with pytest.raises(QuotaExceeded), migrated.write() as conn:
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"bytes_uploaded": 101}, now=NOW)
    with pytest.raises(QuotaExceeded), migrated.read() as conn:
        metering.check_room(conn, tenant_id="t", metric="bytes_uploaded", amount=101, now=NOW)
    with migrated.read() as conn:
        metering.check_room(conn, tenant_id="t", metric="bytes_uploaded", amount=100, now=NOW)
    assert _value(migrated, "t", "bytes_uploaded") == 0


def test_media_minutes_quota_is_in_minutes(migrated: Database) -> None:
    """A 10-minute hard limit admits 600 s of media and refuses one more second."""
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="media_minutes", soft_limit=5, hard_limit=10)
        warnings = metering.meter(
            conn, tenant_id="t", key_id="k", amounts={"media_minutes": 600_000}, now=NOW
        )
    assert [w.header() for w in warnings] == ["media_minutes 10.0/5 (soft limit) for 2026-11"]
    with pytest.raises(QuotaExceeded) as refused, migrated.write() as conn:
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"media_minutes": 1000}, now=NOW)
    assert refused.value.extra["used"] == 10.0


def test_soft_limit_warns_every_time_and_records_one_event(migrated: Database) -> None:
    """Past the soft limit each response is warned; the ledger gets one event per month."""
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=2, hard_limit=10)
    seen: list[list[str]] = []
    for _ in range(4):
        with migrated.write() as conn:
            warnings = metering.meter(
                conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW
            )
        seen.append([w.header() for w in warnings])
    assert seen == [
        [],
        ["posts 2/2 (soft limit) for 2026-11"],
        ["posts 3/2 (soft limit) for 2026-11"],
        ["posts 4/2 (soft limit) for 2026-11"],
    ]
    assert metering.warning_header([]) == {}
    assert _threshold_events(migrated, "t") == [
        {"metric": "posts", "period": PERIOD, "used": 2, "soft_limit": 2, "hard_limit": 10}
    ]
    # A new month warns again, once.
    december = datetime(2026, 12, 2, tzinfo=UTC)
    for _ in range(3):
        with migrated.write() as conn:
            metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=december)
    assert [e["period"] for e in _threshold_events(migrated, "t")] == [PERIOD, "2026-12"]


def test_changing_the_soft_limit_rearms_its_warning(migrated: Database) -> None:
    """A raised soft limit is announced when crossed, even in a month already warned."""
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=1, hard_limit=None)
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW)
        # Same soft limit, new hard limit: still warned for this month.
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=1, hard_limit=50)
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW)
    assert len(_threshold_events(migrated, "t")) == 1
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=3, hard_limit=50)
        metering.meter(conn, tenant_id="t", key_id="k", amounts={"posts": 1}, now=NOW)
    events = _threshold_events(migrated, "t")
    assert [(e["soft_limit"], e["used"]) for e in events] == [(1, 1), (3, 3)]


def test_quota_validation(migrated: Database) -> None:
    """Unknown metrics, soft above hard, negative limits and hard limits on publishing are
    refused with what to change; both limits None removes the quota."""
    with migrated.write() as conn:
        with pytest.raises(InvalidInput, match="valid metrics: posts, posts_published"):
            metering.set_quota(conn, tenant_id="t", metric="tweets", soft_limit=1, hard_limit=2)
        with pytest.raises(InvalidInput, match="above hard_limit"):
            metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=5, hard_limit=2)
        with pytest.raises(InvalidInput, match="whole number from 0 to"):
            metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=-1, hard_limit=None)
        with pytest.raises(InvalidInput, match="only a soft limit"):
            metering.set_quota(
                conn, tenant_id="t", metric="posts_published", soft_limit=None, hard_limit=3
            )
        metering.set_quota(
            conn, tenant_id="t", metric="posts_published", soft_limit=3, hard_limit=None
        )
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=1, hard_limit=2)
        assert [q["metric"] for q in metering.quota_report(conn, "t", PERIOD)] == [
            "posts",
            "posts_published",
        ]
        metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=None, hard_limit=None)
        assert [q["metric"] for q in metering.quota_report(conn, "t", PERIOD)] == [
            "posts_published"
        ]
        assert metering.quota_report(conn, "u", PERIOD) == []


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026/11", "", "1969-12", "x"])
def test_bad_periods_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"YYYY-MM, e\.g\. 2026-11") as refused:
        metering.parse_period(text)
    assert refused.value.code == "invalid_period"


def test_period_helpers() -> None:
    assert metering.parse_period(" 2026-02 ") == "2026-02"
    assert metering.next_period("2026-12") == "2027-01"
    assert metering.next_period("2026-01") == "2026-02"
    assert metering.minutes_to_ms(1.5) == 90_000


def test_api_calls_are_counted_and_the_hard_limit_reported(migrated: Database) -> None:
    """A flushed batch adds per key and per tenant; a tenant at its hard limit is reported."""
    with migrated.write() as conn:
        metering.set_quota(conn, tenant_id="t", metric="api_calls", soft_limit=3, hard_limit=5)
        reached = metering.count_api_calls(
            conn, {("t", "k1", PERIOD): 2, ("t", "k2", PERIOD): 2, ("u", "k3", PERIOD): 7}, NOW
        )
    assert reached == {"t": None, "u": None}
    assert _value(migrated, "t", "api_calls") == 4
    assert _value(migrated, "t", "api_calls", "k1") == 2
    assert _value(migrated, "u", "api_calls") == 7
    assert [e["used"] for e in _threshold_events(migrated, "t")] == [4]
    with migrated.write() as conn:
        reached = metering.count_api_calls(conn, {("t", "k1", PERIOD): 1}, NOW)
    assert reached == {"t": metering.HardLimitReached(limit=5, used=5, period=PERIOD)}
    assert len(_threshold_events(migrated, "t")) == 1


def test_publishing_is_counted_once_per_target_and_post(migrated: Database) -> None:
    """targets_published counts each target's move to published once; posts_published counts
    the post once when it reaches a published rollup (partially, then fully, is still one)."""
    with migrated.write() as conn:
        _account(conn, "t", "acc", "youtube")
        conn.execute(
            posts.insert(),
            {
                "id": "post",
                "tenant_id": "t",
                "text": "",
                "overrides": {},
                "status": "publishing",
                "mode": "test",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        for tid in ("t1", "t2", "t3"):
            conn.execute(
                targets.insert(),
                {
                    "id": tid,
                    "tenant_id": "t",
                    "post_id": "post",
                    "account_id": "acc",
                    "platform": "youtube",
                    "status": "processing",
                    "attempts": 1,
                    "transient_errors": 0,
                    "session": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )
        conn.execute(
            ledger_events.insert(),
            {
                "id": "evt_1",
                "tenant_id": "t",
                "post_id": "post",
                "event_type": "post_created",
                "data": {"targets": ["t1", "t2", "t3"], "key_id": "key_creator"},
                "created_at": NOW,
            },
        )

    def move(target_id: str, status: TargetStatus) -> None:
        with migrated.write() as conn:
            row = get_target(conn, target_id)
            assert row is not None
            transition(conn, row, now=NOW, status=status)

    move("t1", TargetStatus.PUBLISHED)
    move("t1", TargetStatus.PUBLISHED)  # a re-run that finds it published: not counted again
    assert _value(migrated, "t", "targets_published") == 1
    assert _value(migrated, "t", "posts_published") == 0
    move("t2", TargetStatus.FAILED)
    move("t3", TargetStatus.PUBLISHED)
    with migrated.read() as conn:
        status = conn.execute(sa.select(posts.c.status).where(posts.c.id == "post")).scalar()
    assert status == "partially_published"
    assert _value(migrated, "t", "targets_published") == 2
    assert _value(migrated, "t", "targets_published", "key_creator") == 2
    assert _value(migrated, "t", "posts_published") == 1
    assert _value(migrated, "t", "posts_published", "key_creator") == 1


def _services(tmp_path: Path, database_url: str) -> Services:
    settings = Settings(_env_file=None, home=tmp_path, database_url=database_url)
    svc = Services.build(settings, clock=FrozenClock(NOW))
    migrate.upgrade(svc.db)
    with svc.db.write() as conn:
        _tenant(conn, "t")
        _account(conn, "t", "acc_x")
    return svc


def test_fifty_parallel_posts_against_a_hard_limit_of_twenty(
    tmp_path: Path, database_url: str
) -> None:
    """50 threads create a post each through the engine at once: exactly 20 succeed, the
    other 30 get 402 and leave no row, and the counter reads 20."""
    svc = _services(tmp_path, database_url)
    try:
        with svc.db.write() as conn:
            metering.set_quota(conn, tenant_id="t", metric="posts", soft_limit=None, hard_limit=20)
        start = threading.Barrier(50)

        def attempt(i: int) -> str:
            start.wait(timeout=30)
            try:
                create_post(
                    svc,
                    tenant_id="t",
                    mode=Mode.TEST,
                    body=PostCreate(text=f"post {i}", targets=["x"]),
                    key_id=f"key_{i % 2}",
                )
            except QuotaExceeded:
                return "refused"
            return "created"

        with ThreadPoolExecutor(max_workers=50) as pool:
            outcomes = list(pool.map(attempt, range(50)))
        assert outcomes.count("created") == 20
        assert outcomes.count("refused") == 30
        with svc.db.read() as conn:
            made = conn.execute(sa.select(sa.func.count()).select_from(posts)).scalar()
        assert made == 20
        assert _value(svc.db, "t", "posts") == 20
        assert _value(svc.db, "t", "posts", "key_0") + _value(svc.db, "t", "posts", "key_1") == 20
    finally:
        svc.close()
