"""Per-request API analytics, recorded off the request path.

The API's observing middleware (`crosspost.api.metrics`) measures each request and appends
one `Hit` to the `AnalyticsRecorder`'s in-memory buffer: a list append under an
uncontended lock, nothing more on the request path. A background thread writes the buffer
every `analytics_flush_seconds` (sooner once 1,000 rows wait) in one executemany per batch,
and in the same transaction adds each (tenant, key)'s calls to the `api_calls` counters.

When the database cannot be written, rows stay buffered up to `max_buffered`; past that,
new rows are dropped and counted in the log. Requests never wait for the database.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crosspost.clock import Clock
from crosspost.store import analytics as rows_store
from crosspost.store import tenants
from crosspost.store.db import Database
from crosspost.usage import metering

log = logging.getLogger("crosspost.analytics")

UNMATCHED = "<unmatched>"
# Routes a tenant past its api_calls hard limit may still call: to see and raise the quota.
_QUOTA_EXEMPT = ("/v1/usage", "/v1/analytics")
_PURGE_CHUNK = 5_000
ENDPOINT_MAX = 200
METHOD_MAX = 8


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as analytics stores it."""

    tenant_id: str | None
    key_id: str | None
    endpoint: str
    method: str
    status: int
    latency_ms: float
    request_bytes: int
    response_bytes: int
    created_at: datetime
    # False for calls refused by the api_calls hard limit itself: they are not usage.
    billable: bool = True

    def row(self) -> dict[str, Any]:
        """The `api_analytics` row."""
        return {
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "endpoint": self.endpoint,
            "method": self.method,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "created_at": self.created_at,
        }


class AnalyticsRecorder:
    """The buffer of request rows, its flusher thread, and the api_calls hard-limit state."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        flush_seconds: float,
        batch_size: int = 1_000,
        max_buffered: int = 100_000,
    ) -> None:
        self.db = db
        self.clock = clock
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.max_buffered = max_buffered
        self._buffer: list[Hit] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._dropped_logged = 0
        self._failing = False
        # Tenants at their api_calls hard limit, as of the last flush that counted their calls.
        self._blocked: dict[str, metering.HardLimitReached] = {}
        # Bumped by `forget`: a flush that counted before a quota changed must not block
        # the tenant again with what it read under the old quota.
        self._quota_epoch = 0

    # -- the request side ----------------------------------------------------------------

    def record(self, hit: Hit) -> None:
        """Buffer one request row (never blocks on the database)."""
        with self._lock:
            if len(self._buffer) >= self.max_buffered:
                self._dropped += 1
                return
            self._buffer.append(hit)
            waiting = len(self._buffer)
        if waiting >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def check_api_calls(self, tenant_id: str, path: str) -> None:
        """Raise QuotaExceeded (402) when the tenant has used its monthly api_calls.

        Enforced from the counts of the last flush, so a tenant may exceed the limit by the
        calls of one flush interval. The usage and analytics routes stay open, so the tenant
        can see what happened and raise the quota.
        """
        reached = self._blocked.get(tenant_id)
        if reached is None or path.startswith(_QUOTA_EXEMPT):
            return
        if reached.period != metering.period_of(self.clock.now()):
            self._blocked.pop(tenant_id, None)  # a new month starts from zero
            return
        raise metering.exceeded(metering.API_CALLS, reached.limit, reached.used, reached.period, 1)

    def is_refusing(self, tenant_id: str | None) -> bool:
        """True while calls of this tenant are refused by its api_calls hard limit."""
        return tenant_id is not None and tenant_id in self._blocked

    def forget(self, tenant_id: str) -> None:
        """Lift a refusal at once (the quota was changed); the next flush re-checks it."""
        self._quota_epoch += 1
        self._blocked.pop(tenant_id, None)

    @property
    def dropped(self) -> int:
        """Rows dropped since start because the buffer was full."""
        return self._dropped

    @property
    def buffered(self) -> int:
        """Rows waiting to be written."""
        with self._lock:
            return len(self._buffer)

    # -- the flushing side ---------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="analytics-flush", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the flusher and write what is still buffered (best effort, logged)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._flush_logged()

    def flush(self) -> int:
        """Write every buffered row now; returns how many were written.

        On a database error the unwritten rows go back to the buffer and the error is raised.
        """
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            written = 0
            try:
                for start in range(0, len(batch), self.batch_size):
                    self._write(batch[start : start + self.batch_size])
                    written = start + self.batch_size
            except BaseException:
                self._requeue(batch[written:])
                raise
            return len(batch)

    def _requeue(self, unwritten: list[Hit]) -> None:
        with self._lock:
            merged = unwritten + self._buffer
            overflow = len(merged) - self.max_buffered
            if overflow > 0:
                # Keep the oldest: they are next to be written, and newer rows would only
                # push them out again on every failed attempt.
                del merged[self.max_buffered :]
                self._dropped += overflow
            self._buffer = merged

    def _write(self, batch: list[Hit]) -> None:
        epoch = self._quota_epoch
        now = self.clock.now()
        with self.db.write() as conn:
            # A tenant purged since these requests were answered keeps no row of them.
            gone = tenants.purged_among(conn, {h.tenant_id for h in batch if h.tenant_id})
            if gone:
                batch = [h for h in batch if h.tenant_id not in gone]
            calls: Counter[tuple[str, str, str]] = Counter(
                (h.tenant_id, h.key_id or "", metering.period_of(h.created_at))
                for h in batch
                if h.tenant_id is not None and h.billable
            )
            rows_store.insert_many(conn, [h.row() for h in batch])
            # Refused calls are not usage, but their tenants are re-checked: a quota raised
            # in another process lets them back in here too.
            refused = {h.tenant_id for h in batch if h.tenant_id is not None and not h.billable}
            reached = metering.count_api_calls(conn, calls, now, also_check=refused)
        self._apply_limits(reached, epoch)

    def _apply_limits(
        self, reached: dict[str, metering.HardLimitReached | None], epoch: int
    ) -> None:
        for tenant_id, state in reached.items():
            if state is None:
                self._blocked.pop(tenant_id, None)
            elif epoch == self._quota_epoch:  # else a quota changed meanwhile: next flush
                self._blocked[tenant_id] = state

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception:
            if not self._failing:
                log.exception("analytics: cannot write request rows; keeping them buffered")
            self._failing = True
        else:
            if self._failing:
                log.info("analytics: writing request rows again")
            self._failing = False
        if self._dropped != self._dropped_logged:
            log.warning(
                "analytics: dropped %d request rows in all (buffer of %d full)",
                self._dropped,
                self.max_buffered,
            )
            self._dropped_logged = self._dropped


def purge_expired(
    db: Database,
    now: datetime,
    retention_days: int,
    *,
    shorter: Mapping[str, int] | None = None,
    chunk: int = _PURGE_CHUNK,
) -> int:
    """Delete analytics rows older than the retention, or than a tenant's own shorter one
    (`shorter`: tenant id → days), `chunk` rows per transaction; returns how many went."""
    before = now - timedelta(days=retention_days)
    total = 0
    more = True
    while more:
        with db.write() as conn:
            deleted, more = rows_store.purge_oldest(conn, before=before, limit=chunk)
        total += deleted
    for tenant_id, days in (shorter or {}).items():
        deleted = chunk
        while deleted == chunk:
            with db.write() as conn:
                deleted = rows_store.purge_tenant(
                    conn, tenant_id, before=now - timedelta(days=days), limit=chunk
                )
            total += deleted
    return total
