"""The publish job's identity: its kind, its dedupe key, and how one is enqueued."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from crosspost.jobs.store import JobStore

KIND = "publish.v1"


def dedupe_key(target_id: str) -> str:
    """At most one publish job per target exists at a time."""
    return f"publish:{target_id}"


def enqueue_publish(jobs: JobStore, conn: Connection, target_id: str, run_at: datetime) -> None:
    """Queue a target's publish job in the caller's transaction (a no-op if one is queued)."""
    jobs.enqueue(
        conn, KIND, {"target_id": target_id}, run_at=run_at, dedupe_key=dedupe_key(target_id)
    )


def enqueue_publishes(
    jobs: JobStore, conn: Connection, target_ids: Sequence[str], run_at: datetime
) -> None:
    """Queue several targets' publish jobs in one statement (targets already queued are
    skipped): a new post's."""
    jobs.enqueue_many(
        conn, KIND, {dedupe_key(t): {"target_id": t} for t in target_ids}, run_at=run_at
    )
