"""The webhook delivery queue on SQLite and PostgreSQL: fan-out, claims under a lease,
fenced settling, resend/recover, retention and the API's listings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.errors import Conflict
from crosspost.ids import new_id
from crosspost.store import webhook_deliveries as store
from crosspost.store.db import Database
from crosspost.store.tables import (
    tenants,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from crosspost.webhooks import outbox
from crosspost.webhooks.fanout import fan_out

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=70)


def _tenant(db: Database, name: str = "t") -> str:
    tenant_id = new_id("ten")
    with db.write() as conn:
        conn.execute(tenants.insert().values(id=tenant_id, name=name, created_at=NOW))
    return tenant_id


def _endpoint(
    db: Database,
    tenant_id: str,
    *,
    mode: str = "test",
    event_types: Sequence[str] = (),
    active: bool = True,
    created_at: datetime = NOW,
) -> str:
    endpoint_id = new_id("whep")
    with db.write() as conn:
        conn.execute(
            webhook_endpoints.insert().values(
                id=endpoint_id,
                tenant_id=tenant_id,
                mode=mode,
                url="http://127.0.0.1:9/hook",
                description="",
                event_types=list(event_types),
                headers={},
                active=active,
                max_concurrency=16,
                secret="sealed",
                consecutive_failures=0,
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return endpoint_id


def _emit(
    db: Database,
    tenant_id: str,
    event_type: str = "post.published",
    *,
    mode: str = "test",
    data: dict[str, Any] | None = None,
    at: datetime = NOW,
) -> str:
    with db.write() as conn:
        return outbox.emit(
            conn, tenant_id=tenant_id, mode=mode, event_type=event_type, data=data or {}, now=at
        )


def _fan_out(db: Database, limit: int = 100) -> int:
    with db.write() as conn:
        return fan_out(conn, now=NOW, limit=limit)


def _deliveries(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        return [dict(r) for r in rows.mappings()]


def _pairs(db: Database) -> set[tuple[str, str]]:
    return {(d["event_id"], d["endpoint_id"]) for d in _deliveries(db)}


def _claim(db: Database, *, now: datetime = NOW, limit: int = 100) -> list[dict[str, Any]]:
    with db.write() as conn:
        rows = store.due_deliveries(conn, now=now, limit=limit)
        store.mark_sending(conn, [r["id"] for r in rows], lease_until=LEASE, now=now)
    return rows


def _settle_row(delivery_id: str, lease: datetime, **changes: Any) -> dict[str, Any]:
    row = {
        "id": delivery_id,
        "lease": lease,
        "status": store.SUCCEEDED,
        "attempts": 1,
        "next_attempt_at": NOW,
        "last_status_code": 200,
        "last_error": None,
        "completed_at": NOW,
        "now": NOW,
    }
    row.update(changes)
    return row


# --- fan-out ---------------------------------------------------------------------------


def test_fan_out_follows_filters_tenants_modes_and_activity(db: Database) -> None:
    """An event reaches every active endpoint of its tenant and mode whose filter matches:
    empty = all, `*`, exact names, `post.*`; nothing else."""
    tenant, other = _tenant(db), _tenant(db, "other")
    everything = _endpoint(db, tenant)
    star = _endpoint(db, tenant, event_types=["*"])
    posts = _endpoint(db, tenant, event_types=["post.*"])
    exact = _endpoint(db, tenant, event_types=["post.failed", "account.connected"])
    _endpoint(db, tenant, mode="live")  # other mode
    _endpoint(db, tenant, active=False)  # disabled
    _endpoint(db, other)  # other tenant
    published = _emit(db, tenant, "post.published")
    failed = _emit(db, tenant, "post.failed")
    connected = _emit(db, tenant, "account.connected")
    target = _emit(db, tenant, "target.published")
    assert _fan_out(db) == 4
    assert _pairs(db) == {
        *((published, e) for e in (everything, star, posts)),
        *((failed, e) for e in (everything, star, posts, exact)),
        *((connected, e) for e in (everything, star, exact)),
        *((target, e) for e in (everything, star)),
    }
    for delivery in _deliveries(db):
        assert delivery["status"] == "pending"
        assert delivery["attempts"] == 0
        assert delivery["next_attempt_at"] == NOW
        assert delivery["tenant_id"] == tenant


def test_a_test_event_goes_only_to_the_endpoint_it_names(db: Database) -> None:
    """`webhook.test` ignores filters and goes to its `data.endpoint_id` alone."""
    tenant = _tenant(db)
    named = _endpoint(db, tenant, event_types=["post.published"])
    _endpoint(db, tenant)
    event = _emit(db, tenant, "webhook.test", data={"endpoint_id": named, "message": "hi"})
    nameless = _emit(db, tenant, "webhook.test", data={"message": "no endpoint"})
    _fan_out(db)
    assert _pairs(db) == {(event, named)}
    with db.read() as conn:
        rows = conn.execute(sa.select(webhook_events.c.id, webhook_events.c.fanned_out))
        flags = {row.id: row.fanned_out for row in rows}
    assert flags == {event: True, nameless: True}


def test_fan_out_is_idempotent_and_batched(db: Database) -> None:
    """Fanning out again (a crash after the inserts, before the flag) adds nothing; events
    are taken oldest first, `limit` at a time."""
    tenant = _tenant(db)
    endpoint = _endpoint(db, tenant)
    events = [_emit(db, tenant, at=NOW + timedelta(seconds=i)) for i in range(5)]
    assert _fan_out(db, limit=2) == 2
    assert _pairs(db) == {(e, endpoint) for e in events[:2]}
    with db.write() as conn:  # as if the flag had never been written
        conn.execute(webhook_events.update().values(fanned_out=False))
    assert _fan_out(db) == 5
    assert _fan_out(db) == 0
    assert len(_deliveries(db)) == 5
    assert _pairs(db) == {(e, endpoint) for e in events}


def test_an_event_rolled_back_is_never_fanned_out(db: Database) -> None:
    """The outbox row lives and dies with its transaction."""
    tenant = _tenant(db)
    _endpoint(db, tenant)

    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with db.write() as conn:
            outbox.emit(
                conn, tenant_id=tenant, mode="test", event_type="post.failed", data={}, now=NOW
            )
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert _fan_out(db) == 0
    assert _deliveries(db) == []


# --- claiming and settling -------------------------------------------------------------


def test_claim_takes_due_rows_of_active_endpoints_oldest_first(db: Database) -> None:
    """Future rows, disabled endpoints' rows and skipped endpoints wait; claimed rows carry
    what sending needs."""
    tenant = _tenant(db)
    endpoint = _endpoint(db, tenant)
    other = _endpoint(db, tenant)
    first, second = _emit(db, tenant), _emit(db, tenant)
    _fan_out(db)
    with db.write() as conn:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.event_id == first)
            .values(next_attempt_at=NOW - timedelta(seconds=5))
        )
        conn.execute(
            webhook_deliveries.update()
            .where(
                webhook_deliveries.c.event_id == second, webhook_deliveries.c.endpoint_id == other
            )
            .values(next_attempt_at=NOW + timedelta(seconds=1))
        )
    with db.read() as conn:
        skipped = store.due_deliveries(conn, now=NOW, limit=10, skip_endpoints={other})
    assert {r["endpoint_id"] for r in skipped} == {endpoint}
    rows = _claim(db)
    assert [(r["event_id"], r["endpoint_id"]) for r in rows][:2] in (
        [(first, endpoint), (first, other)],
        [(first, other), (first, endpoint)],
    )
    assert len(rows) == 3  # (second, other) is not due yet
    assert rows[0]["max_concurrency"] == 16 and rows[0]["throttle_per_second"] is None
    with db.read() as conn:
        details = store.claim_details(conn, [rows[0]["id"]])
        assert store.claim_details(conn, []) == {}
    detail = details[rows[0]["id"]]
    assert detail["payload"] is not None and detail["event_type"] == "post.published"
    assert detail["url"] == "http://127.0.0.1:9/hook" and detail["secret"] == "sealed"
    assert detail["mode"] == "test" and detail["sealed_headers"] is None
    assert {d["status"] for d in _deliveries(db) if d["next_attempt_at"] <= NOW} == {"sending"}
    assert _claim(db) == []  # nothing due is left
    with db.write() as conn:
        conn.execute(webhook_endpoints.update().values(active=False))
    assert _claim(db, now=NOW + timedelta(seconds=2)) == []  # disabled: stays pending


def test_a_lapsed_lease_is_reclaimed_and_the_old_holder_is_fenced_out(db: Database) -> None:
    """A `sending` row past its lease is claimable again; the first holder's settle then
    changes nothing, while the new holder's lands."""
    tenant = _tenant(db)
    _endpoint(db, tenant)
    _emit(db, tenant)
    _fan_out(db)
    (row,) = _claim(db)
    with db.read() as conn:
        assert store.stale_deliveries(conn, now=LEASE, limit=10) == []  # not yet past
    later = LEASE + timedelta(seconds=1)
    new_lease = later + timedelta(seconds=70)
    with db.write() as conn:
        (stale,) = store.stale_deliveries(conn, now=later, limit=10)
        assert stale["id"] == row["id"]
        store.mark_sending(conn, [stale["id"]], lease_until=new_lease, now=later)
    with db.write() as conn:
        assert store.held(conn, {row["id"]: LEASE}) == set()
        store.settle(conn, [_settle_row(row["id"], LEASE, status="failed")])
    assert _deliveries(db)[0]["status"] == "sending"
    with db.write() as conn:
        assert store.held(conn, {row["id"]: new_lease}) == {row["id"]}
        store.settle(conn, [_settle_row(row["id"], new_lease)])
    (delivery,) = _deliveries(db)
    assert delivery["status"] == "succeeded"
    assert delivery["lease_until"] is None
    assert delivery["attempts"] == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_claims_on_postgres_take_disjoint_rows(db: Database) -> None:
    """Two dispatchers claiming at once (SKIP LOCKED) never get the same delivery."""
    tenant = _tenant(db)
    _endpoint(db, tenant)
    for _ in range(20):
        _emit(db, tenant)
    _fan_out(db)
    holding = threading.Event()
    release = threading.Event()
    first: list[dict[str, Any]] = []

    def hold() -> None:
        with db.write() as conn:
            first.extend(store.due_deliveries(conn, now=NOW, limit=8))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    with db.write() as conn:
        second = store.due_deliveries(conn, now=NOW, limit=100)
    release.set()
    thread.join(10)
    assert len(first) == 8 and len(second) == 12
    assert not {r["id"] for r in first} & {r["id"] for r in second}


def test_attempts_and_streaks_are_written(db: Database) -> None:
    """The attempt log and an endpoint's failure streak round-trip."""
    tenant = _tenant(db)
    endpoint = _endpoint(db, tenant)
    event = _emit(db, tenant)
    _fan_out(db)
    (row,) = _claim(db)
    with db.write() as conn:
        store.insert_attempts(
            conn,
            [
                {
                    "tenant_id": tenant,
                    "delivery_id": row["id"],
                    "event_id": event,
                    "endpoint_id": endpoint,
                    "attempt": 1,
                    "trigger": "scheduled",
                    "status_code": 503,
                    "latency_ms": 12.5,
                    "response_headers": {"retry-after": "30"},
                    "response_body": "busy",
                    "error": None,
                    "created_at": NOW,
                }
            ],
        )
        store.set_streaks(
            conn, [{"id": endpoint, "failing_since": NOW, "consecutive_failures": 1, "now": NOW}]
        )
        assert store.disable_endpoint(conn, endpoint, reason="gone", now=NOW)
        assert not store.disable_endpoint(conn, endpoint, reason="again", now=NOW)
    with db.read() as conn:
        (attempt,) = store.list_attempts(conn, tenant, event, 10)
        (streak,) = store.endpoint_streaks(conn, [endpoint])
    assert attempt["response_headers"] == {"retry-after": "30"}
    assert attempt["status_code"] == 503 and attempt["latency_ms"] == 12.5
    assert streak["consecutive_failures"] == 1 and streak["failing_since"] == NOW
    assert streak["active"] is False


# --- the API's views and actions -------------------------------------------------------


def test_list_deliveries_pages_newest_first_by_status_and_tenant(db: Database) -> None:
    """Pages go newest first below a cursor, can filter by status, and another tenant's
    endpoint id finds nothing."""
    tenant, other = _tenant(db), _tenant(db, "other")
    endpoint = _endpoint(db, tenant)
    events = [_emit(db, tenant) for _ in range(5)]
    _fan_out(db)
    with db.write() as conn:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.event_id == events[0])
            .values(status="failed")
        )
    with db.read() as conn:
        page = store.list_deliveries(conn, tenant, endpoint, limit=3)
        rest = store.list_deliveries(conn, tenant, endpoint, before_id=page[-1]["id"], limit=3)
        failed = store.list_deliveries(conn, tenant, endpoint, status="failed", limit=10)
        foreign = store.list_deliveries(conn, other, endpoint, limit=10)
        with pytest.raises(ValueError, match="status must be one of"):
            store.list_deliveries(conn, tenant, endpoint, status="lost", limit=10)
    assert [r["event_id"] for r in page + rest] == events[::-1]
    assert page[0]["event_type"] == "post.published"
    assert page[0]["event_created_at"] == NOW
    assert [r["event_id"] for r in failed] == [events[0]]
    assert foreign == []


def test_resend_rearms_creates_or_brings_forward(db: Database) -> None:
    """A finished delivery is re-armed as manual, a missing one created as manual, a pending
    one brought forward; unknown ids and another tenant get None."""
    tenant, other = _tenant(db), _tenant(db, "other")
    endpoint = _endpoint(db, tenant)
    late = _endpoint(db, tenant, event_types=["account.connected"])
    event = _emit(db, tenant)
    _fan_out(db)
    (row,) = _claim(db)
    with db.write() as conn:
        store.settle(conn, [_settle_row(row["id"], LEASE)])
    later = NOW + timedelta(hours=1)
    with db.write() as conn:
        rearmed = store.resend(conn, tenant, endpoint, event, later)
        created = store.resend(conn, tenant, late, event, later)
        assert store.resend(conn, other, endpoint, event, later) is None
        assert store.resend(conn, tenant, "whep_nope", event, later) is None
        assert store.resend(conn, tenant, endpoint, "msg_nope", later) is None
    assert rearmed is not None and created is not None
    assert rearmed["status"] == "pending" and rearmed["next_attempt_at"] == later
    assert rearmed["completed_at"] == NOW  # the marker of a manual attempt
    assert rearmed["attempts"] == 1
    assert created["status"] == "pending" and created["completed_at"] == later
    with db.read() as conn:
        due = store.due_deliveries(conn, now=later, limit=10)
    assert {r["endpoint_id"] for r in due} == {endpoint, late}
    # A pending (scheduled) delivery is only brought forward.
    _emit(db, tenant, "account.connected")
    _fan_out(db)
    with db.write() as conn:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.completed_at.is_(None))
            .values(next_attempt_at=later + timedelta(hours=5), attempts=2)
        )
    pending = next(d for d in _deliveries(db) if d["completed_at"] is None)
    with db.write() as conn:
        moved = store.resend(conn, tenant, pending["endpoint_id"], pending["event_id"], later)
    assert moved is not None
    assert moved["next_attempt_at"] == later and moved["completed_at"] is None
    assert moved["attempts"] == 2


def test_resend_and_recover_refuse_expired_payloads(db: Database) -> None:
    """Past retention the body is gone: resend says so (409 code), recover skips it."""
    tenant = _tenant(db)
    endpoint = _endpoint(db, tenant)
    old = _emit(db, tenant, at=NOW - timedelta(days=31))
    young = _emit(db, tenant, at=NOW - timedelta(days=29))
    _fan_out(db)
    with db.write() as conn:
        assert store.expire_payloads(conn, NOW, 30) == 1
        assert store.expire_payloads(conn, NOW, 30) == 0
    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(webhook_events))}
    assert rows[old].payload is None and rows[old].payload_expired
    assert rows[young].payload is not None and not rows[young].payload_expired
    with db.write() as conn:
        conn.execute(webhook_deliveries.update().values(status="failed", completed_at=NOW))
    with pytest.raises(Conflict) as caught, db.write() as conn:
        store.resend(conn, tenant, endpoint, old, NOW)
    assert caught.value.code == "event_payload_expired"
    assert "retention" in caught.value.detail
    with db.write() as conn:
        assert store.recover(conn, tenant, endpoint, NOW - timedelta(days=60), NOW) == 1
    statuses = {d["event_id"]: d["status"] for d in _deliveries(db)}
    assert statuses == {old: "failed", young: "pending"}


def test_recover_rearms_failed_deliveries_in_the_window(db: Database) -> None:
    """Only failed deliveries of events created in [since, until), of this endpoint and
    tenant, are re-armed; the count says how many."""
    tenant, other = _tenant(db), _tenant(db, "other")
    endpoint = _endpoint(db, tenant)
    neighbour = _endpoint(db, tenant)
    times = [NOW - timedelta(hours=h) for h in (5, 3, 2, 1)]
    events = [_emit(db, tenant, at=t) for t in times]
    _fan_out(db)
    with db.write() as conn:
        conn.execute(webhook_deliveries.update().values(status="failed", completed_at=NOW))
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.event_id == events[2])
            .values(status="succeeded")
        )
        since = NOW - timedelta(hours=4)
        assert store.recover(conn, other, endpoint, since, NOW) == 0
        assert store.recover(conn, tenant, endpoint, since, NOW, until=times[3]) == 1
        assert store.recover(conn, tenant, endpoint, since, NOW) == 1
    mine = {d["event_id"]: d for d in _deliveries(db) if d["endpoint_id"] == endpoint}
    assert [mine[e]["status"] for e in events] == ["failed", "pending", "succeeded", "pending"]
    assert mine[events[1]]["next_attempt_at"] == NOW
    assert mine[events[1]]["completed_at"] == NOW  # re-armed by hand: a manual attempt
    others = {d["status"] for d in _deliveries(db) if d["endpoint_id"] == neighbour}
    assert others == {"failed", "succeeded"}


def test_recover_also_sends_what_a_disabled_endpoint_missed(db: Database) -> None:
    """Events emitted while the endpoint was disabled got no delivery; recover queues the
    ones its filter matches (as manual attempts), not those from before it existed, not
    those still waiting for fan-out, never another endpoint's test event."""
    tenant = _tenant(db)
    before = _emit(db, tenant, at=NOW - timedelta(hours=11))
    _fan_out(db)  # before the endpoint existed
    hook = _endpoint(
        db,
        tenant,
        event_types=["post.*", "account.connected"],
        created_at=NOW - timedelta(hours=10),
    )
    other = _endpoint(db, tenant)
    first = _emit(db, tenant, at=NOW - timedelta(hours=5))
    _fan_out(db)
    with db.write() as conn:
        conn.execute(
            webhook_endpoints.update().where(webhook_endpoints.c.id == hook).values(active=False)
        )
    missed = _emit(db, tenant, "post.failed", at=NOW - timedelta(hours=4))
    connected = _emit(db, tenant, "account.connected", at=NOW - timedelta(hours=4))
    _emit(db, tenant, "target.failed", at=NOW - timedelta(hours=4))  # not in its filter
    _emit(db, tenant, "webhook.test", data={"endpoint_id": other}, at=NOW - timedelta(hours=4))
    _emit(db, tenant, "post.failed", mode="live", at=NOW - timedelta(hours=4))  # other mode
    _fan_out(db)
    unfanned = _emit(db, tenant, "post.failed", at=NOW - timedelta(hours=3))
    with db.write() as conn:
        conn.execute(
            webhook_endpoints.update().where(webhook_endpoints.c.id == hook).values(active=True)
        )
        recovered = store.recover(conn, tenant, hook, NOW - timedelta(hours=12), NOW)
        assert store.recover(conn, "ten_other", hook, NOW - timedelta(hours=12), NOW) == 0
    assert recovered == 2
    mine = {d["event_id"]: d for d in _deliveries(db) if d["endpoint_id"] == hook}
    assert set(mine) == {first, missed, connected}
    assert before not in mine and unfanned not in mine
    for event_id in (missed, connected):
        assert mine[event_id]["status"] == "pending" and mine[event_id]["completed_at"] == NOW
    with db.write() as conn:  # nothing is queued twice
        assert store.recover(conn, tenant, hook, NOW - timedelta(hours=12), NOW) == 0


def test_list_attempts_is_scoped_to_the_tenant(db: Database) -> None:
    """Attempts list newest first and only for the event's own tenant."""
    tenant, other = _tenant(db), _tenant(db, "other")
    endpoint = _endpoint(db, tenant)
    event = _emit(db, tenant)
    with db.write() as conn:
        for n in (1, 2, 3):
            store.insert_attempts(
                conn,
                [
                    {
                        "tenant_id": tenant,
                        "delivery_id": "whd_x",
                        "event_id": event,
                        "endpoint_id": endpoint,
                        "attempt": n,
                        "trigger": "scheduled",
                        "status_code": None,
                        "latency_ms": 1.0,
                        "response_headers": None,
                        "response_body": None,
                        "error": "timeout",
                        "created_at": NOW + timedelta(seconds=n),
                    }
                ],
            )
    with db.read() as conn:
        assert [a["attempt"] for a in store.list_attempts(conn, tenant, event, 2)] == [3, 2]
        assert store.list_attempts(conn, other, event, 10) == []
        total = conn.execute(sa.select(sa.func.count()).select_from(webhook_attempts)).scalar()
    assert total == 3


def test_counts_by_status(db: Database) -> None:
    """Per endpoint, every status is counted (zero included)."""
    tenant = _tenant(db)
    endpoint = _endpoint(db, tenant)
    for _ in range(3):
        _emit(db, tenant)
    _fan_out(db)
    _claim(db, limit=1)
    with db.read() as conn:
        counts = store.counts_by_status(conn, [endpoint])
        assert store.counts_by_status(conn, []) == {}
    assert counts == {endpoint: {"pending": 2, "sending": 1, "succeeded": 0, "failed": 0}}
