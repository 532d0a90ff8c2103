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


def insert_media(conn: Connection, **values: Any) -> None:
    """Insert one media row (values named after the columns)."""
    conn.execute(media.insert().values(**values))


_GET = Prepared(
    sa.select(media).where(
        media.c.id == sa.bindparam("media_id"),
        media.c.tenant_id == sa.bindparam("tenant_id"),
        media.c.deleted_at.is_(None),
    )
)


def get_media(conn: Connection, tenant_id: str, media_id: str) -> Row | None:
    """A tenant's media row."""
    # Prepared (store/prepared): every POST /v1/posts with media reads it.
    return _GET.first(conn, {"media_id": media_id, "tenant_id": tenant_id})


_BY_ID = sa.select(media).where(
    media.c.id == sa.bindparam("media_id"), media.c.deleted_at.is_(None)
)


def get_media_by_id(conn: Connection, media_id: str) -> Row | None:
    """A media row by id alone (signed URLs, which name no tenant)."""
    return one(conn.execute(_BY_ID, {"media_id": media_id}))


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
    """A post names the media as its own or in its overrides (a cover image): ids are
    unique, so their text appearing in the overrides' JSON is a reference."""
    overrides = sa.cast(posts.c.overrides, sa.Text)
    return sa.or_(posts.c.media_id == media_id, overrides.contains(media_id))


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
        .where(media.c.deleted_at.is_(None), media.c.created_at < cutoff, ~named)
        .order_by(media.c.id)
        .limit(limit)
    )
    if tenant_ids is not None:
        query = query.where(media.c.tenant_id.in_(tenant_ids))
    if other_than:
        query = query.where(media.c.tenant_id.not_in(other_than))
    return every(conn.execute(query))


def mark_many_deleted(conn: Connection, media_ids: Sequence[str], now: datetime) -> None:
    """Mark media deleted (their files are to go)."""
    if media_ids:
        conn.execute(
            media.update()
            .where(media.c.id.in_(media_ids), media.c.deleted_at.is_(None))
            .values(deleted_at=now)
        )
