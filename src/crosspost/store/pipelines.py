"""Pipeline rows, the GitHub deliveries they took and the GitHub events they hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, conflict_insert, every, one
from crosspost.store.tables_pipeline import (
    content_items,
    github_deliveries,
    github_events,
    pipelines,
)


def insert_pipeline(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one pipeline row."""
    conn.execute(pipelines.insert(), dict(values))


def get_pipeline(conn: Connection, tenant_id: str, pipeline_id: str) -> Row | None:
    """A tenant's pipeline (another tenant's id finds nothing)."""
    return one(
        conn.execute(
            sa.select(pipelines).where(
                pipelines.c.id == pipeline_id, pipelines.c.tenant_id == tenant_id
            )
        )
    )


def find_pipeline(conn: Connection, pipeline_id: str) -> Row | None:
    """Any tenant's pipeline by id: for GitHub's deliveries, which carry no API key (the
    signature made with the pipeline's own secret is what authenticates them)."""
    return one(conn.execute(sa.select(pipelines).where(pipelines.c.id == pipeline_id)))


def list_pipelines(
    conn: Connection, tenant_id: str, *, before_id: str | None, limit: int
) -> list[Row]:
    """A page of a tenant's pipelines, newest first, older than `before_id`."""
    query = sa.select(pipelines).where(pipelines.c.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(pipelines.c.id < before_id)
    return every(conn.execute(query.order_by(pipelines.c.id.desc()).limit(limit)))


def update_pipeline(conn: Connection, pipeline_id: str, values: Mapping[str, Any]) -> None:
    """Change a pipeline's columns (values named after them)."""
    conn.execute(pipelines.update().where(pipelines.c.id == pipeline_id).values(**values))


def replace_twitch_credentials(conn: Connection, pipeline_id: str, *, old: str, new: str) -> bool:
    """Store refreshed Twitch tokens over the ones they replace; False (nothing written)
    when the pipeline holds other tokens by now (a reconnection or another refresh)."""
    changed = conn.execute(
        pipelines.update()
        .where(pipelines.c.id == pipeline_id, pipelines.c.twitch_credentials == old)
        .values(twitch_credentials=new)
    )
    return bool(changed.rowcount)


def delete_pipeline(conn: Connection, pipeline_id: str) -> None:
    """Delete a pipeline with its deliveries, events and content items."""
    conn.execute(content_items.delete().where(content_items.c.pipeline_id == pipeline_id))
    conn.execute(github_events.delete().where(github_events.c.pipeline_id == pipeline_id))
    conn.execute(github_deliveries.delete().where(github_deliveries.c.pipeline_id == pipeline_id))
    conn.execute(pipelines.delete().where(pipelines.c.id == pipeline_id))


def take_delivery(conn: Connection, values: Mapping[str, Any]) -> bool:
    """Record a GitHub delivery; False when this pipeline already took its id (a replay)."""
    statement = (
        conflict_insert(conn, github_deliveries)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(github_deliveries.c.delivery_id)
    )
    return conn.execute(statement).first() is not None


def add_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert events not already held (same repository, kind, ref and action); how many
    were new."""
    added = 0
    for row in rows:
        statement = (
            conflict_insert(conn, github_events)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(github_events.c.id)
        )
        added += conn.execute(statement).first() is not None
    return added


def list_events(
    conn: Connection,
    pipeline_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    kinds: Sequence[str],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Row]:
    """A pipeline's events in time order (oldest first) within [since, until), after the
    (occurred_at, id) position `after`."""
    query = sa.select(github_events).where(github_events.c.pipeline_id == pipeline_id)
    if since is not None:
        query = query.where(github_events.c.occurred_at >= since)
    if until is not None:
        query = query.where(github_events.c.occurred_at < until)
    if kinds:
        query = query.where(github_events.c.kind.in_(kinds))
    if after is not None:
        at, event_id = after
        query = query.where(
            sa.or_(
                github_events.c.occurred_at > at,
                sa.and_(github_events.c.occurred_at == at, github_events.c.id > event_id),
            )
        )
    order = (github_events.c.occurred_at, github_events.c.id)
    return every(conn.execute(query.order_by(*order).limit(limit)))


def events_between(
    conn: Connection,
    pipeline_ids: Sequence[str],
    since: datetime,
    until: datetime,
    *,
    repository: str | None = None,
) -> list[Row]:
    """The events of some pipelines in [since, until), oldest first (each pipeline's by
    its (pipeline_id, occurred_at) index)."""
    if not pipeline_ids:
        return []
    query = sa.select(github_events).where(
        github_events.c.pipeline_id.in_(list(pipeline_ids)),
        github_events.c.occurred_at >= since,
        github_events.c.occurred_at < until,
    )
    if repository is not None:
        query = query.where(sa.func.lower(github_events.c.repository) == repository.lower())
    return every(conn.execute(query.order_by(github_events.c.occurred_at, github_events.c.id)))


def pipeline_ids(conn: Connection, tenant_id: str) -> list[str]:
    """Every pipeline of a tenant."""
    query = sa.select(pipelines.c.id).where(pipelines.c.tenant_id == tenant_id)
    return [str(row[0]) for row in conn.execute(query).all()]
