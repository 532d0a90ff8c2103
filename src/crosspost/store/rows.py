"""Result rows as plain dicts: typed `dict[str, Any]`, detached from the connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Result

Row = dict[str, Any]


def one(result: Result[Any]) -> Row | None:
    """The first row of a result, or None."""
    row = result.mappings().first()
    return dict(row) if row is not None else None


def every(result: Result[Any]) -> list[Row]:
    """Every row of a result."""
    return [dict(row) for row in result.mappings()]
