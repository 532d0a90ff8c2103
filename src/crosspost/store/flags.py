"""Feature flag rows, and the version that tells every process's cache when to reload.

Each change takes the next version from one reserved row (`VERSION_ROW`, a key no flag can
have) and stamps it on the flag it writes. That row is the high-water mark: unlike
`max(version)` over the flags, it also moves when a flag is deleted, and it never goes back,
so "same version" always means "same flags". Bumping it first also serialises changes (a
row lock on PostgreSQL; SQLite has one writer anyway), so versions never repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crosspost.store import signals
from crosspost.store.rows import Row, every, one
from crosspost.store.tables import feature_flags

CHANNEL = "crosspost_flags"
# Outside the key format ([a-z0-9][a-z0-9._-]*): never a flag's key.
VERSION_ROW = "~version"
# What a change sets; key, version and timestamps are the store's.
FIELDS = ("description", "enabled", "killed", "rollout_percent", "allow_tenants", "deny_tenants")

_T = feature_flags
_FLAGS = sa.select(_T).where(_T.c.key != VERSION_ROW)
_VERSION = sa.select(_T.c.version).where(_T.c.key == VERSION_ROW)
_BUMP = _T.update().where(_T.c.key == VERSION_ROW).values(version=_T.c.version + 1)


def get(conn: Connection, key: str) -> Row | None:
    """One flag's row."""
    if key == VERSION_ROW:
        return None
    return one(conn.execute(sa.select(_T).where(_T.c.key == key)))


def list_all(conn: Connection) -> list[Row]:
    """Every flag's row, by key."""
    return every(conn.execute(_FLAGS.order_by(_T.c.key)))


def current_version(conn: Connection) -> int:
    """The version of the flags as a whole (0 before the first change): one primary-key
    look-up, cheap enough to poll every second."""
    found = conn.execute(_VERSION).scalar()
    return int(found) if found is not None else 0


def load(conn: Connection) -> tuple[int, list[Row]]:
    """Every flag and the version they are at, read by one statement (so consistent)."""
    rows = every(conn.execute(sa.select(_T)))
    version = 0
    flags = []
    for row in rows:
        if row["key"] == VERSION_ROW:
            version = int(row["version"])
        else:
            flags.append(row)
    return version, flags


def claim_version(conn: Connection, now: datetime) -> int:
    """The version for a change in `conn`'s transaction; call it before reading what the
    change depends on, since it also makes concurrent changes wait their turn."""
    start = {
        "key": VERSION_ROW,
        "description": "the flags' version; not a flag",
        "enabled": False,
        "killed": False,
        "rollout_percent": 0,
        "allow_tenants": [],
        "deny_tenants": [],
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(_T).values(start).on_conflict_do_nothing(index_elements=["key"]))
    conn.execute(_BUMP.values(updated_at=now))
    return current_version(conn)


def put(
    conn: Connection, key: str, values: Mapping[str, Any], *, version: int, now: datetime
) -> None:
    """Create or replace a flag (description, enabled, killed, rollout_percent,
    allow_tenants, deny_tenants) at `version`; caches hear of it once the transaction
    commits."""
    fields = {name: values[name] for name in FIELDS}
    fields.update(version=version, updated_at=now)
    changed = conn.execute(_T.update().where(_T.c.key == key).values(fields)).rowcount
    if not changed:
        conn.execute(_T.insert().values(key=key, created_at=now, **fields))
    _announce(conn)


def delete(conn: Connection, key: str) -> bool:
    """Remove a flag; False if there was none."""
    if key == VERSION_ROW:
        return False
    removed = conn.execute(_T.delete().where(_T.c.key == key)).rowcount == 1
    if removed:
        _announce(conn)
    return removed


def _announce(conn: Connection) -> None:
    # In-process caches hear at commit; on PostgreSQL this is a NOTIFY in the same
    # transaction, so other processes hear at commit too, and never of a rollback.
    signals.announce(conn, CHANNEL, {signals.ALL})
