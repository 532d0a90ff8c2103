"""Queries of the clip studio's projects, their sources and their clips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import media
from crosspost.store.tables_studio import clips, project_sources, projects, renders


def insert_project(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one project row."""
    conn.execute(projects.insert(), dict(values))


def get_project(
    conn: Connection, tenant_id: str, project_id: str, *, lock: bool = False
) -> Row | None:
    """A tenant's project (another tenant's id finds nothing); `lock` holds it (PostgreSQL)."""
    query = sa.select(projects).where(
        projects.c.id == project_id, projects.c.tenant_id == tenant_id
    )
    return one(conn.execute(query.with_for_update() if lock else query))


def list_projects(
    conn: Connection, tenant_id: str, *, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's projects, newest first."""
    query = sa.select(projects).where(projects.c.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(projects.c.id < before_id)
    return every(conn.execute(query.order_by(projects.c.id.desc()).limit(limit)))


def update_project(conn: Connection, project_id: str, values: Mapping[str, Any]) -> None:
    """Change a project's columns."""
    conn.execute(projects.update().where(projects.c.id == project_id).values(**values))


def delete_project(conn: Connection, project_id: str) -> None:
    """Delete a project with its clips and source links (renders are removed by the caller)."""
    conn.execute(clips.delete().where(clips.c.project_id == project_id))
    conn.execute(project_sources.delete().where(project_sources.c.project_id == project_id))
    conn.execute(projects.delete().where(projects.c.id == project_id))


def add_source(conn: Connection, values: Mapping[str, Any]) -> None:
    """Link a media item to a project as a source."""
    conn.execute(project_sources.insert(), dict(values))


def sources(conn: Connection, project_ids: list[str]) -> list[Row]:
    """The sources of these projects with their media's name, kind and duration, in the
    order they were added."""
    query = (
        sa.select(project_sources, media.c.filename, media.c.kind, media.c.duration_seconds)
        .join(media, media.c.id == project_sources.c.media_id)
        .where(project_sources.c.project_id.in_(project_ids))
        .order_by(project_sources.c.added_at, project_sources.c.media_id)
    )
    return every(conn.execute(query))


def get_source(conn: Connection, project_id: str, media_id: str) -> Row | None:
    """One source of a project, with its media's columns."""
    query = (
        sa.select(
            project_sources,
            media.c.filename,
            media.c.kind,
            media.c.duration_seconds,
            media.c.storage_key,
        )
        .join(media, media.c.id == project_sources.c.media_id)
        .where(project_sources.c.project_id == project_id, project_sources.c.media_id == media_id)
    )
    return one(conn.execute(query))


def update_source(
    conn: Connection, project_id: str, media_id: str, values: Mapping[str, Any]
) -> None:
    """Change a source link's columns (its transcript)."""
    conn.execute(
        project_sources.update()
        .where(project_sources.c.project_id == project_id, project_sources.c.media_id == media_id)
        .values(**values)
    )


def remove_source(conn: Connection, project_id: str, media_id: str) -> None:
    """Unlink a source and delete the clips cut from it."""
    conn.execute(
        clips.delete().where(clips.c.project_id == project_id, clips.c.media_id == media_id)
    )
    conn.execute(
        project_sources.delete().where(
            project_sources.c.project_id == project_id, project_sources.c.media_id == media_id
        )
    )


def clip_counts(conn: Connection, project_ids: list[str]) -> dict[str, int]:
    """How many clips each of these projects holds."""
    query = (
        sa.select(clips.c.project_id, sa.func.count())
        .where(clips.c.project_id.in_(project_ids))
        .group_by(clips.c.project_id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def insert_clips(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert clip rows."""
    if rows:
        conn.execute(clips.insert(), [dict(r) for r in rows])


def get_clip(conn: Connection, tenant_id: str, clip_id: str) -> Row | None:
    """A tenant's clip."""
    query = sa.select(clips).where(clips.c.id == clip_id, clips.c.tenant_id == tenant_id)
    return one(conn.execute(query))


def list_clips(
    conn: Connection, project_id: str, *, before_id: str | None, limit: int, origin: str | None
) -> list[Row]:
    """A page of a project's clips, newest first (detected ones best first within a run)."""
    query = sa.select(clips).where(clips.c.project_id == project_id)
    if origin is not None:
        query = query.where(clips.c.origin == origin)
    if before_id is not None:
        query = query.where(clips.c.id < before_id)
    return every(conn.execute(query.order_by(clips.c.id.desc()).limit(limit)))


def update_clip(conn: Connection, clip_id: str, values: Mapping[str, Any]) -> None:
    """Change a clip's columns."""
    conn.execute(clips.update().where(clips.c.id == clip_id).values(**values))


def delete_clip(conn: Connection, clip_id: str) -> None:
    """Delete a clip."""
    conn.execute(clips.delete().where(clips.c.id == clip_id))


def clip_renders(conn: Connection, clip_ids: list[str]) -> list[Row]:
    """The renders made of these clips."""
    return every(conn.execute(sa.select(renders).where(renders.c.clip_id.in_(clip_ids))))
