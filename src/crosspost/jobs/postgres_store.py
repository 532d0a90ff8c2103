"""The job store on PostgreSQL: `FOR UPDATE SKIP LOCKED` claims and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, Update

from crosspost.jobs._sql import SqlJobStore
from crosspost.store import signals
from crosspost.store.prepared import Prepared
from crosspost.store.tables import jobs

CHANNEL = "crosspost_jobs"
# Prepared: it runs in the pipeline of a new post's writes (store/prepared.pipelined).
_NOTIFY = Prepared(sa.text(f"NOTIFY {CHANNEL}"))
_NOTIFIED = "crosspost_jobs_notified"  # conn.info key: the transaction already notified


class PostgresJobStore(SqlJobStore):
    """`JobStore` for the scale-out deployment: many worker processes share one queue."""

    def _insert(self) -> Insert:
        return postgresql.insert(jobs)

    def _due_order(self) -> tuple[sa.ColumnElement[object], ...]:
        # Exactly the index order, so no sort is planned; ties keep the index's (insertion)
        # order, which is all the ordering a queue needs.
        return (jobs.c.run_at,)

    def _pick(self, query: Select[tuple[int]], name: str) -> sa.FromClause:
        # SKIP LOCKED lets concurrent claimers take disjoint rows without waiting on each
        # other. MATERIALIZED makes the CTE run exactly once: inlined into `id IN (...)`, the
        # planner could re-run it and lock more rows than LIMIT allows.
        return query.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")

    def _run_claim(
        self, conn: Connection, claim: Update, params: dict[str, Any]
    ) -> Sequence[RowMapping]:
        # A queue table's statistics are rarely right: new (never analysed) or analysed while
        # nearly empty, the planner expects a handful of due rows and picks a bitmap scan
        # plus a sort of *every* due row, to keep the first few: milliseconds per claim in
        # a backlog, just when speed matters. The (status, run_at) index yields due jobs
        # already in order, so forbid bitmap scans for this transaction only.
        conn.execute(sa.select(sa.func.set_config("enable_bitmapscan", "off", True)))
        return conn.execute(claim, params).mappings().all()

    def _after_enqueue(self, conn: Connection) -> None:
        # Delivered at commit, and only if the transaction commits. PostgreSQL would fold
        # repeats within a transaction anyway; skipping them saves a round trip per job.
        transaction = conn.get_transaction()
        if transaction is not None and conn.info.get(_NOTIFIED) is transaction:
            return
        _NOTIFY.execute(conn, {})
        conn.info[_NOTIFIED] = transaction

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> bool:
        """Call `on_wake` on every enqueue notification until `stop` is set (and after each
        reconnection, since notifications sent while disconnected are lost)."""
        url = self.db.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        signals.listen(dsn, CHANNEL, lambda _: on_wake(), stop)
        return True
