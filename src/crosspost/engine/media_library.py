"""The media library: a tenant's uploads listed, and deleted when nothing waits on them.

A deleted media item keeps its row (posts that used it still name it) and loses its file.
The file goes after the commit: a crash in between leaves a file no row points to, never a
row whose file went while a post still needed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crosspost.domain.enums import TargetStatus
from crosspost.engine.services import Services
from crosspost.errors import Conflict, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.store import media, tenants

_LIVE = tuple(s.value for s in TargetStatus if not s.terminal)
_SHOWN = 5
_BATCH = 500


def delete_media(svc: Services, *, tenant_id: str, media_id: str, actor: Actor) -> None:
    """Delete a media item and its file; 409 `media_in_use` naming the posts still to
    publish with it (cancel them, or wait until they finish)."""
    with svc.db.write() as conn:
        now = svc.clock.now()
        row = media.mark_deleted(conn, tenant_id, media_id, now)
        if row is None:
            raise NotFound(f"no media {media_id!r}")
        waiting = media.posts_waiting_on(conn, tenant_id, media_id, _LIVE)
        if waiting:
            shown = ", ".join(waiting[:_SHOWN]) + (" …" if len(waiting) > _SHOWN else "")
            raise Conflict(
                f"{len(waiting)} post(s) still to publish use this media ({shown}); cancel "
                "them or wait until they finish, then delete it",
                code="media_in_use",
            )
        record(conn, actor, "media.deleted", tenant_id=tenant_id, now=now,
               target=("media", media_id), data={"size_bytes": row["size_bytes"]})  # fmt: skip
    svc.storage.delete(row["storage_key"])


def purge_unused(svc: Services, now: datetime) -> int:
    """Delete media no post names once older than its tenant's retention (the server's
    `media_retention_days` unless the tenant set its own; 0 keeps it); at most a batch per
    retention each run. How many went."""
    with svc.db.read() as conn:
        own = tenants.overrides(conn, "media_retention_days")
    # One pass for the server's retention, one per distinct tenant retention.
    passes: list[tuple[int, list[str] | None]] = [(svc.settings.media_retention_days, None)]
    for days in sorted(set(own.values())):
        passes.append((days, [t for t, d in own.items() if d == days]))
    purged = 0
    for days, tenant_ids in passes:
        if days <= 0:
            continue
        with svc.db.write() as conn:
            rows = media.unused_before(
                conn, now - timedelta(days=days), limit=_BATCH, tenant_ids=tenant_ids,
                other_than=list(own) if tenant_ids is None else (),
            )  # fmt: skip
            media.mark_many_deleted(conn, [r["id"] for r in rows], now)
        for row in rows:
            svc.storage.delete(row["storage_key"])
        purged += len(rows)
    return purged
