"""The events feed: a tenant's webhook events of one mode, in `seq` order (commit order, given
at fan-out), optionally of some types or of one post."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import webhook_events

_ev = webhook_events


def page(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str,
    after: int,
    types: Collection[str],
    post_id: str | None,
    limit: int,
) -> list[Row]:
    """Up to `limit` events numbered after `after`, oldest first; those whose body has
    expired are left out (they can no longer be read)."""
    query = (
        sa.select(_ev.c.id, _ev.c.seq, _ev.c.event_type, _ev.c.payload)
        .where(
            _ev.c.tenant_id == tenant_id,
            _ev.c.mode == mode,
            _ev.c.seq > after,
            _ev.c.payload_expired == sa.false(),
            _ev.c.event_type.in_(sorted(types)),
        )
        .order_by(_ev.c.seq)
        .limit(limit)
    )
    if post_id is not None:
        query = query.where(_ev.c.post_id == post_id)
    return every(conn.execute(query))


def position(conn: Connection, *, tenant_id: str, mode: str, event_id: str) -> Row | None:
    """An event's place in the feed (`seq`, null until fanned out), or None when this
    tenant has no such event in this mode."""
    return one(
        conn.execute(
            sa.select(_ev.c.seq).where(
                _ev.c.id == event_id, _ev.c.tenant_id == tenant_id, _ev.c.mode == mode
            )
        )
    )


def last(conn: Connection, *, tenant_id: str, mode: str) -> Row | None:
    """The tenant's newest event in the feed (`id`, `seq`), or None: where "now" is."""
    return one(
        conn.execute(
            sa.select(_ev.c.id, _ev.c.seq)
            .where(_ev.c.tenant_id == tenant_id, _ev.c.mode == mode, _ev.c.seq.is_not(None))
            .order_by(_ev.c.seq.desc())
            .limit(1)
        )
    )


def get(conn: Connection, *, tenant_id: str, mode: str, event_id: str) -> Row | None:
    """One event of this tenant and mode (`payload_expired` says whether its body is
    still kept), or None."""
    return one(
        conn.execute(
            sa.select(_ev.c.id, _ev.c.event_type, _ev.c.payload, _ev.c.payload_expired).where(
                _ev.c.id == event_id, _ev.c.tenant_id == tenant_id, _ev.c.mode == mode
            )
        )
    )
