"""Tasks: the rows behind `/v1/jobs`, one per long-running request, kept after it ends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables_studio import tasks

ACTIVE = ("queued", "running")


def insert_task(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one task row."""
    conn.execute(tasks.insert(), dict(values))


def get_task(conn: Connection, tenant_id: str, task_id: str) -> Row | None:
    """A tenant's task (another tenant's id finds nothing)."""
    query = sa.select(tasks).where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
    return one(conn.execute(query))


def get_any(conn: Connection, task_id: str) -> Row | None:
    """A task by id alone (the worker running it)."""
    return one(conn.execute(sa.select(tasks).where(tasks.c.id == task_id)))


def list_tasks(
    conn: Connection,
    tenant_id: str,
    *,
    kind: str | None,
    subject_id: str | None,
    before_id: str | None,
    limit: int,
) -> list[Row]:
    """A page of a tenant's tasks, newest first, optionally of one kind or subject."""
    query = sa.select(tasks).where(tasks.c.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(tasks.c.kind == kind)
    if subject_id is not None:
        query = query.where(tasks.c.subject_id == subject_id)
    if before_id is not None:
        query = query.where(tasks.c.id < before_id)
    return every(conn.execute(query.order_by(tasks.c.id.desc()).limit(limit)))


def update_task(conn: Connection, task_id: str, values: Mapping[str, Any]) -> bool:
    """Change a task still queued or running; False once it has ended."""
    changed = conn.execute(
        tasks.update().where(tasks.c.id == task_id, tasks.c.status.in_(ACTIVE)).values(**values)
    )
    return changed.rowcount == 1


def set_result(conn: Connection, task_id: str, result: Mapping[str, Any]) -> None:
    """Replace a task's result, ended or not (what a follow-up of it, such as its
    notification, came to)."""
    conn.execute(tasks.update().where(tasks.c.id == task_id).values(result=dict(result)))


def purge_ended(conn: Connection, *, before: datetime, tenant_id: str | None = None) -> int:
    """Delete tasks that ended before `before` (of one tenant, or all); how many."""
    query = tasks.delete().where(tasks.c.status.not_in(ACTIVE), tasks.c.finished_at < before)
    if tenant_id is not None:
        query = query.where(tasks.c.tenant_id == tenant_id)
    return int(conn.execute(query).rowcount or 0)


def counts(conn: Connection, tenant_id: str) -> list[tuple[str, str, int]]:
    """(kind, status, how many) of a tenant's tasks."""
    query = (
        sa.select(tasks.c.kind, tasks.c.status, sa.func.count())
        .where(tasks.c.tenant_id == tenant_id)
        .group_by(tasks.c.kind, tasks.c.status)
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in conn.execute(query).all()]


def active_created(conn: Connection, tenant_id: str) -> list[datetime]:
    """When each of a tenant's queued or running tasks was made."""
    query = sa.select(tasks.c.created_at).where(
        tasks.c.tenant_id == tenant_id, tasks.c.status.in_(ACTIVE)
    )
    return [r[0] for r in conn.execute(query).all()]


def recent_results(conn: Connection, kind: str, *, limit: int) -> list[dict[str, Any]]:
    """The results of the latest `limit` tasks of `kind` that succeeded, newest first."""
    query = (
        sa.select(tasks.c.result)
        .where(tasks.c.kind == kind, tasks.c.status == "succeeded")
        .order_by(tasks.c.finished_at.desc())
        .limit(limit)
    )
    results: list[Any] = list(conn.execute(query).scalars())
    return [result for result in results if isinstance(result, dict)]
