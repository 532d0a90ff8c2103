"""Idempotency-Key records: one row per (tenant, key) holding the first response."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, one
from crosspost.store.tables import idempotency_keys


# Built once (per dialect): constructing these per call cost more than running them, and
# every creating POST with a key runs them.
@functools.cache
def _claim(dialect: str) -> Prepared:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT … ON CONFLICT.
    return Prepared(
        insert(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key),
        ["tenant_id", "key", "method", "path", "fingerprint", "created_at"],
    )


_THIS_KEY = (
    idempotency_keys.c.tenant_id == sa.bindparam("tenant_id"),
    idempotency_keys.c.key == sa.bindparam("key"),
)
_GET = sa.select(idempotency_keys).where(*_THIS_KEY)
_COMPLETE = Prepared(
    idempotency_keys.update()
    .where(
        idempotency_keys.c.tenant_id == sa.bindparam("b_tenant_id"),
        idempotency_keys.c.key == sa.bindparam("b_key"),
    )
    .values(
        response_status=sa.bindparam("status"),
        response_body=sa.bindparam("body"),
        completed_at=sa.bindparam("now"),
    )
)


def try_insert(
    conn: Connection,
    *,
    tenant_id: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    now: datetime,
) -> bool:
    """Record a new in-flight key; False if the key already exists."""
    values = {
        "tenant_id": tenant_id,
        "key": key,
        "method": method,
        "path": path,
        "fingerprint": fingerprint,
        "created_at": now,
    }
    return _claim(conn.dialect.name).first(conn, values) is not None


def get(conn: Connection, tenant_id: str, key: str) -> Row | None:
    """The record for a key."""
    return one(conn.execute(_GET, {"tenant_id": tenant_id, "key": key}))


def complete(
    conn: Connection, *, tenant_id: str, key: str, status: int, body: bytes, now: datetime
) -> None:
    """Store the response to replay for later requests with the same key."""
    _COMPLETE.execute(
        conn, {"b_tenant_id": tenant_id, "b_key": key, "status": status, "body": body, "now": now}
    )


def release(conn: Connection, tenant_id: str, key: str) -> None:
    """Forget an in-flight key whose request failed before doing anything, so it may be retried."""
    conn.execute(
        idempotency_keys.delete().where(
            idempotency_keys.c.tenant_id == tenant_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.response_status.is_(None),
        )
    )


def takeover_stale(
    conn: Connection,
    *,
    tenant_id: str,
    key: str,
    fingerprint: str,
    stale_before: datetime,
    now: datetime,
) -> bool:
    """Claim an in-flight key abandoned by a crashed request; True if this caller now owns it."""
    result = conn.execute(
        idempotency_keys.update()
        .where(
            idempotency_keys.c.tenant_id == tenant_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.fingerprint == fingerprint,
            idempotency_keys.c.response_status.is_(None),
            idempotency_keys.c.created_at < stale_before,
        )
        .values(created_at=now)
    )
    return result.rowcount == 1


def purge(conn: Connection, *, now: datetime, retention: timedelta) -> int:
    """Delete records older than the retention period; returns how many."""
    result = conn.execute(
        idempotency_keys.delete().where(idempotency_keys.c.created_at < now - retention)
    )
    return int(result.rowcount)
