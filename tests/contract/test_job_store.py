"""One contract for every `JobStore`: the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from crosspost.clock import FrozenClock
from crosspost.jobs import Job, JobStatus, JobStore, LeaseLost, create_job_store
from crosspost.store.db import Database

LEASE = 10.0
MAX_ERRORS = 3


@pytest.fixture
def clock() -> FrozenClock:
    """Time that moves only when a test says so."""
    return FrozenClock()


@pytest.fixture
def store(db: Database, clock: FrozenClock) -> JobStore:
    """The store for the backend under test."""
    return create_job_store(db, clock=clock, max_errors=MAX_ERRORS)


def enqueue(store: JobStore, kind: str = "test.v1", **kwargs: object) -> int:
    """Enqueue one job in its own transaction and return its id."""
    with store.db.write() as conn:
        job_id = store.enqueue(conn, kind, {"n": 1}, **kwargs)  # type: ignore[arg-type]
    assert job_id is not None
    return job_id


def claim_one(store: JobStore, worker: str) -> Job:
    """Claim exactly one job."""
    jobs = store.claim(worker, limit=1, lease_seconds=LEASE)
    assert len(jobs) == 1
    return jobs[0]


def test_enqueue_in_rolled_back_transaction_leaves_no_job(store: JobStore) -> None:
    """Enqueue belongs to the caller's transaction: a rollback takes the job with it."""

    class Abort(Exception):
        pass

    def enqueue_then_fail() -> None:
        with store.db.write() as conn:
            assert store.enqueue(conn, "test.v1", {"target_id": "tgt_1"}) is not None
            raise Abort

    with pytest.raises(Abort):
        enqueue_then_fail()
    assert store.counts()[JobStatus.QUEUED] == 0
    assert store.claim("w", limit=10, lease_seconds=LEASE) == []


def test_enqueue_stores_kind_payload_and_run_at(store: JobStore, clock: FrozenClock) -> None:
    """A committed enqueue is a queued row carrying exactly what was given."""
    at = clock.now() + timedelta(minutes=5)
    with store.db.write() as conn:
        job_id = store.enqueue(conn, "publish.v1", {"target_id": "tgt_1"}, run_at=at)
    assert job_id is not None
    job = store.get(job_id)
    assert job is not None
    assert (job.kind, dict(job.payload), job.status) == (
        "publish.v1",
        {"target_id": "tgt_1"},
        JobStatus.QUEUED,
    )
    assert job.run_at == at
    assert (job.attempts, job.errors, job.locked_by) == (0, 0, None)


def test_dedupe_key_makes_a_second_enqueue_a_no_op(store: JobStore) -> None:
    """While a job with the key exists, enqueueing it again returns None; after, it works.

    The new job gets a new id: ids are never reused, since (id, attempts) is the fence.
    """
    first = enqueue(store, dedupe_key="publish:tgt_1")
    with store.db.write() as conn:
        assert store.enqueue(conn, "test.v1", {}, dedupe_key="publish:tgt_1") is None
    assert store.counts()[JobStatus.QUEUED] == 1
    job = claim_one(store, "w")
    assert job.id == first
    assert store.complete([job.lease]) == {first}
    assert enqueue(store, dedupe_key="publish:tgt_1") > first


def test_a_released_key_lets_the_same_work_be_queued_while_its_last_job_finishes(
    store: JobStore,
) -> None:
    """A running job that freed its key in a fenced transaction: the key enqueued again is a
    new job, which survives the old one's completion; a job that keeps its key swallows it."""
    first = enqueue(store, dedupe_key="fit:tgt_1")
    job = claim_one(store, "w")
    with store.db.write() as conn:
        assert store.enqueue(conn, "test.v1", {}, dedupe_key="fit:tgt_1") is None
    with store.db.write() as conn:
        store.fence(conn, job.id, job.attempts)
        store.release_key(conn, job.id)
    second = enqueue(store, dedupe_key="fit:tgt_1")
    assert second > first
    assert store.complete([job.lease]) == {first}
    again = claim_one(store, "w")
    assert (again.id, again.dedupe_key) == (second, "fit:tgt_1")


def test_claim_respects_run_at_and_order(store: JobStore, clock: FrozenClock) -> None:
    """Only due jobs are claimed, earliest run_at first; a future job waits for its time."""
    now = clock.now()
    later = enqueue(store, run_at=now + timedelta(seconds=30))
    current = enqueue(store, run_at=now)
    overdue = enqueue(store, run_at=now - timedelta(seconds=5))
    claimed = store.claim("w", limit=10, lease_seconds=3600)
    assert [job.id for job in claimed] == [overdue, current]
    assert all(job.status is JobStatus.RUNNING and job.attempts == 1 for job in claimed)
    assert all(job.locked_by == "w" for job in claimed)
    assert claimed[0].lease_until == now + timedelta(seconds=3600)
    clock.advance(29)
    assert store.claim("w", limit=10, lease_seconds=3600) == []
    clock.advance(1)
    assert [job.id for job in store.claim("w", limit=10, lease_seconds=3600)] == [later]


def test_claim_honours_limit_and_kinds(store: JobStore) -> None:
    """A claim takes at most `limit` jobs, and only of the kinds asked for."""
    publish = [enqueue(store, "publish.v1") for _ in range(3)]
    other = enqueue(store, "webhook.v1")
    first = store.claim("w", limit=2, lease_seconds=LEASE, kinds=["publish.v1"])
    assert [job.id for job in first] == publish[:2]
    rest = store.claim("w", limit=10, lease_seconds=LEASE, kinds=["publish.v1"])
    assert [job.id for job in rest] == publish[2:]
    assert [job.id for job in store.claim("w", limit=10, lease_seconds=LEASE)] == [other]


def test_concurrent_claimers_never_get_the_same_job(store: JobStore) -> None:
    """Claimers racing on threads split the queue: every job is claimed exactly once."""
    with store.db.write() as conn:
        ids = [store.enqueue(conn, "test.v1", {"n": n}) or 0 for n in range(300)]
    claims: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def claimer(name: str) -> None:
        try:
            start.wait()
            while batch := store.claim(name, limit=7, lease_seconds=LEASE):
                with lock:
                    claims.update(job.id for job in batch)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert sorted(claims) == sorted(ids)
    assert set(claims.values()) == {1}


def test_expired_lease_returns_the_job_to_the_queue(store: JobStore, clock: FrozenClock) -> None:
    """A dead worker's job is claimable again once its lease runs out, counted as an error."""
    job_id = enqueue(store)
    claim_one(store, "worker-a")
    clock.advance(LEASE - 1)
    assert store.claim("worker-b", limit=1, lease_seconds=LEASE) == []
    assert store.next_run_at() == clock.now() + timedelta(seconds=1)
    clock.advance(1)
    again = claim_one(store, "worker-b")
    assert (again.id, again.attempts, again.errors, again.locked_by) == (
        job_id,
        2,
        1,
        "worker-b",
    )
    assert again.last_error is not None
    assert "worker-a" in again.last_error


def test_a_job_whose_workers_keep_dying_ends_dead(store: JobStore, clock: FrozenClock) -> None:
    """Lease expiries count towards max errors, so a job that kills workers is buried."""
    job_id = enqueue(store)
    for _ in range(MAX_ERRORS):
        claim_one(store, "w")
        clock.advance(LEASE)
    assert store.claim("w", limit=1, lease_seconds=LEASE) == []
    job = store.get(job_id)
    assert job is not None
    assert (job.status, job.errors) == (JobStatus.DEAD, MAX_ERRORS)
    assert job.last_error is not None
    assert "lease expired" in job.last_error


def test_fencing_refuses_the_stale_worker_and_accepts_the_new_one(
    store: JobStore, clock: FrozenClock
) -> None:
    """After expiry and a re-claim by B, every write of A fails and B's succeed."""
    job_id = enqueue(store)
    a = claim_one(store, "worker-a")
    clock.advance(LEASE)
    b = claim_one(store, "worker-b")
    assert b.attempts == a.attempts + 1

    assert store.heartbeat(job_id, a.attempts, LEASE) is False
    assert store.complete([a.lease]) == set()
    assert store.fail(job_id, a.attempts, "boom", None) is False
    assert store.reschedule(job_id, a.attempts, clock.now()) is False
    assert store.release([a.lease]) == 0
    with pytest.raises(LeaseLost), store.db.write() as conn:
        store.fence(conn, job_id, a.attempts)

    with store.db.write() as conn:
        store.fence(conn, job_id, b.attempts)
    assert store.heartbeat(job_id, b.attempts, LEASE) is True
    held = store.get(job_id)
    assert held is not None
    assert held.lease_until == clock.now() + timedelta(seconds=LEASE)
    assert held.locked_by == "worker-b"
    assert store.complete([a.lease, b.lease]) == {job_id}
    assert store.get(job_id) is None


def test_fence_rolls_back_the_stale_worker_s_writes(store: JobStore, clock: FrozenClock) -> None:
    """A write made in the same transaction as a failed fence never commits."""
    job_id = enqueue(store)
    a = claim_one(store, "worker-a")
    clock.advance(LEASE)
    claim_one(store, "worker-b")

    def write_effect_as_a() -> None:
        with store.db.write() as conn:
            store.enqueue(conn, "effect.v1", {"from": "worker-a"})
            store.fence(conn, job_id, a.attempts)

    with pytest.raises(LeaseLost):
        write_effect_as_a()
    assert store.counts()[JobStatus.QUEUED] == 0


def test_fail_retries_then_buries_with_the_last_error(store: JobStore, clock: FrozenClock) -> None:
    """Errors below the maximum requeue at retry_at; the last one makes the job dead."""
    job_id = enqueue(store)
    for n in range(1, MAX_ERRORS):
        job = claim_one(store, "w")
        retry_at = clock.now() + timedelta(seconds=5)
        assert store.fail(job_id, job.attempts, f"error {n}", retry_at) is True
        queued = store.get(job_id)
        assert queued is not None
        assert (queued.status, queued.errors, queued.run_at) == (JobStatus.QUEUED, n, retry_at)
        assert (queued.lease_until, queued.locked_by) == (None, None)
        assert store.claim("w", limit=1, lease_seconds=LEASE) == []
        clock.advance(5)
    job = claim_one(store, "w")
    assert store.fail(job_id, job.attempts, "final error", clock.now()) is True
    dead = store.get(job_id)
    assert dead is not None
    assert (dead.status, dead.errors, dead.last_error) == (
        JobStatus.DEAD,
        MAX_ERRORS,
        "final error",
    )
    assert [job.id for job in store.list_dead()] == [job_id]
    clock.advance(3600)
    assert store.claim("w", limit=1, lease_seconds=LEASE) == []


def test_fail_without_retry_time_is_dead_at_once(store: JobStore) -> None:
    """A failure the handler says cannot be retried buries the job on the first error."""
    job_id = enqueue(store)
    job = claim_one(store, "w")
    assert store.fail(job_id, job.attempts, "permanent", None) is True
    dead = store.get(job_id)
    assert dead is not None
    assert (dead.status, dead.errors) == (JobStatus.DEAD, 1)


def test_retry_dead_requeues_with_a_clean_error_count(store: JobStore, clock: FrozenClock) -> None:
    """An operator's retry makes a dead job due now; only dead jobs can be retried."""
    job_id = enqueue(store, dedupe_key="k")
    job = claim_one(store, "w")
    store.fail(job_id, job.attempts, "permanent", None)
    with store.db.write() as conn:
        assert store.enqueue(conn, "test.v1", {}, dedupe_key="k") is None
    clock.advance(60)
    assert store.retry_dead(job_id) is True
    assert store.retry_dead(job_id) is False
    again = claim_one(store, "w")
    assert (again.id, again.errors, again.attempts) == (job_id, 0, 2)
    assert store.list_dead() == []


def test_reschedule_runs_the_job_again_later(store: JobStore, clock: FrozenClock) -> None:
    """RunAgain is not an error: the job waits for its new time with its error streak reset."""
    job_id = enqueue(store)
    job = claim_one(store, "w")
    store.fail(job_id, job.attempts, "blip", clock.now())
    job = claim_one(store, "w")
    assert job.errors == 1
    assert store.reschedule(job_id, job.attempts, clock.now() + timedelta(seconds=15)) is True
    assert store.claim("w", limit=1, lease_seconds=LEASE) == []
    assert store.next_run_at() == clock.now() + timedelta(seconds=15)
    clock.advance(15)
    again = claim_one(store, "w")
    assert (again.id, again.errors, again.attempts) == (job_id, 0, 3)


def test_release_gives_jobs_back_without_an_error(store: JobStore) -> None:
    """A graceful shutdown's release makes the job claimable at once, error-free."""
    first, second = enqueue(store), enqueue(store)
    claimed = store.claim("w", limit=2, lease_seconds=LEASE)
    assert store.release([job.lease for job in claimed]) == 2
    again = store.claim("w2", limit=2, lease_seconds=LEASE)
    assert [(job.id, job.errors, job.attempts) for job in again] == [(first, 0, 2), (second, 0, 2)]


def test_counts_and_next_run_at(store: JobStore, clock: FrozenClock) -> None:
    """Counts cover every status; next_run_at is the earliest claimable moment."""
    assert store.counts() == {JobStatus.QUEUED: 0, JobStatus.RUNNING: 0, JobStatus.DEAD: 0}
    assert store.next_run_at() is None
    now = clock.now()
    enqueue(store, "a.v1", run_at=now + timedelta(seconds=40))
    enqueue(store, "b.v1", run_at=now + timedelta(seconds=20))
    for _ in range(2):
        enqueue(store, "c.v1")
    running = claim_one(store, "w")
    dead = claim_one(store, "w")
    store.fail(dead.id, dead.attempts, "x", None)
    assert store.counts() == {JobStatus.QUEUED: 2, JobStatus.RUNNING: 1, JobStatus.DEAD: 1}
    assert running.lease_until is not None
    assert store.next_run_at() == now + timedelta(seconds=LEASE)
    assert store.next_run_at(["a.v1", "b.v1"]) == now + timedelta(seconds=20)
    assert store.next_run_at(["a.v1"]) == now + timedelta(seconds=40)
    assert store.next_run_at(["z.v1"]) is None
