"""The media library: a tenant's uploads listed, and deleted when nothing waits on them.

A deleted media item keeps its row (posts that used it still name it) and loses its file.
The file goes after the commit: a crash in between leaves a file no row points to, never a
row whose file went while a post still needed it. Deleting an item still being fetched from
a URL stops its fetch: the worker sees the deletion and leaves no file behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crosspost.domain.enums import TargetStatus
from crosspost.domain.media_items import MediaStatus
from crosspost.engine.services import Services
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.store import brand_kits, media, tenants
from crosspost.store import releases as release_rows
from crosspost.store.rows import Row

_LIVE = tuple(s.value for s in TargetStatus if not s.terminal)
_SHOWN = 5
_BATCH = 500


def check_usable(row: Row) -> None:
    """Refuse (422 `media_not_ready`) a media item a post cannot use yet, or ever: one still
    being fetched from its URL, or whose fetch failed."""
    status = row.get("status") or MediaStatus.READY.value
    if status == MediaStatus.READY.value:
        return
    if status == MediaStatus.FETCHING.value:
        got = row.get("fetched_bytes") or 0
        total = row.get("fetch_total_bytes")
        progress = f"{got} of {total} bytes" if total is not None else f"{got} bytes so far"
        raise InvalidInput(
            f"media {row['id']} is still being fetched from its URL ({progress}); create "
            f"the post once GET /v1/media/{row['id']} shows status ready",
            code="media_not_ready",
            media_id=row["id"],
            media_status=status,
        )
    raise InvalidInput(
        f"media {row['id']} failed and can never be used ({row.get('error_code')}: "
        f"{row.get('error_message')}); fix the cause, add the media again and use the new id",
        code="media_not_ready",
        media_id=row["id"],
        media_status=status,
    )


def delete_media(svc: Services, *, tenant_id: str, media_id: str, actor: Actor) -> None:
    """Delete a media item and its file; 409 `media_in_use` naming the posts still to
    publish with it (cancel them, or wait until they finish), the brand kits or the releases
    using it."""
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
        kits = brand_kits.kits_using(conn, tenant_id, media_id)
        if kits:
            shown = ", ".join(kits[:_SHOWN]) + (" …" if len(kits) > _SHOWN else "")
            raise Conflict(
                f"{len(kits)} brand kit(s) use this media ({shown}); give them another logo, "
                "intro or outro (PATCH /v1/brand-kits/{id}) or delete them, then delete it",
                code="media_in_use",
            )
        held = release_rows.releases_using(conn, tenant_id, media_id)
        if held:
            shown = ", ".join(held[:_SHOWN]) + (" …" if len(held) > _SHOWN else "")
            raise Conflict(
                f"{len(held)} release(s) use this media as a master or artwork ({shown}); "
                "replace it (PUT /v1/releases/{id}) or delete them, then delete it",
                code="media_in_use",
            )
        record(conn, actor, "media.deleted", tenant_id=tenant_id, now=now,
               target=("media", media_id), data={"size_bytes": row["size_bytes"]})  # fmt: skip
    if row["storage_key"] is not None:  # none yet while fetching, none after a failure
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
            if row["storage_key"] is not None:  # a failed fetch has no file
                svc.storage.delete(row["storage_key"])
        purged += len(rows)
    return purged + _purge_finished(svc, now)


def _purge_finished(svc: Services, now: datetime) -> int:
    """Delete the media of finished posts for tenants that keep it only so long after the
    last post using it finished (`published_media_retention_days`); the posts keep naming
    it. At most a batch per retention each run."""
    with svc.db.read() as conn:
        own = tenants.overrides(conn, "published_media_retention_days")
    purged = 0
    for days in sorted(set(own.values())):
        with svc.db.write() as conn:
            rows = media.finished_before(
                conn, [t for t, d in own.items() if d == days], now - timedelta(days=days),
                _LIVE, limit=_BATCH,
            )  # fmt: skip
            media.mark_many_deleted(conn, [r["id"] for r in rows], now)
        for row in rows:
            if row["storage_key"] is not None:
                svc.storage.delete(row["storage_key"])
        purged += len(rows)
    return purged
