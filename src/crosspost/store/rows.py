"""Result rows as plain dicts: typed `dict[str, Any]`, detached from the connection; and
the one way to select rows created in a range."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Result

Row = dict[str, Any]


def one(result: Result[Any]) -> Row | None:
    """The first row of a result, or None."""
    row = result.mappings().first()
    return dict(row) if row is not None else None


def every(result: Result[Any]) -> list[Row]:
    """Every row of a result."""
    return [dict(row) for row in result.mappings()]


def created_between(
    query: sa.Select[Any], table: sa.Table, since: datetime | None, until: datetime
) -> sa.Select[Any]:
    """`query` narrowed to rows of `table` created in [since, until) (no lower bound when
    `since` is None)."""
    query = query.where(table.c.created_at < until)
    return query if since is None else query.where(table.c.created_at >= since)
