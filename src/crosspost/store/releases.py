"""Release rows and their tracks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables_music import release_tracks, releases


def insert_release(
    conn: Connection, values: Mapping[str, Any], tracks: Sequence[Mapping[str, Any]]
) -> None:
    """Insert a release and its tracks."""
    conn.execute(releases.insert(), dict(values))
    conn.execute(release_tracks.insert(), [dict(t) for t in tracks])


def get_release(
    conn: Connection, tenant_id: str, release_id: str, *, lock: bool = False
) -> Row | None:
    """A tenant's release (another tenant's id finds nothing); `lock` holds the row against
    other writers until the transaction ends (PostgreSQL; SQLite has one writer)."""
    query = sa.select(releases).where(
        releases.c.id == release_id, releases.c.tenant_id == tenant_id
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return one(conn.execute(query))


def tracks_of(conn: Connection, release_ids: Iterable[str]) -> dict[str, list[Row]]:
    """The tracks of each release, in order."""
    ids = sorted(set(release_ids))
    found: dict[str, list[Row]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        sa.select(release_tracks)
        .where(release_tracks.c.release_id.in_(ids))
        .order_by(release_tracks.c.release_id, release_tracks.c.position)
    )
    for row in every(conn.execute(query)):
        found[row["release_id"]].append(row)
    return found


def list_releases(
    conn: Connection, tenant_id: str, *, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's releases, newest first, older than `before_id`."""
    query = sa.select(releases).where(releases.c.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(releases.c.id < before_id)
    return every(conn.execute(query.order_by(releases.c.id.desc()).limit(limit)))


def replace_release(
    conn: Connection,
    release_id: str,
    values: Mapping[str, Any],
    tracks: Sequence[Mapping[str, Any]],
) -> None:
    """Change a release's columns and put `tracks` in place of the ones it had."""
    conn.execute(releases.update().where(releases.c.id == release_id).values(**values))
    conn.execute(release_tracks.delete().where(release_tracks.c.release_id == release_id))
    conn.execute(release_tracks.insert(), [dict(t) for t in tracks])


def set_artwork(conn: Connection, release_id: str, media_id: str, now: datetime) -> None:
    """Make a media item the release's cover."""
    conn.execute(
        releases.update()
        .where(releases.c.id == release_id)
        .values(artwork_media_id=media_id, updated_at=now)
    )


def delete_release(conn: Connection, release_id: str) -> None:
    """Delete a release with its tracks."""
    conn.execute(release_tracks.delete().where(release_tracks.c.release_id == release_id))
    conn.execute(releases.delete().where(releases.c.id == release_id))


def isrcs_held(
    conn: Connection, tenant_id: str, isrcs: Iterable[str], *, besides: str | None
) -> dict[str, str]:
    """Which of `isrcs` another release of the tenant holds: ISRC → that release's id."""
    wanted = sorted(set(isrcs))
    if not wanted:
        return {}
    query = sa.select(release_tracks.c.isrc, release_tracks.c.release_id).where(
        release_tracks.c.tenant_id == tenant_id, release_tracks.c.isrc.in_(wanted)
    )
    if besides is not None:
        query = query.where(release_tracks.c.release_id != besides)
    return {str(row.isrc): str(row.release_id) for row in conn.execute(query)}


def upc_holder(conn: Connection, tenant_id: str, upc: str, *, besides: str | None) -> str | None:
    """The id of the tenant's other release with this UPC, if any."""
    query = sa.select(releases.c.id).where(releases.c.tenant_id == tenant_id, releases.c.upc == upc)
    if besides is not None:
        query = query.where(releases.c.id != besides)
    return conn.execute(query.limit(1)).scalar()


def releases_using(conn: Connection, tenant_id: str, media_id: str) -> list[str]:
    """The tenant's releases whose artwork or a track's master is this media item."""
    by_track = sa.select(release_tracks.c.release_id).where(
        release_tracks.c.tenant_id == tenant_id, release_tracks.c.media_id == media_id
    )
    by_art = sa.select(releases.c.id).where(
        releases.c.tenant_id == tenant_id, releases.c.artwork_media_id == media_id
    )
    return sorted(set(conn.execute(by_track).scalars()) | set(conn.execute(by_art).scalars()))
