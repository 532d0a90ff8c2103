"""Result rows as plain dicts: typed `dict[str, Any]`, detached from the connection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Result

Row = dict[str, Any]


def one(result: Result[Any]) -> Row | None:
    """The first row of a result, or None."""
    row = result.mappings().first()
    return dict(row) if row is not None else None


def every(result: Result[Any]) -> list[Row]:
    """Every row of a result."""
    return [dict(row) for row in result.mappings()]


def conflict_insert(conn: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that can take `on_conflict_do_nothing`/`_do_update`: both
    dialects spell ON CONFLICT the same way, but the construct comes from each."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
