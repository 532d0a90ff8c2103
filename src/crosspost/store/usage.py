"""Usage counters and quotas: atomic upserts on SQLite and PostgreSQL.

Counters are incremented with `INSERT … ON CONFLICT … DO UPDATE SET value = value + n`, one
statement, so concurrent writers never lose an increment. A hard limit is enforced by the
same statement with a `WHERE value + n <= limit` on the update: the database row lock
decides who gets the last unit, and a writer refused by the limit gets no row back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every
from crosspost.store.tables import ledger_events, usage_counters, usage_quotas

TENANT_TOTAL = ""  # the key_id of a tenant's total row
_COUNTER_PK = ["tenant_id", "key_id", "period", "metric"]
_QUOTA_PK = ["tenant_id", "key_id", "metric"]


def _insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which offers `on_conflict_do_update`."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# Built once per dialect: constructing an upsert (its `excluded` columns above all) costs
# several times what executing it does, and these run on every metered request.
@functools.cache
def _upsert(dialect: str, *, limited: bool = False, returning: bool = False) -> Prepared:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(usage_counters)
    summed = usage_counters.c.value + stmt.excluded.value
    stmt = stmt.on_conflict_do_update(
        index_elements=_COUNTER_PK,
        set_={"value": summed},
        where=(summed <= sa.bindparam("limit")) if limited else None,
    )
    return Prepared(
        stmt.returning(usage_counters.c.value) if returning else stmt, [*_COUNTER_PK, "value"]
    )


def add(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add `value` to each (tenant_id, key_id, period, metric) counter, creating it at 0.

    The caller orders `rows` (see `lock_order`) so that transactions touching several
    counters lock them in one global order and cannot deadlock each other.
    """
    if rows:
        _upsert(conn.dialect.name).execute_many(conn, rows)


def add_one(
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    period: str,
    metric: str,
    amount: int,
    limit: int | None = None,
) -> int | None:
    """Add `amount` to one counter, unless a `limit` is given and the sum would pass it.

    Returns the new value, or None when the limit refused it (nothing was changed).
    """
    if limit is not None and amount > limit:
        return None
    stmt = _upsert(conn.dialect.name, limited=limit is not None, returning=True)
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "key_id": key_id,
        "period": period,
        "metric": metric,
        "value": amount,
    }
    if limit is not None:
        values["limit"] = limit
    found = stmt.scalar(conn, values)
    return None if found is None else int(found)


def lock_order(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The sort key that every multi-counter write follows (tenant totals first)."""
    return (row["tenant_id"], row["period"], row["metric"], row["key_id"])


def get_value(conn: Connection, *, tenant_id: str, key_id: str, period: str, metric: str) -> int:
    """One counter's value (0 when it was never incremented)."""
    found = conn.execute(
        sa.select(usage_counters.c.value).where(
            usage_counters.c.tenant_id == tenant_id,
            usage_counters.c.key_id == key_id,
            usage_counters.c.period == period,
            usage_counters.c.metric == metric,
        )
    ).scalar()
    return int(found or 0)


def counters_for(conn: Connection, tenant_id: str, period: str) -> list[Row]:
    """Every counter of a tenant in a period: key_id, metric, value (tenant totals first)."""
    rows = conn.execute(
        sa.select(usage_counters.c.key_id, usage_counters.c.metric, usage_counters.c.value)
        .where(usage_counters.c.tenant_id == tenant_id, usage_counters.c.period == period)
        .order_by(usage_counters.c.key_id, usage_counters.c.metric)
    )
    return every(rows)


def totals(conn: Connection, tenant_ids: Iterable[str], period: str, metric: str) -> dict[str, int]:
    """The tenant totals of one metric in a period, for several tenants at once."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(usage_counters.c.tenant_id, usage_counters.c.value).where(
            usage_counters.c.tenant_id.in_(ids),
            usage_counters.c.key_id == TENANT_TOTAL,
            usage_counters.c.period == period,
            usage_counters.c.metric == metric,
        )
    )
    return {str(r.tenant_id): int(r.value) for r in rows}


# -- quotas ------------------------------------------------------------------------------


_QUOTAS = Prepared(
    sa.select(usage_quotas).where(
        usage_quotas.c.tenant_id == sa.bindparam("tenant_id"),
        usage_quotas.c.metric == sa.bindparam("metric"),
        sa.or_(
            usage_quotas.c.key_id == TENANT_TOTAL,
            usage_quotas.c.key_id == sa.bindparam("key_id"),
        ),
    )
)


def get_quotas(
    conn: Connection, tenant_id: str, metric: str, key_id: str = TENANT_TOTAL
) -> tuple[Row | None, Row | None]:
    """The tenant's quota and the key's quota on one metric (each None when not set)."""
    # Prepared, both in one statement: every metered request reads them.
    rows = _QUOTAS.all(conn, {"tenant_id": tenant_id, "metric": metric, "key_id": key_id})
    tenant = next((r for r in rows if r["key_id"] == TENANT_TOTAL), None)
    key = next((r for r in rows if r["key_id"] != TENANT_TOTAL), None)
    return tenant, key


def get_quota(
    conn: Connection, tenant_id: str, metric: str, key_id: str = TENANT_TOTAL
) -> Row | None:
    """One quota: the tenant's (key_id '') or a key's, on one metric, if set."""
    tenant, key = get_quotas(conn, tenant_id, metric, key_id)
    return tenant if key_id == TENANT_TOTAL else key


def quotas_for(conn: Connection, tenant_id: str) -> list[Row]:
    """Every quota of a tenant, the tenant's own then each key's, by metric."""
    rows = conn.execute(
        sa.select(usage_quotas)
        .where(usage_quotas.c.tenant_id == tenant_id)
        .order_by(usage_quotas.c.key_id, usage_quotas.c.metric)
    )
    return every(rows)


def quotas_on(conn: Connection, tenant_ids: Iterable[str], metric: str) -> list[Row]:
    """The tenant-wide quotas of several tenants on one metric."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return []
    rows = conn.execute(
        sa.select(usage_quotas).where(
            usage_quotas.c.tenant_id.in_(ids),
            usage_quotas.c.key_id == TENANT_TOTAL,
            usage_quotas.c.metric == metric,
        )
    )
    return every(rows)


def put_quota(
    conn: Connection,
    *,
    tenant_id: str,
    metric: str,
    soft_limit: int | None,
    hard_limit: int | None,
    key_id: str = TENANT_TOTAL,
    set_by: str = "tenant",
) -> None:
    """Set (replace) a tenant's (or, with `key_id`, a key's) quota on a metric.

    A changed soft limit re-arms its warning, so crossing the new threshold is announced.
    """
    stmt = _insert(conn, usage_quotas)
    stmt = stmt.on_conflict_do_update(
        index_elements=_QUOTA_PK,
        set_={
            "soft_limit": stmt.excluded.soft_limit,
            "hard_limit": stmt.excluded.hard_limit,
            "set_by": stmt.excluded.set_by,
            "warned_period": sa.case(
                (
                    usage_quotas.c.soft_limit.is_not_distinct_from(stmt.excluded.soft_limit),
                    usage_quotas.c.warned_period,
                ),
                else_=None,
            ),
        },
    )
    conn.execute(
        stmt,
        {
            "tenant_id": tenant_id,
            "key_id": key_id,
            "metric": metric,
            "set_by": set_by,
            "soft_limit": soft_limit,
            "hard_limit": hard_limit,
            "warned_period": None,
        },
    )


def carry_over_key(
    conn: Connection, tenant_id: str, from_key: str, to_key: str, period: str
) -> None:
    """Give a rolled key's replacement its quotas and this month's counters, so a roll
    neither lifts a key's limits nor resets what it used."""
    for quota in every(
        conn.execute(
            sa.select(usage_quotas).where(
                usage_quotas.c.tenant_id == tenant_id, usage_quotas.c.key_id == from_key
            )
        )
    ):
        conn.execute(usage_quotas.insert().values({**quota, "key_id": to_key}))
    counters = conn.execute(
        sa.select(usage_counters.c.metric, usage_counters.c.value).where(
            usage_counters.c.tenant_id == tenant_id,
            usage_counters.c.key_id == from_key,
            usage_counters.c.period == period,
        )
    )
    add(
        conn,
        [
            {"tenant_id": tenant_id, "key_id": to_key, "period": period, "metric": m, "value": v}
            for m, v in counters
        ],
    )


def delete_quota(conn: Connection, tenant_id: str, metric: str, key_id: str = TENANT_TOTAL) -> bool:
    """Remove a tenant's (or a key's) quota on a metric; True when there was one."""
    result = conn.execute(
        usage_quotas.delete().where(
            usage_quotas.c.tenant_id == tenant_id,
            usage_quotas.c.key_id == key_id,
            usage_quotas.c.metric == metric,
        )
    )
    return result.rowcount == 1


def claim_warning(
    conn: Connection, tenant_id: str, metric: str, period: str, key_id: str = TENANT_TOTAL
) -> bool:
    """Mark the soft-limit warning of `period` as sent; True only for the one caller that
    marks it (so the warning event is appended once per quota and month)."""
    result = conn.execute(
        usage_quotas.update()
        .where(
            usage_quotas.c.tenant_id == tenant_id,
            usage_quotas.c.key_id == key_id,
            usage_quotas.c.metric == metric,
            sa.or_(usage_quotas.c.warned_period.is_(None), usage_quotas.c.warned_period != period),
        )
        .values(warned_period=period)
    )
    return result.rowcount == 1


# -- attribution -------------------------------------------------------------------------

_CREATION_EVENTS = ("post_created", "post_scheduled")
# Every publish reads it (store/prepared).
_CREATOR = Prepared(
    sa.select(ledger_events.c.data)
    .where(
        ledger_events.c.post_id == sa.bindparam("post_id"),
        sa.or_(*(ledger_events.c.event_type == kind for kind in _CREATION_EVENTS)),
    )
    .order_by(ledger_events.c.id)
    .limit(1)
)


def post_creator_key(conn: Connection, post_id: str) -> str:
    """The API key that created a post (recorded in its creation event), or '' if none."""
    data = _CREATOR.scalar(conn, {"post_id": post_id})
    if isinstance(data, Mapping):
        return str(data.get("key_id") or TENANT_TOTAL)
    return TENANT_TOTAL
