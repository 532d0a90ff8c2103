"""The append-only ledger: every transition of every post, with its time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every
from crosspost.store.tables import ledger_events

_INSERT = Prepared(
    ledger_events.insert(),
    [
        "id",
        "tenant_id",
        "post_id",
        "target_id",
        "account_id",
        "distribution_id",
        "event_type",
        "data",
        "created_at",
    ],
)


def append_event(
    conn: Connection,
    *,
    tenant_id: str,
    event_type: str,
    now: datetime,
    post_id: str | None = None,
    target_id: str | None = None,
    account_id: str | None = None,
    distribution_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> str:
    """Append one event in the caller's transaction."""
    event_id = new_id("evt")
    _INSERT.execute(
        conn,
        {
            "id": event_id,
            "tenant_id": tenant_id,
            "post_id": post_id,
            "target_id": target_id,
            "account_id": account_id,
            "distribution_id": distribution_id,
            "event_type": event_type,
            "data": dict(data or {}),
            "created_at": now,
        },
    )
    return event_id


def list_events(conn: Connection, tenant_id: str, post_id: str) -> list[Row]:
    """A post's events in the order they happened."""
    rows = conn.execute(
        sa.select(ledger_events)
        .where(ledger_events.c.tenant_id == tenant_id, ledger_events.c.post_id == post_id)
        .order_by(ledger_events.c.id)
    )
    return every(rows)


def list_account_events(conn: Connection, tenant_id: str, account_id: str) -> list[Row]:
    """An account's events (connection, refresh, reauth, publishes) in order."""
    rows = conn.execute(
        sa.select(ledger_events)
        .where(ledger_events.c.tenant_id == tenant_id, ledger_events.c.account_id == account_id)
        .order_by(ledger_events.c.id)
    )
    return every(rows)


def list_distribution_events(conn: Connection, tenant_id: str, distribution_id: str) -> list[Row]:
    """A distribution's steps in the order they happened."""
    rows = conn.execute(
        sa.select(ledger_events)
        .where(
            ledger_events.c.tenant_id == tenant_id,
            ledger_events.c.distribution_id == distribution_id,
        )
        .order_by(ledger_events.c.id)
    )
    return every(rows)
