"""Media rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, one
from crosspost.store.tables import media


def insert_media(conn: Connection, **values: Any) -> None:
    """Insert one media row (values named after the columns)."""
    conn.execute(media.insert().values(**values))


def get_media(conn: Connection, tenant_id: str, media_id: str) -> Row | None:
    """A tenant's media row."""
    return one(
        conn.execute(sa.select(media).where(media.c.id == media_id, media.c.tenant_id == tenant_id))
    )
