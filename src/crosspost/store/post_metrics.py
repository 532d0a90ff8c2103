"""Post metrics: each published target's schedule and latest counts, and the time series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.rows import Row, every, one
from crosspost.store.tables_metrics import metric_samples, target_metrics

# The counts every platform's metrics are normalised to (others go to `extra`).
COUNTS = ("views", "likes", "comments", "shares")
PENDING, SCHEDULED, FINISHED, STOPPED = "pending", "scheduled", "finished", "stopped"
GroupBy = Literal["platform", "account", "day"]


def split(counts: Mapping[str, int]) -> tuple[dict[str, int | None], dict[str, int]]:
    """(the four normalised counts, the platform's extras) of a fetch."""
    core = {name: counts.get(name) for name in COUNTS}
    return core, {k: v for k, v in counts.items() if k not in COUNTS}


def start(conn: Connection, target: Mapping[str, Any], published_at: datetime) -> None:
    """Give a target that was just published a metrics row (pending: the planner gives it
    its schedule), in the caller's transaction; a second publish of it changes nothing."""
    exists = conn.execute(
        sa.select(target_metrics.c.target_id).where(target_metrics.c.target_id == target["id"])
    ).first()
    if exists is not None:
        return
    conn.execute(
        target_metrics.insert().values(
            target_id=target["id"], tenant_id=target["tenant_id"], post_id=target["post_id"],
            account_id=target["account_id"], platform=target["platform"],
            published_at=published_at, state=PENDING, created_at=published_at,
            updated_at=published_at,
        )
    )  # fmt: skip


def get(conn: Connection, target_id: str) -> Row | None:
    """A target's metrics row."""
    query = sa.select(target_metrics).where(target_metrics.c.target_id == target_id)
    return one(conn.execute(query))


def pending(conn: Connection, limit: int) -> list[Row]:
    """Rows still waiting for their schedule, oldest first."""
    query = (
        sa.select(target_metrics)
        .where(target_metrics.c.state == PENDING)
        .order_by(target_metrics.c.published_at)
        .limit(limit)
    )
    return every(conn.execute(query))


def update(conn: Connection, target_id: str, now: datetime, **values: Any) -> None:
    """Set columns of a target's metrics row."""
    conn.execute(
        target_metrics.update()
        .where(target_metrics.c.target_id == target_id)
        .values(updated_at=now, **values)
    )


def record(
    conn: Connection,
    row: Mapping[str, Any],
    counts: Mapping[str, int],
    *,
    fetched_at: datetime,
    next_fetch_at: datetime | None,
) -> None:
    """A successful fetch: one sample in the series, the latest counts on the row, its error
    cleared and its next fetch set (none: the schedule is over)."""
    core, extra = split(counts)
    conn.execute(
        metric_samples.insert().values(
            id=new_id("mts"), tenant_id=row["tenant_id"], target_id=row["target_id"],
            fetched_at=fetched_at, extra=extra, **core,
        )
    )  # fmt: skip
    update(
        conn, row["target_id"], fetched_at, **core, extra=extra, last_fetched_at=fetched_at,
        fetches=int(row["fetches"]) + 1, failures=0, error_kind=None, error_code=None,
        error_message=None, next_fetch_at=next_fetch_at,
        state=SCHEDULED if next_fetch_at is not None else FINISHED,
    )  # fmt: skip


def stop(conn: Connection, target_id: str, reason: str, now: datetime) -> None:
    """End a target's schedule for good (it was deleted, its account disconnected)."""
    conn.execute(
        target_metrics.update()
        .where(
            target_metrics.c.target_id == target_id,
            target_metrics.c.state.in_((PENDING, SCHEDULED)),
        )
        .values(state=STOPPED, stop_reason=reason, next_fetch_at=None, updated_at=now)
    )


def of_post(conn: Connection, post_id: str) -> list[Row]:
    """The metrics rows of a post's targets, in target order."""
    query = (
        sa.select(target_metrics)
        .where(target_metrics.c.post_id == post_id)
        .order_by(target_metrics.c.target_id)
    )
    return every(conn.execute(query))


def samples(conn: Connection, target_ids: Sequence[str]) -> dict[str, list[Row]]:
    """Each target's series, oldest first."""
    grouped: dict[str, list[Row]] = {t: [] for t in target_ids}
    if not target_ids:
        return grouped
    query = (
        sa.select(metric_samples)
        .where(metric_samples.c.target_id.in_(target_ids))
        .order_by(metric_samples.c.target_id, metric_samples.c.fetched_at)
    )
    for row in every(conn.execute(query)):
        grouped[row["target_id"]].append(row)
    return grouped


def report(
    conn: Connection,
    tenant_id: str,
    *,
    group_by: GroupBy,
    since: datetime | None,
    until: datetime | None,
    platform: str | None = None,
) -> list[Row]:
    """The latest counts of a tenant's targets published in [since, until), summed per
    platform, account or day of publishing (UTC), with how many posts and targets."""
    key = _group_key(conn, group_by)
    measured = target_metrics.c.last_fetched_at.is_not(None)
    query = sa.select(
        key.label("key"),
        sa.func.count(sa.distinct(target_metrics.c.post_id)).label("posts"),
        sa.func.count().label("targets"),
        sa.func.sum(sa.case((measured, 1), else_=0)).label("measured"),
        *(sa.func.sum(target_metrics.c[name]).label(name) for name in COUNTS),
    ).where(target_metrics.c.tenant_id == tenant_id)
    if since is not None:
        query = query.where(target_metrics.c.published_at >= since)
    if until is not None:
        query = query.where(target_metrics.c.published_at < until)
    if platform is not None:
        query = query.where(target_metrics.c.platform == platform)
    return every(conn.execute(query.group_by(key).order_by(key)))


def _group_key(conn: Connection, group_by: GroupBy) -> sa.ColumnElement[Any]:
    if group_by == "platform":
        return target_metrics.c.platform
    if group_by == "account":
        return target_metrics.c.account_id
    # The UTC day of publishing, as text on both dialects (SQLite stores naive UTC).
    if conn.dialect.name == "postgresql":
        day = sa.func.timezone("UTC", target_metrics.c.published_at)
        return sa.func.to_char(day, "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", target_metrics.c.published_at)
