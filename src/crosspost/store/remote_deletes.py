"""The claim on a published target while it is being taken down on its platform.

A delete claims its target before calling the platform, so of two racing deletes only one
calls. The claim is the target's `next_attempt_at` (unused once a target is published): the
time after which a delete that died mid-way may be tried again. Taking a claim is one
conditional update, so it works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.tables import targets

_PUBLISHED = "published"


def claim(conn: Connection, target_id: str, *, now: datetime, until: datetime) -> bool:
    """Claim a published target for a delete until `until`; False when it is not published
    or another delete holds a claim that has not run out."""
    result = conn.execute(
        targets.update()
        .where(
            targets.c.id == target_id,
            targets.c.status == _PUBLISHED,
            sa.or_(targets.c.next_attempt_at.is_(None), targets.c.next_attempt_at <= now),
        )
        .values(next_attempt_at=until, updated_at=now)
    )
    return result.rowcount == 1


def release(conn: Connection, target_id: str, *, until: datetime, now: datetime) -> None:
    """Give up the claim taken `until` then, if it is still ours (one that ran out may have
    been taken by another delete since): the delete did not happen."""
    conn.execute(
        targets.update()
        .where(
            targets.c.id == target_id,
            targets.c.status == _PUBLISHED,
            targets.c.next_attempt_at == until,
        )
        .values(next_attempt_at=None, updated_at=now)
    )
