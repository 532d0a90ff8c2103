"""Rows of the per-request API analytics: batched inserts, range reads and retention."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.tables import api_analytics

# Prepared (store/prepared): a flush writes hundreds of rows a second, and the Python work
# of each holds the GIL against the API's event loop.
_INSERT = Prepared(
    api_analytics.insert(),
    ["tenant_id", "key_id", "endpoint", "method", "status", "latency_ms", "request_bytes",
     "response_bytes", "created_at"],
)  # fmt: skip
_STREAM_ROWS = 5_000


def insert_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert a batch of request rows (each with every column `_INSERT` names) in one
    executemany."""
    _INSERT.execute_many(conn, rows)


def iter_range(
    conn: Connection, tenant_id: str, start: datetime, end: datetime
) -> Iterator[sa.Row[Any]]:
    """A tenant's rows with start <= created_at < end, streamed (a month can be large).

    Each row has tenant_id, key_id, endpoint, method, status, latency_ms, request_bytes,
    response_bytes.
    """
    query = sa.select(
        api_analytics.c.tenant_id,
        api_analytics.c.key_id,
        api_analytics.c.endpoint,
        api_analytics.c.method,
        api_analytics.c.status,
        api_analytics.c.latency_ms,
        api_analytics.c.request_bytes,
        api_analytics.c.response_bytes,
    ).where(
        api_analytics.c.tenant_id == tenant_id,
        api_analytics.c.created_at >= start,
        api_analytics.c.created_at < end,
    )
    result = conn.execution_options(yield_per=_STREAM_ROWS).execute(query)
    yield from result


def purge_tenant(conn: Connection, tenant_id: str, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` of one tenant's rows older than `before`; how many went."""
    query = (
        sa.select(api_analytics.c.id)
        .where(api_analytics.c.tenant_id == tenant_id, api_analytics.c.created_at < before)
        .limit(limit)
    )
    old: list[int] = list(conn.execute(query).scalars())
    if old:
        conn.execute(api_analytics.delete().where(api_analytics.c.id.in_(old)))
    return len(old)


def purge_oldest(conn: Connection, *, before: datetime, limit: int) -> tuple[int, bool]:
    """Delete up to `limit` rows older than `before`, oldest ids first.

    Reads only the head of the primary key, so it costs the same on a table of any size.
    Ids follow time (rows are inserted as they are flushed), so the head holds the oldest
    rows. Returns (rows deleted, whether more old rows may follow).
    """
    head = conn.execute(
        sa.select(api_analytics.c.id, api_analytics.c.created_at)
        .order_by(api_analytics.c.id)
        .limit(limit)
    ).all()
    old = [r.id for r in head if r.created_at < before]
    if old:
        conn.execute(api_analytics.delete().where(api_analytics.c.id.in_(old)))
    # Stop at the first young row: rows behind it were flushed later and are younger, bar a
    # few seconds of disorder between API processes, which the next run catches.
    return len(old), len(old) == len(head) == limit
