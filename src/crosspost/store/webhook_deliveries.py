"""The webhook delivery queue: fan-out rows, claims under a lease, settling, the attempt log.

A delivery is `pending` until due (`next_attempt_at`), `sending` while a dispatcher holds its
lease (`lease_until`, unique to the claim), then `succeeded` or `failed`. Every write of a
claimed row is fenced on `status = 'sending' AND lease_until = <the claim's lease>`, so a
dispatcher whose lease lapsed (it stalled or died and the row was claimed again) changes
nothing. On PostgreSQL claims take rows `FOR UPDATE SKIP LOCKED`, so any number of
dispatcher processes share the queue; on SQLite the single writer serialises them.

A `pending` row whose `completed_at` is set was re-armed by hand (`resend`, `recover`): its
next attempt is logged as `manual` and, as in Svix, is not retried when it fails.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.errors import Conflict
from crosspost.ids import new_id
from crosspost.store.rows import Row, conflict_insert, every, one
from crosspost.store.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)

PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"
STATUSES = (PENDING, SENDING, SUCCEEDED, FAILED)

_d = webhook_deliveries
_e = webhook_endpoints
_ev = webhook_events
_a = webhook_attempts


# --- fan-out ---------------------------------------------------------------------------


# The hot statements are built once, with expanding parameters for id lists: building them
# per call (and coercing each id of an IN list) cost more than running them.
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_UNFANNED = (
    sa.select(_ev.c.id, _ev.c.tenant_id, _ev.c.mode, _ev.c.event_type, _ev.c.payload)
    .where(_ev.c.fanned_out == sa.false())
    .order_by(_ev.c.created_at, _ev.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
    .with_for_update(skip_locked=True)
)
_MARK_FANNED = (
    _ev.update()
    .where(_ev.c.id == sa.bindparam("key"))
    .values(fanned_out=sa.true(), seq=sa.bindparam("n"))
)
_PG_MARK_FANNED = sa.text(
    """
    UPDATE webhook_events AS e SET fanned_out = true, seq = :base + v.n
    FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS v(id, n)
    WHERE e.id = v.id
    """
)
_LAST_SEQ = sa.select(sa.func.max(_ev.c.seq))
# Any constant of ours: the advisory lock that makes numbering events one writer at a time.
_SEQUENCE_LOCK = 0x63705F736571  # "cp_seq"


def unfanned_events(conn: Connection, limit: int) -> list[Row]:
    """The oldest events not yet fanned out (locked, skipping rows another process holds)."""
    return every(conn.execute(_UNFANNED, {"limit": limit}))


def active_endpoints(conn: Connection, tenant_ids: Collection[str]) -> list[Row]:
    """Active endpoints of these tenants, with their mode and filter.

    On PostgreSQL the rows are share-locked (FOR KEY SHARE) until the transaction ends, so
    an endpoint being deleted is either gone here or waits for the new deliveries and
    deletes them too; neither side fails on the foreign key.
    """
    if not tenant_ids:
        return []
    query = (
        sa.select(_e.c.id, _e.c.tenant_id, _e.c.mode, _e.c.event_types)
        .where(_e.c.tenant_id.in_(sorted(tenant_ids)), _e.c.active == sa.true())
        .order_by(_e.c.id)
        .with_for_update(read=True, key_share=True)
    )
    return every(conn.execute(query))


def insert_deliveries(
    conn: Connection, rows: Sequence[Mapping[str, Any]], *, manual: bool = False
) -> None:
    """New pending deliveries (event_id, endpoint_id, tenant_id, now), due at once; an
    existing (event, endpoint) pair is left alone, so a repeated fan-out adds nothing.

    `manual` marks them as asked for by hand (resend, recover): one attempt, not retried.
    """
    if not rows:
        return
    values = [
        {
            "id": new_id("whd"),
            "tenant_id": row["tenant_id"],
            "event_id": row["event_id"],
            "endpoint_id": row["endpoint_id"],
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": row["now"],
            "created_at": row["now"],
            "updated_at": row["now"],
            "completed_at": row["now"] if manual else None,
        }
        for row in rows
    ]
    if conn.dialect.name == "postgresql":
        # One statement over arrays, as `settle` does.
        columns = ("id", "tenant_id", "event_id", "endpoint_id", "next_attempt_at", "completed_at")
        conn.execute(_PG_INSERT_DELIVERIES, {c: [v[c] for v in values] for c in columns})
        return
    statement = conflict_insert(conn, _d).on_conflict_do_nothing(
        index_elements=[_d.c.event_id, _d.c.endpoint_id]
    )
    conn.execute(statement, values)


_PG_INSERT_DELIVERIES = sa.text(
    """
    INSERT INTO webhook_deliveries (id, tenant_id, event_id, endpoint_id, status, attempts,
        next_attempt_at, created_at, updated_at, completed_at)
    SELECT id, tenant_id, event_id, endpoint_id, 'pending', 0, due, due, due, completed
    FROM unnest(
        CAST(:id AS text[]), CAST(:tenant_id AS text[]), CAST(:event_id AS text[]),
        CAST(:endpoint_id AS text[]), CAST(:next_attempt_at AS timestamptz[]),
        CAST(:completed_at AS timestamptz[])
    ) AS v(id, tenant_id, event_id, endpoint_id, due, completed)
    ON CONFLICT (event_id, endpoint_id) DO NOTHING
    """
)


def claim_sequence(conn: Connection) -> bool:
    """Take, until the transaction ends, the sole right to number events; False when another
    transaction holds it (PostgreSQL, not waited for; on SQLite the one writer has it).

    One numberer at a time, holding the right until its commit, is what makes `seq` follow
    commit order: nobody can commit a number below one a reader has already seen.
    """
    if conn.dialect.name != "postgresql":
        return True
    taken = conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_SEQUENCE_LOCK))).scalar()
    return bool(taken)


def mark_fanned_out(conn: Connection, event_ids: Sequence[str]) -> None:
    """Record that every delivery of these events exists, and number them in this order
    after every event numbered before (the caller holds `claim_sequence`)."""
    if not event_ids:
        return
    base = int(conn.execute(_LAST_SEQ).scalar() or 0)
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_MARK_FANNED, {"base": base, "ids": list(event_ids)})
        return
    conn.execute(
        _MARK_FANNED, [{"key": event_id, "n": base + n} for n, event_id in enumerate(event_ids, 1)]
    )


# --- claiming --------------------------------------------------------------------------

# What choosing a claim needs; the heavy columns (payload, secrets) are read afterwards for
# the rows actually kept (`claim_details`), so rows passed over cost little.
_CANDIDATE_COLUMNS = (
    _d.c.id,
    _d.c.tenant_id,
    _d.c.event_id,
    _d.c.endpoint_id,
    _d.c.attempts,
    _d.c.next_attempt_at,
    _d.c.last_status_code,
    _d.c.last_error,
    _d.c.completed_at,
    _e.c.max_concurrency,
    _e.c.throttle_per_second,
)
_CANDIDATE_FROM = _d.join(_e, _e.c.id == _d.c.endpoint_id)


_DUE = (
    sa.select(*_CANDIDATE_COLUMNS)
    .select_from(_CANDIDATE_FROM)
    .where(
        _d.c.status == PENDING,
        _d.c.next_attempt_at <= sa.bindparam("now"),
        _e.c.active == sa.true(),
        _d.c.endpoint_id.not_in(sa.bindparam("skip", expanding=True)),
    )
    .order_by(_d.c.next_attempt_at)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
    .with_for_update(of=_d, skip_locked=True)
)
_STALE = (
    sa.select(*_CANDIDATE_COLUMNS)
    .select_from(_CANDIDATE_FROM)
    .where(_d.c.status == SENDING, _d.c.lease_until < sa.bindparam("now"), _e.c.active == sa.true())
    .order_by(_d.c.lease_until)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
    .with_for_update(of=_d, skip_locked=True)
)


def due_deliveries(
    conn: Connection, *, now: datetime, limit: int, skip_endpoints: Collection[str] = ()
) -> list[Row]:
    """Pending deliveries due by `now` to active endpoints, oldest first, with their
    endpoint's concurrency and throttle; locked, skipping rows another process holds.

    `skip_endpoints` leaves out endpoints the caller cannot send to now (full or throttled),
    so their backlog does not hide other endpoints' work.
    """
    params = {"now": now, "limit": limit, "skip": sorted(skip_endpoints)}
    return every(conn.execute(_DUE, params))


def stale_deliveries(conn: Connection, *, now: datetime, limit: int) -> list[Row]:
    """Deliveries left `sending` by a dispatcher whose lease has passed (it died or stalled),
    to active endpoints; the same columns as `due_deliveries`."""
    return every(conn.execute(_STALE, {"now": now, "limit": limit}))


_DETAILS = (
    sa.select(
        _d.c.id,
        _ev.c.event_type,
        _ev.c.payload,
        _e.c.mode,
        _e.c.url,
        _e.c.sealed_headers,
        _e.c.secret,
        _e.c.previous_secret,
        _e.c.previous_expires_at,
    )
    .select_from(_d.join(_e, _e.c.id == _d.c.endpoint_id).join(_ev, _ev.c.id == _d.c.event_id))
    .where(_d.c.id.in_(_IDS))
)
_MARK_SENDING = (
    _d.update()
    .where(_d.c.id.in_(_IDS))
    .values(status=SENDING, lease_until=sa.bindparam("lease"), updated_at=sa.bindparam("now"))
)


def claim_details(conn: Connection, ids: Collection[str]) -> dict[str, Row]:
    """What sending needs of each delivery, by id: the event's type and body, the
    endpoint's mode, URL, sealed custom headers and sealed secrets."""
    if not ids:
        return {}
    return {row["id"]: row for row in every(conn.execute(_DETAILS, {"ids": list(ids)}))}


def mark_sending(
    conn: Connection, ids: Collection[str], *, lease_until: datetime, now: datetime
) -> None:
    """Take the claimed rows (already locked by `due_deliveries`/`stale_deliveries` in this
    transaction) under a lease."""
    if ids:
        conn.execute(_MARK_SENDING, {"ids": list(ids), "lease": lease_until, "now": now})


def bound_lock_waits(conn: Connection, milliseconds: int) -> None:
    """On PostgreSQL, fail this transaction's statements that wait longer than this for a
    lock (so a caller that must not stall long never does); nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{milliseconds}ms", True)))


# --- settling --------------------------------------------------------------------------


_HELD = (
    sa.select(_d.c.id, _d.c.lease_until)
    .where(_d.c.id.in_(_IDS), _d.c.status == SENDING)
    .order_by(_d.c.id)
    .with_for_update()
)


def held(conn: Connection, leases: Mapping[str, datetime]) -> set[str]:
    """The ids among `leases` still `sending` under exactly that lease, locked until the
    transaction ends; only those may be settled."""
    if not leases:
        return set()
    rows = conn.execute(_HELD, {"ids": sorted(leases)})
    return {row.id for row in rows if row.lease_until == leases[row.id]}


_SETTLE = (
    _d.update()
    .where(
        _d.c.id == sa.bindparam("b_id"),
        _d.c.status == SENDING,
        _d.c.lease_until == sa.bindparam("b_lease"),
    )
    .values(
        status=sa.bindparam("b_status"),
        attempts=sa.bindparam("b_attempts"),
        next_attempt_at=sa.bindparam("b_next"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        completed_at=sa.bindparam("b_completed"),
        updated_at=sa.bindparam("b_now"),
        lease_until=None,
    )
)


# On PostgreSQL a batch is one statement over arrays (`unnest`), not a statement per row:
# the server plans and runs it once, and the client sends one message (per-row statements
# cost the server more than everything else a delivery asks of it).
_PG_SETTLE = sa.text(
    """
    UPDATE webhook_deliveries AS d
    SET status = v.status, attempts = v.attempts, next_attempt_at = v.next,
        last_status_code = v.code, last_error = v.error, completed_at = v.completed,
        updated_at = v.now, lease_until = NULL
    FROM unnest(
        CAST(:ids AS text[]), CAST(:leases AS timestamptz[]), CAST(:statuses AS text[]),
        CAST(:attempts AS integer[]), CAST(:nexts AS timestamptz[]),
        CAST(:codes AS integer[]), CAST(:errors AS text[]),
        CAST(:completed AS timestamptz[]), CAST(:nows AS timestamptz[])
    ) AS v(id, lease, status, attempts, next, code, error, completed, now)
    WHERE d.id = v.id AND d.status = 'sending' AND d.lease_until = v.lease
    """
)
_PG_ATTEMPTS = sa.text(
    """
    INSERT INTO webhook_attempts (tenant_id, delivery_id, event_id, endpoint_id, attempt,
        trigger, status_code, latency_ms, response_headers, response_body, error, created_at)
    SELECT tenant_id, delivery_id, event_id, endpoint_id, attempt, trigger, status_code,
        latency_ms, CAST(headers AS jsonb), body, error, created_at
    FROM unnest(
        CAST(:tenants AS text[]), CAST(:deliveries AS text[]), CAST(:events AS text[]),
        CAST(:endpoints AS text[]), CAST(:attempts AS integer[]), CAST(:triggers AS text[]),
        CAST(:codes AS integer[]), CAST(:latencies AS float8[]), CAST(:headers AS text[]),
        CAST(:bodies AS text[]), CAST(:errors AS text[]), CAST(:created AS timestamptz[])
    ) AS v(tenant_id, delivery_id, event_id, endpoint_id, attempt, trigger, status_code,
        latency_ms, headers, body, error, created_at)
    """
)


def settle(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write the end of each claim (one statement, many rows), fenced on its lease.

    Each row: id, lease (the claim's lease_until), status, attempts, next_attempt_at,
    last_status_code, last_error, completed_at, now.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = {
            "ids": "id",
            "leases": "lease",
            "statuses": "status",
            "attempts": "attempts",
            "nexts": "next_attempt_at",
            "codes": "last_status_code",
            "errors": "last_error",
            "completed": "completed_at",
            "nows": "now",
        }
        conn.execute(_PG_SETTLE, {name: [r[key] for r in rows] for name, key in columns.items()})
        return
    conn.execute(
        _SETTLE,
        [
            {
                "b_id": row["id"],
                "b_lease": row["lease"],
                "b_status": row["status"],
                "b_attempts": row["attempts"],
                "b_next": row["next_attempt_at"],
                "b_code": row["last_status_code"],
                "b_error": row["last_error"],
                "b_completed": row["completed_at"],
                "b_now": row["now"],
            }
            for row in rows
        ],
    )


def insert_attempts(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append attempts to the log (tenant_id, delivery_id, event_id, endpoint_id, attempt,
    trigger, status_code, latency_ms, response_headers, response_body, error, created_at)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = {
            "tenants": "tenant_id",
            "deliveries": "delivery_id",
            "events": "event_id",
            "endpoints": "endpoint_id",
            "attempts": "attempt",
            "triggers": "trigger",
            "codes": "status_code",
            "latencies": "latency_ms",
            "bodies": "response_body",
            "errors": "error",
            "created": "created_at",
        }
        params: dict[str, list[Any]] = {
            name: [r[key] for r in rows] for name, key in columns.items()
        }
        # As the JSON column stores None: JSON null, not SQL NULL.
        params["headers"] = [json.dumps(r["response_headers"]) for r in rows]
        conn.execute(_PG_ATTEMPTS, params)
        return
    conn.execute(_a.insert(), [dict(row) for row in rows])


def endpoint_streaks(conn: Connection, ids: Collection[str], *, lock: bool = False) -> list[Row]:
    """The failure streak (and what a disable notice needs) of these endpoints; `lock`
    holds the rows until the transaction ends, in id order so processes never deadlock."""
    if not ids:
        return []
    query = (
        sa.select(
            _e.c.id,
            _e.c.tenant_id,
            _e.c.mode,
            _e.c.url,
            _e.c.active,
            _e.c.failing_since,
            _e.c.consecutive_failures,
        )
        .where(_e.c.id.in_(sorted(ids)))
        .order_by(_e.c.id)
    )
    if lock:
        # NO KEY UPDATE: the fan-out's KEY SHARE locks on the same rows do not wait for it.
        query = query.with_for_update(key_share=True)
    return every(conn.execute(query))


_STREAK = (
    _e.update()
    .where(_e.c.id == sa.bindparam("b_id"))
    .values(
        failing_since=sa.bindparam("b_since"),
        consecutive_failures=sa.bindparam("b_count"),
        updated_at=sa.bindparam("b_now"),
    )
)


def set_streaks(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store endpoints' failure streaks (id, failing_since, consecutive_failures, now)."""
    if rows:
        conn.execute(
            _STREAK,
            [
                {
                    "b_id": row["id"],
                    "b_since": row["failing_since"],
                    "b_count": row["consecutive_failures"],
                    "b_now": row["now"],
                }
                for row in rows
            ],
        )


def disable_endpoint(conn: Connection, endpoint_id: str, *, reason: str, now: datetime) -> bool:
    """Turn an active endpoint off with a reason; False when it was not active."""
    result = conn.execute(
        _e.update()
        .where(_e.c.id == endpoint_id, _e.c.active == sa.true())
        .values(active=False, disabled_reason=reason, updated_at=now)
    )
    return result.rowcount == 1


# --- retention -------------------------------------------------------------------------


def expire_payloads(
    conn: Connection, now: datetime, retention_days: int, shorter: Mapping[str, int] | None = None
) -> int:
    """Drop the bodies of events older than the retention period (they can no longer be
    sent or resent), or than a tenant's own shorter one (`shorter`: tenant id → days);
    returns how many were dropped."""
    dropped = 0
    cutoffs = [(None, retention_days), *(shorter or {}).items()]
    for tenant_id, days in cutoffs:
        query = _ev.update().where(
            _ev.c.created_at < now - timedelta(days=days), _ev.c.payload_expired == sa.false()
        )
        if tenant_id is not None:
            query = query.where(_ev.c.tenant_id == tenant_id)
        dropped += int(conn.execute(query.values(payload=None, payload_expired=True)).rowcount)
    return dropped


# --- the API's views and actions -------------------------------------------------------


def list_deliveries(
    conn: Connection,
    tenant_id: str,
    endpoint_id: str,
    *,
    status: str | None = None,
    before_id: str | None = None,
    limit: int,
) -> list[Row]:
    """A page of an endpoint's deliveries, newest first, older than `before_id`; each row
    also carries its event's `event_type` and `event_created_at`."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = (
        sa.select(
            _d,
            _ev.c.event_type.label("event_type"),
            _ev.c.created_at.label("event_created_at"),
        )
        .select_from(_d.join(_ev, _ev.c.id == _d.c.event_id))
        .where(_d.c.tenant_id == tenant_id, _d.c.endpoint_id == endpoint_id)
    )
    if status is not None:
        query = query.where(_d.c.status == status)
    if before_id is not None:
        query = query.where(_d.c.id < before_id)
    return every(conn.execute(query.order_by(_d.c.id.desc()).limit(limit)))


def list_attempts(conn: Connection, tenant_id: str, event_id: str, limit: int) -> list[Row]:
    """An event's delivery attempts to every endpoint, newest first."""
    query = (
        sa.select(_a)
        .where(_a.c.tenant_id == tenant_id, _a.c.event_id == event_id)
        .order_by(_a.c.id.desc())
        .limit(limit)
    )
    return every(conn.execute(query))


def get_delivery(conn: Connection, tenant_id: str, event_id: str, endpoint_id: str) -> Row | None:
    """The delivery of an event to an endpoint, if any."""
    return one(
        conn.execute(
            sa.select(_d).where(
                _d.c.tenant_id == tenant_id,
                _d.c.event_id == event_id,
                _d.c.endpoint_id == endpoint_id,
            )
        )
    )


def _expired(event_id: str) -> Conflict:
    return Conflict(
        f"event {event_id!r} is older than the payload retention period and its body has "
        "been deleted, so it cannot be sent again; raise CROSSPOST_WEBHOOK_PAYLOAD_RETENTION_"
        "DAYS to keep future events longer",
        code="event_payload_expired",
    )


def resend(
    conn: Connection, tenant_id: str, endpoint_id: str, event_id: str, now: datetime
) -> Row | None:
    """Send an event to an endpoint again, now: a finished delivery is re-armed, a missing
    one created, a pending one brought forward (one already sending is left to finish).

    Returns the delivery row, or None when the tenant has no such event or no such endpoint
    in the event's mode. Raises `Conflict` (`event_payload_expired`) when the event's body
    is past retention.
    """
    event = one(
        conn.execute(
            sa.select(_ev.c.id, _ev.c.mode, _ev.c.payload_expired).where(
                _ev.c.id == event_id, _ev.c.tenant_id == tenant_id
            )
        )
    )
    if event is None:
        return None
    endpoint = one(
        conn.execute(
            sa.select(_e.c.id)
            .where(_e.c.id == endpoint_id, _e.c.tenant_id == tenant_id, _e.c.mode == event["mode"])
            .with_for_update(read=True, key_share=True)
        )
    )
    if endpoint is None:
        return None
    if event["payload_expired"]:
        raise _expired(event_id)
    where = (_d.c.event_id == event_id, _d.c.endpoint_id == endpoint_id)
    current = one(conn.execute(sa.select(_d.c.status).where(*where).with_for_update()))
    if current is None:
        missing = {"tenant_id": tenant_id, "event_id": event_id, "endpoint_id": endpoint_id}
        insert_deliveries(conn, [{**missing, "now": now}], manual=True)
    elif current["status"] in (SUCCEEDED, FAILED):
        conn.execute(
            _d.update()
            .where(*where)
            .values(status=PENDING, next_attempt_at=now, lease_until=None, updated_at=now)
        )
    elif current["status"] == PENDING:
        conn.execute(_d.update().where(*where).values(next_attempt_at=now, updated_at=now))
    return get_delivery(conn, tenant_id, event_id, endpoint_id)


def _filter(patterns: Sequence[str]) -> sa.ColumnElement[bool]:
    # An endpoint's event filter in SQL: empty or `*` = all, exact names, `prefix.*`.
    if not patterns or "*" in patterns:
        return sa.true()
    exact = [p for p in patterns if not p.endswith(".*")]
    prefixes = [p[:-1] for p in patterns if p.endswith(".*")]
    return sa.or_(
        _ev.c.event_type.in_(exact),
        *(_ev.c.event_type.startswith(prefix, autoescape=True) for prefix in prefixes),
    )


def recover(
    conn: Connection,
    tenant_id: str,
    endpoint_id: str,
    since: datetime,
    now: datetime,
    *,
    until: datetime | None = None,
) -> int:
    """Send an endpoint, again and now, what it missed among the events created in
    [since, until) whose body is still kept: its failed deliveries, and the events its
    filter matches that it never got (emitted while it was disabled). Returns how many
    deliveries will go out, each as one manual attempt; 0 for another tenant's endpoint.
    """
    endpoint = one(
        conn.execute(
            sa.select(_e.c.mode, _e.c.event_types, _e.c.created_at)
            .where(_e.c.id == endpoint_id, _e.c.tenant_id == tenant_id)
            .with_for_update(read=True, key_share=True)
        )
    )
    if endpoint is None:
        return 0
    window = [
        _ev.c.tenant_id == tenant_id,
        _ev.c.mode == endpoint["mode"],
        _ev.c.created_at >= since,
        _ev.c.payload_expired == sa.false(),
    ]
    if until is not None:
        window.append(_ev.c.created_at < until)
    events = sa.select(_ev.c.id).where(*window)
    rearmed = conn.execute(
        _d.update()
        .where(
            _d.c.tenant_id == tenant_id,
            _d.c.endpoint_id == endpoint_id,
            _d.c.status == FAILED,
            _d.c.event_id.in_(events.scalar_subquery()),
        )
        .values(status=PENDING, next_attempt_at=now, lease_until=None, updated_at=now)
    ).rowcount
    delivered = sa.select(_d.c.event_id).where(_d.c.endpoint_id == endpoint_id)
    missed: Iterable[str] = conn.execute(
        sa.select(_ev.c.id).where(
            *window,
            # Not before the endpoint existed, not still waiting for fan-out, and never
            # another endpoint's test event.
            _ev.c.created_at >= endpoint["created_at"],
            _ev.c.fanned_out == sa.true(),
            _ev.c.event_type != "webhook.test",
            _filter(endpoint["event_types"] or []),
            _ev.c.id.not_in(delivered.scalar_subquery()),
        )
    ).scalars()
    rows = [
        {"tenant_id": tenant_id, "event_id": event_id, "endpoint_id": endpoint_id, "now": now}
        for event_id in missed
    ]
    insert_deliveries(conn, rows, manual=True)
    return int(rearmed) + len(rows)


def counts_by_status(conn: Connection, endpoint_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """How many deliveries of each endpoint are in each status (for dashboards and tests)."""
    ids = sorted(set(endpoint_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(_d.c.endpoint_id, _d.c.status, sa.func.count())
        .where(_d.c.endpoint_id.in_(ids))
        .group_by(_d.c.endpoint_id, _d.c.status)
    )
    found: dict[str, dict[str, int]] = {i: dict.fromkeys(STATUSES, 0) for i in ids}
    for row in rows:
        found[str(row[0])][str(row[1])] = int(row[2])
    return found
