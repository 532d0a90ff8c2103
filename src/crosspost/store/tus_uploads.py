"""Resumable (tus) upload rows: one per upload, its confirmed offset, the lease of the one
PATCH writing it, and the media item it became."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import tus_uploads


def insert_upload(conn: Connection, **values: Any) -> None:
    """Insert one upload (values named after the columns)."""
    conn.execute(tus_uploads.insert().values(**values))


def get_upload(conn: Connection, tenant_id: str, upload_id: str) -> Row | None:
    """A tenant's upload."""
    query = sa.select(tus_uploads).where(
        tus_uploads.c.id == upload_id, tus_uploads.c.tenant_id == tenant_id
    )
    return one(conn.execute(query))


def get_by_id(conn: Connection, upload_id: str) -> Row | None:
    """An upload by id alone."""
    return one(conn.execute(sa.select(tus_uploads).where(tus_uploads.c.id == upload_id)))


def lock_upload(conn: Connection, tenant_id: str, upload_id: str) -> Row | None:
    """A tenant's upload, locked until the transaction ends."""
    query = (
        sa.select(tus_uploads)
        .where(tus_uploads.c.id == upload_id, tus_uploads.c.tenant_id == tenant_id)
        .with_for_update()
    )
    return one(conn.execute(query))


def update_upload(conn: Connection, upload_id: str, **values: Any) -> None:
    """Change an upload's columns."""
    conn.execute(tus_uploads.update().where(tus_uploads.c.id == upload_id).values(**values))


def renew_lock(conn: Connection, upload_id: str, token: str, until: datetime) -> bool:
    """Extend the lease `token` holds; False when it holds it no longer."""
    result = conn.execute(
        tus_uploads.update()
        .where(tus_uploads.c.id == upload_id, tus_uploads.c.lock_token == token)
        .values(locked_until=until)
    )
    return bool(result.rowcount)


def release_lock(conn: Connection, upload_id: str, token: str, **values: Any) -> bool:
    """Give the lease `token` holds back, changing `values` with it; False when it held it
    no longer (nothing changed)."""
    result = conn.execute(
        tus_uploads.update()
        .where(tus_uploads.c.id == upload_id, tus_uploads.c.lock_token == token)
        .values(lock_token=None, locked_until=None, **values)
    )
    return bool(result.rowcount)


def delete_upload(conn: Connection, upload_id: str) -> None:
    """Forget an upload."""
    conn.execute(tus_uploads.delete().where(tus_uploads.c.id == upload_id))


def _expired(now: datetime) -> sa.ColumnElement[bool]:
    # Past its expiry no PATCH may start (410), and none is still writing.
    idle = sa.or_(tus_uploads.c.locked_until.is_(None), tus_uploads.c.locked_until < now)
    return sa.and_(tus_uploads.c.expires_at < now, idle)


def expired_before(conn: Connection, now: datetime, *, limit: int) -> list[Row]:
    """Uploads past their expiry that no PATCH is writing, oldest first."""
    query = (
        sa.select(tus_uploads).where(_expired(now)).order_by(tus_uploads.c.expires_at).limit(limit)
    )
    return every(conn.execute(query))


def delete_expired(conn: Connection, upload_ids: Sequence[str], now: datetime) -> None:
    """Forget these uploads (those still expired and idle)."""
    if upload_ids:
        conn.execute(tus_uploads.delete().where(tus_uploads.c.id.in_(upload_ids), _expired(now)))


def ids_of_tenant(conn: Connection, tenant_id: str) -> list[str]:
    """Every upload id of a tenant (its staged files go when it is purged)."""
    query = sa.select(tus_uploads.c.id).where(tus_uploads.c.tenant_id == tenant_id)
    return [str(r[0]) for r in conn.execute(query)]
