"""POST /v1/posts latency at a fixed offered rate, and throughput at saturation.

Starts `crosspost serve --sandbox` in its own process (no workers, so only the API is
measured), then drives it from this process: an open-loop phase at `--rate` req/s for
`--seconds`, then a closed-loop phase with `--concurrency` connections. Prints p50/p99/max
latency and the achieved request rate.

    python bench/api_latency.py [--database-url postgresql://postgres@127.0.0.1:5432/bench]

With `--auth-overhead`, it instead compares open-loop latency at `--rate` for a bearer key,
HMAC-signed requests and an OAuth JWT, each without and with rate limiting (memory, then
Redis at `--redis-url`), and prints what signing and limiting add to p50 and p99. Those
requests are a small read (`GET /v1/exports?limit=1`): a post's commit (an fsync) would
add more jitter than the authentication being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench._stack import Server, percentile, running_server
from crosspost.signing import sign_request


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


def _request(
    url: str, key: str, body: dict, signing_secret: str | None = None
) -> tuple[str, int, bytes]:
    parsed = urlsplit(url)
    payload = json.dumps(body).encode()
    extra = ""
    if signing_secret is not None:
        signed = sign_request(signing_secret, "POST", "/v1/posts", payload)
        extra = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    head = (
        f"POST /v1/posts HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"{extra}Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return parsed.hostname or "127.0.0.1", parsed.port or 80, head.encode() + payload


async def _open_loop(
    pool: asyncio.Queue[_Connection],
    request: bytes | Callable[[], bytes],
    rate: float,
    seconds: float,
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
            # A signed request is built when sent: each needs its own nonce and timestamp.
            status = await conn.send(request() if callable(request) else request)
        finally:
            pool.put_nowait(conn)
        # Latency counts from when the request was due, so queueing in the client shows.
        latencies.append(time.perf_counter() - due)
        if status // 100 != 2:
            errors += 1

    await asyncio.gather(*(one(start + i * interval) for i in range(total)))
    return latencies, errors, time.perf_counter() - start


async def _closed_loop(
    conns: list[_Connection], request: bytes, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop = start + seconds

    async def loop(conn: _Connection) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            status = await conn.send(request)
            latencies.append(time.perf_counter() - t0)
            if status // 100 != 2:
                errors += 1

    await asyncio.gather(*(loop(c) for c in conns))
    return latencies, errors, time.perf_counter() - start


def _report(name: str, latencies: list[float], errors: int, elapsed: float) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"{name}: {len(ms)} requests in {elapsed:.1f} s = {len(ms) / elapsed:.0f} req/s, "
        f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms, errors {errors}"
    )


async def _run(url: str, key: str, media_id: str, args: argparse.Namespace) -> None:
    host, port, request = _request(url, key, _post_body(media_id))
    conns = [await _Connection.open(host, port) for _ in range(args.concurrency)]
    try:
        for _ in range(100):  # warm-up
            await conns[0].send(request)
        pool: asyncio.Queue[_Connection] = asyncio.Queue()
        for conn in conns:
            pool.put_nowait(conn)
        _report(
            f"open loop @ {args.rate:.0f} req/s",
            *await _open_loop(pool, request, args.rate, args.seconds),
        )
        _report(
            f"saturation ({args.concurrency} connections)",
            *await _closed_loop(conns, request, args.seconds),
        )
    finally:
        for conn in conns:
            conn.close()


def _post_body(media_id: str) -> dict:
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
        admin = {"Authorization": f"Bearer {server.key}"}
        keys = httpx.get(f"{server.url}/v1/keys", headers=admin).json()["data"]
        self.key_id = next(k["id"] for k in keys if k["name"] == "bench")
        secret = httpx.post(
            f"{server.url}/v1/keys/{self.key_id}/signing-secrets", headers=admin, json={}
        )
        secret.raise_for_status()
        self.signing_secret = str(secret.json()["secret"])

    def jwt(self, tier: str | None) -> str:
        """A fresh access token for an OAuth client of the given tier."""
        admin = {"Authorization": f"Bearer {self.server.key}"}
        client = httpx.post(
            f"{self.server.url}/v1/oauth-clients",
            headers=admin,
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
            headers={"Authorization": f"Bearer {self.server.key}"},
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
        for _ in range(200):  # warm-up
            await conns[0].send(build())
        pool: asyncio.Queue[_Connection] = asyncio.Queue()
        for conn in conns:
            pool.put_nowait(conn)
        latencies, errors, _ = await _open_loop(pool, build, rate, seconds)
    finally:
        for conn in conns:
            conn.close()
    ms = [x * 1000 for x in latencies]
    return percentile(ms, 0.5), percentile(ms, 0.99), errors


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
    rows: list[tuple[str, float, float, int]] = []

    def measure(name: str, server: Server, key: str, secret: str | None) -> None:
        def build() -> bytes:
            return _read_request(server.url, key, secret)

        p50, p99, errors = asyncio.run(
            _latency(server.url, build, args.rate, args.seconds, args.concurrency)
        )
        rows.append((name, p50, p99, errors))
        print(f"{name:<28} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   errors {errors}", flush=True)

    env = {"CROSSPOST_RATE_LIMIT_TIERS": _BENCH_TIERS}
    with running_server(database_url=args.database_url, workers=0, extra_env=env) as server:
        auth = _Auth(server)
        measure("bearer", server, server.key, None)
        measure("hmac-signed", server, server.key, auth.signing_secret)
        measure("oauth jwt", server, auth.jwt(None), None)
        auth.set_tier("bench")
        measure("bearer + limit (memory)", server, server.key, None)
        measure("signed + limit (memory)", server, server.key, auth.signing_secret)
    env["CROSSPOST_REDIS_URL"] = args.redis_url
    with running_server(database_url=args.database_url, workers=0, extra_env=env) as server:
        auth = _Auth(server)
        measure("bearer (redis server)", server, server.key, None)
        auth.set_tier("bench")
        measure("bearer + limit (redis)", server, server.key, None)
        measure("signed + limit (redis)", server, server.key, auth.signing_secret)
    by = {name: (p50, p99) for name, p50, p99, _ in rows}
    base, base_redis = by["bearer"], by["bearer (redis server)"]
    for name, ref in (
        ("signed + limit (memory)", base),
        ("signed + limit (redis)", base_redis),
        ("hmac-signed", base),
        ("bearer + limit (memory)", base),
        ("bearer + limit (redis)", base_redis),
        ("oauth jwt", base),
    ):
        p50, p99 = by[name]
        print(f"overhead of {name:<26} p50 {p50 - ref[0]:+6.2f} ms   p99 {p99 - ref[1]:+6.2f} ms")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--auth-overhead", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"database: {args.database_url or 'embedded SQLite'}")
    if args.auth_overhead:
        _auth_overhead(args)
        return
    with running_server(database_url=args.database_url, workers=0) as server:
        asyncio.run(_run(server.url, server.key, _upload_clip(server), args))


if __name__ == "__main__":
    main()
