"""Exports: a tenant's requests for a file of its history, and their progress."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import exports

# Statuses an export holds while its job may still write it.
ACTIVE = ("queued", "running")


def insert_export(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one export row."""
    conn.execute(exports.insert(), dict(values))


def get_export(conn: Connection, tenant_id: str, export_id: str) -> Row | None:
    """A tenant's export (another tenant's id finds nothing)."""
    return one(
        conn.execute(
            sa.select(exports).where(exports.c.id == export_id, exports.c.tenant_id == tenant_id)
        )
    )


def list_exports(
    conn: Connection, tenant_id: str, *, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's exports, newest first, older than `before_id`."""
    query = sa.select(exports).where(exports.c.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(exports.c.id < before_id)
    return every(conn.execute(query.order_by(exports.c.id.desc()).limit(limit)))


def count_active(conn: Connection, tenant_id: str) -> int:
    """How many of the tenant's exports are queued or running."""
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(exports)
            .where(exports.c.tenant_id == tenant_id, exports.c.status.in_(ACTIVE))
        ).scalar_one()
    )


def update_export(
    conn: Connection,
    export_id: str,
    values: Mapping[str, Any],
    *,
    only_if_status: tuple[str, ...] = ACTIVE,
) -> bool:
    """Change an export still in one of `only_if_status`; False when it is not (any more)."""
    result = conn.execute(
        exports.update()
        .where(exports.c.id == export_id, exports.c.status.in_(only_if_status))
        .values(**values)
    )
    return result.rowcount == 1


def expired_exports(conn: Connection, *, now: datetime, limit: int) -> list[Row]:
    """Ready exports whose retention has passed."""
    return every(
        conn.execute(
            sa.select(exports)
            .where(exports.c.status == "ready", exports.c.expires_at <= now)
            .order_by(exports.c.expires_at)
            .limit(limit)
        )
    )
