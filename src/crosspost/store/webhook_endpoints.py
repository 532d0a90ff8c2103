"""Webhook endpoints: where a tenant's events go, per mode (test or live)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import webhook_deliveries, webhook_endpoints, webhook_events

_INSERT = webhook_endpoints.insert()
# What a caller may change; id, tenant and mode are fixed for an endpoint's life.
_UPDATABLE = frozenset(
    {
        "url",
        "description",
        "event_types",
        "headers",
        "sealed_headers",
        "active",
        "disabled_reason",
        "throttle_per_second",
        "max_concurrency",
        "secret",
        "previous_secret",
        "previous_expires_at",
        "failing_since",
        "consecutive_failures",
        "updated_at",
    }
)


def insert_endpoint(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one endpoint row (the caller seals its secret first)."""
    conn.execute(_INSERT, dict(values))


def count_endpoints(conn: Connection, tenant_id: str) -> int:
    """How many endpoints a tenant has, in every mode."""
    found = conn.execute(
        sa.select(sa.func.count())
        .select_from(webhook_endpoints)
        .where(webhook_endpoints.c.tenant_id == tenant_id)
    ).scalar()
    return int(found or 0)


def get_endpoint(
    conn: Connection, tenant_id: str, mode: str | None, endpoint_id: str, *, lock: bool = False
) -> Row | None:
    """An endpoint of a tenant in one mode, or in any when `mode` is None (another tenant's
    or mode's id finds nothing); `lock` holds its row until the transaction ends."""
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.tenant_id == tenant_id
    )
    if mode is not None:
        query = query.where(webhook_endpoints.c.mode == mode)
    if lock:
        query = query.with_for_update()
    return one(conn.execute(query))


def list_endpoints(
    conn: Connection, tenant_id: str, mode: str | None, *, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's endpoints in one mode (or all when None), newest first, older
    than `before_id`."""
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.tenant_id == tenant_id)
    if mode is not None:
        query = query.where(webhook_endpoints.c.mode == mode)
    if before_id is not None:
        query = query.where(webhook_endpoints.c.id < before_id)
    return every(conn.execute(query.order_by(webhook_endpoints.c.id.desc()).limit(limit)))


def update_endpoint(
    conn: Connection, tenant_id: str, endpoint_id: str, values: Mapping[str, Any]
) -> bool:
    """Change an endpoint's columns; False when the tenant has no such endpoint."""
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    result = conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.tenant_id == tenant_id)
        .values(**values)
    )
    return result.rowcount == 1


def delete_endpoint(conn: Connection, tenant_id: str, endpoint_id: str) -> bool:
    """Delete an endpoint and its delivery queue; attempts stay as history.

    False when the tenant has no such endpoint.
    """
    conn.execute(
        webhook_deliveries.delete().where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.tenant_id == tenant_id,
        )
    )
    result = conn.execute(
        webhook_endpoints.delete().where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.tenant_id == tenant_id
        )
    )
    return result.rowcount == 1


def unsealed_header_rows(conn: Connection) -> list[Row]:
    """Endpoints whose custom headers are not sealed (none, or written before sealing)."""
    return every(
        conn.execute(
            sa.select(
                webhook_endpoints.c.id, webhook_endpoints.c.tenant_id, webhook_endpoints.c.headers
            ).where(webhook_endpoints.c.sealed_headers.is_(None))
        )
    )


def event_mode(conn: Connection, tenant_id: str, event_id: str) -> str | None:
    """The mode of a tenant's event, or None when the tenant has no such event."""
    found = conn.execute(
        sa.select(webhook_events.c.mode).where(
            webhook_events.c.id == event_id, webhook_events.c.tenant_id == tenant_id
        )
    ).scalar()
    return str(found) if found is not None else None
