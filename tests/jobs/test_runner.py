"""The runner over a real database: execution, outcomes, retries, leases, shutdown, wake-up."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

from crosspost.clock import Clock, FrozenClock, SystemClock
from crosspost.jobs import (
    Backoff,
    Done,
    Handler,
    JobContext,
    JobStatus,
    JobStore,
    Outcome,
    Runner,
    create_job_store,
    describe_error,
    set_testing,
)
from crosspost.store.db import Database

KIND = "test.v1"


def wait_for(condition: Callable[[], object], *, timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.005)


@pytest.fixture
def clock() -> FrozenClock:
    """Time that moves only when a test says so."""
    return FrozenClock()


@pytest.fixture
def make_runner(db: Database) -> Iterator[Callable[..., tuple[Runner, JobStore]]]:
    """Build started runners over `db`; every one is stopped at teardown."""
    runners: list[Runner] = []

    def make(
        handler: Handler,
        *,
        clock: Clock | None = None,
        max_errors: int = 10,
        **options: Any,
    ) -> tuple[Runner, JobStore]:
        store = create_job_store(db, clock=clock or SystemClock(), max_errors=max_errors)
        settings: dict[str, Any] = {
            "concurrency": 4,
            "lease_seconds": 5.0,
            "poll_seconds": 0.05,
            "batch_size": 8,
            "max_errors": max_errors,
            **options,
        }
        runner = Runner(store, {KIND: handler}, **settings)
        runners.append(runner)
        runner.start()
        return runner, store

    yield make
    for runner in runners:
        runner.stop(timeout=2)


def enqueue(store: JobStore, payload: Mapping[str, Any], **kwargs: Any) -> int:
    """Enqueue one job in its own transaction."""
    with store.db.write() as conn:
        job_id = store.enqueue(conn, KIND, payload, **kwargs)
    assert job_id is not None
    return job_id


def all_settled(store: JobStore) -> bool:
    """No job is queued or running."""
    counts = store.counts()
    return counts[JobStatus.QUEUED] == counts[JobStatus.RUNNING] == 0


def test_runner_executes_every_job_once(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """Enqueued jobs are run once each and their rows deleted."""
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(ctx: JobContext) -> Outcome:
        with lock:
            seen[int(ctx.job.payload["n"])] += 1
        return ctx.done()

    runner, store = make_runner(handler)
    with store.db.write() as conn:
        for n in range(60):
            store.enqueue(conn, KIND, {"n": n})
    runner.wake()
    wait_for(lambda: sum(seen.values()) == 60 and all_settled(store), what="60 jobs")
    assert seen == Counter(range(60))
    assert store.counts()[JobStatus.DEAD] == 0
    wait_for(lambda: runner.stats.completed == 60, what="completion flush")
    assert runner.stats.claimed == 60


def test_run_again_reschedules_the_job(
    make_runner: Callable[..., tuple[Runner, JobStore]], clock: FrozenClock
) -> None:
    """RunAgain puts the job back for its time; it runs again only once that time comes."""
    calls: list[int] = []

    def handler(ctx: JobContext) -> Outcome:
        calls.append(ctx.job.attempts)
        return ctx.run_again(after=30) if len(calls) == 1 else Done()

    runner, store = make_runner(handler, clock=clock)
    job_id = enqueue(store, {"target_id": "tgt_1"})
    runner.wake()

    def rescheduled() -> bool:
        job = store.get(job_id)
        return job is not None and job.status is JobStatus.QUEUED and job.attempts == 1

    wait_for(rescheduled, what="the reschedule")
    job = store.get(job_id)
    assert job is not None
    assert (job.run_at, job.errors) == (clock.now() + timedelta(seconds=30), 0)
    polls = runner.stats.polls
    clock.advance(29)
    runner.wake()
    wait_for(lambda: runner.stats.polls >= polls + 2, what="a claim after the wake")
    assert calls == [1]
    clock.advance(1)
    runner.wake()
    wait_for(lambda: store.get(job_id) is None, what="the second run")
    assert calls == [1, 2]
    assert runner.stats.rescheduled == 1


def test_exceptions_retry_with_backoff_then_the_job_is_dead(
    make_runner: Callable[..., tuple[Runner, JobStore]], clock: FrozenClock
) -> None:
    """A raising handler is retried after a jittered backoff, then buried at max errors."""
    calls: list[int] = []

    def handler(ctx: JobContext) -> Outcome:
        calls.append(ctx.job.errors)
        raise ConnectionError("upstream said no; access_token=ya29.secret-value")

    backoff = Backoff(base=2.0, cap=60.0, rng=random.Random(7))
    expected = Backoff(base=2.0, cap=60.0, rng=random.Random(7))
    runner, store = make_runner(handler, clock=clock, max_errors=3, backoff=backoff)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    for errors in (1, 2):
        start = clock.now()

        def failed(n: int = errors) -> bool:
            job = store.get(job_id)
            return job is not None and job.status is JobStatus.QUEUED and job.errors == n

        wait_for(failed, what=f"error {errors}")
        job = store.get(job_id)
        assert job is not None
        assert job.run_at == start + timedelta(seconds=expected.delay(errors))
        assert job.last_error is not None
        assert job.last_error.startswith("builtins.ConnectionError: upstream said no")
        assert "ya29" not in job.last_error
        assert "in handler" in job.last_error
        clock.advance(60)
        runner.wake()
    wait_for(lambda: store.counts()[JobStatus.DEAD] == 1, what="the job to die")
    dead = store.get(job_id)
    assert dead is not None
    assert dead.errors == 3
    assert calls == [0, 1, 2]
    assert runner.stats.failed == 3


def test_backoff_test_switch_retries_at_once(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """With backoff.set_testing on, a failing job is retried without waiting."""
    set_testing(True)
    calls: list[int] = []

    def handler(ctx: JobContext) -> Outcome:
        calls.append(ctx.job.attempts)
        if len(calls) < 3:
            raise RuntimeError("flaky")
        return Done()

    runner, store = make_runner(handler)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    wait_for(lambda: store.get(job_id) is None, what="the retried job")
    assert calls == [1, 2, 3]


def test_a_non_outcome_return_is_a_failure(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """A handler that returns something other than an Outcome fails loudly, not silently."""

    def handler(ctx: JobContext) -> Outcome:
        return None  # type: ignore[return-value]

    runner, store = make_runner(handler, max_errors=1)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    wait_for(lambda: store.counts()[JobStatus.DEAD] == 1, what="the dead job")
    dead = store.get(job_id)
    assert dead is not None
    assert dead.last_error is not None
    assert "TypeError" in dead.last_error


def test_stop_lets_running_handlers_finish_and_claims_no_more(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """stop() stops claiming at once but waits for the handler that is running."""
    started, release = threading.Event(), threading.Event()

    def handler(ctx: JobContext) -> Outcome:
        started.set()
        assert release.wait(10)
        return Done()

    runner, store = make_runner(handler, concurrency=1)
    first = enqueue(store, {"n": 1})
    runner.wake()
    assert started.wait(10)
    result: list[bool] = []
    stopper = threading.Thread(target=lambda: result.append(runner.stop(timeout=10)))
    stopper.start()
    wait_for(runner._stopping.is_set, what="stop to begin")
    second = enqueue(store, {"n": 2})
    release.set()
    stopper.join(10)
    assert result == [True]
    assert store.get(first) is None
    untouched = store.get(second)
    assert untouched is not None
    assert (untouched.status, untouched.attempts) == (JobStatus.QUEUED, 0)


def test_stop_requeues_handlers_that_overrun_the_timeout(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """A handler still running at the stop deadline is told it lost the job, which is requeued."""
    started = threading.Event()
    saw_lost: list[bool] = []

    def handler(ctx: JobContext) -> Outcome:
        started.set()
        deadline = time.monotonic() + 10
        while not ctx.lost and time.monotonic() < deadline:
            time.sleep(0.01)
        saw_lost.append(ctx.lost)
        return Done()

    runner, store = make_runner(handler, concurrency=2)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    assert started.wait(10)
    assert runner.stop(timeout=0.2) is False
    job = store.get(job_id)
    assert job is not None
    assert (job.status, job.errors, job.locked_by, job.lease_until) == (
        JobStatus.QUEUED,
        0,
        None,
        None,
    )
    wait_for(lambda: saw_lost == [True], what="the handler to see the lost lease")
    assert store.get(job_id) is not None


def test_wake_claims_at_once_instead_of_waiting_for_the_poll(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """An idle runner with a long poll picks up new work as soon as wake() is called."""
    done = threading.Event()

    def handler(ctx: JobContext) -> Outcome:
        done.set()
        return Done()

    runner, store = make_runner(handler, poll_seconds=60.0, listen=False)
    wait_for(lambda: runner.stats.polls >= 1, what="the first (empty) claim")
    enqueue(store, {"n": 1})
    runner.wake()
    assert done.wait(5), "wake() did not make the runner claim"


def test_notify_wakes_a_worker_from_another_process(
    make_runner: Callable[..., tuple[Runner, JobStore]], db: Database
) -> None:
    """On PostgreSQL an enqueue committed elsewhere wakes an idle runner through NOTIFY."""
    if db.is_sqlite:
        pytest.skip("SQLite has no cross-process notification; workers poll")
    done = threading.Event()

    def handler(ctx: JobContext) -> Outcome:
        done.set()
        return Done()

    runner, _ = make_runner(handler, poll_seconds=60.0)
    wait_for(lambda: runner.stats.polls >= 1, what="the first (empty) claim")
    producer_db = Database(db.url)
    try:
        producer = create_job_store(producer_db)
        # Give the listener a moment to be LISTENing: notifications before that are lost.
        deadline = time.monotonic() + 10
        while not done.is_set() and time.monotonic() < deadline:
            with producer_db.write() as conn:
                producer.enqueue(conn, KIND, {"n": 1}, dedupe_key="notify-test")
            done.wait(0.5)
    finally:
        producer_db.dispose()
    assert done.is_set(), "NOTIFY did not wake the runner"


def test_a_handler_that_lost_its_lease_cannot_commit(
    make_runner: Callable[..., tuple[Runner, JobStore]], clock: FrozenClock, db: Database
) -> None:
    """When another worker takes the job over, the heartbeat flags it and the fence refuses."""
    outcome: list[str] = []

    def handler(ctx: JobContext) -> Outcome:
        deadline = time.monotonic() + 10
        while not ctx.lost and time.monotonic() < deadline:
            time.sleep(0.01)
        with db.write() as conn:
            try:
                ctx.fence(conn)
                outcome.append("committed")
            except Exception as exc:
                outcome.append(type(exc).__name__)
                raise
        return Done()

    runner, store = make_runner(handler, clock=clock, lease_seconds=0.3)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    wait_for(lambda: runner.stats.claimed == 1, what="the claim")
    # The intruder lives an hour ahead, so the runner's heartbeats cannot outrun its claim.
    later = create_job_store(db, clock=FrozenClock(clock.now() + timedelta(hours=1)))
    intruder = later.claim("intruder", limit=1, lease_seconds=60)
    assert [job.id for job in intruder] == [job_id]
    wait_for(lambda: outcome != [], what="the handler to try to commit")
    assert outcome == ["LeaseLost"]
    wait_for(lambda: runner.stats.lost == 1, what="the lost lease to be counted")
    job = store.get(job_id)
    assert job is not None
    assert (job.status, job.locked_by, job.errors) == (JobStatus.RUNNING, "intruder", 1)


def test_heartbeats_keep_a_long_job_leased(
    make_runner: Callable[..., tuple[Runner, JobStore]],
) -> None:
    """A handler running past its first lease keeps the job: nobody else can claim it."""
    started, release = threading.Event(), threading.Event()

    def handler(ctx: JobContext) -> Outcome:
        started.set()
        assert release.wait(10)
        return Done()

    clock = SystemClock()
    runner, store = make_runner(handler, clock=clock, lease_seconds=0.6)
    job_id = enqueue(store, {"n": 1})
    runner.wake()
    assert started.wait(10)
    first = store.get(job_id)
    assert first is not None
    assert first.lease_until is not None
    first_lease = first.lease_until
    wait_for(lambda: clock.now() > first_lease + timedelta(seconds=0.3), what="lease expiry")
    assert store.claim("other", limit=1, lease_seconds=5) == []
    held = store.get(job_id)
    assert held is not None
    assert held.lease_until is not None
    assert held.lease_until > first_lease
    release.set()
    wait_for(lambda: store.get(job_id) is None, what="completion")


def test_describe_error_keeps_type_message_and_frames_but_not_secrets() -> None:
    """last_error explains the failure without leaking credentials."""

    def fail() -> None:
        try:
            raise KeyError("missing")
        except KeyError as exc:
            raise ValueError("Authorization: Bearer abc.def refused") from exc

    with pytest.raises(ValueError, match="refused") as info:
        fail()
    text = describe_error(info.value)
    assert text.startswith("builtins.ValueError: Authorization: Bearer [redacted] refused")
    assert "abc.def" not in text
    assert "in fail" in text
    assert "caused by KeyError" in text
