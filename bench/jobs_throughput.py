"""Job runner throughput: enqueue N no-op jobs, then drain them with one worker process.

    python bench/jobs_throughput.py                       # temporary SQLite file
    python bench/jobs_throughput.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

A PostgreSQL URL names a server: the bench creates a temporary database on it and drops it
afterwards. Prints the enqueue rate and the claim+run+complete rate. Target: at least 434
no-op jobs/s on PostgreSQL in one worker process (twice procrastinate's 217/s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from sqlalchemy.engine import make_url

from bench._stack import bench_database
from crosspost.jobs import Done, JobContext, JobStatus, Outcome, Runner, create_job_store
from crosspost.store.db import Database
from crosspost.store.tables import metadata

KIND = "noop.v1"


def enqueue_all(url: str, count: int, per_transaction: int) -> float:
    """Enqueue `count` no-op jobs; returns the seconds it took."""
    db = Database(url)
    metadata.create_all(db.engine)
    store = create_job_store(db)
    started = time.perf_counter()
    for first in range(0, count, per_transaction):
        with db.write() as conn:
            for n in range(first, min(count, first + per_transaction)):
                store.enqueue(conn, KIND, {"n": n})
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


def worker(url: str, count: int, concurrency: int, batch_size: int) -> None:
    """The worker process: run until `count` jobs are completed, print timings as JSON."""
    db = Database(url, pool_size=concurrency + 4)
    store = create_job_store(db)

    def noop(ctx: JobContext) -> Outcome:
        return Done()

    runner = Runner(
        store,
        {KIND: noop},
        concurrency=concurrency,
        batch_size=batch_size,
        poll_seconds=0.05,
        flush_seconds=0.002,
    )
    started = time.perf_counter()
    runner.start()
    while runner.stats.completed < count:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    runner.stop(timeout=5)
    left = store.counts()
    db.dispose()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "completed": runner.stats.completed,
                "claim_rounds": runner.stats.polls,
                "left": left[JobStatus.QUEUED] + left[JobStatus.RUNNING],
            }
        )
    )


def main() -> None:
    """Parse arguments, run the enqueue phase here and the worker in a child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--enqueue-per-transaction", type=int, default=50)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.database_url, args.jobs, args.concurrency, args.batch_size)
        return
    with bench_database(args.database_url) as url:
        backend = make_url(url).get_backend_name()
        enqueue_seconds = enqueue_all(url, args.jobs, args.enqueue_per_transaction)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.jobs_throughput",
                "--worker",
                "--database-url",
                url,
                "--jobs",
                str(args.jobs),
                "--concurrency",
                str(args.concurrency),
                "--batch-size",
                str(args.batch_size),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"backend:  {backend}")
    print(
        f"enqueue:  {args.jobs} jobs in {enqueue_seconds:.2f} s = "
        f"{args.jobs / enqueue_seconds:,.0f} jobs/s "
        f"({args.enqueue_per_transaction} per transaction, one thread)"
    )
    print(
        f"run:      {result['completed']} jobs in {result['seconds']:.2f} s = "
        f"{result['completed'] / result['seconds']:,.0f} jobs/s "
        f"(claim + no-op + complete; 1 worker process, {args.concurrency} threads, "
        f"batch {args.batch_size}, {result['claim_rounds']} claims)"
    )
    if result["left"]:
        print(f"warning:  {result['left']} jobs left unfinished")


if __name__ == "__main__":
    main()
