"""The operator's server-level keys: stored as a keyed hash, never tied to a tenant."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.rows import Row, every, one
from crosspost.store.tables_identity import operator_keys


def insert(
    conn: Connection, *, name: str, display_prefix: str, key_hash: str, now: datetime
) -> Row:
    """Store a new operator key's hash; returns its row."""
    row = {
        "id": new_id("opk"),
        "name": name,
        "display_prefix": display_prefix,
        "key_hash": key_hash,
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }
    conn.execute(operator_keys.insert().values(**row))
    return row


def find(conn: Connection, key_hash: str) -> Row | None:
    """The operator key with this hash, if any (revoked ones too)."""
    return one(conn.execute(sa.select(operator_keys).where(operator_keys.c.key_hash == key_hash)))


def touch(conn: Connection, key_id: str, now: datetime) -> None:
    """Record that the key was used."""
    conn.execute(
        operator_keys.update().where(operator_keys.c.id == key_id).values(last_used_at=now)
    )


def every_key(conn: Connection) -> list[Row]:
    """Every operator key, newest first."""
    return every(conn.execute(sa.select(operator_keys).order_by(operator_keys.c.id.desc())))


def revoke(conn: Connection, key_id: str, now: datetime) -> bool:
    """Revoke an operator key; False when there is no such key."""
    result = conn.execute(
        operator_keys.update()
        .where(operator_keys.c.id == key_id)
        .values(revoked_at=sa.func.coalesce(operator_keys.c.revoked_at, now))
    )
    return result.rowcount == 1
