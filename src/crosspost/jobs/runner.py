"""The worker: claims jobs in batches, runs handlers on threads, keeps leases alive, settles.

Threads, not asyncio: handlers do blocking HTTP (httpx) and blocking database writes. One
dispatcher claims, `concurrency` executors run handlers, a heartbeat thread extends leases,
a flusher deletes finished jobs in batches and, on PostgreSQL, a listener turns NOTIFY into
a wake-up.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from crosspost.clock import Clock, monotonic
from crosspost.jobs.backoff import Backoff
from crosspost.jobs.context import Done, Handler, JobContext, RunAgain, describe_error
from crosspost.jobs.store import JobStore, Lease, LeaseLost

log = logging.getLogger("crosspost.jobs")

_MIN_IDLE_WAIT = 0.01  # a due job another worker holds must not make us spin
_FLUSH_MAX = 512


def default_worker_id() -> str:
    """``host:pid:random``, unique per runner and short enough for `jobs.locked_by`."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class RunnerStats:
    """Counters since start (for logs, `/metrics` and the benchmark)."""

    polls: int = 0
    claimed: int = 0
    completed: int = 0
    rescheduled: int = 0
    failed: int = 0
    lost: int = 0


class Runner:
    """Runs jobs from a `JobStore` with `handlers` keyed by job kind (e.g. ``"publish.v1"``)."""

    def __init__(
        self,
        store: JobStore,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
        batch_size: int = 16,
        max_errors: int = 10,
        clock: Clock | None = None,
        worker_id: str | None = None,
        backoff: Backoff | None = None,
        flush_seconds: float = 0.005,
        listen: bool = True,
    ) -> None:
        if concurrency < 1 or batch_size < 1 or max_errors < 1:
            raise ValueError("concurrency, batch_size and max_errors must be at least 1")
        if lease_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("lease_seconds and poll_seconds must be positive")
        self.store = store
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.max_errors = max_errors
        self.clock = clock or store.clock
        self.worker_id = (worker_id or default_worker_id())[:64]  # jobs.locked_by width
        self.backoff = backoff or Backoff()
        self.flush_seconds = flush_seconds
        self.stats = RunnerStats()
        self._listen = listen
        self._kinds = sorted(self.handlers)
        self._lock = threading.Lock()
        self._active: dict[int, JobContext] = {}
        self._work: queue.SimpleQueue[JobContext | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._halt = threading.Event()
        self._stop_requested = threading.Event()
        self._done: list[Lease] = []
        self._done_lock = threading.Lock()
        self._done_ready = threading.Event()
        self._executors: list[threading.Thread] = []
        self._services: list[threading.Thread] = []
        self._dispatcher: threading.Thread | None = None

    # Lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start claiming and running jobs on background threads."""
        if self._dispatcher is not None:
            raise RuntimeError("runner already started")
        name = f"crosspost-jobs[{self.worker_id}]"
        self._executors = [
            threading.Thread(target=self._execute_loop, name=f"{name}-exec-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        self._services = [
            threading.Thread(target=self._heartbeat_loop, name=f"{name}-heartbeat", daemon=True),
            threading.Thread(target=self._flush_loop, name=f"{name}-flush", daemon=True),
        ]
        if self._listen:
            self._services.append(
                threading.Thread(target=self._listen_loop, name=f"{name}-listen", daemon=True)
            )
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name=f"{name}-dispatch", daemon=True
        )
        for thread in [*self._executors, *self._services, self._dispatcher]:
            thread.start()
        log.info("job runner %s started: %d threads", self.worker_id, self.concurrency)

    def wake(self) -> None:
        """Claim now instead of at the next poll (call after committing an enqueue)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask `run_forever` to stop gracefully (safe from any thread or signal handler)."""
        self._stop_requested.set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming, let running handlers finish for up to `timeout` s, requeue the rest.

        Returns True when every handler finished in time.
        """
        if self._dispatcher is None or self._halt.is_set():
            return True
        deadline = monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        self._dispatcher.join(max(0.0, deadline - monotonic()))
        waiting = self._drain_unstarted()
        if waiting:
            self._release(waiting, "not started")
        for _ in self._executors:
            self._work.put(None)
        for thread in self._executors:
            thread.join(max(0.0, deadline - monotonic()))
        with self._lock:
            unfinished = list(self._active.values())
        for ctx in unfinished:
            ctx.mark_lost()
        if unfinished:
            self._release(unfinished, "still running at shutdown")
        self._halt.set()
        self._done_ready.set()
        for thread in self._services:
            thread.join(max(1.0, deadline - monotonic()))
        log.info("job runner %s stopped", self.worker_id)
        return not unfinished

    def run_forever(self, *, shutdown_timeout: float | None = None) -> None:
        """Run until SIGTERM/SIGINT or `request_stop()`, then stop gracefully."""
        previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        self.start()
        try:
            # Wait in slices so signal handlers run promptly on every platform.
            while not self._stop_requested.wait(1.0):
                pass
        finally:
            self.stop(self.lease_seconds if shutdown_timeout is None else shutdown_timeout)
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("job runner %s got signal %d, stopping", self.worker_id, signum)
        self.request_stop()

    # Claiming ------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            # Cleared before claiming so a wake() that lands during the claim is not lost;
            # stop() sets _stopping before waking us, so a wake cleared here is seen below.
            self._wake.clear()
            if self._stopping.is_set():
                break
            with self._lock:
                free = self.concurrency - len(self._active)
            if free <= 0:
                self._wake.wait(self.poll_seconds)  # an executor sets it when a slot frees
                continue
            limit = min(free, self.batch_size)
            try:
                batch = self.store.claim(
                    self.worker_id,
                    limit=limit,
                    lease_seconds=self.lease_seconds,
                    kinds=self._kinds,
                )
            except Exception:
                log.exception("claiming jobs failed; retrying after %.1fs", self.poll_seconds)
                self._stopping.wait(self.poll_seconds)
                continue
            with self._lock:
                self.stats.polls += 1
            if batch:
                contexts = [
                    JobContext(job, self.store, lease_seconds=self.lease_seconds, clock=self.clock)
                    for job in batch
                ]
                with self._lock:
                    self.stats.claimed += len(contexts)
                    for ctx in contexts:
                        self._active[ctx.job.id] = ctx
                for ctx in contexts:
                    self._work.put(ctx)
            if len(batch) < limit:
                self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        """Sleep until the next job is due, but never longer than a poll."""
        try:
            upcoming = self.store.next_run_at(self._kinds)
        except Exception:
            log.exception("reading the next run time failed")
            return self.poll_seconds
        if upcoming is None:
            return self.poll_seconds
        until = (upcoming - self.clock.now()).total_seconds()
        return min(self.poll_seconds, max(_MIN_IDLE_WAIT, until))

    def _drain_unstarted(self) -> list[JobContext]:
        drained: list[JobContext] = []
        while True:
            try:
                ctx = self._work.get_nowait()
            except queue.Empty:
                return drained
            if ctx is not None:
                drained.append(ctx)

    def _release(self, contexts: list[JobContext], why: str) -> None:
        try:
            released = self.store.release([ctx.job.lease for ctx in contexts])
        except Exception:
            log.exception("releasing %d jobs failed; their leases will expire", len(contexts))
        else:
            log.info("released %d of %d jobs (%s)", released, len(contexts), why)
        with self._lock:
            for ctx in contexts:
                self._active.pop(ctx.job.id, None)

    # Executing -----------------------------------------------------------------------

    def _execute_loop(self) -> None:
        while (ctx := self._work.get()) is not None:
            try:
                self._execute(ctx)
            finally:
                self._retire(ctx)

    def _retire(self, ctx: JobContext) -> None:
        """Stop heartbeating a job whose handler returned (idempotent)."""
        with self._lock:
            was_full = len(self._active) >= self.concurrency
            present = self._active.pop(ctx.job.id, None) is not None
        if present and was_full:
            self._wake.set()

    def _execute(self, ctx: JobContext) -> None:
        job = ctx.job
        handler = self.handlers[job.kind]
        try:
            outcome = handler(ctx)
            if not isinstance(outcome, Done | RunAgain):
                raise TypeError(f"handler for {job.kind} returned {outcome!r}, not an Outcome")
        except LeaseLost:
            self._retire(ctx)
            self._count_lost(ctx, "fence refused")
            return
        except Exception as exc:
            # Retire before settling: a heartbeat racing the settle would be refused and
            # wrongly report the lease as lost.
            self._retire(ctx)
            self._settle_failure(ctx, exc)
            return
        self._retire(ctx)
        if isinstance(outcome, Done):
            with self._done_lock:
                self._done.append(job.lease)
            self._done_ready.set()
            return
        try:
            held = self.store.reschedule(job.id, job.attempts, outcome.at)
        except Exception:
            log.exception("rescheduling job %d failed; its lease will expire", job.id)
            return
        if held:
            with self._lock:
                self.stats.rescheduled += 1
        else:
            self._count_lost(ctx, "reschedule refused")

    def _settle_failure(self, ctx: JobContext, exc: Exception) -> None:
        job = ctx.job
        errors = job.errors + 1
        retry_at = None
        if errors < self.max_errors:
            retry_at = self.clock.now() + timedelta(seconds=self.backoff.delay(errors))
        log.warning(
            "job %d (%s) failed (error %d of %d): %s",
            job.id,
            job.kind,
            errors,
            self.max_errors,
            f"{type(exc).__name__}: {exc}",  # the log's formatter masks any secret in it
        )
        try:
            held = self.store.fail(job.id, job.attempts, describe_error(exc), retry_at)
        except Exception:
            log.exception("recording the failure of job %d failed", job.id)
            return
        if held:
            with self._lock:
                self.stats.failed += 1
        else:
            self._count_lost(ctx, "fail refused")

    def _count_lost(self, ctx: JobContext, why: str) -> None:
        ctx.mark_lost()
        with self._lock:
            self.stats.lost += 1
        log.warning("job %d lost its lease (%s)", ctx.job.id, why)

    # Background services -------------------------------------------------------------

    def _flush_loop(self) -> None:
        while True:
            self._done_ready.wait(self.poll_seconds)
            with self._done_lock:
                pending = len(self._done)
            if pending and pending < _FLUSH_MAX and not self._halt.is_set():
                # Let a few more completions join this batch: one DELETE for many jobs.
                self._halt.wait(self.flush_seconds)
            with self._done_lock:
                batch, self._done = self._done, []
                self._done_ready.clear()
            if batch:
                self._flush(batch)
            if self._halt.is_set():
                with self._done_lock:
                    if not self._done:
                        return

    def _flush(self, batch: list[Lease]) -> None:
        try:
            completed = self.store.complete(batch)
        except Exception:
            log.exception("completing %d jobs failed; retrying", len(batch))
            with self._done_lock:
                self._done.extend(batch)
            self._halt.wait(self.poll_seconds)
            return
        with self._lock:
            self.stats.completed += len(completed)
            self.stats.lost += len(batch) - len(completed)
        if len(completed) < len(batch):
            log.warning("%d finished jobs had lost their lease", len(batch) - len(completed))

    def _is_active(self, ctx: JobContext) -> bool:
        with self._lock:
            return self._active.get(ctx.job.id) is ctx

    def _heartbeat_loop(self) -> None:
        while not self._halt.wait(self.lease_seconds / 3):
            with self._lock:
                contexts = [ctx for ctx in self._active.values() if not ctx.lost]
            for ctx in contexts:
                try:
                    if not ctx.heartbeat() and self._is_active(ctx):
                        # (A job that finished since the snapshot is refused too: not a loss.)
                        log.warning("job %d lost its lease (heartbeat refused)", ctx.job.id)
                except Exception:
                    log.exception("heartbeat for job %d failed", ctx.job.id)

    def _listen_loop(self) -> None:
        try:
            self.store.listen(self.wake, self._halt)
        except Exception:
            log.exception("job listener stopped; falling back to polling")
