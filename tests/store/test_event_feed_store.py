"""The events feed's storage on SQLite and PostgreSQL: fan-out numbers events in commit order
and wakes subscribers only after commit; migration 0009 numbers and attributes old events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
import sqlalchemy as sa

from crosspost.store import migrate, signals
from crosspost.store.db import Database
from crosspost.store.tables import tenants, webhook_events
from crosspost.webhooks import outbox
from crosspost.webhooks.fanout import EVENTS_CHANNEL, fan_out

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def migrated(db: Database) -> Database:
    """A database with every table and one tenant."""
    with db.write() as conn:
        conn.execute(
            tenants.insert(), {"id": "ten_a", "name": "a", "is_default": False, "created_at": NOW}
        )
    return db


def _emit(db: Database, event_type: str = "post.created", post_id: str | None = None) -> str:
    with db.write() as conn:
        return outbox.emit(
            conn,
            tenant_id="ten_a",
            mode="test",
            event_type=event_type,
            data={},
            now=NOW,
            post_id=post_id,
        )


def _seqs(db: Database) -> dict[str, int | None]:
    with db.read() as conn:
        rows = conn.execute(sa.select(webhook_events.c.id, webhook_events.c.seq)).all()
    return {row[0]: row[1] for row in rows}


def test_fan_out_numbers_events_after_every_number_given(migrated: Database) -> None:
    """Each fan-out numbers its events after all numbered before, in id order; an event
    committed late (after a later one was numbered) is numbered after it, never behind."""
    first = [_emit(migrated) for _ in range(3)]
    with migrated.write() as conn:
        assert fan_out(conn, now=NOW, limit=10) == 3
    late = _emit(migrated)
    with migrated.write() as conn:
        fan_out(conn, now=NOW, limit=10)
    seqs = _seqs(migrated)
    assert [seqs[e] for e in first] == sorted(seqs[e] for e in first)  # type: ignore[type-var]
    assert seqs[late] == max(seqs[e] for e in first) + 1  # type: ignore[type-var,operator]


def test_subscribers_hear_only_after_the_commit(migrated: Database) -> None:
    """A fan-out wakes `EVENTS_CHANNEL` subscribers with the tenants concerned once its
    transaction commits; one that rolls back wakes nobody."""
    heard: list[frozenset[str]] = []
    woken = threading.Event()

    def subscriber(topics: frozenset[str]) -> None:
        if topics != {signals.ALL}:  # a PostgreSQL listener (re)connecting wakes everyone
            heard.append(topics)
            woken.set()

    undo = migrated.signals.subscribe(EVENTS_CHANNEL, subscriber)

    def fan_out_then_fail() -> None:
        with migrated.write() as conn:
            fan_out(conn, now=NOW, limit=10)
            assert heard == []  # not before the commit
            raise RuntimeError("roll back")

    try:
        _emit(migrated)
        with pytest.raises(RuntimeError):
            fan_out_then_fail()
        assert heard == []
        with migrated.write() as conn:
            fan_out(conn, now=NOW, limit=10)
        assert woken.wait(5)
        assert heard[0] == {"ten_a"}
    finally:
        undo()


@pytest.fixture
def empty(empty_database_url: str) -> Iterator[Database]:
    """A database without any table."""
    database = Database(empty_database_url)
    yield database
    database.dispose()


def test_migration_0009_numbers_and_attributes_existing_events(empty: Database) -> None:
    """Events written before the feed existed get places in creation order (those not yet
    fanned out wait for the dispatcher) and the post their body names."""
    db = empty
    migrate.upgrade(db, "0008")
    bodies = [
        ("msg_1", "post.created", {"post": {"id": "post_1"}}, True),
        ("msg_2", "target.published", {"target": {"post_id": "post_1"}}, True),
        ("msg_3", "usage.threshold", {"metric": "posts"}, True),
        ("msg_4", "post.failed", {"post": {"id": "post_2"}}, False),
    ]
    with db.write() as conn:
        conn.execute(
            tenants.insert(), {"id": "ten_a", "name": "a", "is_default": False, "created_at": NOW}
        )
        for event_id, event_type, data, fanned in bodies:
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_events (id, tenant_id, mode, event_type, payload, "
                    "payload_expired, fanned_out, created_at) VALUES (:id, 'ten_a', 'test', "
                    ":type, :payload, false, :fanned, :at)"
                ),
                {
                    "id": event_id,
                    "type": event_type,
                    "payload": orjson.dumps({"type": event_type, "data": data}).decode(),
                    "fanned": fanned,
                    "at": NOW,
                },
            )
    migrate.upgrade(db)
    with db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events.c.id, webhook_events.c.seq, webhook_events.c.post_id).order_by(
                webhook_events.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("msg_1", 1, "post_1"),
        ("msg_2", 2, "post_1"),
        ("msg_3", 3, None),
        ("msg_4", None, "post_2"),
    ]
