"""Content item rows: insert once per clip, move through processing, and list by seed 002's
filters in any of its sorts with a keyset cursor (never an offset: a page deep in the list
costs what the first does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, conflict_insert, every, one
from crosspost.store.tables_pipeline import content_items, content_templates

# The API's sort names and the columns behind them.
SORTS: Mapping[str, sa.Column[Any]] = {
    "created_at": content_items.c.clip_created_at,
    "view_count": content_items.c.clip_view_count,
    "content_score": content_items.c.content_score,
    "duration": content_items.c.clip_duration,
}


@dataclass(frozen=True)
class ItemFilter:
    """Seed 002's filters; None (or empty) means no filter."""

    pipeline_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_views: int | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    categories: Sequence[str] = ()
    min_confidence: float | None = None
    platform: str | None = None
    statuses: Sequence[str] = ()
    reviews: Sequence[str] = ()


def add_item(conn: Connection, values: Mapping[str, Any]) -> bool:
    """Insert an item unless its pipeline holds that clip already; True when new."""
    statement = (
        conflict_insert(conn, content_items)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(content_items.c.id)
    )
    return conn.execute(statement).first() is not None


def get_item(conn: Connection, tenant_id: str, item_id: str) -> Row | None:
    """A tenant's item (another tenant's id finds nothing)."""
    query = sa.select(content_items).where(
        content_items.c.id == item_id, content_items.c.tenant_id == tenant_id
    )
    return one(conn.execute(query))


def get_any(conn: Connection, item_id: str) -> Row | None:
    """An item by id, whoever's (for the jobs that process it)."""
    return one(conn.execute(sa.select(content_items).where(content_items.c.id == item_id)))


def to_process(conn: Connection, pipeline_id: str, since: datetime, until: datetime) -> list[Row]:
    """A pipeline's items of clips made in [since, until) that are not ready for content,
    oldest clip first."""
    query = (
        sa.select(content_items)
        .where(
            content_items.c.pipeline_id == pipeline_id,
            content_items.c.clip_created_at >= since,
            content_items.c.clip_created_at < until,
            content_items.c.processing_status != "ready_for_content",
        )
        .order_by(content_items.c.clip_created_at, content_items.c.id)
    )
    return every(conn.execute(query))


def status_counts(
    conn: Connection, pipeline_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    """How many of a pipeline's items of [since, until) are in each status."""
    query = (
        sa.select(content_items.c.processing_status, sa.func.count())
        .where(
            content_items.c.pipeline_id == pipeline_id,
            content_items.c.clip_created_at >= since,
            content_items.c.clip_created_at < until,
        )
        .group_by(content_items.c.processing_status)
    )
    return {str(row[0]): int(row[1]) for row in conn.execute(query).all()}


def get_by_clip(conn: Connection, pipeline_id: str, clip_id: str) -> Row | None:
    """The item a pipeline holds for a clip."""
    query = sa.select(content_items).where(
        content_items.c.pipeline_id == pipeline_id, content_items.c.clip_id == clip_id
    )
    return one(conn.execute(query))


def update_item(conn: Connection, item_id: str, values: Mapping[str, Any]) -> None:
    """Change an item's columns (values named after them)."""
    conn.execute(content_items.update().where(content_items.c.id == item_id).values(**values))


def list_items(
    conn: Connection,
    tenant_id: str,
    where: ItemFilter,
    *,
    sort: str,
    descending: bool,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[Row]:
    """A page of a tenant's items matching `where`, in `sort` order (ties by id), after the
    (sort value, id) position `after`. Items without a value to sort by (not yet scored)
    come last either way."""
    column = SORTS[sort]
    ids = content_items.c.id
    base = sa.select(content_items).where(content_items.c.tenant_id == tenant_id, *_where(where))
    order = (column.desc(), ids.desc()) if descending else (column.asc(), ids.asc())
    found: list[Row] = []
    # Valued rows, then (for a nullable sort) the unvalued by id: each part in the order of
    # its index, where an ORDER BY on "IS NULL" first would make both databases sort them all.
    if after is None or after[0] is not None:
        valued = base.where(column.is_not(None)) if column.nullable else base
        if after is not None:
            valued = valued.where(_after(column, after, descending))
        found = every(conn.execute(valued.order_by(*order).limit(limit)))
    if column.nullable and len(found) < limit:
        unvalued = base.where(column.is_(None))
        if after is not None and after[0] is None:
            unvalued = unvalued.where(ids < after[1] if descending else ids > after[1])
        by_id = ids.desc() if descending else ids.asc()
        found += every(conn.execute(unvalued.order_by(by_id).limit(limit - len(found))))
    return found


def _where(f: ItemFilter) -> list[sa.ColumnElement[bool]]:
    c = content_items.c
    bounds: list[tuple[Any, Callable[[Any], sa.ColumnElement[bool]]]] = [
        (f.pipeline_id, c.pipeline_id.__eq__),
        (f.since, c.clip_created_at.__ge__),
        (f.until, c.clip_created_at.__lt__),
        (f.min_views, c.clip_view_count.__ge__),
        (f.min_duration, c.clip_duration.__ge__),
        (f.max_duration, c.clip_duration.__le__),
        (f.min_confidence, c.match_confidence.__ge__),
        (f.platform, c.platform.__eq__),
    ]
    conditions = [test(value) for value, test in bounds if value is not None]
    for values, column in (
        (f.categories, c.content_category),
        (f.statuses, c.processing_status),
        (f.reviews, c.review),
    ):
        if values:
            conditions.append(column.in_(list(values)))
    return conditions


def _after(
    column: sa.Column[Any], after: tuple[Any, str], descending: bool
) -> sa.ColumnElement[bool]:
    """Valued rows past the position (value, id) in the list's order."""
    # A row value compares as the index orders, so both databases seek straight to it.
    here = sa.tuple_(column, content_items.c.id)
    position = sa.tuple_(sa.literal(after[0], column.type), sa.literal(after[1]))
    return here < position if descending else here > position


_KEYS = (
    content_items.c.audio_key,
    content_items.c.transcript_key,
    content_items.c.github_context_key,
)


def stored_keys(
    conn: Connection, *, tenant_id: str | None = None, pipeline_id: str | None = None
) -> list[str]:
    """The storage keys of the stored parts of a tenant's (or a pipeline's) items."""
    query = sa.select(*_KEYS)
    if tenant_id is not None:
        query = query.where(content_items.c.tenant_id == tenant_id)
    if pipeline_id is not None:
        query = query.where(content_items.c.pipeline_id == pipeline_id)
    return [str(key) for row in conn.execute(query) for key in row if key]


def get_template(conn: Connection, tenant_id: str, content_type: str) -> str | None:
    """A tenant's own template of a kind of post, if it set one."""
    query = sa.select(content_templates.c.template).where(
        content_templates.c.tenant_id == tenant_id,
        content_templates.c.content_type == content_type,
    )
    found = conn.execute(query).scalar()
    return str(found) if found is not None else None


def put_template(
    conn: Connection, tenant_id: str, content_type: str, template: str, now: datetime
) -> None:
    """Set (or replace) a tenant's template of a kind of post."""
    statement = conflict_insert(conn, content_templates).values(
        tenant_id=tenant_id, content_type=content_type, template=template, updated_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "content_type"],
            set_={"template": template, "updated_at": now},
        )
    )


def delete_template(conn: Connection, tenant_id: str, content_type: str) -> bool:
    """Go back to the built-in template; False when the tenant had none of its own."""
    result = conn.execute(
        content_templates.delete().where(
            content_templates.c.tenant_id == tenant_id,
            content_templates.c.content_type == content_type,
        )
    )
    return bool(result.rowcount)
