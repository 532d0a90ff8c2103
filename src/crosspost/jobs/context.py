"""What a handler receives (`JobContext`) and returns (`Done` / `RunAgain`)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from crosspost.clock import Clock
from crosspost.jobs.store import Job, JobStore, LeaseLost
from crosspost.logs import redact

MAX_FRAMES = 8


@dataclass(frozen=True, slots=True)
class Done:
    """The job finished; its row is deleted."""


@dataclass(frozen=True, slots=True)
class RunAgain:
    """Run this job again at `at` (polling, waiting out a rate limit); not an error."""

    at: datetime


Outcome = Done | RunAgain


class JobContext:
    """One claimed job as its handler sees it, with the lease it runs under."""

    def __init__(self, job: Job, store: JobStore, *, lease_seconds: float, clock: Clock) -> None:
        self.job = job
        self._store = store
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._lost = threading.Event()

    @property
    def lost(self) -> bool:
        """True once the worker knows it no longer holds the job; the handler should stop."""
        return self._lost.is_set()

    def mark_lost(self) -> None:
        """Record that the lease is gone (heartbeat refused, fence failed, shutdown)."""
        self._lost.set()

    def fence(self, conn: Connection) -> None:
        """Prove, in the caller's transaction, that this worker still holds the job.

        Call it in every transaction that writes the job's effects: if the lease was lost
        it raises `LeaseLost` and the transaction cannot commit.
        """
        try:
            self._store.fence(conn, self.job.id, self.job.attempts)
        except LeaseLost:
            self.mark_lost()
            raise

    def release_key(self, conn: Connection) -> None:
        """In a fenced transaction that records the job's outcome: free its dedupe key, so
        that work asked for after that commit (a retry) is queued anew, not lost."""
        self._store.release_key(conn, self.job.id)

    def heartbeat(self) -> bool:
        """Extend the lease now (the runner also does so every third of the lease)."""
        held = self._store.heartbeat(self.job.id, self.job.attempts, self._lease_seconds)
        if not held:
            self.mark_lost()
        return held

    def now(self) -> datetime:
        """The runner's clock."""
        return self._clock.now()

    def done(self) -> Done:
        """The outcome for a finished job."""
        return Done()

    def run_again(self, at: datetime | None = None, *, after: float | None = None) -> RunAgain:
        """The outcome for a job to run again at `at`, or `after` seconds from now."""
        if (at is None) == (after is None):
            raise ValueError("give exactly one of `at` and `after`")
        if at is None:
            at = self._clock.now() + timedelta(seconds=after or 0.0)
        return RunAgain(at)


Handler = Callable[[JobContext], Outcome]
"""Runs one job. Returns an outcome; raising means failure (retried with backoff)."""


def describe_error(exc: BaseException) -> str:
    """What `last_error` keeps: type, message and where it was raised, never local values."""
    head = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    lines = [f"  at {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames]
    cause = exc.__cause__
    if cause is None and not exc.__suppress_context__:
        cause = exc.__context__
    if cause is not None:
        lines.append(f"caused by {type(cause).__qualname__}: {cause}")
    return redact("\n".join([head, *lines]))
