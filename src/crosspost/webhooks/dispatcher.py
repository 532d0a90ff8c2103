"""The webhook dispatcher: fan-out, claim, send, settle, in a loop of its own.

Deliveries are their own queue (`webhook_deliveries`), not jobs: a job per delivery would
cost a claim and a settle transaction each, and webhooks must go out by the thousand per
second. One asyncio loop, in a daemon thread, does everything here:

- the *pump* runs one write transaction per round: fan out new events, take back leases
  that lapsed (a dead dispatcher's), and claim due deliveries under a lease;
- each claimed delivery becomes a task that waits for one of its endpoint's *lanes*,
  takes a throttle token (GCRA, in Redis when configured, so the throttle is shared),
  signs and POSTs the stored payload;
- the *settler* writes finished attempts in batches, one transaction per batch.

Claim depth: an endpoint gets as many claims ahead as its lanes can send in a fraction of
the lease, judged by the latency it has shown (deep for a fast receiver, so claim
transactions are few and large; shallow for a slow one), and a claim whose lease has grown
too short by the time a lane is free is put back instead of sent, so no claim is ever sent
after it could have lapsed. A backlogged endpoint is left out of the claim query, so it
cannot starve the others.

Lanes: an endpoint has up to `max_concurrency` of them, each a guarded connection pool
(`guarded_pool`: httpcore's, driven without httpx) holding one keep-alive connection, so
the lanes are the endpoint's concurrency limit in this process (N processes allow N times
as many) and connections are reused per destination. One pool of many connections would do
the same, but httpcore's pool re-examines every connection for every request it queues or
finishes: at 16 connections it spent more CPU than everything else a delivery costs
(measured: 605 req/s for one 16-connection pool against 1,325 for 16 one-connection
clients, on one core).

SQL runs on the loop's thread for SQLite, as `Database.run` does (on another thread it waits
for the GIL behind this busy loop), and on one worker thread for PostgreSQL, whose round
trips would otherwise leave the loop idle; lock waits are bounded (`LOCK_TIMEOUT_MS`).

`python -m crosspost.webhooks.dispatcher` runs a dispatcher alone until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import secrets as _random
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpcore
import httpx
from sqlalchemy.engine import Connection

from crosspost.clock import Clock
from crosspost.config import Settings
from crosspost.store import webhook_deliveries as store
from crosspost.store.db import Database
from crosspost.usage.ratelimit import MemoryRateLimiter, Policy, RateLimiter
from crosspost.vault.keyring import Keyring
from crosspost.webhooks import sender
from crosspost.webhooks.fanout import fan_out
from crosspost.webhooks.retry import parse_retry_after
from crosspost.webhooks.settle import (
    Abandoned,
    Attempted,
    Claim,
    Outcome,
    Released,
    Rules,
    Settled,
    settle_batch,
)
from crosspost.webhooks.signing import signature_headers
from crosspost.webhooks.ssrf import AddressPolicy, guarded_pool

SECRET_TABLE = "webhook_endpoints"  # noqa: S105 - a table name
LEASE_TIMEOUTS = 4  # a lease lasts this many request timeouts, plus `_margin`
CLAIM_BATCH = 256  # rows read per claim
MAX_DEPTH = 128  # claims of one endpoint waiting in this process, at most
FAN_OUT_BATCH = 500
SETTLE_BATCH = 500
SETTLE_LINGER = 0.05  # a settle waits this long for company: fewer, larger transactions
MAX_IN_FLIGHT = 1024  # claimed and not yet settled, per process
POLL_SECONDS = 0.05
STALE_CHECK_SECONDS = 1.0
SECRET_CACHE_SECONDS = 60.0
LANE_IDLE_SECONDS = 60.0  # an endpoint's clients are closed after this long unused
INTERNAL_RETRY = timedelta(seconds=60)
SETTLE_RETRIES = 5
LOCK_TIMEOUT_MS = 2000  # SQL never waits longer than this for a lock
LATENCY_WEIGHT = 0.2  # of the newest send in an endpoint's latency average

log = logging.getLogger("crosspost.webhooks")
_T = TypeVar("_T")


class DispatcherServices(Protocol):
    """What the dispatcher uses of `crosspost.engine.services.Services` (which it is, in
    practice; the protocol keeps this layer from importing the engine)."""

    @property
    def settings(self) -> Settings:
        """The process settings."""
        ...

    @property
    def db(self) -> Database:
        """The database."""
        ...

    @property
    def keyring(self) -> Keyring:
        """The vault that opens endpoint secrets."""
        ...

    @property
    def clock(self) -> Clock:
        """The clock (a FrozenClock in tests)."""
        ...


class _SecretCache:
    """Opened endpoint secrets, kept briefly: one AES-GCM open per endpoint a minute, not per
    delivery. Keyed by the sealed value, so a rotated secret is never served stale."""

    def __init__(self, keyring: Keyring, ttl: float) -> None:
        self._keyring = keyring
        self._ttl = ttl
        self._opened: dict[tuple[str, str], tuple[str, float]] = {}

    def open(self, sealed: str, *, tenant_id: str, endpoint_id: str) -> str:
        now = time.monotonic()
        hit = self._opened.get((endpoint_id, sealed))
        if hit is not None and hit[1] > now:
            return hit[0]
        plain = self._keyring.decrypt(
            sealed, tenant_id=tenant_id, table=SECRET_TABLE, row_id=endpoint_id
        )
        if len(self._opened) >= 4096:
            self._opened = {k: v for k, v in self._opened.items() if v[1] > now}
        self._opened[endpoint_id, sealed] = (plain, now + self._ttl)
        return plain


class _Lanes:
    """An endpoint's pools of one connection each; at most `limit` in use at once."""

    def __init__(self, limit: int, make: Callable[[], httpcore.AsyncConnectionPool]) -> None:
        self.limit = limit
        self.active = 0
        self.used_at = time.monotonic()
        self._make = make
        self._idle: list[httpcore.AsyncConnectionPool] = []
        self._semaphore = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[httpcore.AsyncConnectionPool]:
        async with self._semaphore:
            # The most recently used client first: its connection is the likeliest alive.
            client = self._idle.pop() if self._idle else self._make()
            self.active += 1
            try:
                yield client
            finally:
                self.active -= 1
                self._idle.append(client)
                self.used_at = time.monotonic()

    async def aclose(self) -> None:
        clients, self._idle = self._idle, []
        for client in clients:
            await client.aclose()


class _LoopState:
    """What belongs to one event loop: the endpoints' lanes and the throttle."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        settings: Settings,
        policy_for_mode: Callable[[str], AddressPolicy],
    ) -> None:
        self.loop = loop
        self._settings = settings
        self._policy_for_mode = policy_for_mode
        self._ssl = httpx.create_ssl_context()  # loading CA certificates once, not per lane
        self._lanes: dict[str, _Lanes] = {}
        self._retired: list[_Lanes] = []
        self._next_sweep = time.monotonic() + LANE_IDLE_SECONDS
        self.limiter: RateLimiter
        if settings.resolved_redis_url:
            # Imported only when used: redis is optional in embedded mode.
            from crosspost.usage.ratelimit_redis import RedisRateLimiter  # noqa: PLC0415

            self.limiter = RedisRateLimiter(
                settings.resolved_redis_url,
                prefix="crosspost:webhook-throttle:",
                fail_open_seconds=settings.rate_limit_fail_open_seconds,
            )
        else:
            self.limiter = MemoryRateLimiter()

    def lanes(self, endpoint_id: str, mode: str, limit: int) -> _Lanes:
        lanes = self._lanes.get(endpoint_id)
        # A changed limit takes effect once the old lanes are idle, so old and new never
        # run more than the larger limit at once.
        if lanes is None or (lanes.limit != limit and lanes.active == 0):
            if lanes is not None:
                self._retired.append(lanes)
            lanes = _Lanes(limit, functools.partial(self._client, mode))
            self._lanes[endpoint_id] = lanes
        return lanes

    def _client(self, mode: str) -> httpcore.AsyncConnectionPool:
        return guarded_pool(self._policy_for_mode(mode), max_connections=1, ssl_context=self._ssl)

    async def sweep(self) -> None:
        """Close the clients of endpoints unused for a while."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + LANE_IDLE_SECONDS
        for endpoint_id, lanes in list(self._lanes.items()):
            if lanes.active == 0 and now - lanes.used_at > LANE_IDLE_SECONDS:
                self._retired.append(self._lanes.pop(endpoint_id))
        retired, self._retired = self._retired, []
        for lanes in retired:
            await lanes.aclose()

    async def aclose(self) -> None:
        for lanes in [*self._lanes.values(), *self._retired]:
            await lanes.aclose()
        self._lanes.clear()
        self._retired.clear()
        await self.limiter.aclose()


def _throttle_policy(per_second: int) -> Policy:
    # Bursts up to one second's worth, then `per_second` evenly.
    return Policy("webhook", limit=per_second, window_seconds=1, burst=per_second)


class WebhookDispatcher:
    """Delivers webhook events: `start()` runs it in a daemon thread until `stop()`;
    tests drive it one round at a time with `run_once()` (and `aclose()` at the end)."""

    def __init__(
        self,
        svc: DispatcherServices,
        *,
        policy_for_mode: Callable[[str], AddressPolicy] | None = None,
        rng: random.Random | None = None,
        poll_seconds: float = POLL_SECONDS,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.svc = svc
        settings = svc.settings
        cidrs = tuple(settings.webhook_allow_cidrs)
        self._policy_for_mode = policy_for_mode or (
            lambda mode: AddressPolicy.for_mode(mode, cidrs)
        )
        self._rng = rng or random.Random()
        self._rules = Rules.from_settings(settings)
        self._timeout = settings.webhook_timeout_seconds
        # What a send needs of its lease when it starts: the request and a settle after it.
        self._margin = self._timeout + min(10.0, self._timeout)
        self._lease = LEASE_TIMEOUTS * self._timeout + self._margin
        # The time a claim may wait for a lane, so that it still has `_margin` left.
        self._horizon = (self._lease - self._margin) / 2
        self._poll = poll_seconds
        self._max_in_flight = max_in_flight
        self._secrets = _SecretCache(svc.keyring, SECRET_CACHE_SECONDS)
        self._state: _LoopState | None = None
        # Loop-thread state: claims not yet sent per endpoint (and the count at which to
        # claim more), each endpoint's send latency, claims not yet settled.
        self._unsent: dict[str, int] = {}
        self._caps: dict[str, int] = {}
        self._refill_at: dict[str, int] = {}
        self._latency: dict[str, float] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._blocked_until: dict[str, datetime] = {}
        self._in_flight = 0
        self._next_stale_check: datetime | None = None
        self._draining = False
        # Thread plumbing.
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stop_timeout = 30.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the dispatcher in a daemon thread until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("the webhook dispatcher is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run_thread, name="webhook-dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let sends in flight finish (up to `timeout`), settle them and put
        every claim not sent back to pending."""
        thread = self._thread
        if thread is None:
            return
        self._stop_timeout = timeout
        self._stopping.set()
        self.wake()
        thread.join(timeout + 15)
        if thread.is_alive():
            log.warning("webhook dispatcher did not stop within %.0f s", timeout + 15)
        self._thread = None

    def wake(self) -> None:
        """Look for work now instead of at the next poll (safe from any thread)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(event.set)

    @property
    def running(self) -> bool:
        """True while the dispatcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    async def aclose(self) -> None:
        """Close the HTTP clients and the throttle's connections (after `run_once` use)."""
        if self._state is not None:
            await self._state.aclose()
            self._state = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # --- one round (tests) --------------------------------------------------------------

    async def run_once(self) -> int:
        """One round: fan out, claim what is due, send it all, settle; returns how many
        deliveries were settled (attempts logged plus deliveries abandoned)."""
        claims, _ = await self._pump(stale_check=True)
        outcomes = await asyncio.gather(*(self._deliver(claim) for claim in claims))
        if not outcomes:
            return 0
        self._in_flight -= len(outcomes)
        report = await self._db(self._settle, list(outcomes))
        return report.finished

    # --- the loop -----------------------------------------------------------------------

    def _run_thread(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._serve())
        except Exception:
            log.exception("webhook dispatcher crashed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._draining = False
        queue: asyncio.Queue[Outcome] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()
        settler = asyncio.create_task(self._settler(queue))
        try:
            while not self._stopping.is_set():
                try:
                    claims, more = await self._pump(stale_check=self._stale_check_due())
                except Exception:
                    log.exception("webhook dispatcher: claiming failed; retrying in 1 s")
                    await self._idle(1.0)
                    continue
                for claim in claims:
                    task = asyncio.create_task(self._send_to(queue, claim))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if more:
                    await asyncio.sleep(0)  # let the new tasks start before the next claim
                    continue
                await self._idle(self._poll)
            await self._drain(tasks, queue)
        finally:
            settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settler
            self._wake = None
            await self.aclose()

    async def _drain(self, tasks: set[asyncio.Task[None]], queue: asyncio.Queue[Outcome]) -> None:
        # Queued claims are released untouched; sends under way get `stop_timeout` to end.
        self._draining = True
        if tasks:
            _, late = await asyncio.wait(set(tasks), timeout=self._stop_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await queue.join()

    async def _idle(self, seconds: float) -> None:
        event = self._wake
        if event is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()

    def _stale_check_due(self) -> bool:
        now = self.svc.clock.now()
        if self._next_stale_check is None or now >= self._next_stale_check:
            self._next_stale_check = now + timedelta(seconds=STALE_CHECK_SECONDS)
            return True
        return False

    async def _send_to(self, queue: asyncio.Queue[Outcome], claim: Claim) -> None:
        try:
            outcome = await self._deliver(claim)
        except asyncio.CancelledError:
            queue.put_nowait(Released(claim, self.svc.clock.now()))
            raise
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", claim.id)
            outcome = Released(claim, self.svc.clock.now() + INTERNAL_RETRY)
        queue.put_nowait(outcome)

    async def _settler(self, queue: asyncio.Queue[Outcome]) -> None:
        while True:
            batch = [await queue.get()]
            if queue.qsize() < SETTLE_BATCH // 8 and not self._draining:
                await asyncio.sleep(SETTLE_LINGER)
            while len(batch) < SETTLE_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            was_full = self._in_flight >= self._max_in_flight // 2
            try:
                await self._settle_with_retries(batch)
            finally:
                self._in_flight -= len(batch)
                for _ in batch:
                    queue.task_done()
                # Endpoints wake the pump as their claims go out (`_sent`); settling only
                # matters when the process-wide limit was what held claims back.
                if was_full and self._wake is not None:
                    self._wake.set()

    async def _settle_with_retries(self, batch: list[Outcome]) -> None:
        delay = 0.2
        for attempt in range(1, SETTLE_RETRIES + 1):
            try:
                await self._db(self._settle, batch)
                return
            except Exception:
                if attempt == SETTLE_RETRIES:
                    # The rows stay `sending`; once their lease passes they are sent again.
                    log.exception("webhook dispatcher: settling %d deliveries failed", len(batch))
                    return
                log.warning("webhook dispatcher: settling failed, retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay *= 2

    # --- database work (inline for SQLite, on one thread for PostgreSQL) ------------------

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self.svc.db.is_sqlite:
            await asyncio.sleep(0)  # ready sends go first
            return fn(*args)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="webhook-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def _pump(self, *, stale_check: bool) -> tuple[list[Claim], bool]:
        """One round: fan out and claim; returns the claims and whether more may be due."""
        await self._loop_state().sweep()
        now = self.svc.clock.now()
        room = 0 if self._draining else min(CLAIM_BATCH, self._max_in_flight - self._in_flight)
        self._blocked_until = {e: t for e, t in self._blocked_until.items() if t > now}
        skip = set(self._blocked_until)
        skip.update(e for e, n in self._unsent.items() if n >= self._caps.get(e, n + 1))
        fanned, claims = await self._db(
            self._claim, now, room, frozenset(skip), dict(self._unsent), stale_check
        )
        for claim in claims:
            endpoint_id = claim.endpoint_id
            self._unsent[endpoint_id] = self._unsent.get(endpoint_id, 0) + 1
            cap = self._cap(endpoint_id, claim.max_concurrency, claim.throttle_per_second)
            self._caps[endpoint_id] = cap
            self._refill_at[endpoint_id] = cap // 2
        self._in_flight += len(claims)
        # Every row read was kept: more may be due. Rows passed over (their endpoint is
        # full) wait for `_sent` to wake the pump.
        more = fanned >= FAN_OUT_BATCH or (room > 0 and len(claims) >= room)
        return claims, more

    def _claim(
        self,
        now: datetime,
        room: int,
        skip: frozenset[str],
        unsent: dict[str, int],
        stale_check: bool,
    ) -> tuple[int, list[Claim]]:
        # A random sub-second part makes each claim's lease unique, so the fence of a
        # lapsed claim never matches a new claim of the same row made at the same instant.
        lease = now + timedelta(seconds=self._lease, microseconds=_random.randbelow(1_000_000))
        with self.svc.db.write() as conn:
            store.bound_lock_waits(conn, LOCK_TIMEOUT_MS)
            fanned = fan_out(conn, now=now, limit=FAN_OUT_BATCH)
            rows = []
            if room > 0 and stale_check:
                rows = store.stale_deliveries(conn, now=now, limit=room)
            if room > len(rows):
                rows += store.due_deliveries(
                    conn, now=now, limit=room - len(rows), skip_endpoints=skip
                )
            kept = self._choose(rows, unsent)
            ids = [row["id"] for row in kept]
            details = store.claim_details(conn, ids)
            store.mark_sending(conn, ids, lease_until=lease, now=now)
        claims = [Claim.from_rows(row, details[row["id"]], lease) for row in kept]
        return fanned, claims

    def _choose(self, rows: list[Any], unsent: dict[str, int]) -> list[Any]:
        kept = []
        for row in rows:
            endpoint_id = row["endpoint_id"]
            held = unsent.get(endpoint_id, 0)
            if held < self._cap(endpoint_id, row["max_concurrency"], row["throttle_per_second"]):
                unsent[endpoint_id] = held + 1
                kept.append(row)
        return kept

    def _cap(self, endpoint_id: str, concurrency: int, throttle: int | None) -> int:
        """How many claims of an endpoint may wait here: what its lanes send within the
        horizon at the latency it has shown (the timeout, until it has shown one), or a
        second of its throttle."""
        lanes = max(1, concurrency)
        latency = self._latency.get(endpoint_id, self._timeout)
        cap = min(MAX_DEPTH, max(lanes, int(lanes * self._horizon / max(latency, 0.001))))
        if throttle:
            cap = min(cap, max(1, throttle))
        return cap

    def _settle(self, outcomes: list[Outcome]) -> Settled:
        now = self.svc.clock.now()
        with self.svc.db.write() as conn:
            store.bound_lock_waits(conn, LOCK_TIMEOUT_MS)
            report = self._settle_in(conn, outcomes, now)
        if report.stale:
            log.warning(
                "webhook dispatcher: %d outcomes dropped, their lease had lapsed", report.stale
            )
        for endpoint_id in report.disabled:
            log.warning("webhook endpoint %s disabled after failing", endpoint_id)
        return report

    def _settle_in(self, conn: Connection, outcomes: list[Outcome], now: datetime) -> Settled:
        return settle_batch(conn, outcomes, now=now, rules=self._rules, rng=self._rng)

    # --- sending (on the loop) ----------------------------------------------------------

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            self._state = _LoopState(loop, self.svc.settings, self._policy_for_mode)
        return self._state

    async def _deliver(self, claim: Claim) -> Outcome:
        state = self._loop_state()
        lanes = state.lanes(claim.endpoint_id, claim.mode, claim.max_concurrency)
        try:
            async with lanes.lane() as client:
                return await self._attempt(state, client, claim)
        finally:
            self._sent(claim)

    def _sent(self, claim: Claim) -> None:
        endpoint_id = claim.endpoint_id
        left = self._unsent.get(endpoint_id, 1) - 1
        # Refill an endpoint once half its claims are out, not one claim per send.
        if left <= self._refill_at.get(endpoint_id, -1) and self._wake is not None:
            self._wake.set()
        if left > 0:
            self._unsent[endpoint_id] = left
            if left <= self._refill_at.get(endpoint_id, -1):
                self._refill_at[endpoint_id] = -1
            return
        for table in (self._unsent, self._caps, self._refill_at):
            table.pop(endpoint_id, None)
        if len(self._latency) > MAX_DEPTH * 16:  # endpoints come and go: forget the idle
            self._latency = {e: s for e, s in self._latency.items() if e in self._unsent}

    async def _attempt(
        self, state: _LoopState, client: httpcore.AsyncConnectionPool, claim: Claim
    ) -> Outcome:
        now = self.svc.clock.now()
        if self._draining or (claim.lease - now).total_seconds() < self._margin:
            return Released(claim, now)  # too late to send under this lease: claim it anew
        if claim.payload is None:
            return Abandoned(
                claim,
                "the event's payload expired (webhook_payload_retention_days) before it "
                "could be delivered",
            )
        if claim.throttle_per_second:
            decision = await state.limiter.hit(
                f"webhook:{claim.endpoint_id}",
                (_throttle_policy(claim.throttle_per_second),),
                now.timestamp(),
            )
            if not decision.allowed:
                until = now + timedelta(seconds=decision.retry_after)
                self._blocked_until[claim.endpoint_id] = until
                return Released(claim, until)
        try:
            keys = self._open_secrets(claim, now)
            custom = self._open_headers(claim)
        except Exception:
            log.exception("cannot open the secrets of webhook endpoint %s", claim.endpoint_id)
            return Released(claim, now + INTERNAL_RETRY)
        signed = signature_headers(
            claim.event_id, int(now.timestamp()), claim.payload, keys, event_type=claim.event_type
        )
        response = await sender.post(
            client,
            claim.url,
            claim.payload.encode(),
            sender.request_headers(custom, signed),
            timeout=self._timeout,
        )
        finished = self.svc.clock.now()
        seconds = response.latency_ms / 1000
        previous = self._latency.get(claim.endpoint_id, seconds)
        self._latency[claim.endpoint_id] = previous + LATENCY_WEIGHT * (seconds - previous)
        retry_after = None
        if response.headers is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"), finished)
        return Attempted(claim, now, finished, response, retry_after)

    def _open_secrets(self, claim: Claim, now: datetime) -> list[str]:
        keys = [
            self._secrets.open(
                claim.secret, tenant_id=claim.tenant_id, endpoint_id=claim.endpoint_id
            )
        ]
        expires = claim.previous_expires_at
        if claim.previous_secret and expires is not None and expires > now:
            keys.append(
                self._secrets.open(
                    claim.previous_secret, tenant_id=claim.tenant_id, endpoint_id=claim.endpoint_id
                )
            )
        return keys

    def _open_headers(self, claim: Claim) -> dict[str, str]:
        if claim.sealed_headers is None:
            return {}
        plain = self._secrets.open(
            claim.sealed_headers, tenant_id=claim.tenant_id, endpoint_id=claim.endpoint_id
        )
        headers: dict[str, str] = json.loads(plain)
        return headers


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # uvloop (installed with uvicorn[standard]) runs this loop's socket work faster.
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    """Run a dispatcher alone, configured from the environment, until SIGTERM or SIGINT."""
    # Entry point only: Services lives in the engine, a sibling layer.
    from crosspost.engine.services import Services  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415

    settings = Settings()
    configure_logging(settings)
    svc = Services.build(settings)
    svc.upgrade_database()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher = WebhookDispatcher(svc)
    dispatcher.start()
    log.info("webhook dispatcher running on %s", svc.db.dialect)
    stop.wait()
    dispatcher.stop(timeout=30)
    svc.close()


if __name__ == "__main__":
    main()
