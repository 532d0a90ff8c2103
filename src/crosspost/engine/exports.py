"""Exports: a tenant's history, posts (each with its targets) or the ledger, written to one
file in media storage by the `export.v1` job, then announced with `data_export.ready`.

The job may die at any instruction and run again: it writes the whole file under a temp
name, renames it into place when complete, and marks the export ready together with its
`data_export.ready` event in one fenced transaction. A re-run rewrites the file from the
start, so the file is complete exactly when the export says `ready`, and the event is sent
once.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy.engine import Connection

from crosspost.engine.services import Services
from crosspost.engine.views import post_public
from crosspost.errors import Conflict, Gone, InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.context import describe_error
from crosspost.jobs.store import LeaseLost
from crosspost.store import exports as store
from crosspost.store import history, posts
from crosspost.store.rows import Row
from crosspost.usage import metering
from crosspost.usage.metering import UsageWarning
from crosspost.webhooks import outbox

KIND = "export.v1"
KINDS = tuple(history.TABLES)  # posts, ledger, audit
FORMATS = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
# What an export counts: posts (a CSV has one row per target) or ledger events.
COUNTED = {"posts": "post(s)", "ledger": "ledger event(s)", "audit": "audit event(s)"}

log = logging.getLogger("crosspost.exports")

POST_COLUMNS = (
    "post_id",
    "post_status",
    "mode",
    "text",
    "media_id",
    "publish_at",
    "timezone",
    "post_created_at",
    "target_id",
    "platform",
    "account_id",
    "target_status",
    "attempts",
    "external_id",
    "external_url",
    "published_at",
    "error_kind",
    "error_code",
    "error_message",
)
LEDGER_COLUMNS = ("id", "created_at", "event_type", "post_id", "target_id", "account_id", "data")
AUDIT_COLUMNS = ("id", "created_at", "action", "actor_type", "actor_id", "target_type",
                 "target_id", "ip", "data")  # fmt: skip
_COLUMNS = {"posts": POST_COLUMNS, "ledger": LEDGER_COLUMNS, "audit": AUDIT_COLUMNS}
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such cells get a leading apostrophe, which spreadsheets hide and scripts can strip.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportSpec:
    """What to export, already checked."""

    kind: str
    format: str
    since: datetime | None
    until: datetime


def export_spec(
    *, kind: str, format: str, since: datetime | None, until: datetime | None, now: datetime
) -> ExportSpec:
    """Check a request (422 with a precise code); `until` is at most now, and defaults to it."""
    if kind not in KINDS:
        raise InvalidInput(
            f"kind {kind!r} is not exportable; choose one of {', '.join(KINDS)}",
            code="invalid_export_kind",
        )
    if format not in FORMATS:
        raise InvalidInput(
            f"format {format!r} is not supported; choose one of {', '.join(FORMATS)}",
            code="invalid_export_format",
        )
    # Nothing can be created after now yet: a later `until` would promise rows that a
    # finished file cannot hold.
    end = now if until is None or until > now else until
    if since is not None and since >= end:
        raise InvalidInput(
            f"since ({since.isoformat()}) must be before until ({end.isoformat()}, which is "
            "never later than now)",
            code="invalid_export_range",
        )
    return ExportSpec(kind, format, since, end)


def create_export(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    mode: str,
    spec: ExportSpec,
    now: datetime,
) -> tuple[Row, list[UsageWarning]]:
    """Record a queued export, count it (402 past the `exports` quota) and enqueue its job,
    in the caller's transaction; returns it and any soft-limit warnings."""
    active = store.count_active(conn, tenant_id)
    limit = svc.settings.export_max_active
    if active >= limit:
        raise Conflict(
            f"{active} exports are already queued or running (at most {limit} at once); "
            "wait for one to finish",
            code="too_many_exports",
        )
    values: Row = {
        "id": new_id("exp"),
        "tenant_id": tenant_id,
        "mode": mode,
        "kind": spec.kind,
        "format": spec.format,
        "since": spec.since,
        "until": spec.until,
        "status": "queued",
        "rows_total": None,
        "rows_done": 0,
        "bytes": None,
        "sha256": None,
        "storage_key": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
        "expires_at": None,
    }
    warnings = metering.meter(
        conn, tenant_id=tenant_id, key_id=key_id, amounts={metering.EXPORTS: 1}, now=now
    )
    store.insert_export(conn, values)
    svc.jobs.enqueue(conn, KIND, {"export_id": values["id"], "tenant_id": tenant_id}, run_at=now)
    return values, warnings


def get_export(conn: Connection, *, tenant_id: str, export_id: str) -> Row:
    """A tenant's export, or 404."""
    row = store.get_export(conn, tenant_id, export_id)
    if row is None:
        raise NotFound(f"no export {export_id!r}", code="export_not_found")
    return row


def downloadable(row: Row, *, now: datetime) -> str:
    """The storage key of a ready export's file; 409 while it is not ready, 410 after."""
    if row["status"] == "expired" or (row["expires_at"] is not None and row["expires_at"] <= now):
        raise Gone(
            f"export {row['id']!r} expired at {row['expires_at'].isoformat()} and its file was "
            "deleted; create a new export",
            code="export_expired",
        )
    if row["status"] == "failed":
        raise Conflict(
            f"export {row['id']!r} failed and has no file: {row['error']}",
            code="export_failed",
        )
    if row["status"] != "ready":
        raise Conflict(
            f"export {row['id']!r} is {row['status']} ({row['rows_done']} of "
            f"{row['rows_total'] if row['rows_total'] is not None else '?'} "
            f"{COUNTED[row['kind']]}); download it once it is ready (GET /v1/exports/{id} or "
            "the data_export.ready webhook says when)",
            code="export_not_ready",
        )
    return str(row["storage_key"])


def download_url(export_id: str) -> str:
    """Where the API serves an export's file."""
    return f"/v1/exports/{export_id}/download"


def filename(row: Row) -> str:
    """The name a download is saved under."""
    return f"crosspost-{row['kind']}-{row['id']}.{row['format']}"


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Build one export's file; after the last allowed error, mark it failed with the why."""

    def handle(ctx: JobContext) -> Outcome:
        payload = ctx.job.payload
        with svc.db.read() as conn:
            row = store.get_export(conn, payload["tenant_id"], payload["export_id"])
        if row is None or row["status"] not in store.ACTIVE:
            return ctx.done()  # finished by an earlier run, or expired meanwhile
        try:
            _build(svc, ctx, row)
        except LeaseLost:
            raise
        except Exception as exc:
            if ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with backoff
            # The last error, without the frames: what the customer can act on.
            _fail(svc, ctx, row, describe_error(exc).splitlines()[0])
        return ctx.done()

    return handle


def _build(svc: Services, ctx: JobContext, row: Row) -> None:
    tenant, since, until = row["tenant_id"], row["since"], row["until"]
    with svc.db.write() as conn:
        ctx.fence(conn)
        total = history.count(conn, row["kind"], tenant, since, until)
        started = {"status": "running", "rows_total": total, "rows_done": 0}
        store.update_export(conn, row["id"], {**started, "updated_at": svc.clock.now()})
    done = 0
    key = f"exports/{tenant}/{row['id']}.{row['format']}"
    svc.storage.discard_pending(key)  # an earlier run's, whose worker died mid-write
    with svc.storage.begin_write(key) as pending:
        sink = _Sink(pending)
        encode = _ENCODERS[row["kind"], row["format"]]
        if row["format"] == "csv":
            sink.csv_row(_COLUMNS[row["kind"]])
        for batch in _batches(svc, row):
            encode(sink, batch)
            done += len(batch)
            with svc.db.write() as conn:
                ctx.fence(conn)
                store.update_export(
                    conn, row["id"], {"rows_done": done, "updated_at": svc.clock.now()}
                )
        stored = pending.commit()
    now = svc.clock.now()
    values = {
        "status": "ready",
        # Rows counted at the start may differ by a row written at the range's edge since;
        # the file is the truth.
        "rows_total": done,
        "rows_done": done,
        "bytes": stored.size,
        "sha256": stored.sha256,
        "storage_key": stored.key,
        "updated_at": now,
        "completed_at": now,
        "expires_at": now + timedelta(days=svc.settings.export_retention_days),
    }
    with svc.db.write() as conn:
        ctx.fence(conn)
        if store.update_export(conn, row["id"], values):
            ready = {**row, **values}
            outbox.emit(
                conn,
                tenant_id=tenant,
                mode=row["mode"],
                event_type="data_export.ready",
                data={"export": ready_snapshot(ready)},
                now=now,
            )
    log.info("export %s ready: %d %s, %d bytes", row["id"], done, COUNTED[row["kind"]], stored.size)


def _fail(svc: Services, ctx: JobContext, row: Row, error: str) -> None:
    now = svc.clock.now()
    with svc.db.write() as conn:
        ctx.fence(conn)
        store.update_export(
            conn, row["id"], {"status": "failed", "error": error, "updated_at": now}
        )
    log.warning("export %s failed: %s", row["id"], error)


def ready_snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `export` object of `data_export.ready`."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "format": row["format"],
        "since": row["since"],
        "until": row["until"],
        "rows": row["rows_done"],
        "bytes": row["bytes"],
        "sha256": row["sha256"],
        "download_url": download_url(row["id"]),
        "expires_at": row["expires_at"],
    }


def _batches(svc: Services, row: Row) -> Iterable[list[Row]]:
    """The export's rows in id order, a short read transaction per batch."""
    tenant, since, until = row["tenant_id"], row["since"], row["until"]
    after: str | None = None
    limit = svc.settings.export_batch_rows
    while True:
        with svc.db.read() as conn:
            batch = history.batch(
                conn, row["kind"], tenant, since, until, after_id=after, limit=limit
            )
            if row["kind"] == "posts":
                grouped = posts.targets_of(conn, [r["id"] for r in batch])
                batch = [{**r, "targets": grouped[r["id"]]} for r in batch]
        if not batch:
            return
        yield batch
        after = batch[-1]["id"]


class _Pending(Protocol):
    def write(self, chunk: bytes) -> None: ...


class _Sink:
    """Encoded rows into the pending file, in chunks rather than a write per line."""

    def __init__(self, pending: _Pending) -> None:
        self._pending = pending
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\r\n")

    def line(self, data: bytes) -> None:
        self._pending.write(data + b"\n")

    def csv_row(self, cells: Iterable[Any]) -> None:
        self._csv.writerow([_cell(c) for c in cells])
        self._pending.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _posts_jsonl(sink: _Sink, batch: list[Row]) -> None:
    for row in batch:
        sink.line(post_public(row, row["targets"]).model_dump_json().encode())


def _posts_csv(sink: _Sink, batch: list[Row]) -> None:
    for row in batch:
        post = [
            row["id"],
            row["status"],
            row["mode"],
            row["text"],
            row["media_id"],
            row["publish_at"],
            row["timezone"],
            row["created_at"],
        ]
        # One line per target; a post without targets still gets its line.
        for target in row["targets"] or [None]:
            t = target or {}
            sink.csv_row(
                [
                    *post,
                    t.get("id"),
                    t.get("platform"),
                    t.get("account_id"),
                    t.get("status"),
                    t.get("attempts"),
                    t.get("external_id"),
                    t.get("external_url"),
                    t.get("published_at"),
                    t.get("error_kind"),
                    t.get("error_code"),
                    t.get("error_message"),
                ]
            )


def _events_jsonl(columns: tuple[str, ...]) -> Callable[[_Sink, list[Row]], None]:
    """Ledger or audit events, one JSON object a line with `columns`."""

    def encode(sink: _Sink, batch: list[Row]) -> None:
        for row in batch:
            sink.line(orjson.dumps({c: row[c] for c in columns}, option=orjson.OPT_UTC_Z))

    return encode


def _events_csv(columns: tuple[str, ...]) -> Callable[[_Sink, list[Row]], None]:
    """Ledger or audit events, one CSV row each with `columns`."""

    def encode(sink: _Sink, batch: list[Row]) -> None:
        for row in batch:
            sink.csv_row(row[c] for c in columns)

    return encode


_ENCODERS: dict[tuple[str, str], Callable[[_Sink, list[Row]], None]] = {
    ("posts", "jsonl"): _posts_jsonl,
    ("posts", "csv"): _posts_csv,
    ("ledger", "jsonl"): _events_jsonl(LEDGER_COLUMNS),
    ("ledger", "csv"): _events_csv(LEDGER_COLUMNS),
    ("audit", "jsonl"): _events_jsonl(AUDIT_COLUMNS),
    ("audit", "csv"): _events_csv(AUDIT_COLUMNS),
}


def expire(svc: Services, *, now: datetime, limit: int = 200) -> int:
    """Delete the files of exports past their retention and mark them expired; how many."""
    with svc.db.read() as conn:
        rows = store.expired_exports(conn, now=now, limit=limit)
    for row in rows:
        # The row first: once it says expired nobody is sent to the file, which goes next.
        with svc.db.write() as conn:
            store.update_export(
                conn,
                row["id"],
                {"status": "expired", "updated_at": now},
                only_if_status=("ready",),
            )
        if row["storage_key"]:
            svc.storage.delete(row["storage_key"])
    return len(rows)
