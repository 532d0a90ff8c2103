"""A tenant's history in a range of creation times: posts, ledger events or audit events,
in id order (ids sort by creation), read in batches for exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every
from crosspost.store.tables import ledger_events, posts
from crosspost.store.tables_identity import audit_events

TABLES = {"posts": posts, "ledger": ledger_events, "audit": audit_events}


def _between(
    query: sa.Select[Any], table: sa.Table, tenant_id: str, since: datetime | None, until: datetime
) -> sa.Select[Any]:
    query = query.where(table.c.tenant_id == tenant_id, table.c.created_at < until)
    return query if since is None else query.where(table.c.created_at >= since)


def count(
    conn: Connection, kind: str, tenant_id: str, since: datetime | None, until: datetime
) -> int:
    """How many rows of `kind` (posts, ledger, audit) the tenant created in [since, until)."""
    table = TABLES[kind]
    query = _between(sa.select(sa.func.count()).select_from(table), table, tenant_id, since, until)
    return int(conn.execute(query).scalar_one())


def batch(
    conn: Connection,
    kind: str,
    tenant_id: str,
    since: datetime | None,
    until: datetime,
    *,
    after_id: str | None,
    limit: int,
) -> list[Row]:
    """Up to `limit` rows of `kind` created in [since, until), oldest first, after
    `after_id`."""
    table = TABLES[kind]
    query = _between(sa.select(table), table, tenant_id, since, until)
    if after_id is not None:
        query = query.where(table.c.id > after_id)
    return every(conn.execute(query.order_by(table.c.id).limit(limit)))
