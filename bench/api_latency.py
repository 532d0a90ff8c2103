"""POST /v1/posts latency at a fixed offered rate, and throughput at saturation.

Starts `crosspost serve --sandbox` in its own process (no workers, so only the API is
measured), then drives it from this process: an open-loop phase at `--rate` req/s for
`--seconds`, then a closed-loop phase with `--concurrency` connections. Prints p50/p99/max
latency and the achieved request rate.

    python bench/api_latency.py [--database-url postgresql://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench._stack import percentile, running_server


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


def _request(url: str, key: str, body: dict) -> tuple[str, int, bytes]:
    parsed = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/posts HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return parsed.hostname or "127.0.0.1", parsed.port or 80, head.encode() + payload


async def _open_loop(
    pool: asyncio.Queue[_Connection], request: bytes, rate: float, seconds: float
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
            status = await conn.send(request)
        finally:
            pool.put_nowait(conn)
        # Latency counts from when the request was due, so queueing in the client shows.
        latencies.append(time.perf_counter() - due)
        if status != 201:
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
            if status != 201:
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
    body = {
        "media_id": media_id,
        "text": "bench #clip",
        "targets": ["youtube", "tiktok"],
        "publish_at": "2099-01-01T00:00:00Z",
    }
    host, port, request = _request(url, key, body)
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


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    from crosspost.media.samples import make_video

    with running_server(database_url=args.database_url, workers=0) as server:
        clip = Path(tempfile.mkdtemp()) / "clip.mp4"
        make_video(clip, seconds=1.0)
        media = httpx.post(
            f"{server.url}/v1/media",
            content=clip.read_bytes(),
            headers={"Authorization": f"Bearer {server.key}", "Content-Type": "video/mp4"},
        )
        media.raise_for_status()
        print(f"database: {args.database_url or 'embedded SQLite'}")
        asyncio.run(_run(server.url, server.key, media.json()["id"], args))


if __name__ == "__main__":
    main()
