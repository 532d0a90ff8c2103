"""Prometheus metrics of one API process (a registry per app, no import-time globals)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from crosspost.jobs import JobStore


class _JobCollector(Collector):
    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("crosspost_jobs", "Jobs by status", labels=["status"])
        for status, count in sorted(self.jobs.counts().items()):
            family.add_metric([status], count)
        yield family


class Metrics:
    """Request counters and latency histograms, plus job gauges read at scrape time."""

    def __init__(self, jobs: JobStore) -> None:
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

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Count and time every request by its route template."""
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        self.requests.labels(request.method, template, str(response.status_code)).inc()
        self.latency.labels(request.method, template).observe(time.perf_counter() - start)
        return response
