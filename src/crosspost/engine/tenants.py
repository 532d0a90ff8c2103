"""Tenants' lives: created, changed, suspended, resumed, deleted (soft), purged.

A suspended or deleted tenant's keys are refused (403 `tenant_suspended` / `tenant_deleted`)
and its targets wait where they stand: a publishing step that finds its tenant inactive
runs again later without spending an attempt, and `resume` brings the waiting jobs forward.
Deletion keeps everything for the retention window (`resume` restores it); then the
`tenant.purge.v1` job removes the tenant's rows, media files and sealed secrets and leaves
the tenant row as a tombstone with one ledger entry saying what was removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.engine.keys import check_tier
from crosspost.engine.publish_jobs import dedupe_key as publish_dedupe_key
from crosspost.engine.services import Services
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.jobs.context import Done, JobContext, Outcome, RunAgain
from crosspost.store import content_items, direct_uploads, ledger, tus_uploads
from crosspost.store import tenants as store
from crosspost.store.rows import Row
from crosspost.store.tables import exports, media, metadata, targets
from crosspost.store.tables_studio import renders

log = logging.getLogger("crosspost.identity")

PURGE_KIND = "tenant.purge.v1"
ACTIVE, SUSPENDED, DELETED, PURGED = "active", "suspended", "deleted", "purged"
# Targets in these states have nothing left to do (a resume wakes the others).
_SETTLED = ("published", "failed", "cancelled", "deleted")


def check_settings(svc: Services, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings an operator may give a tenant, validated (422 names what to change)."""
    unknown = sorted(set(settings) - set(store.SETTINGS))
    if unknown:
        raise InvalidInput(
            f"unknown tenant setting(s) {', '.join(unknown)}; settable: "
            f"{', '.join(store.SETTINGS)}",
            code="unknown_setting",
        )
    check_tier(svc, settings.get("default_tier"))
    for name in ("webhook_payload_retention_days", "analytics_retention_days"):
        days, ceiling = settings.get(name), getattr(svc.settings, name)
        # Shorter only: the server's retention is what its storage was sized for, and the
        # hourly purges rely on no row outliving it.
        if days is not None and not 1 <= days <= ceiling:
            raise InvalidInput(
                f"{name} must be from 1 to {ceiling} (the server's CROSSPOST_"
                f"{name.upper()}); a tenant may keep data for less, not longer",
                code="invalid_retention",
            )
    return dict(settings)


def create(svc: Services, conn: Connection, *, name: str, actor: Actor, **settings: Any) -> Row:
    """A new active tenant, in the caller's transaction (audited)."""
    now = svc.clock.now()
    row = store.insert_tenant(conn, name=name, now=now, **check_settings(svc, settings))
    record(
        conn, actor, "tenant.created", tenant_id=row["id"], now=now,
        target=("tenant", row["id"]), data={"name": name, **settings},
    )  # fmt: skip
    return row


def get(conn: Connection, tenant_id: str) -> Row:
    """One tenant, or 404 (a purged tenant is still listed, as a tombstone)."""
    row = store.get_tenant(conn, tenant_id)
    if row is None:
        raise NotFound(f"no tenant {tenant_id!r}; `crosspost tenants list` shows them")
    return row


def update(
    svc: Services, conn: Connection, tenant_id: str, changes: Mapping[str, Any], actor: Actor
) -> Row:
    """Change a tenant's settings (audited with what they were)."""
    row = get(conn, tenant_id)
    _refuse_purged(row)
    changes = check_settings(svc, changes)
    before = {k: row[k] for k in changes}
    store.update_tenant(conn, tenant_id, changes)
    record(
        conn, actor, "tenant.updated", tenant_id=tenant_id, now=svc.clock.now(),
        target=("tenant", tenant_id), data={"before": before, "after": dict(changes)},
    )  # fmt: skip
    return get(conn, tenant_id)


def suspend(svc: Services, conn: Connection, tenant_id: str, actor: Actor) -> Row:
    """Refuse the tenant's keys and hold its targets; nothing is lost (idempotent)."""
    row = get(conn, tenant_id)
    if row["status"] == SUSPENDED:
        return row
    if row["status"] != ACTIVE:
        raise Conflict(
            f"tenant {tenant_id} is {row['status']}; only an active tenant can be suspended",
            code="tenant_not_active",
        )
    now = svc.clock.now()
    store.update_tenant(conn, tenant_id, {"status": SUSPENDED, "suspended_at": now})
    record(conn, actor, "tenant.suspended", tenant_id=tenant_id, now=now, target=_t(tenant_id))
    return get(conn, tenant_id)


def resume(svc: Services, conn: Connection, tenant_id: str, actor: Actor) -> Row:
    """Make a suspended tenant, or a deleted one still in its retention window, active
    again; its waiting targets run at once (idempotent)."""
    row = get(conn, tenant_id)
    if row["status"] == ACTIVE:
        return row
    _refuse_purged(row)
    now = svc.clock.now()
    store.update_tenant(
        conn,
        tenant_id,
        {"status": ACTIVE, "suspended_at": None, "deleted_at": None, "purge_after": None},
    )
    woken = _wake_targets(svc, conn, tenant_id, now)
    record(
        conn, actor, "tenant.resumed", tenant_id=tenant_id, now=now, target=_t(tenant_id),
        data={"was": row["status"], "targets_woken": woken},
    )  # fmt: skip
    return get(conn, tenant_id)


def delete(
    svc: Services, conn: Connection, tenant_id: str, actor: Actor, *, retention: timedelta
) -> Row:
    """Soft-delete: keys refused, targets held, everything kept until `purge_after`, when
    the purge job removes it (idempotent; `resume` undoes it until then)."""
    row = get(conn, tenant_id)
    if row["status"] in (DELETED, PURGED):
        return row
    if row["is_default"]:
        raise Conflict(
            "the default tenant (the one `crosspost keys` manages) cannot be deleted; "
            "suspend it instead",
            code="default_tenant",
        )
    now = svc.clock.now()
    purge_after = now + retention
    store.update_tenant(
        conn, tenant_id, {"status": DELETED, "deleted_at": now, "purge_after": purge_after}
    )
    # A job left from an earlier delete (restored since) keeps its place in the queue: it is
    # brought forward here when this window is shorter, and waits on when it is longer.
    key = f"purge:{tenant_id}"
    if (
        svc.jobs.enqueue(
            conn, PURGE_KIND, {"tenant_id": tenant_id}, run_at=purge_after, dedupe_key=key
        )
        is None
    ):
        svc.jobs.advance(conn, [key], purge_after)
    record(
        conn, actor, "tenant.deleted", tenant_id=tenant_id, now=now, target=_t(tenant_id),
        data={"purge_after": purge_after.isoformat()},
    )  # fmt: skip
    return get(conn, tenant_id)


def _t(tenant_id: str) -> tuple[str, str]:
    return ("tenant", tenant_id)


def _refuse_purged(row: Row) -> None:
    if row["status"] == PURGED:
        raise Conflict(f"tenant {row['id']} was purged; nothing of it is left", code="purged")


def _wake_targets(svc: Services, conn: Connection, tenant_id: str, now: datetime) -> int:
    waiting: list[str] = list(
        conn.execute(
            sa.select(targets.c.id).where(
                targets.c.tenant_id == tenant_id, targets.c.status.not_in(_SETTLED)
            )
        ).scalars()
    )
    return svc.jobs.advance(conn, [publish_dedupe_key(t) for t in waiting], now)


# -- the purge --------------------------------------------------------------------------


def make_purge_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """The `tenant.purge.v1` job handler: remove a deleted tenant once its window is over."""

    def handle(ctx: JobContext) -> Outcome:
        tenant_id = ctx.job.payload["tenant_id"]
        if purge(svc, tenant_id) is None:
            with svc.db.read() as conn:
                row = store.get_tenant(conn, tenant_id)
            if row is not None and row["status"] == DELETED and row["purge_after"]:
                return RunAgain(row["purge_after"])  # deleted again, for longer
        return Done()

    return handle


def purge(svc: Services, tenant_id: str) -> dict[str, int] | None:
    """Remove everything of a deleted tenant past its window; the counts removed per table,
    or None when there was nothing to do (restored, already purged, window not over)."""
    now = svc.clock.now()
    with svc.db.read() as conn:
        row = store.get_tenant(conn, tenant_id)
        if not _purgeable(row, now):
            return None
        keys = [
            *conn.execute(
                sa.select(media.c.storage_key).where(
                    media.c.tenant_id == tenant_id, media.c.storage_key.is_not(None)
                )
            ).scalars(),
            *conn.execute(
                sa.select(exports.c.storage_key).where(
                    exports.c.tenant_id == tenant_id, exports.c.storage_key.is_not(None)
                )
            ).scalars(),
            *conn.execute(
                sa.select(renders.c.poster_key).where(
                    renders.c.tenant_id == tenant_id, renders.c.poster_key.is_not(None)
                )
            ).scalars(),
            *content_items.stored_keys(conn, tenant_id=tenant_id),
        ]
        staged = tus_uploads.ids_of_tenant(conn, tenant_id)
        unfinished = direct_uploads.unfinished_of_tenant(conn, tenant_id)
    # Files first: a crash after them leaves rows the next run removes; the other order
    # could leave files no row points to.
    for key in keys:
        svc.storage.delete(key)
    for upload_id in staged:
        svc.storage.discard_staged(upload_id)
    for key in unfinished:
        # A file PUT (or being PUT) straight to the store, never made a media item.
        svc.storage.delete(key)
        svc.storage.discard_pending(key)
    with svc.db.write() as conn:
        if not _purgeable(store.get_tenant(conn, tenant_id), now):
            return None  # restored meanwhile: the files were of a tenant being deleted
        removed = _delete_rows(conn, tenant_id)
        store.update_tenant(conn, tenant_id, {"status": PURGED})
        data = {"removed": removed, "files": len(keys)}
        ledger.append_event(
            conn, tenant_id=tenant_id, event_type="tenant.purged", now=now, data=data
        )
        record(
            conn, Actor.system(), "tenant.purged", tenant_id=None, now=now,
            target=_t(tenant_id), data=data,
        )  # fmt: skip
    log.info("purged tenant %s: %s", tenant_id, removed)
    return removed


def _purgeable(row: Row | None, now: datetime) -> bool:
    return (
        row is not None
        and row["status"] == DELETED
        and row["purge_after"] is not None
        and row["purge_after"] <= now
    )


def _delete_rows(conn: Connection, tenant_id: str) -> dict[str, int]:
    """Delete the tenant's rows from every table that has them, children first. Publish
    jobs of its targets end at their next run, finding no target."""
    removed: dict[str, int] = {}
    for table in reversed(metadata.sorted_tables):
        if table.name == "tenants" or "tenant_id" not in table.c:
            continue
        result = conn.execute(table.delete().where(table.c.tenant_id == tenant_id))
        if result.rowcount:
            removed[table.name] = int(result.rowcount)
    return removed
