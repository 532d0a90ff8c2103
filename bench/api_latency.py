"""POST /v1/posts latency at a fixed offered rate, and throughput at saturation, for crosspost
and for its floor (bench/floor_app.py: the same request on FastAPI + uvicorn doing only the
bearer check, the body's validation and a one-row insert, on the same kind of database).

Starts `crosspost serve --sandbox` in its own process (no workers, so only the API is
measured) on a temp database, then the floor on another, and drives each from this process
the same way: an open-loop phase at `--rate` req/s for `--seconds` (the bench's own socket
client), then a closed-loop phase with `--concurrency` connections (`wrk -t1` where
installed, else the socket client). Every request carries its own `Idempotency-Key`. Prints
p50/p99/max latency and the achieved rate of each phase, then crosspost's saturation
throughput as a share of the floor's. `--short`: 3 s phases, for CI (about half a minute).
`--api-processes N` then measures crosspost with 1 and with N API processes (`serve
--api-processes`, rate limits in Redis at `--redis-url`) and prints the scaling factor.

    python -m bench.api_latency [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A PostgreSQL URL names the server: the bench creates (and drops) databases of its own there.

With `--auth-overhead`, it instead compares open-loop latency at `--rate` for a bearer key,
HMAC-signed requests and an OAuth JWT, each without and with rate limiting (memory, then
Redis at `--redis-url`), and prints what signing and limiting add to p50 and p99 (medians of
`--repeats` phases each). Those requests are a small read (`GET /v1/exports?limit=1`): a
post's commit (an fsync) would add more jitter than the authentication being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from sqlalchemy.engine import make_url

from bench._stack import (
    Server,
    bench_database,
    create_key,
    percentile,
    profiled,
    running_floor,
    running_server,
)
from crosspost_sdk.signing import sign_request


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends a prebuilt request and reads the reply.

    A bare socket client costs a few microseconds per request, so the figures measure the
    server rather than the load generator (httpx spends about a millisecond of CPU per call).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def send(self, request: bytes) -> int:
        """Send the request; the response status code."""
        self.writer.write(request)
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


class _Posts:
    """POST /v1/posts requests, each with an `Idempotency-Key` of its own.

    The key is a counter between a prebuilt head and body, so building a request costs about
    a microsecond; the random prefix keeps keys apart across phases and runs.
    """

    def __init__(self, url: str, key: str, body: dict[str, Any]) -> None:
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        payload = json.dumps(body).encode()
        self._head = (
            f"POST /v1/posts HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Idempotency-Key: bench-{secrets.token_hex(6)}-"
        ).encode()
        self._tail = b"\r\n\r\n" + payload
        self._count = itertools.count()

    def __call__(self) -> bytes:
        return b"%s%d%s" % (self._head, next(self._count), self._tail)


@dataclass
class _Phase:
    """What one phase measured."""

    requests: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    # The server process's CPU time per request: unlike the rate, it hardly moves when
    # something else loads the machine, so it compares runs on a busy one.
    cpu_ms: float = float("nan")

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.elapsed

    @classmethod
    def of(cls, latencies: list[float], errors: int, elapsed: float) -> _Phase:
        """The phase of these latencies (seconds each)."""
        ms = [x * 1000 for x in latencies]
        return cls(len(ms), elapsed, percentile(ms, 0.5), percentile(ms, 0.99), max(ms), errors)


async def _warm_up(conn: _Connection, build: Callable[[], bytes], count: int) -> None:
    """Send `count` requests; a refused one means the bench is miswired, not a figure."""
    for _ in range(count):
        status = await conn.send(build())
        if status // 100 != 2:
            raise RuntimeError(f"warm-up request answered {status}: the bench is miswired")


async def _open_loop(
    pool: asyncio.Queue[_Connection], build: Callable[[], bytes], rate: float, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    interval = 1.0 / rate
    start = time.perf_counter()
    total = int(rate * seconds)

    async def one(due: float) -> None:
        nonlocal errors
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await pool.get()
        try:
            # Built when sent: each request needs its own idempotency key (or signature nonce).
            status = await conn.send(build())
        finally:
            pool.put_nowait(conn)
        # Latency counts from when the request was due, so queueing in the client shows.
        latencies.append(time.perf_counter() - due)
        if status // 100 != 2:
            errors += 1

    await asyncio.gather(*(one(start + i * interval) for i in range(total)))
    return latencies, errors, time.perf_counter() - start


async def _closed_loop(
    conns: list[_Connection], build: Callable[[], bytes], seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop = start + seconds

    async def loop(conn: _Connection) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            status = await conn.send(build())
            latencies.append(time.perf_counter() - t0)
            if status // 100 != 2:
                errors += 1

    await asyncio.gather(*(loop(c) for c in conns))
    return latencies, errors, time.perf_counter() - start


def _report(name: str, phase: _Phase) -> None:
    cpu = "" if phase.cpu_ms != phase.cpu_ms else f", server CPU {phase.cpu_ms:.2f} ms/request"
    print(
        f"{name}: {phase.requests} requests in {phase.elapsed:.1f} s = {phase.rate:.0f} req/s, "
        f"p50 {phase.p50_ms:.1f} ms, p99 {phase.p99_ms:.1f} ms, "
        f"max {phase.max_ms:.1f} ms, errors {phase.errors}{cpu}",
        flush=True,
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process, its threads and its child processes (the
    other API processes of `serve --api-processes`)."""
    process = psutil.Process(pid)
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        times = each.cpu_times()
        total += times.user + times.system
    return total


async def _socket_phases(
    posts: _Posts, args: argparse.Namespace, *, closed_loop: bool
) -> tuple[_Phase, _Phase | None]:
    """The open-loop phase and, unless wrk runs it, the closed-loop one, by socket."""
    conns = [await _Connection.open(posts.host, posts.port) for _ in range(args.concurrency)]
    try:
        await _warm_up(conns[0], posts, 100)
        pool: asyncio.Queue[_Connection] = asyncio.Queue()
        for conn in conns:
            pool.put_nowait(conn)
        opened = _Phase.of(*await _open_loop(pool, posts, args.rate, args.seconds))
        closed = _Phase.of(*await _closed_loop(conns, posts, args.seconds)) if closed_loop else None
    finally:
        for conn in conns:
            conn.close()
    return opened, closed


def _lua_string(text: str) -> str:
    """`text` as a Lua long string, which takes it byte for byte (no escapes)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


# Each wrk thread runs its own copy of the script; setup() numbers the threads so that keys
# stay unique across them. done() prints the figures on one line (latencies in µs).
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Authorization"] = {authorization}
wrk.headers["Content-Type"] = "application/json"
local prefix = {prefix}
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. (thread_number or 0) .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %d %d %d %d %.0f %.0f %.0f\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _wrk(url: str, key: str, body: dict[str, Any], args: argparse.Namespace) -> _Phase:
    """The closed-loop phase by `wrk -t1 -c<concurrency>`, each request with its own key."""
    script = _WRK_SCRIPT.format(
        body=_lua_string(json.dumps(body)),
        authorization=_lua_string(f"Bearer {key}"),
        prefix=_lua_string(f"wrk-{secrets.token_hex(6)}-"),
    )
    # The script holds the key: it lives in a private temp folder for the run only.
    with tempfile.TemporaryDirectory(prefix="crosspost-wrk-") as folder:
        path = Path(folder) / "posts.lua"
        path.write_text(script)
        seconds = max(1, round(args.seconds))
        load = f"-t1 -c{args.concurrency} -d{seconds}s --timeout 10s".split()
        run = subprocess.run(
            ["wrk", *load, "-s", str(path), f"{url}/v1/posts"],
            capture_output=True,
            text=True,
            check=False,
        )
    line = next((x for x in run.stdout.splitlines() if x.startswith("wrk-result ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip() or run.stdout}")
    requests, micros, socket_errors, status_errors, p50, p99, top = map(int, line.split()[1:])
    return _Phase(
        requests, micros / 1e6, p50 / 1000, p99 / 1000, top / 1000, socket_errors + status_errors
    )


def _measure(
    name: str,
    url: str,
    key: str,
    body: dict[str, Any],
    args: argparse.Namespace,
    use_wrk: bool,
    pid: int,
    profile: Path | None = None,
) -> _Phase:
    """Both phases against one server (process `pid`), reported under `name`; the
    saturation phase. With `profile` (an SVG) and wrk, py-spy records it during saturation."""
    posts = _Posts(url, key, body)
    opened, closed = asyncio.run(_socket_phases(posts, args, closed_loop=not use_wrk))
    _report(f"{name} open loop @ {args.rate:.0f} req/s", opened)
    if opened.rate < 0.95 * args.rate:
        print(f"{name} cannot keep {args.rate:.0f} req/s: its open-loop latency is mostly queueing")
    if use_wrk:
        svg = profile
        cpu_before = _cpu_seconds(pid)
        with profiled(pid, svg, args.seconds):
            saturation: _Phase | None = _wrk(url, key, body, args)
        assert saturation is not None
        saturation.cpu_ms = 1000 * (_cpu_seconds(pid) - cpu_before) / max(1, saturation.requests)
    else:
        saturation = closed
    assert saturation is not None  # the socket client ran the closed loop
    _report(f"{name} saturation ({args.concurrency} connections)", saturation)
    return saturation


def _compare(args: argparse.Namespace) -> None:
    """crosspost, then its floor, each on a temp database of the same kind; then the ratio."""
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    saturation = (
        f"wrk -t1 -c{args.concurrency}"
        if use_wrk
        else f"the bench's socket client, {args.concurrency} connections"
    )
    print(f"load: open loop by the bench's socket client; saturation by {saturation}", flush=True)
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, workers=0) as server,
    ):
        body = _post_body(_upload_clip(server))
        ours = _measure(
            "crosspost", server.url, server.key, body, args, use_wrk, server.api_pid, args.profile
        )
    with bench_database(args.database_url) as url, running_floor(url) as floor:
        floor_saturation = _measure(
            "floor    ", floor.url, floor.key, body, args, use_wrk, floor.pid
        )
    share = 100 * ours.rate / floor_saturation.rate
    print(
        f"POST /v1/posts / floor: {share:.0f} % of the floor's saturation throughput "
        f"({ours.rate:.0f} vs {floor_saturation.rate:.0f} req/s)"
    )
    if ours.cpu_ms == ours.cpu_ms:
        print(
            f"server CPU per request: {ours.cpu_ms:.2f} ms vs the floor's "
            f"{floor_saturation.cpu_ms:.2f} ms ({floor_saturation.cpu_ms / ours.cpu_ms:.0%})",
            flush=True,
        )
    if args.api_processes > 1:
        _scaling(args, use_wrk)


def _scaling(args: argparse.Namespace, use_wrk: bool) -> None:
    """Saturation throughput with 1 API process, then `--api-processes`, both with Redis
    (which more than one process needs for its rate limits), and the factor between them."""
    rates: dict[int, float] = {}
    for count in (1, args.api_processes):
        env = {"CROSSPOST_API_PROCESSES": str(count), "CROSSPOST_REDIS_URL": args.redis_url}
        with (
            bench_database(args.database_url) as url,
            running_server(database_url=url, workers=0, extra_env=env) as server,
        ):
            body = _post_body(_upload_clip(server))
            name = f"crosspost x{count} (Redis)"
            rates[count] = _measure(
                name, server.url, server.key, body, args, use_wrk, server.api_pid
            ).rate
    one, many = rates[1], rates[args.api_processes]
    print(
        f"scaling 1 -> {args.api_processes} API processes: {one:.0f} -> {many:.0f} req/s "
        f"(x{many / one:.2f}; the load generator shares the machine's cores)",
        flush=True,
    )


def _post_body(media_id: str) -> dict[str, Any]:
    return {
        "media_id": media_id,
        "text": "bench #clip",
        "targets": ["youtube", "tiktok"],
        "publish_at": "2099-01-01T00:00:00Z",
    }


def _upload_clip(server: Server) -> str:
    from crosspost.media.samples import make_video

    clip = Path(tempfile.mkdtemp()) / "clip.mp4"
    make_video(clip, seconds=1.0)
    media = httpx.post(
        f"{server.url}/v1/media",
        content=clip.read_bytes(),
        headers={"Authorization": f"Bearer {server.key}", "Content-Type": "video/mp4"},
    )
    media.raise_for_status()
    return str(media.json()["id"])


# A tier no benchmark exhausts: limiting is on and costs what it costs, but never refuses.
_BENCH_TIERS = json.dumps(
    {"bench": {"requests_per_hour": 10**9, "requests_per_day": 10**9, "burst": 10**6}}
)


class _Auth:
    """The three ways to authenticate the same key's requests: bearer, signed, JWT."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # The bench key is a developer key: managing keys and clients takes an admin's.
        self.admin = {"Authorization": f"Bearer {create_key(server, 'bench-admin', 'admin')}"}
        keys = httpx.get(f"{server.url}/v1/keys", headers=self.admin).json()["data"]
        self.key_id = next(k["id"] for k in keys if k["name"] == "bench")
        secret = httpx.post(
            f"{server.url}/v1/keys/{self.key_id}/signing-secrets", headers=self.admin, json={}
        )
        secret.raise_for_status()
        self.signing_secret = str(secret.json()["secret"])

    def jwt(self, tier: str | None) -> str:
        """A fresh access token for an OAuth client of the given tier."""
        client = httpx.post(
            f"{self.server.url}/v1/oauth-clients",
            headers=self.admin,
            json={"name": f"bench-{tier}", "scopes": ["posts:read"], "tier": tier},
        ).json()
        token = httpx.post(
            f"{self.server.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        token.raise_for_status()
        return str(token.json()["access_token"])

    def set_tier(self, tier: str | None) -> None:
        """Turn rate limiting of the bench key on (the bench tier) or off."""
        httpx.patch(
            f"{self.server.url}/v1/keys/{self.key_id}",
            headers=self.admin,
            json={"tier": tier},
        ).raise_for_status()


async def _latency(
    url: str, build: Callable[[], bytes], rate: float, seconds: float, concurrency: int
) -> tuple[float, float, int]:
    parsed = urlsplit(url)
    conns = [
        await _Connection.open(parsed.hostname or "127.0.0.1", parsed.port or 80)
        for _ in range(concurrency)
    ]
    try:
        await _warm_up(conns[0], build, 200)
        pool: asyncio.Queue[_Connection] = asyncio.Queue()
        for conn in conns:
            pool.put_nowait(conn)
        # The client's own collector pauses would count as the server's latency.
        gc.collect()
        gc.disable()
        try:
            phase = _Phase.of(*await _open_loop(pool, build, rate, seconds))
        finally:
            gc.enable()
    finally:
        for conn in conns:
            conn.close()
    return phase.p50_ms, phase.p99_ms, phase.errors


_READ = "/v1/exports?limit=1"


def _read_request(url: str, key: str, signing_secret: str | None) -> bytes:
    extra = ""
    if signing_secret is not None:
        signed = sign_request(signing_secret, "GET", _READ)
        extra = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    host = urlsplit(url).netloc
    head = f"GET {_READ} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
    return f"{head}{extra}\r\n".encode()


def _auth_overhead(args: argparse.Namespace) -> None:
    rows: list[tuple[str, float, float, int, float]] = []

    def measure(name: str, server: Server, key: str, secret: str | None) -> None:
        def build() -> bytes:
            return _read_request(server.url, key, secret)

        # A p99 of a few thousand requests moves with whatever else the machine does: the
        # median of several phases is what the variants are compared by.
        cpu_before = _cpu_seconds(server.api_pid)
        runs = [
            asyncio.run(_latency(server.url, build, args.rate, args.seconds, args.concurrency))
            for _ in range(args.repeats)
        ]
        # Warm-ups included: 200 requests a phase besides the open loop's.
        sent = args.repeats * (200 + round(args.rate * args.seconds))
        cpu_ms = 1000 * (_cpu_seconds(server.api_pid) - cpu_before) / sent
        p50 = statistics.median(r[0] for r in runs)
        p99 = statistics.median(r[1] for r in runs)
        errors = sum(r[2] for r in runs)
        rows.append((name, p50, p99, errors, cpu_ms))
        print(
            f"{name:<28} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   server CPU {cpu_ms:5.2f} ms/req"
            f"   errors {errors}",
            flush=True,
        )

    env = {"CROSSPOST_RATE_LIMIT_TIERS": _BENCH_TIERS}
    # A database per server: both create a key named "bench", which _Auth looks up by name.
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, workers=0, extra_env=env) as server,
    ):
        auth = _Auth(server)
        measure("bearer", server, server.key, None)
        measure("hmac-signed", server, server.key, auth.signing_secret)
        measure("oauth jwt", server, auth.jwt(None), None)
        auth.set_tier("bench")
        measure("bearer + limit (memory)", server, server.key, None)
        measure("signed + limit (memory)", server, server.key, auth.signing_secret)
    env["CROSSPOST_REDIS_URL"] = args.redis_url
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, workers=0, extra_env=env) as server,
    ):
        auth = _Auth(server)
        measure("bearer (redis server)", server, server.key, None)
        auth.set_tier("bench")
        measure("bearer + limit (redis)", server, server.key, None)
        measure("signed + limit (redis)", server, server.key, auth.signing_secret)
    by = {name: (p50, p99, cpu) for name, p50, p99, _, cpu in rows}
    base, base_redis = by["bearer"], by["bearer (redis server)"]
    for name, ref in (
        ("signed + limit (memory)", base),
        ("signed + limit (redis)", base_redis),
        ("hmac-signed", base),
        ("bearer + limit (memory)", base),
        ("bearer + limit (redis)", base_redis),
        ("oauth jwt", base),
    ):
        p50, p99, cpu = by[name]
        print(
            f"overhead of {name:<26} p50 {p50 - ref[0]:+6.2f} ms   p99 {p99 - ref[1]:+6.2f} ms"
            f"   server CPU {cpu - ref[2]:+5.2f} ms/req"
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server to create temp databases on (default: SQLite files)",
    )
    parser.add_argument("--rate", type=float, default=500, help="open loop's req/s")
    parser.add_argument("--seconds", type=float, default=None, help="per phase (default 10)")
    parser.add_argument("--short", action="store_true", help="3 s phases unless --seconds (CI)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "socket"],
        default="auto",
        help="saturation load: wrk, the bench's socket client, or wrk where installed",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write a py-spy flame graph (SVG) of crosspost's API during saturation (needs wrk)",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        metavar="N",
        help="also measure crosspost with N API processes and print the scaling from 1 (Redis)",
    )
    parser.add_argument("--auth-overhead", action="store_true")
    parser.add_argument(
        "--repeats", type=int, default=3, help="with --auth-overhead: phases per variant (median)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 3.0 if args.short else 10.0
    where = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "SQLite"
    )
    print(f"database: {where} (a temp database per server)", flush=True)
    if args.auth_overhead:
        _auth_overhead(args)
        return
    _compare(args)


if __name__ == "__main__":
    main()
