"""Distribution rows and where each stands in the stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, conflict_insert, every, one
from crosspost.store.tables_music import distribution_stores, distributions


def insert_distribution(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert one distribution row."""
    conn.execute(distributions.insert(), dict(values))


def get_distribution(
    conn: Connection, tenant_id: str, distribution_id: str, *, lock: bool = False
) -> Row | None:
    """A tenant's distribution (another tenant's id finds nothing)."""
    query = sa.select(distributions).where(
        distributions.c.id == distribution_id, distributions.c.tenant_id == tenant_id
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return one(conn.execute(query))


def find_distribution(conn: Connection, distribution_id: str) -> Row | None:
    """Any tenant's distribution by id (its job's own look-up)."""
    return one(conn.execute(sa.select(distributions).where(distributions.c.id == distribution_id)))


def of_release(conn: Connection, release_id: str) -> list[Row]:
    """A release's distributions, by channel."""
    query = (
        sa.select(distributions)
        .where(distributions.c.release_id == release_id)
        .order_by(distributions.c.channel)
    )
    return every(conn.execute(query))


def update_distribution(conn: Connection, distribution_id: str, values: Mapping[str, Any]) -> None:
    """Change a distribution's columns (values named after them)."""
    conn.execute(
        distributions.update().where(distributions.c.id == distribution_id).values(**values)
    )


def stores_of(conn: Connection, distribution_ids: Iterable[str]) -> dict[str, list[Row]]:
    """Each distribution's stores, by name."""
    ids = sorted(set(distribution_ids))
    found: dict[str, list[Row]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        sa.select(distribution_stores)
        .where(distribution_stores.c.distribution_id.in_(ids))
        .order_by(distribution_stores.c.distribution_id, distribution_stores.c.store)
    )
    for row in every(conn.execute(query)):
        found[row["distribution_id"]].append(row)
    return found


def put_store(conn: Connection, values: Mapping[str, Any]) -> bool:
    """Record where the distribution stands in a store; True when that changed."""
    key = (distribution_stores.c.distribution_id == values["distribution_id"]) & (
        distribution_stores.c.store == values["store"]
    )
    held = one(conn.execute(sa.select(distribution_stores).where(key)))
    if held is None:
        conn.execute(conflict_insert(conn, distribution_stores).values(**values))
        return True
    if (held["status"], held["url"], held["reason"]) == (
        values["status"],
        values.get("url"),
        values.get("reason"),
    ):
        return False
    conn.execute(distribution_stores.update().where(key).values(**values))
    return True


def clear_stores(conn: Connection, distribution_id: str) -> None:
    """Forget where a distribution stood (a new attempt reports afresh)."""
    conn.execute(
        distribution_stores.delete().where(distribution_stores.c.distribution_id == distribution_id)
    )


def delete_of_release(conn: Connection, release_id: str) -> None:
    """Delete a release's distributions with their stores."""
    ids = sa.select(distributions.c.id).where(distributions.c.release_id == release_id)
    conn.execute(distribution_stores.delete().where(distribution_stores.c.distribution_id.in_(ids)))
    conn.execute(distributions.delete().where(distributions.c.release_id == release_id))


def status_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """How many distributions there are by channel and status (every tenant's)."""
    query = sa.select(distributions.c.channel, distributions.c.status, sa.func.count()).group_by(
        distributions.c.channel, distributions.c.status
    )
    return [(str(row[0]), str(row[1]), int(row[2])) for row in conn.execute(query)]


def recent_times_to_live(conn: Connection, *, limit: int) -> list[tuple[str, float]]:
    """Seconds from submission to live of the latest `limit` distributions that went live,
    with their channel."""
    query = (
        sa.select(distributions.c.channel, distributions.c.created_at, distributions.c.completed_at)
        .where(distributions.c.status == "live", distributions.c.completed_at.is_not(None))
        .order_by(distributions.c.completed_at.desc())
        .limit(limit)
    )
    return [
        (str(row.channel), (row.completed_at - row.created_at).total_seconds())
        for row in conn.execute(query)
    ]
