"""Rows of the shared pacing budgets (see `crosspost.engine.pacing` for the rule)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crosspost.store.tables import pacing

_READ = (
    sa.select(pacing.c.key, pacing.c.calls)
    .where(pacing.c.key.in_(sa.bindparam("keys", expanding=True)))
    .order_by(pacing.c.key)
)
_UPDATE = pacing.update().where(pacing.c.key == sa.bindparam("k")).values(calls=sa.bindparam("c"))


def lock_budgets(conn: Connection, keys: Collection[str]) -> dict[str, list[list[float]]]:
    """Each budget's log of [time, cost] spendings, locked until the transaction ends."""
    if not keys:
        return {}
    rows = [{"key": k, "calls": []} for k in sorted(keys)]
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(pacing).values(rows).on_conflict_do_nothing())
        # Locked in key order, so workers reserving overlapping budgets cannot deadlock.
        found = conn.execute(_READ.with_for_update(), {"keys": list(keys)})
    else:
        # SQLite's write transaction is already exclusive: no row lock needed.
        conn.execute(sqlite.insert(pacing).values(rows).on_conflict_do_nothing())
        found = conn.execute(_READ, {"keys": list(keys)})
    return {str(row.key): [[float(t), float(c)] for t, c in row.calls] for row in found}


def read_budgets(conn: Connection, keys: Collection[str]) -> dict[str, list[list[float]]]:
    """Each budget's log of [time, cost] spendings, without locking (a view)."""
    if not keys:
        return {}
    found = conn.execute(_READ, {"keys": list(keys)})
    return {str(row.key): [[float(t), float(c)] for t, c in row.calls] for row in found}


def mark_exhausted(conn: Connection, key: str, until: float, now: float) -> bool:
    """Note that a budget is full until `until`; True only for the first note of this
    run-out (none pending past `now`), so it is reported once."""
    result = conn.execute(
        pacing.update()
        .where(
            pacing.c.key == key,
            sa.or_(pacing.c.exhausted_until.is_(None), pacing.c.exhausted_until <= now),
        )
        .values(exhausted_until=until)
    )
    return result.rowcount == 1


def store_budgets(conn: Connection, calls: dict[str, list[list[float]]]) -> None:
    """Write the budgets' new spending logs."""
    if calls:
        conn.execute(_UPDATE, [{"k": k, "c": c} for k, c in calls.items()])
