"""Webhook delivery throughput and latency: events to a local receiver through the dispatcher.

    python -m bench.webhook_throughput              # from the repository root; temporary SQLite
    python -m bench.webhook_throughput --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.webhook_throughput --dispatchers 2   # two dispatcher processes

A PostgreSQL URL names a server: the bench creates a temporary database on it and drops it
afterwards. Three processes, as in a deployment: this one emits events (`outbox.emit`, in
batches, as the engine would), `python -m crosspost.webhooks.dispatcher` delivers them to
one test-mode endpoint, and a minimal uvicorn receiver records each request's arrival.

Two phases of `--events` events each:
- *burst*: all events emitted at once; deliveries/s = events / (last receipt - first event);
- *paced*: events emitted at `--rate` per second; event-to-receipt latency p50/p99
  (receipt time - the event's created_at) at a steady load.
Target: ≥ 1,000 deliveries/s and p99 ≤ 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench._stack import bench_database, percentile

BATCH = 100  # events per emitting transaction in the burst
TICK = 0.01  # seconds between emitting transactions when paced


# --- the receiver (a process of its own) -------------------------------------------------


def receiver(port: int) -> None:
    """Serve a bare ASGI app recording (webhook-id, arrival time) of every POST."""
    import uvicorn

    received: list[tuple[str, float]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            arrived = time.time()
            msg_id = next((v for k, v in scope["headers"] if k == b"webhook-id"), b"")
            more = True
            while more:
                more = (await receive()).get("more_body", False)
            received.append((msg_id.decode(), arrived))
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = (
            json.dumps(received).encode()
            if scope["path"] == "/stats"
            else str(len(received)).encode()
        )
        if scope["path"] == "/reset":
            received.clear()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


# --- helpers -----------------------------------------------------------------------------


def wait_for(url: str, deadline: float) -> None:
    """Wait until `url` answers."""
    while time.monotonic() < deadline:
        try:
            _POLL.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


_POLL = httpx.Client(timeout=30)  # one client: a new one per poll costs an SSL context


def received_count(base: str) -> int:
    """How many requests the receiver has recorded."""
    return int(_POLL.get(f"{base}/count").text)


def wait_received(base: str, count: int, timeout: float) -> None:
    """Wait until the receiver holds `count` requests."""
    deadline = time.monotonic() + timeout
    while (seen := received_count(base)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {seen} of {count} deliveries arrived in {timeout:.0f} s")
        time.sleep(0.05)


def _postgres_cpu(psutil: Any) -> float:
    """CPU seconds used so far by the local PostgreSQL server's processes."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


def _busy(psutil: Any, before: Any) -> float:
    """The machine's busy fraction (all CPUs) since `before` (psutil.cpu_times())."""
    after = psutil.cpu_times()
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return 1 - idle / total if total else 0.0


# --- the phases --------------------------------------------------------------------------


def emit_batch(svc: Any, tenant_id: str, size: int, first: int) -> None:
    """One transaction of `size` events, as the engine emits them."""
    from crosspost.webhooks import outbox

    now = svc.clock.now
    with svc.db.write() as conn:
        for n in range(first, first + size):
            outbox.emit(
                conn,
                tenant_id=tenant_id,
                mode="test",
                event_type="post.published",
                data={"post": {"id": f"post_{n}", "status": "published", "n": n}},
                now=now(),
            )


def run_phase(
    svc: Any, tenant_id: str, base: str, *, events: int, rate: float | None, offset: int
) -> dict[str, float]:
    """Emit `events` (at once, or at `rate`/s), wait for every delivery, measure."""
    from crosspost.store.tables import webhook_events

    _POLL.get(f"{base}/reset")
    started = time.time()
    sent = 0
    while sent < events:
        size = min(BATCH if rate is None else max(1, round(rate * TICK)), events - sent)
        emit_batch(svc, tenant_id, size, offset + sent)
        sent += size
        if rate is not None:
            # Keep to the schedule: sleep until this batch's slot is over.
            time.sleep(max(0.0, started + sent / rate - time.time()))
    emitted = time.time() - started
    wait_received(base, events, timeout=events / 50 + 60)
    received = _POLL.get(f"{base}/stats").json()
    with svc.db.read() as conn:
        created = {
            row.id: row.created_at.timestamp()
            for row in conn.execute(sa.select(webhook_events.c.id, webhook_events.c.created_at))
        }
    arrivals: dict[str, float] = {}
    for msg_id, at in received:
        arrivals.setdefault(msg_id, at)
    mine = [m for m in arrivals if m in created]
    first_event = min(created[m] for m in mine)
    last_receipt = max(arrivals[m] for m in mine)
    latencies = [arrivals[m] - created[m] for m in mine]
    return {
        "delivered": len(mine),
        "duplicates": len(received) - len(arrivals),
        "emit_seconds": emitted,
        "seconds": last_receipt - first_event,
        "rate": len(mine) / (last_receipt - first_event),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
    }


def main() -> None:
    """Run both phases against a dispatcher process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced phase: events/s")
    parser.add_argument("--concurrency", type=int, default=16, help="endpoint max_concurrency")
    parser.add_argument("--dispatchers", type=int, default=1, help="dispatcher processes")
    parser.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver is not None:
        receiver(args.receiver)
        return

    import psutil  # type: ignore[import-untyped]

    from crosspost.config import Settings
    from crosspost.engine.services import Services
    from crosspost.fakes.server import free_port
    from crosspost.ids import new_id
    from crosspost.store import migrate
    from crosspost.store.tables import webhook_endpoints
    from crosspost.store.tenants import ensure_default_tenant
    from crosspost.webhooks.signing import new_secret

    with bench_database(args.database_url) as url, tempfile.TemporaryDirectory() as home:
        settings = Settings(_env_file=None, home=Path(home), database_url=url)
        svc = Services.build(settings)
        migrate.upgrade(svc.db)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        now = svc.clock.now()
        with svc.db.write() as conn:
            tenant_id = ensure_default_tenant(conn, now)
            endpoint_id = new_id("whep")
            conn.execute(
                webhook_endpoints.insert().values(
                    id=endpoint_id,
                    tenant_id=tenant_id,
                    mode="test",
                    url=f"{base}/hook",
                    description="bench",
                    event_types=[],
                    headers={},
                    active=True,
                    max_concurrency=args.concurrency,
                    secret=svc.keyring.encrypt(
                        new_secret(),
                        tenant_id=tenant_id,
                        table="webhook_endpoints",
                        row_id=endpoint_id,
                    ),
                    consecutive_failures=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
        env.update(CROSSPOST_HOME=home, CROSSPOST_DATABASE_URL=url, CROSSPOST_LOG_LEVEL="WARNING")
        root = Path(__file__).resolve().parents[1]  # where `bench` imports from
        receiver_cmd = [sys.executable, "-m", "bench.webhook_throughput", "--receiver", str(port)]
        procs = [subprocess.Popen(receiver_cmd, env=env, cwd=root)]
        try:
            wait_for(f"{base}/count", time.monotonic() + 30)
            dispatcher_cmd = [sys.executable, "-m", "crosspost.webhooks.dispatcher"]
            dispatchers = [
                subprocess.Popen(dispatcher_cmd, env=env) for _ in range(args.dispatchers)
            ]
            procs += dispatchers
            emit_batch(svc, tenant_id, 20, -20)  # warm-up: processes up, connections open
            wait_received(base, 20, timeout=60)
            watched = [psutil.Process(p.pid) for p in procs]
            cpu = [sum(p.cpu_times()[:2]) for p in watched]
            server = _postgres_cpu(psutil)
            machine = psutil.cpu_times()
            started = time.monotonic()
            burst = run_phase(svc, tenant_id, base, events=args.events, rate=None, offset=0)
            burst_busy = _busy(psutil, machine)
            paced = run_phase(
                svc, tenant_id, base, events=args.events, rate=args.rate, offset=args.events
            )
            used = [sum(p.cpu_times()[:2]) - c for p, c in zip(watched, cpu, strict=True)]
            server = _postgres_cpu(psutil) - server
            wall = time.monotonic() - started
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            svc.close()
    backend = make_url(url).get_backend_name()
    print(
        f"backend:    {backend}, {args.dispatchers} dispatcher process(es), "
        f"endpoint max_concurrency {args.concurrency}, {os.cpu_count()} CPUs"
    )
    print(
        f"burst:      {burst['delivered']:.0f} events emitted in {burst['emit_seconds']:.2f} s, "
        f"all delivered in {burst['seconds']:.2f} s = {burst['rate']:,.0f} deliveries/s "
        f"(latency p50 {burst['p50']:.2f} s, p99 {burst['p99']:.2f} s: queueing)"
    )
    print(
        f"paced:      {paced['delivered']:.0f} events at {args.rate:,.0f}/s: "
        f"{paced['rate']:,.0f} deliveries/s, event-to-receipt latency "
        f"p50 {paced['p50'] * 1000:.0f} ms, p99 {paced['p99'] * 1000:.0f} ms, "
        f"max {paced['max'] * 1000:.0f} ms"
    )
    total = 2 * args.events
    print(
        f"CPU:        dispatcher {sum(used[1:]) / total * 1e6:.0f} µs/delivery, "
        f"receiver {used[0] / total * 1e6:.0f} µs/request"
        + (
            f", PostgreSQL server {server / total * 1e6:.0f} µs/delivery"
            if backend != "sqlite"
            else ""
        )
        + f"; machine {burst_busy:.0%} busy during the burst ({wall:.0f} s in all)"
    )
    if burst["duplicates"] or paced["duplicates"]:
        print(f"duplicates: {burst['duplicates'] + paced['duplicates']:.0f}")


if __name__ == "__main__":
    main()
