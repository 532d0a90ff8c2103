"""The audit log's rows: appended in the transaction of the act they record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.rows import Row, every
from crosspost.store.tables import max_length
from crosspost.store.tables_identity import audit_events


def append(conn: Connection, event: Mapping[str, Any], now: datetime) -> str:
    """Append one event (tenant_id, actor_type, actor_id, action, target_type, target_id,
    data, ip); returns its id."""
    event_id = new_id("aud")
    ip = event.get("ip")
    conn.execute(
        audit_events.insert().values(
            id=event_id,
            tenant_id=event.get("tenant_id"),
            actor_type=event["actor_type"],
            actor_id=event.get("actor_id"),
            action=event["action"],
            target_type=event.get("target_type"),
            target_id=event.get("target_id"),
            data=event.get("data"),
            ip=ip[: max_length(audit_events.c.ip)] if ip else None,
            created_at=now,
        )
    )
    return event_id


def page(
    conn: Connection,
    tenant_id: str | None,
    *,
    limit: int,
    after: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Row]:
    """A tenant's events (server-level ones for None), newest first, up to `limit` rows
    older than the cursor id `after`."""
    query = sa.select(audit_events).where(
        audit_events.c.tenant_id == tenant_id
        if tenant_id is not None
        else audit_events.c.tenant_id.is_(None)
    )
    if after is not None:
        query = query.where(audit_events.c.id < after)
    if action is not None:
        # A family (`key.`) or one action (`key.created`).
        if action.endswith("."):
            query = query.where(audit_events.c.action.startswith(action, autoescape=True))
        else:
            query = query.where(audit_events.c.action == action)
    if actor_id is not None:
        query = query.where(audit_events.c.actor_id == actor_id)
    if target_id is not None:
        query = query.where(audit_events.c.target_id == target_id)
    if since is not None:
        query = query.where(audit_events.c.created_at >= since)
    if until is not None:
        query = query.where(audit_events.c.created_at < until)
    return every(conn.execute(query.order_by(audit_events.c.id.desc()).limit(limit)))


def delete_for_tenant(conn: Connection, tenant_id: str) -> int:
    """Remove a purged tenant's events; how many."""
    result = conn.execute(audit_events.delete().where(audit_events.c.tenant_id == tenant_id))
    return int(result.rowcount)
