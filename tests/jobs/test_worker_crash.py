"""Real worker processes die or freeze mid-job; every job's effect still commits exactly once.

This file is also the worker: run as a script it builds a `Runner` whose handler records
when it starts a job, optionally blocks on a slow step, then writes the job's effect in the
same transaction as `ctx.fence(conn)`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crosspost.jobs import JobContext, LeaseLost, Outcome, Runner, create_job_store
from crosspost.store.db import Database
from crosspost.store.tables import jobs

KIND = "crash.v1"
LEASE = 1.0

record = sa.MetaData()
starts = sa.Table(
    "test_starts",
    record,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(20), nullable=False),
)
effects = sa.Table(
    "test_effects",
    record,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(20), nullable=False),
)
refused = sa.Table(
    "test_refused",
    record,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(20), nullable=False),
)


# The worker process -------------------------------------------------------------------


def worker_main(argv: list[str]) -> None:
    """Run a worker until SIGTERM (or SIGKILL, which is the point)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--block-from", type=int, default=sys.maxsize)
    parser.add_argument("--release-file", type=Path)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    db = Database(args.url)

    def handle(ctx: JobContext) -> Outcome:
        n = int(ctx.job.payload["n"])
        with db.write() as conn:
            conn.execute(starts.insert().values(job_id=ctx.job.id, worker=args.name))
        if n >= args.block_from:
            # The slow step (an upload, say); the test kills or freezes us in here.
            deadline = time.monotonic() + 60
            while not (args.release_file and args.release_file.exists()):
                if time.monotonic() > deadline:
                    raise TimeoutError("never released")
                time.sleep(0.02)
        try:
            with db.write() as conn:
                ctx.fence(conn)
                # Idempotent given persisted state, as engine steps are: a re-run after a
                # crash between this commit and the job's completion must not repeat it.
                done = conn.execute(
                    sa.select(effects.c.id).where(effects.c.job_id == ctx.job.id)
                ).first()
                if done is None:
                    conn.execute(effects.insert().values(job_id=ctx.job.id, n=n, worker=args.name))
        except LeaseLost:
            with db.write() as conn:
                conn.execute(refused.insert().values(job_id=ctx.job.id, worker=args.name))
            raise
        return ctx.done()

    runner = Runner(
        create_job_store(db),
        {KIND: handle},
        concurrency=args.concurrency,
        lease_seconds=LEASE,
        poll_seconds=0.05,
        batch_size=args.concurrency,
        worker_id=args.name,
    )
    runner.run_forever(shutdown_timeout=1.0)
    db.dispose()


# The tests ----------------------------------------------------------------------------


def wait_for(condition: Callable[[], object], what: str, *, timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Workers:
    """Starts worker processes and makes sure none outlives the test."""

    def __init__(self, url: str, logs: Path) -> None:
        self.url = url
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *options: str) -> subprocess.Popen[bytes]:
        """Start one worker process."""
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, __file__, self.url, name, *options], stdout=log, stderr=log
        )
        log.close()
        self.procs.append(proc)
        return proc

    def output(self) -> str:
        """Every worker's log, for failure messages."""
        return "\n".join(p.read_text() for p in sorted(self.logs.glob("*.log")))

    def close(self) -> None:
        """Kill whatever is still running."""
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(db: Database, tmp_path: Path) -> Iterator[Workers]:
    """A worker launcher over `db`, with the record tables created."""
    record.create_all(db.engine)
    launcher = Workers(db.url, tmp_path)
    try:
        yield launcher
    finally:
        launcher.close()


def enqueue_jobs(db: Database, count: int) -> list[int]:
    """`count` jobs numbered 0..count-1, in run order."""
    store = create_job_store(db)
    with db.write() as conn:
        ids = [store.enqueue(conn, KIND, {"n": n}) for n in range(count)]
    return [job_id for job_id in ids if job_id is not None]


def rows(db: Database, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    """Every row of a table."""
    with db.read() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)))


def job_count(db: Database) -> int:
    """Rows left in the jobs table (completed jobs are deleted)."""
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one())


def holds_no_lock(db: Database) -> bool:
    """True when nobody holds a write lock a new claim would need."""
    if db.is_sqlite:
        path = make_url(db.url).database
        assert path is not None
        raw = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("ROLLBACK")
        except sqlite3.OperationalError:
            return False
        finally:
            raw.close()
        return True
    try:
        with db.engine.connect() as conn, conn.begin():
            conn.execute(sa.select(jobs.c.id).with_for_update(nowait=True)).all()
    except sa.exc.OperationalError:
        return False
    return True


def freeze(proc: subprocess.Popen[bytes], db: Database) -> None:
    """SIGSTOP a worker at a moment it is not inside a database write.

    A worker frozen mid-transaction would hold SQLite's write lock (or a PostgreSQL row
    lock) and stall everyone; a frozen worker holding only leases is the case under test.
    """
    status = psutil.Process(proc.pid)
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        wait_for(lambda: status.status() == psutil.STATUS_STOPPED, "the worker to stop")
        if holds_no_lock(db):
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    pytest.fail("could not freeze the worker outside a transaction")


def assert_exactly_once(db: Database, ids: list[int], workers: Workers) -> list[str]:
    """Every job has one effect and no job row is left; returns who did each job."""
    done = rows(db, effects)
    assert sorted(row.job_id for row in done) == sorted(ids), workers.output()
    assert job_count(db) == 0, workers.output()
    return [row.worker for row in sorted(done, key=lambda row: row.n)]


@pytest.mark.slow
def test_a_killed_worker_s_jobs_complete_exactly_once_elsewhere(
    db: Database, workers: Workers
) -> None:
    """SIGKILL a worker mid-job: its jobs come back after the lease and run once in total."""
    ids = enqueue_jobs(db, 12)
    a = workers.start("A", "--block-from", "4", "--concurrency", "2")

    def a_is_stuck() -> bool:
        started = [row.job_id for row in rows(db, starts) if row.worker == "A"]
        return len(rows(db, effects)) == 4 and set(ids[4:6]) <= set(started)

    wait_for(a_is_stuck, "worker A to finish 4 jobs and block on 2")
    a.kill()
    a.wait(10)
    workers.start("B", "--concurrency", "3")
    wait_for(lambda: len(rows(db, effects)) == 12 and job_count(db) == 0, "B to finish")
    who = assert_exactly_once(db, ids, workers)
    assert who == ["A"] * 4 + ["B"] * 8
    started_b = {row.job_id for row in rows(db, starts) if row.worker == "B"}
    assert set(ids[4:6]) <= started_b


@pytest.mark.slow
def test_a_frozen_worker_cannot_commit_after_its_lease_is_taken(
    db: Database, workers: Workers, tmp_path: Path
) -> None:
    """SIGSTOP a worker mid-job; B takes over; when A resumes its fenced commits are refused."""
    ids = enqueue_jobs(db, 3)
    release = tmp_path / "release"
    a = workers.start(
        "A", "--block-from", "0", "--concurrency", "3", "--release-file", str(release)
    )
    wait_for(lambda: len(rows(db, starts)) == 3, "worker A to start all 3 jobs")
    freeze(a, db)
    workers.start("B", "--concurrency", "3")
    wait_for(lambda: len(rows(db, effects)) == 3 and job_count(db) == 0, "B to finish")
    release.touch()
    os.kill(a.pid, signal.SIGCONT)
    wait_for(lambda: len(rows(db, refused)) == 3, "A's three commits to be refused")
    assert assert_exactly_once(db, ids, workers) == ["B"] * 3
    assert {row.worker for row in rows(db, refused)} == {"A"}
    a.terminate()
    assert a.wait(10) == 0, workers.output()


if __name__ == "__main__":
    worker_main(sys.argv[1:])
