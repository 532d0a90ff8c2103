"""The job store on SQLite: claims serialise on the database write lock (BEGIN IMMEDIATE)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert

from crosspost.jobs._sql import SqlJobStore
from crosspost.store.tables import jobs


class SqliteJobStore(SqlJobStore):
    """`JobStore` for the embedded deployment.

    SQLite has one writer at a time and `Database.write()` takes that lock at BEGIN, so the
    pick-and-update of a claim is atomic without row locks. Workers live in one process (or
    poll), so there is no cross-process wake-up.
    """

    def _insert(self) -> Insert:
        return sqlite.insert(jobs)

    def _pick(self, query: Select[tuple[int]], name: str) -> sa.FromClause:
        # A compound SELECT member may not carry its own ORDER BY/LIMIT in SQLite; a
        # subquery may.
        return query.subquery(name)
