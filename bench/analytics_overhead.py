"""What observing a request costs on the request path: Prometheus counters plus the
analytics row buffered for the background writer.

The same trivial ASGI app is timed many times bare and wrapped in `ObservingMiddleware`
(no server, no network: only the middleware's own work), and the difference of the
percentiles is printed. Target (issue 5): analytics add < 1 ms at p99.

    python -m bench.analytics_overhead [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._stack import percentile
from crosspost.api.metrics import Metrics, ObservingMiddleware
from crosspost.clock import SystemClock
from crosspost.jobs import create_job_store
from crosspost.store import migrate
from crosspost.store.db import Database
from crosspost.usage.analytics import AnalyticsRecorder


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _timings(target: Any, n: int) -> list[float]:
    scope = {"type": "http", "method": "GET", "path": "/v1/posts", "headers": [], "state": {}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    out = []
    for _ in range(n):
        started = time.perf_counter()
        await target(dict(scope), receive, send)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    """Print the bare and observed p50/p99 and what the middleware adds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    migrate.upgrade(db)
    clock = SystemClock()
    recorder = AnalyticsRecorder(db, clock, flush_seconds=0.5)
    recorder.start()
    wrapped = ObservingMiddleware(_app, Metrics(create_job_store(db, clock=clock), db), recorder)
    try:
        bare = asyncio.run(_timings(_app, args.requests))
        observed = asyncio.run(_timings(wrapped, args.requests))
    finally:
        recorder.close()
        db.dispose()
    for q in (0.5, 0.99):
        b, o = percentile(bare, q), percentile(observed, q)
        print(
            f"p{round(q * 100)}: bare {b * 1000:.1f} µs, observed {o * 1000:.1f} µs, "
            f"added {(o - b) * 1000:.1f} µs"
        )


if __name__ == "__main__":
    main()
