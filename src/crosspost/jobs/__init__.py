"""The durable job runner: enqueue in the caller's transaction, claim with a lease, settle fenced.

The `jobs` table is the queue (SQLite or PostgreSQL). `JobStore` is the port, `Runner` the
worker pool that runs `Handler`s by job kind.
"""

from crosspost.jobs.backoff import Backoff, set_testing
from crosspost.jobs.context import (
    Done,
    Handler,
    JobContext,
    Outcome,
    RunAgain,
    describe_error,
)
from crosspost.jobs.runner import Runner, RunnerStats, default_worker_id
from crosspost.jobs.store import Job, JobStatus, JobStore, Lease, LeaseLost, create_job_store

__all__ = [
    "Backoff",
    "Done",
    "Handler",
    "Job",
    "JobContext",
    "JobStatus",
    "JobStore",
    "Lease",
    "LeaseLost",
    "Outcome",
    "RunAgain",
    "Runner",
    "RunnerStats",
    "create_job_store",
    "default_worker_id",
    "describe_error",
    "set_testing",
]
