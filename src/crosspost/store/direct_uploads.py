"""Direct upload rows: one per file a client PUTs straight to the media store, the media
item it becomes, and when its upload URL stops working."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import direct_uploads


def insert_upload(conn: Connection, **values: Any) -> None:
    """Insert one upload (values named after the columns)."""
    conn.execute(direct_uploads.insert().values(**values))


def get_upload(conn: Connection, tenant_id: str, upload_id: str) -> Row | None:
    """A tenant's upload."""
    query = sa.select(direct_uploads).where(
        direct_uploads.c.id == upload_id, direct_uploads.c.tenant_id == tenant_id
    )
    return one(conn.execute(query))


def get_by_id(conn: Connection, upload_id: str) -> Row | None:
    """An upload by id alone (its signed URL names no tenant)."""
    return one(conn.execute(sa.select(direct_uploads).where(direct_uploads.c.id == upload_id)))


def lock_upload(conn: Connection, tenant_id: str, upload_id: str) -> Row | None:
    """A tenant's upload, locked until the transaction ends."""
    query = (
        sa.select(direct_uploads)
        .where(direct_uploads.c.id == upload_id, direct_uploads.c.tenant_id == tenant_id)
        .with_for_update()
    )
    return one(conn.execute(query))


def update_upload(conn: Connection, upload_id: str, **values: Any) -> None:
    """Change an upload's columns."""
    conn.execute(direct_uploads.update().where(direct_uploads.c.id == upload_id).values(**values))


def expired_before(conn: Connection, cutoff: datetime, *, limit: int) -> list[Row]:
    """Uploads whose URL stopped working before `cutoff`, oldest first."""
    query = (
        sa.select(direct_uploads)
        .where(direct_uploads.c.expires_at < cutoff)
        .order_by(direct_uploads.c.expires_at)
        .limit(limit)
    )
    return every(conn.execute(query))


def unfinished_of_tenant(conn: Connection, tenant_id: str) -> list[str]:
    """The object keys (media ids) of a tenant's uploads never completed."""
    query = sa.select(direct_uploads.c.media_id).where(
        direct_uploads.c.tenant_id == tenant_id, direct_uploads.c.status != "complete"
    )
    return [str(r[0]) for r in conn.execute(query)]


def delete_uploads(conn: Connection, upload_ids: Sequence[str]) -> None:
    """Forget these uploads."""
    if upload_ids:
        conn.execute(direct_uploads.delete().where(direct_uploads.c.id.in_(upload_ids)))
