"""Fan-out: turn outbox events into one pending delivery per matching endpoint.

An event goes to every active endpoint of its tenant and mode whose filter matches its type
(`catalogue.matches`: empty = all, `*`, exact names, `post.*`); a `webhook.test` event goes
only to the endpoint its `data.endpoint_id` names. Rows are inserted with ON CONFLICT DO
NOTHING and the event is then marked `fanned_out`, so a crash in between, or two processes
at once, create each delivery exactly once.

Fan-out also numbers the events for the feed (`seq`, one numberer at a time) and, once its
transaction commits, wakes the event streams of the tenants concerned (`EVENTS_CHANNEL`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

import orjson
from sqlalchemy.engine import Connection

from crosspost.store import signals
from crosspost.store import webhook_deliveries as store
from crosspost.store.rows import Row
from crosspost.webhooks.catalogue import matches

TEST_EVENT = "webhook.test"
EVENTS_CHANNEL = "crosspost_events"  # topics: the tenant ids whose feed grew
log = logging.getLogger("crosspost.webhooks")


def _test_target(event: Row) -> str | None:
    try:
        target = orjson.loads(event["payload"])["data"]["endpoint_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("webhook.test event %s names no endpoint; not delivered", event["id"])
        return None
    return target if isinstance(target, str) else None


def fan_out(conn: Connection, *, now: datetime, limit: int) -> int:
    """Create the deliveries of up to `limit` of the oldest unfanned events, in the caller's
    transaction; returns how many events were handled (none while another process is
    fanning out: it numbers these too)."""
    if not store.claim_sequence(conn):
        return 0
    events = store.unfanned_events(conn, limit)
    if not events:
        return 0
    endpoints: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for endpoint in store.active_endpoints(conn, {e["tenant_id"] for e in events}):
        endpoints[endpoint["tenant_id"], endpoint["mode"]].append(endpoint)
    rows: list[dict[str, object]] = []
    for event in events:
        candidates = endpoints.get((event["tenant_id"], event["mode"]), ())
        if event["event_type"] == TEST_EVENT:
            target = _test_target(event) if event["payload"] is not None else None
            chosen = [e for e in candidates if e["id"] == target]
        else:
            chosen = [e for e in candidates if matches(e["event_types"], event["event_type"])]
        rows.extend(
            {
                "tenant_id": event["tenant_id"],
                "event_id": event["id"],
                "endpoint_id": endpoint["id"],
                "now": now,
            }
            for endpoint in chosen
        )
    store.insert_deliveries(conn, rows)
    store.mark_fanned_out(conn, [e["id"] for e in events])
    signals.announce(conn, EVENTS_CHANNEL, {e["tenant_id"] for e in events})
    return len(events)
