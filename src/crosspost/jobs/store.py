"""The job store port: what the runner and the engine may ask of the `jobs` table.

Two implementations, one per dialect (`sqlite_store`, `postgres_store`), share their SQL in
`_sql` and differ only where the databases do: how a batch of due jobs is picked and locked,
and how other processes are told that work arrived.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from crosspost.clock import Clock
from crosspost.errors import CrosspostError
from crosspost.store.db import Database

Lease = tuple[int, int]
"""A claim on a job: ``(job_id, attempts)``; `attempts` is the fencing token."""


class JobStatus(StrEnum):
    """Where a job row stands. Completed jobs are deleted, so there is no "done"."""

    QUEUED = "queued"
    RUNNING = "running"
    DEAD = "dead"


class LeaseLost(CrosspostError):
    """The worker no longer holds the job: its lease expired and someone else claimed it."""

    status = 409
    code = "lease_lost"
    title = "Job lease lost"


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the `jobs` table as a worker sees it."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    status: JobStatus
    run_at: datetime
    attempts: int
    errors: int
    lease_until: datetime | None
    locked_by: str | None
    last_error: str | None
    dedupe_key: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def lease(self) -> Lease:
        """This claim's ``(id, attempts)`` pair, as `complete` and `release` take it."""
        return (self.id, self.attempts)


class JobStore(Protocol):
    """Durable jobs: enqueue in the caller's transaction, claim with a lease, settle fenced.

    Every write a worker makes is conditional on the `attempts` value its claim returned, so
    a worker whose lease expired and was re-claimed elsewhere can change nothing.
    """

    db: Database
    clock: Clock
    max_errors: int

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
        ...

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
        ...

    def advance(self, conn: Connection, dedupe_keys: Sequence[str], run_at: datetime) -> int:
        """Bring the queued jobs with these dedupe keys forward to `run_at` (none is put
        later), inside the caller's transaction; how many moved."""
        ...

    def lock(self, conn: Connection, dedupe_keys: Sequence[str]) -> None:
        """Lock the jobs with these dedupe keys until the caller's transaction ends (the
        order a fenced worker takes: its job, then what it writes)."""
        ...

    def move(self, conn: Connection, dedupe_keys: Sequence[str], run_at: datetime) -> int:
        """Set the queued jobs with these dedupe keys to run at `run_at`, earlier or later,
        inside the caller's transaction (a claimed job is left to its worker); how many."""
        ...

    def claim(
        self,
        worker_id: str,
        *,
        limit: int,
        lease_seconds: float,
        kinds: Collection[str] | None = None,
    ) -> list[Job]:
        """Lease up to `limit` due jobs (queued, or running with an expired lease)."""
        ...

    def heartbeat(self, job_id: int, attempts: int, lease_seconds: float) -> bool:
        """Extend a held lease; False when the lease is lost."""
        ...

    def complete(self, leases: Sequence[Lease]) -> set[int]:
        """Delete finished jobs still held; returns the ids actually completed."""
        ...

    def reschedule(self, job_id: int, attempts: int, run_at: datetime) -> bool:
        """Queue a held job to run again at `run_at` (not an error: e.g. polling)."""
        ...

    def fail(self, job_id: int, attempts: int, error: str, retry_at: datetime | None) -> bool:
        """Record an error; retry at `retry_at`, or bury the job when None or out of errors."""
        ...

    def release(self, leases: Sequence[Lease]) -> int:
        """Give held jobs back to the queue unchanged (graceful shutdown); returns how many."""
        ...

    def fence(self, conn: Connection, job_id: int, attempts: int) -> None:
        """Inside the caller's transaction, prove the lease is still held or raise LeaseLost."""
        ...

    def release_key(self, conn: Connection, job_id: int) -> None:
        """Inside the caller's fenced transaction, free the job's dedupe key: the outcome that
        transaction records is the job's last word, so the same key enqueued from its commit
        on makes a new job rather than being swallowed by this finishing one."""
        ...

    def get(self, job_id: int) -> Job | None:
        """One job, whatever its status."""
        ...

    def list_dead(self, *, limit: int = 100) -> list[Job]:
        """Dead jobs, most recently failed first."""
        ...

    def retry_dead(self, job_id: int) -> bool:
        """Queue a dead job again now with a clean error count; False if it is not dead."""
        ...

    def counts(self) -> dict[JobStatus, int]:
        """Number of jobs in each status (every status present, zero included)."""
        ...

    def next_run_at(self, kinds: Collection[str] | None = None) -> datetime | None:
        """The earliest moment a job becomes claimable (a run_at or an expiring lease)."""
        ...

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> bool:
        """Call `on_wake` whenever another process enqueues, until `stop` is set.

        Returns False at once when the backend has no cross-process signal (SQLite).
        """
        ...


def create_job_store(db: Database, *, clock: Clock | None = None, max_errors: int = 10) -> JobStore:
    """The job store for the database's dialect."""
    # Imported here because both implementations import this module's types.
    if db.is_sqlite:
        from crosspost.jobs.sqlite_store import SqliteJobStore  # noqa: PLC0415

        return SqliteJobStore(db, clock=clock, max_errors=max_errors)
    if db.dialect == "postgresql":
        from crosspost.jobs.postgres_store import PostgresJobStore  # noqa: PLC0415

        return PostgresJobStore(db, clock=clock, max_errors=max_errors)
    raise ValueError(f"no job store for the {db.dialect!r} dialect")
