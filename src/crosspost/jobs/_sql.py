"""The SQL both job stores share; dialect modules supply how rows are picked and locked."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, Update

from crosspost.clock import Clock, SystemClock
from crosspost.jobs.store import Job, JobStatus, Lease, LeaseLost
from crosspost.store.db import Database
from crosspost.store.prepared import Prepared
from crosspost.store.tables import jobs

MAX_ERROR_CHARS = 4000
_ADVANCE_BATCH = 500  # keys per statement: well under SQLite's bound-parameter limit

log = logging.getLogger("crosspost.jobs")

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value
_DEAD = JobStatus.DEAD.value


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        payload=row["payload"],
        status=JobStatus(row["status"]),
        run_at=row["run_at"],
        attempts=row["attempts"],
        errors=row["errors"],
        lease_until=row["lease_until"],
        locked_by=row["locked_by"],
        last_error=row["last_error"],
        dedupe_key=row["dedupe_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# Built once: an UPDATE of a held job whose SET columns come from the execute() parameters.
# Statement construction per call cost more than the SQL on the hot path (fence, settle).
_UPDATE_HELD = jobs.update().where(
    jobs.c.id == sa.bindparam("held_id"),
    jobs.c.attempts == sa.bindparam("held_attempts"),
    jobs.c.status == _RUNNING,
)
# Every step of every publish runs these (store/prepared).
_FENCE = Prepared(_UPDATE_HELD, ["updated_at"])
_HEARTBEAT = Prepared(_UPDATE_HELD, ["lease_until", "updated_at"])


def _held_any(leases: Sequence[Lease]) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.tuple_(jobs.c.id, jobs.c.attempts).in_([tuple(lease) for lease in leases]),
        jobs.c.status == _RUNNING,
    )


_JOB_COLUMNS = (
    "kind", "payload", "status", "run_at", "attempts", "errors", "dedupe_key", "created_at",
    "updated_at",
)  # fmt: skip


def _new_job(
    kind: str,
    payload: Mapping[str, Any],
    dedupe_key: str | None,
    run_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A queued job's row, due at `run_at` (default: now): every one of `_JOB_COLUMNS`."""
    return {
        "kind": kind,
        "payload": dict(payload),
        "status": _QUEUED,
        "run_at": run_at or now,
        "attempts": 0,
        "errors": 0,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
    }


class SqlJobStore(abc.ABC):
    """`JobStore` over SQLAlchemy Core; subclasses say how to pick rows for a claim."""

    def __init__(self, db: Database, *, clock: Clock | None = None, max_errors: int = 10) -> None:
        if max_errors < 1:
            raise ValueError("max_errors must be at least 1")
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.max_errors = max_errors
        self._claims: dict[bool, Update] = {}
        # Built once: statement construction costs more than the INSERT's round trip.
        self._enqueue_plain = self._insert().returning(jobs.c.id)
        self._enqueue_deduped = (
            self._insert()
            .on_conflict_do_nothing(index_elements=[jobs.c.dedupe_key])  # type: ignore[attr-defined]
            .returning(jobs.c.id)
        )
        # Every new post runs this one: compiled once, on the driver's cursor.
        self._enqueue_many = Prepared(
            self._insert().on_conflict_do_nothing(  # type: ignore[attr-defined]
                index_elements=[jobs.c.dedupe_key]
            ),
            _JOB_COLUMNS,
        )

    # Dialect hooks -------------------------------------------------------------------

    @abc.abstractmethod
    def _insert(self) -> Insert:
        """A dialect INSERT into jobs that can say ON CONFLICT DO NOTHING."""

    def _due_order(self) -> tuple[sa.ColumnElement[object], ...]:
        """How due jobs are ordered: earliest run_at first, then oldest."""
        return (jobs.c.run_at, jobs.c.id)

    @abc.abstractmethod
    def _pick(self, query: Select[tuple[int]], name: str) -> sa.FromClause:
        """Turn a SELECT of job ids into something a claim may take rows from."""

    def _run_claim(
        self, conn: Connection, claim: Update, params: dict[str, Any]
    ) -> Sequence[RowMapping]:
        """Run the claim statement in the claim's transaction; returns the changed rows."""
        return conn.execute(claim, params).mappings().all()

    def _after_enqueue(self, conn: Connection) -> None:  # noqa: B027 - optional hook
        """Signal other processes (inside the caller's transaction) that work arrived."""

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> bool:
        """No cross-process signal by default: workers poll."""
        return False

    # Producer side -------------------------------------------------------------------

    def enqueue(
        self,
        conn: Connection,
        kind: str,
        payload: Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> int | None:
        """Add a job inside the caller's transaction; None when `dedupe_key` already exists."""
        row = _new_job(kind, payload, dedupe_key, run_at, self.clock.now())
        stmt = self._enqueue_plain if dedupe_key is None else self._enqueue_deduped
        job_id = conn.execute(stmt, row).scalar()
        if job_id is not None:
            self._after_enqueue(conn)
        return job_id

    def enqueue_many(
        self,
        conn: Connection,
        kind: str,
        jobs_by_key: Mapping[str, Mapping[str, Any]],
        *,
        run_at: datetime | None = None,
    ) -> None:
        """Add one job per dedupe key (payload by key) in one statement, inside the caller's
        transaction; a key that already has a job is skipped."""
        if not jobs_by_key:
            return
        now = self.clock.now()
        rows = [_new_job(kind, payload, key, run_at, now) for key, payload in jobs_by_key.items()]
        self._enqueue_many.execute_many(conn, rows)
        # Rows skipped as duplicates cannot be told apart here (drivers disagree on rowcount
        # for ON CONFLICT): a wake-up for nothing costs a worker one empty claim.
        self._after_enqueue(conn)

    def advance(self, conn: Connection, dedupe_keys: Sequence[str], run_at: datetime) -> int:
        """Bring the queued jobs with these dedupe keys forward to `run_at` (none is put
        later), inside the caller's transaction; how many moved."""
        return self._move(conn, dedupe_keys, run_at, jobs.c.run_at > run_at)

    def move(self, conn: Connection, dedupe_keys: Sequence[str], run_at: datetime) -> int:
        """Set the run time of the queued jobs with these dedupe keys to `run_at`, earlier or
        later, inside the caller's transaction; a claimed job is left to its worker."""
        return self._move(conn, dedupe_keys, run_at, sa.true())

    def lock(self, conn: Connection, dedupe_keys: Sequence[str]) -> None:
        """Lock the jobs with these dedupe keys until the caller's transaction ends, in id
        order: taken before the rows a worker writes under its fence, it keeps the order."""
        if dedupe_keys and conn.dialect.name == "postgresql":
            conn.execute(
                sa.select(jobs.c.id)
                .where(jobs.c.dedupe_key.in_(list(dedupe_keys)))
                .order_by(jobs.c.id)
                .with_for_update()
            )

    def _move(
        self,
        conn: Connection,
        dedupe_keys: Sequence[str],
        run_at: datetime,
        condition: sa.ColumnElement[bool],
    ) -> int:
        moved = 0
        for start in range(0, len(dedupe_keys), _ADVANCE_BATCH):
            batch = list(dedupe_keys[start : start + _ADVANCE_BATCH])
            result = conn.execute(
                jobs.update()
                .where(jobs.c.dedupe_key.in_(batch), jobs.c.status == _QUEUED, condition)
                .values(run_at=run_at, updated_at=self.clock.now())
            )
            moved += int(result.rowcount)
        if moved:
            self._after_enqueue(conn)
        return moved

    # Worker side ---------------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        *,
        limit: int,
        lease_seconds: float,
        kinds: Collection[str] | None = None,
    ) -> list[Job]:
        """Lease up to `limit` due jobs (queued, or running with an expired lease).

        A job whose lease expired once too often is buried instead (see `_claim_statement`)
        and not returned.
        """
        if limit < 1:
            return []
        now = self.clock.now()
        params: dict[str, Any] = {
            "now": now,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "worker": worker_id,
            "limit": limit,
        }
        if kinds is not None:
            params["kinds"] = list(kinds)
        statement = self._claim_statement(with_kinds=kinds is not None)
        with self.db.write() as conn:
            rows = self._run_claim(conn, statement, params)
        claimed: list[Job] = []
        for row in rows:
            job = _job(row)
            if job.status is JobStatus.DEAD:
                log.warning("job %d (%s) buried: %s", job.id, job.kind, job.last_error)
            else:
                claimed.append(job)
        return sorted(claimed, key=lambda job: (job.run_at, job.id))

    def _claim_statement(self, *, with_kinds: bool) -> Update:
        """The claim as one UPDATE ... RETURNING, built once per store and kind filter."""
        cached = self._claims.get(with_kinds)
        if cached is not None:
            return cached
        now = sa.bindparam("now", type_=jobs.c.run_at.type)
        limit = sa.bindparam("limit", type_=sa.Integer())
        kind_filter = (
            jobs.c.kind.in_(sa.bindparam("kinds", expanding=True)) if with_kinds else sa.true()
        )
        stale = self._pick(
            sa.select(jobs.c.id)
            .where(jobs.c.status == _RUNNING, jobs.c.lease_until <= now, kind_filter)
            .order_by(jobs.c.lease_until)
            .limit(limit),
            "stale",
        )
        due = self._pick(
            sa.select(jobs.c.id)
            .where(jobs.c.status == _QUEUED, jobs.c.run_at <= now, kind_filter)
            .order_by(*self._due_order())
            .limit(limit),
            "due",
        )
        picked = sa.union_all(sa.select(stale.c.id), sa.select(due.c.id)).limit(limit)
        # An expired lease means the last attempt died with its worker. That counts as an
        # error, so a job that kills every worker it touches ends dead instead of looping.
        lost = jobs.c.status == _RUNNING
        buried = sa.and_(lost, jobs.c.errors + 1 >= self.max_errors)
        lost_error = (
            sa.literal("lease expired: worker ")
            + sa.func.coalesce(jobs.c.locked_by, "?")
            + sa.literal(" stopped heartbeating")
        )
        statement = (
            jobs.update()
            .where(jobs.c.id.in_(picked))
            .values(
                status=sa.case((buried, _DEAD), else_=_RUNNING),
                attempts=jobs.c.attempts + 1,
                errors=jobs.c.errors + sa.case((lost, 1), else_=0),
                last_error=sa.case((lost, lost_error), else_=jobs.c.last_error),
                lease_until=sa.case(
                    (buried, sa.null()),
                    else_=sa.bindparam("lease_until", type_=jobs.c.lease_until.type),
                ),
                locked_by=sa.case(
                    (buried, sa.null()), else_=sa.bindparam("worker", type_=sa.String())
                ),
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        self._claims[with_kinds] = statement
        return statement

    def heartbeat(self, job_id: int, attempts: int, lease_seconds: float) -> bool:
        """Extend a held lease; False when the lease is lost."""
        now = self.clock.now()
        with self.db.write() as conn:
            changed = _HEARTBEAT.execute(
                conn,
                {
                    "held_id": job_id,
                    "held_attempts": attempts,
                    "lease_until": now + timedelta(seconds=lease_seconds),
                    "updated_at": now,
                },
            )
        return changed == 1

    def complete(self, leases: Sequence[Lease]) -> set[int]:
        """Delete finished jobs still held; returns the ids actually completed."""
        if not leases:
            return set()
        with self.db.write() as conn:
            rows = conn.execute(jobs.delete().where(_held_any(leases)).returning(jobs.c.id))
            return {row.id for row in rows}

    def reschedule(self, job_id: int, attempts: int, run_at: datetime) -> bool:
        """Queue a held job to run again at `run_at` (not an error: e.g. polling).

        The error count restarts: a handler that asks to run again made progress, so the
        next error begins a new streak with a short backoff.
        """
        return self._settle(job_id, attempts, status=_QUEUED, run_at=run_at, errors=0)

    def fail(self, job_id: int, attempts: int, error: str, retry_at: datetime | None) -> bool:
        """Record an error; retry at `retry_at`, or bury the job when None or out of errors."""
        errors = jobs.c.errors + 1
        if retry_at is None:
            status: Any = _DEAD
        else:
            status = sa.case((errors >= self.max_errors, _DEAD), else_=_QUEUED)
        return self._settle(
            job_id,
            attempts,
            status=status,
            run_at=retry_at if retry_at is not None else jobs.c.run_at,
            errors=errors,
            last_error=error[:MAX_ERROR_CHARS],
        )

    def _settle(self, job_id: int, attempts: int, **values: Any) -> bool:
        with self.db.write() as conn:
            # `values` may hold SQL expressions (errors + 1, CASE …), so they go in values().
            stmt = _UPDATE_HELD.values(
                lease_until=None, locked_by=None, updated_at=self.clock.now(), **values
            )
            result = conn.execute(stmt, {"held_id": job_id, "held_attempts": attempts})
        return result.rowcount == 1

    def release(self, leases: Sequence[Lease]) -> int:
        """Give held jobs back to the queue unchanged (graceful shutdown); returns how many."""
        if not leases:
            return 0
        with self.db.write() as conn:
            result = conn.execute(
                jobs.update()
                .where(_held_any(leases))
                .values(
                    status=_QUEUED, lease_until=None, locked_by=None, updated_at=self.clock.now()
                )
            )
        return result.rowcount

    def fence(self, conn: Connection, job_id: int, attempts: int) -> None:
        """Inside the caller's transaction, prove the lease is still held or raise LeaseLost.

        The UPDATE also locks the row (PostgreSQL) or runs under the write lock (SQLite), so
        no claim can take the job over between this check and the caller's commit.
        """
        changed = _FENCE.execute(
            conn, {"held_id": job_id, "held_attempts": attempts, "updated_at": self.clock.now()}
        )
        if changed != 1:
            raise LeaseLost(f"job {job_id} is no longer held at attempt {attempts}", job_id=job_id)

    def release_key(self, conn: Connection, job_id: int) -> None:
        """Free the job's dedupe key inside the caller's fenced transaction (see JobStore)."""
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(dedupe_key=None))

    # Operators -----------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        """One job, whatever its status."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row is not None else None

    def list_dead(self, *, limit: int = 100) -> list[Job]:
        """Dead jobs, most recently failed first."""
        query = (
            sa.select(jobs)
            .where(jobs.c.status == _DEAD)
            .order_by(jobs.c.updated_at.desc(), jobs.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def retry_dead(self, job_id: int) -> bool:
        """Queue a dead job again now with a clean error count; False if it is not dead."""
        now = self.clock.now()
        with self.db.write() as conn:
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == _DEAD)
                .values(status=_QUEUED, errors=0, run_at=now, updated_at=now)
            )
            if result.rowcount == 1:
                self._after_enqueue(conn)
        return result.rowcount == 1

    def counts(self) -> dict[JobStatus, int]:
        """Number of jobs in each status (every status present, zero included)."""
        query = sa.select(jobs.c.status, sa.func.count().label("n")).group_by(jobs.c.status)
        found = dict.fromkeys(JobStatus, 0)
        with self.db.read() as conn:
            for row in conn.execute(query):
                found[JobStatus(row.status)] = int(row.n)
        return found

    def next_run_at(self, kinds: Collection[str] | None = None) -> datetime | None:
        """The earliest moment a job becomes claimable (a run_at or an expiring lease)."""
        kind_filter = jobs.c.kind.in_(list(kinds)) if kinds is not None else sa.true()
        queued = (
            sa.select(sa.func.min(jobs.c.run_at))
            .where(jobs.c.status == _QUEUED, kind_filter)
            .scalar_subquery()
        )
        leased = (
            sa.select(sa.func.min(jobs.c.lease_until))
            .where(jobs.c.status == _RUNNING, kind_filter)
            .scalar_subquery()
        )
        with self.db.read() as conn:
            row = conn.execute(sa.select(queued.label("queued"), leased.label("leased"))).one()
        moments: list[datetime] = [m for m in (row.queued, row.leased) if m is not None]
        return min(moments) if moments else None
