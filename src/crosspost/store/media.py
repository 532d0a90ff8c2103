"""Media rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every, one
from crosspost.store.tables import media, posts, targets
from crosspost.store.tables_music import release_tracks, releases
from crosspost.store.tables_studio import brand_kits, project_sources


def insert_media(conn: Connection, **values: Any) -> None:
    """Insert one media row (values named after the columns)."""
    conn.execute(media.insert().values(**values))


_GET_QUERY = sa.select(media).where(
    media.c.id == sa.bindparam("media_id"),
    media.c.tenant_id == sa.bindparam("tenant_id"),
    media.c.deleted_at.is_(None),
)
_GET = Prepared(_GET_QUERY)


# A post being written holds its media this way: a deletion waits for the post to commit
# (then finds it and refuses), and a post waiting on a deletion finds the media gone.
_GET_SHARED = Prepared(_GET_QUERY.with_for_update(read=True))


def get_media(conn: Connection, tenant_id: str, media_id: str, *, hold: bool = False) -> Row | None:
    """A tenant's media row; `hold` keeps it from being deleted until the transaction ends
    (PostgreSQL; SQLite runs one writer at a time)."""
    # Prepared (store/prepared): every POST /v1/posts with media reads it.
    stmt = _GET_SHARED if hold and conn.dialect.name == "postgresql" else _GET
    return stmt.first(conn, {"media_id": media_id, "tenant_id": tenant_id})


_BY_ID = sa.select(media).where(
    media.c.id == sa.bindparam("media_id"), media.c.deleted_at.is_(None)
)


def get_media_by_id(conn: Connection, media_id: str) -> Row | None:
    """A media row by id alone (signed URLs, which name no tenant)."""
    return one(conn.execute(_BY_ID, {"media_id": media_id}))


def get_any(conn: Connection, media_id: str) -> Row | None:
    """A media row by id, deleted or not (the worker fetching it)."""
    return one(conn.execute(sa.select(media).where(media.c.id == media_id)))


def lock_media(conn: Connection, media_id: str) -> Row | None:
    """A media row by id, deleted or not, locked until the transaction ends."""
    return one(conn.execute(sa.select(media).where(media.c.id == media_id).with_for_update()))


def set_progress(conn: Connection, media_id: str, fetched: int, total: int | None) -> Row | None:
    """Record how far a fetch got; the row as it now is (None when gone)."""
    conn.execute(
        media.update()
        .where(media.c.id == media_id, media.c.status == "fetching")
        .values(fetched_bytes=fetched, fetch_total_bytes=total)
    )
    return one(conn.execute(sa.select(media).where(media.c.id == media_id)))


def update_media(conn: Connection, media_id: str, **values: Any) -> None:
    """Change a media row's columns (values named after them)."""
    conn.execute(media.update().where(media.c.id == media_id).values(**values))


def page_media(
    conn: Connection,
    tenant_id: str,
    *,
    limit: int,
    after: str | None = None,
    backwards: bool = False,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Row]:
    """A tenant's media, newest first, up to `limit` rows older than the cursor id `after`
    (or, `backwards`, the ones just newer, oldest first), each with `used_by`: how many
    posts name it."""
    used_by = (
        sa.select(sa.func.count())
        .select_from(posts)
        .where(posts.c.tenant_id == media.c.tenant_id, _names(media.c.id))
        .scalar_subquery()
    )
    query = (
        sa.select(media, used_by.label("used_by"))
        .where(media.c.tenant_id == tenant_id, media.c.deleted_at.is_(None))
        .order_by(media.c.id.asc() if backwards else media.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(media.c.id > after if backwards else media.c.id < after)
    if kind is not None:
        query = query.where(media.c.kind == kind)
    if since is not None:
        query = query.where(media.c.created_at >= since)
    if until is not None:
        query = query.where(media.c.created_at < until)
    return every(conn.execute(query))


def _names(media_id: Any) -> sa.ColumnElement[bool]:
    """A post names the media as its own, among its several (`media_ids`), in its
    overrides (a cover image) or as a target's variant (auto_fit): ids are unique, so their
    text appearing in the JSON is a reference."""
    overrides = sa.cast(posts.c.overrides, sa.Text)
    several = sa.cast(posts.c.media_ids, sa.Text)
    # Aliased: a query that joins targets itself must not have this one correlated to it.
    fitting = targets.alias("fitting")
    fitted = sa.exists().where(
        fitting.c.post_id == posts.c.id, sa.cast(fitting.c.fit, sa.Text).contains(media_id)
    )
    return sa.or_(
        posts.c.media_id == media_id,
        overrides.contains(media_id),
        several.contains(media_id),
        fitted,
    )


def posts_waiting_on(
    conn: Connection, tenant_id: str, media_id: str, live: Sequence[str]
) -> list[str]:
    """The posts using this media with a target in one of the `live` statuses, oldest
    first."""
    query = (
        sa.select(posts.c.id)
        .distinct()
        .join(targets, targets.c.post_id == posts.c.id)
        .where(
            posts.c.tenant_id == tenant_id,
            _names(sa.literal(media_id)),
            targets.c.status.in_(live),
        )
        .order_by(posts.c.id)
    )
    return [str(r[0]) for r in conn.execute(query)]


def mark_deleted(conn: Connection, tenant_id: str, media_id: str, now: datetime) -> Row | None:
    """Mark a tenant's media deleted (its file is to go); the row as it was, or None when
    the tenant has no such live media. The row is locked until the transaction ends."""
    query = (
        sa.select(media)
        .where(media.c.id == media_id, media.c.tenant_id == tenant_id, media.c.deleted_at.is_(None))
        .with_for_update()
    )
    row = one(conn.execute(query))
    if row is not None:
        conn.execute(media.update().where(media.c.id == media_id).values(deleted_at=now))
    return row


def _kept_by_studio() -> sa.ColumnElement[bool]:
    """A media item a brand kit (logo, intro, outro), a project (a source) or a release (a
    master or its artwork) still uses: kept by the retention purges whatever posts do."""
    kit = sa.exists().where(
        brand_kits.c.tenant_id == media.c.tenant_id,
        sa.or_(brand_kits.c.logo_media_id == media.c.id, brand_kits.c.intro_media_id == media.c.id,
               brand_kits.c.outro_media_id == media.c.id),
    )  # fmt: skip
    source = sa.exists().where(project_sources.c.media_id == media.c.id)
    master = sa.exists().where(release_tracks.c.media_id == media.c.id)
    artwork = sa.exists().where(releases.c.artwork_media_id == media.c.id)
    return sa.or_(kit, source, master, artwork)


def unused_before(
    conn: Connection,
    cutoff: datetime,
    *,
    limit: int,
    tenant_ids: Sequence[str] | None = None,
    other_than: Sequence[str] = (),
) -> list[Row]:
    """Live media uploaded before `cutoff` that no post names, oldest first: of
    `tenant_ids` when given, else of every tenant but `other_than`."""
    named = sa.exists().where(posts.c.tenant_id == media.c.tenant_id, _names(media.c.id))
    query = (
        sa.select(media)
        .where(
            media.c.deleted_at.is_(None),
            media.c.created_at < cutoff,
            media.c.status != "fetching",  # its worker ends the fetch, one way or the other
            ~named,
            ~_kept_by_studio(),
        )
        .order_by(media.c.id)
        .limit(limit)
    )
    if tenant_ids is not None:
        query = query.where(media.c.tenant_id.in_(tenant_ids))
    if other_than:
        query = query.where(media.c.tenant_id.not_in(other_than))
    return every(conn.execute(query))


def finished_before(
    conn: Connection,
    tenant_ids: Sequence[str],
    cutoff: datetime,
    live: Sequence[str],
    *,
    limit: int,
) -> list[Row]:
    """Live media of these tenants that posts name, none of them still to publish and none
    changed since `cutoff` (the last one finished before it), oldest first."""
    naming = sa.and_(posts.c.tenant_id == media.c.tenant_id, _names(media.c.id))
    waiting = sa.exists().where(naming, targets.c.post_id == posts.c.id, targets.c.status.in_(live))
    recent = sa.exists().where(naming, posts.c.updated_at >= cutoff)
    query = (
        sa.select(media)
        .where(
            media.c.tenant_id.in_(tenant_ids),
            media.c.deleted_at.is_(None),
            media.c.status != "fetching",
            sa.exists().where(naming),
            ~waiting,
            ~recent,
            ~_kept_by_studio(),
        )
        .order_by(media.c.id)
        .limit(limit)
    )  # fmt: skip
    return every(conn.execute(query))


def mark_many_deleted(conn: Connection, media_ids: Sequence[str], now: datetime) -> None:
    """Mark media deleted (their files are to go)."""
    if media_ids:
        conn.execute(
            media.update()
            .where(media.c.id.in_(media_ids), media.c.deleted_at.is_(None))
            .values(deleted_at=now)
        )
