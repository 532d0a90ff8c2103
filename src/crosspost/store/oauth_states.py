"""OAuth connections in progress (one row per consent page handed out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, one
from crosspost.store.tables import oauth_states


def insert_state(conn: Connection, **values: Any) -> None:
    """Record a connection in progress."""
    conn.execute(oauth_states.insert().values(**values))


def take_state(conn: Connection, state_hash: str, now: datetime) -> Row | None:
    """The pending connection with this state, marked used in the same statement's
    transaction so a replayed callback finds nothing; None if unknown or already used."""
    row = one(
        conn.execute(
            sa.select(oauth_states).where(
                oauth_states.c.state_hash == state_hash, oauth_states.c.used_at.is_(None)
            )
        )
    )
    if row is None:
        return None
    taken = conn.execute(
        oauth_states.update()
        .where(oauth_states.c.state_hash == state_hash, oauth_states.c.used_at.is_(None))
        .values(used_at=now)
    )
    return row if taken.rowcount == 1 else None
