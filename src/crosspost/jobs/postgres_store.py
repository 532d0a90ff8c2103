"""The job store on PostgreSQL: `FOR UPDATE SKIP LOCKED` claims and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, Update

from crosspost.jobs._sql import SqlJobStore
from crosspost.store.tables import jobs

CHANNEL = "crosspost_jobs"

log = logging.getLogger("crosspost.jobs")


class PostgresJobStore(SqlJobStore):
    """`JobStore` for the scale-out deployment: many worker processes share one queue."""

    def _insert(self) -> Insert:
        return postgresql.insert(jobs)

    def _pick(self, query: Select[tuple[int]], name: str) -> sa.FromClause:
        # SKIP LOCKED lets concurrent claimers take disjoint rows without waiting on each
        # other. MATERIALIZED makes the CTE run exactly once: inlined into `id IN (...)`, the
        # planner could re-run it and lock more rows than LIMIT allows.
        return query.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")

    def _run_claim(self, conn: Connection, bury: Update, claim: Update) -> Sequence[RowMapping]:
        # A queue table's statistics are rarely right: new (never analysed) or analysed while
        # nearly empty, the planner expects a handful of due rows and picks a bitmap scan
        # plus a full sort of *every* due row, to keep the first few: milliseconds per claim
        # in a backlog, just when speed matters. The index on (status, run_at) already
        # yields due jobs in order (an incremental sort breaks run_at ties by id), so
        # forbid bitmap scans and full sorts for this transaction only.
        conn.execute(
            sa.select(
                sa.func.set_config("enable_bitmapscan", "off", True),
                sa.func.set_config("enable_sort", "off", True),
            )
        )
        # One round trip: burying jobs out of errors rides along as a data-modifying CTE
        # (its rows and the claimed rows are disjoint by their error counts).
        buried = bury.returning(jobs.c.id).cte("buried")
        return conn.execute(claim.add_cte(buried)).mappings().all()

    def _after_enqueue(self, conn: Connection) -> None:
        # Delivered at commit, and only if the transaction commits; PostgreSQL folds
        # identical notifications of one transaction into one.
        conn.execute(sa.text(f"NOTIFY {CHANNEL}"))

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> bool:
        """Call `on_wake` on every enqueue notification until `stop` is set.

        Reconnects after a connection failure; each reconnect also wakes the caller, since
        notifications sent while disconnected are lost.
        """
        url = self.db.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    on_wake()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            on_wake()
            except psycopg.Error as exc:
                log.warning("job listener lost its connection, reconnecting: %s", exc)
                stop.wait(1.0)
        return True
