"""Brand kit rows, and what refers to them (projects) or is referred to by them (media)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables_studio import brand_kits, projects

_MEDIA_COLUMNS = (brand_kits.c.logo_media_id, brand_kits.c.intro_media_id,
                  brand_kits.c.outro_media_id)  # fmt: skip


def insert_kit(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one brand kit row."""
    conn.execute(brand_kits.insert(), dict(values))


def get_kit(conn: Connection, tenant_id: str, kit_id: str, *, lock: bool = False) -> Row | None:
    """A tenant's brand kit (another tenant's id finds nothing); `lock` holds the row
    against other writers until the transaction ends (PostgreSQL; SQLite has one writer)."""
    query = sa.select(brand_kits).where(
        brand_kits.c.id == kit_id, brand_kits.c.tenant_id == tenant_id
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return one(conn.execute(query))


def list_kits(conn: Connection, tenant_id: str, *, before_id: str | None, limit: int) -> list[Row]:
    """A page of a tenant's brand kits, newest first, older than `before_id`."""
    query = sa.select(brand_kits).where(brand_kits.c.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(brand_kits.c.id < before_id)
    return every(conn.execute(query.order_by(brand_kits.c.id.desc()).limit(limit)))


def update_kit(conn: Connection, kit_id: str, values: Mapping[str, Any]) -> None:
    """Change a brand kit's columns (values named after them)."""
    conn.execute(brand_kits.update().where(brand_kits.c.id == kit_id).values(**values))


def delete_kit(conn: Connection, kit_id: str) -> None:
    """Delete a brand kit row."""
    conn.execute(brand_kits.delete().where(brand_kits.c.id == kit_id))


def kits_using(conn: Connection, tenant_id: str, media_id: str) -> list[str]:
    """The tenant's brand kits that use a media item as logo, intro or outro, oldest first."""
    query = (
        sa.select(brand_kits.c.id)
        .where(
            brand_kits.c.tenant_id == tenant_id,
            sa.or_(*(column == media_id for column in _MEDIA_COLUMNS)),
        )
        .order_by(brand_kits.c.id)
    )
    return [str(r[0]) for r in conn.execute(query)]


def projects_using(conn: Connection, tenant_id: str, kit_id: str) -> list[str]:
    """The tenant's projects that name a brand kit, oldest first."""
    query = (
        sa.select(projects.c.id)
        .where(projects.c.tenant_id == tenant_id, projects.c.brand_kit_id == kit_id)
        .order_by(projects.c.id)
    )
    return [str(r[0]) for r in conn.execute(query)]
