"""Renders (a clip made into a video file) and the studio rows a render reads: its clip,
the clip's project and source, and a brand kit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import media
from crosspost.store.tables_studio import (
    brand_kits,
    clips,
    project_sources,
    projects,
    renders,
    tasks,
)

# Statuses a render holds while its job may still write it.
ACTIVE = ("queued", "rendering")


def insert_render(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one render row."""
    conn.execute(renders.insert(), dict(values))


def get_render(conn: Connection, tenant_id: str, render_id: str) -> Row | None:
    """A tenant's render (another tenant's id finds nothing)."""
    query = sa.select(renders).where(renders.c.id == render_id, renders.c.tenant_id == tenant_id)
    return one(conn.execute(query))


def get_any(conn: Connection, render_id: str) -> Row | None:
    """A render by id alone (the worker making it)."""
    return one(conn.execute(sa.select(renders).where(renders.c.id == render_id)))


def list_renders(
    conn: Connection, tenant_id: str, *, clip_id: str | None, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's renders, newest first, optionally of one clip."""
    query = sa.select(renders).where(renders.c.tenant_id == tenant_id)
    if clip_id is not None:
        query = query.where(renders.c.clip_id == clip_id)
    if before_id is not None:
        query = query.where(renders.c.id < before_id)
    return every(conn.execute(query.order_by(renders.c.id.desc()).limit(limit)))


def update_render(conn: Connection, render_id: str, values: Mapping[str, Any]) -> bool:
    """Change a render still queued or rendering; False once it has ended (only one run can
    end it)."""
    changed = conn.execute(
        renders.update()
        .where(renders.c.id == render_id, renders.c.status.in_(ACTIVE))
        .values(**values)
    )
    return changed.rowcount == 1


def get_clip(conn: Connection, tenant_id: str | None, clip_id: str) -> Row | None:
    """A clip, the tenant's only when `tenant_id` is given."""
    query = sa.select(clips).where(clips.c.id == clip_id)
    if tenant_id is not None:
        query = query.where(clips.c.tenant_id == tenant_id)
    return one(conn.execute(query))


def get_project(conn: Connection, project_id: str) -> Row | None:
    """A project by id (reached through a clip already checked to be the tenant's)."""
    return one(conn.execute(sa.select(projects).where(projects.c.id == project_id)))


def get_source(conn: Connection, project_id: str, media_id: str) -> Row | None:
    """A project's source row, with the transcript it keeps."""
    query = sa.select(project_sources).where(
        project_sources.c.project_id == project_id, project_sources.c.media_id == media_id
    )
    return one(conn.execute(query))


def get_brand_kit(conn: Connection, tenant_id: str, brand_kit_id: str) -> Row | None:
    """A tenant's brand kit (another tenant's id finds nothing)."""
    query = sa.select(brand_kits).where(
        brand_kits.c.id == brand_kit_id, brand_kits.c.tenant_id == tenant_id
    )
    return one(conn.execute(query))


def tasks_of(conn: Connection, task_ids: list[str]) -> dict[str, Row]:
    """The tasks of several renders, by id."""
    if not task_ids:
        return {}
    rows = every(conn.execute(sa.select(tasks).where(tasks.c.id.in_(task_ids))))
    return {row["id"]: row for row in rows}


def outputs_of(conn: Connection, media_ids: list[str]) -> dict[str, Row]:
    """The media items several renders made, by id (none the tenant deleted since)."""
    if not media_ids:
        return {}
    query = sa.select(media).where(media.c.id.in_(media_ids), media.c.deleted_at.is_(None))
    return {row["id"]: row for row in every(conn.execute(query))}
