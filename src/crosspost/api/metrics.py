"""Prometheus metrics of one API process (a registry per app, no import-time globals)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crosspost.api.wellformed import content_length
from crosspost.jobs import JobStore
from crosspost.store import distributions as distribution_rows
from crosspost.store import tasks as task_rows
from crosspost.store.db import Database
from crosspost.usage.analytics import ENDPOINT_MAX, METHOD_MAX, UNMATCHED, AnalyticsRecorder, Hit


class _JobCollector(Collector):
    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("crosspost_jobs", "Jobs by status", labels=["status"])
        for status, count in sorted(self.jobs.counts().items()):
            family.add_metric([status], count)
        yield family


class _ReleaseCollector(Collector):
    """Seed 003's distribution figures, read from the database at scrape time (the workers
    that do the work are other processes): distributions by channel and status, the success
    rate per channel, time from submission to live, and cover-art generation time."""

    _RECENT = 1000  # the latest this many make the timings

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.read() as conn:
            counts = distribution_rows.status_counts(conn)
            to_live = distribution_rows.recent_times_to_live(conn, limit=self._RECENT)
            art = task_rows.recent_results(conn, "artwork_generation", limit=self._RECENT)
        family = GaugeMetricFamily(
            "crosspost_distributions", "Distributions by channel and status",
            labels=["channel", "status"],
        )  # fmt: skip
        ended: dict[str, list[int]] = {}
        for channel, status, count in counts:
            family.add_metric([channel, status], count)
            if status in ("live", "failed"):
                ended.setdefault(channel, [0, 0])[status == "failed"] += count
        yield family
        rate = GaugeMetricFamily(
            "crosspost_distribution_success_ratio",
            "Share of ended distributions that went live, per channel",
            labels=["channel"],
        )
        for channel, (live, failed) in sorted(ended.items()):
            rate.add_metric([channel], live / (live + failed))
        yield rate
        timing = SummaryMetricFamily(
            "crosspost_distribution_seconds_to_live",
            f"Seconds from submission to live (the latest {self._RECENT}), per channel",
            labels=["channel"],
        )
        for channel in sorted({c for c, _ in to_live}):
            seconds = [s for c, s in to_live if c == channel]
            timing.add_metric([channel], count_value=len(seconds), sum_value=sum(seconds))
        yield timing
        drawn = [float(r["seconds"]) for r in art if "seconds" in r]
        yield SummaryMetricFamily(
            "crosspost_artwork_generation_seconds",
            f"Seconds to draw a cover (the latest {self._RECENT})",
            count_value=len(drawn),
            sum_value=sum(drawn),
        )


class Metrics:
    """Request counters and latency histograms, plus job gauges read at scrape time."""

    def __init__(self, jobs: JobStore, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "crosspost_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "crosspost_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.registry.register(_JobCollector(jobs))
        self.registry.register(_ReleaseCollector(db))


class ObservingMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a queue per request)
    that observes each HTTP request once, for both Prometheus and the per-request analytics.

    Latency runs from the first ASGI call to the last byte handed to the server. Request
    bytes are the body bytes the app read (Content-Length when it did not read them all);
    response bytes are the body bytes sent. The route is the template
    (`/v1/posts/{post_id}`); tenant and key come from `scope["state"]["principal"]`, which
    authentication sets. Recording is a buffer append: the database write happens later,
    off the request path (`AnalyticsRecorder`).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, recorder: AnalyticsRecorder) -> None:
        self.app = app
        self.metrics = metrics
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time, count and size the request, then record it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        created_at = self.recorder.clock.now()
        status = 500
        received = 0
        body_done = False
        sent = 0
        ended: float | None = None

        async def counting_receive() -> Message:
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = body_done or not message.get("more_body", False)
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent, ended
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                if not message.get("more_body", False):
                    # The answer is complete once handed over; what the server does after
                    # (background tasks) is not the client's wait.
                    ended = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            seconds = (ended or time.perf_counter()) - start
            route = getattr(scope.get("route"), "path", None)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route or "unmatched", str(status)).inc()
            self.metrics.latency.labels(method, route or "unmatched").observe(seconds)
            principal = (scope.get("state") or {}).get("principal")
            tenant_id = getattr(principal, "tenant_id", None)
            # A 402 while the tenant is refused is the api_calls limit talking, not usage.
            refused = status == 402 and self.recorder.is_refusing(tenant_id)
            self.recorder.record(
                Hit(
                    tenant_id=tenant_id,
                    key_id=getattr(principal, "key_id", None),
                    endpoint=(route or UNMATCHED)[:ENDPOINT_MAX],
                    method=method[:METHOD_MAX],
                    status=status,
                    latency_ms=round(seconds * 1000.0, 3),
                    request_bytes=received if body_done else _declared_length(scope, received),
                    response_bytes=sent,
                    created_at=created_at,
                    billable=not refused,
                )
            )


def _declared_length(scope: Scope, received: int) -> int:
    """Content-Length of a body the app did not read to the end (else what it read)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return max(content_length(value) or 0, received)
    return received
