"""Media rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, one
from crosspost.store.tables import media


def insert_media(conn: Connection, **values: Any) -> None:
    """Insert one media row (values named after the columns)."""
    conn.execute(media.insert().values(**values))


_GET = Prepared(
    sa.select(media).where(
        media.c.id == sa.bindparam("media_id"), media.c.tenant_id == sa.bindparam("tenant_id")
    )
)


def get_media(conn: Connection, tenant_id: str, media_id: str) -> Row | None:
    """A tenant's media row."""
    # Prepared (store/prepared): every POST /v1/posts with media reads it.
    return _GET.first(conn, {"media_id": media_id, "tenant_id": tenant_id})


_BY_ID = sa.select(media).where(media.c.id == sa.bindparam("media_id"))


def get_media_by_id(conn: Connection, media_id: str) -> Row | None:
    """A media row by id alone (signed URLs, which name no tenant)."""
    return one(conn.execute(_BY_ID, {"media_id": media_id}))
