"""The webhook outbox: an event is a row written in the transaction of the change that
causes it, so none is lost and none is sent for a change that rolled back.

The row holds the exact body that will be sent, `{"type", "timestamp", "data"}` (Standard
Webhooks; `"test": true` added to events sent by hand with example data), and its id
(`msg_…`) is the `webhook-id` every delivery and retry of it carries. Fan-out to the
matching endpoints happens later, in the dispatcher, which also gives each event its place
in the feed (`seq`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.prepared import Prepared
from crosspost.store.tables import webhook_events

_INSERT = Prepared(
    webhook_events.insert(),
    ["id", "tenant_id", "mode", "event_type", "payload", "payload_expired", "fanned_out",
     "created_at", "post_id"],
)  # fmt: skip


def event_body(
    event_type: str, data: Mapping[str, Any], now: datetime, *, test: bool = False
) -> str:
    """The JSON body of an event as receivers get it (`test` marks one sent by hand)."""
    timestamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: dict[str, Any] = {"type": event_type, "timestamp": timestamp, "data": data}
    if test:
        body["test"] = True
    return orjson.dumps(body).decode()


def emit(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str,
    event_type: str,
    data: Mapping[str, Any],
    now: datetime,
    post_id: str | None = None,
    test: bool = False,
) -> str:
    """Record one event in the caller's transaction; returns its id. `post_id` names the
    post it is about (to follow one post in the feed)."""
    return emit_all(
        conn,
        tenant_id=tenant_id,
        mode=mode,
        event_types=[event_type],
        data=data,
        now=now,
        post_id=post_id,
        test=test,
    )[0]


def emit_all(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str,
    event_types: Sequence[str],
    data: Mapping[str, Any],
    now: datetime,
    post_id: str | None = None,
    test: bool = False,
) -> list[str]:
    """`emit` for several events with the same data, in that order, in one statement;
    returns their ids."""
    rows = [
        {
            "id": new_id("msg"),
            "tenant_id": tenant_id,
            "mode": mode,
            "event_type": event_type,
            "payload": event_body(event_type, data, now, test=test),
            "payload_expired": False,
            "fanned_out": False,
            "created_at": now,
            "post_id": post_id,
        }
        for event_type in event_types
    ]
    if rows:
        _INSERT.execute_many(conn, rows)
    return [str(row["id"]) for row in rows]
