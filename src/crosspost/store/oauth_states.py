"""OAuth connections in progress (one row per consent page handed out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, one
from crosspost.store.tables import oauth_states


def insert_state(conn: Connection, **values: Any) -> None:
    """Record a connection in progress."""
    conn.execute(oauth_states.insert().values(**values))


def take_state(conn: Connection, state_hash: str, now: datetime) -> Row | None:
    """The pending connection with this state, marked used by the same statement so a
    replayed callback finds nothing; None if unknown or already used."""
    return one(
        conn.execute(
            oauth_states.update()
            .where(oauth_states.c.state_hash == state_hash, oauth_states.c.used_at.is_(None))
            .values(used_at=now)
            .returning(*oauth_states.c)
        )
    )
