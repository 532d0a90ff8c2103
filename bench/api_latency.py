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
import tempfile
import time
from pathlib import Path

import httpx

from bench._stack import percentile, running_server


async def _open_loop(
    client: httpx.AsyncClient, body: dict, rate: float, seconds: float
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
        # Latency counts from when the request was due, so queueing in the client shows.
        response = await client.post("/v1/posts", json=body)
        latencies.append(time.perf_counter() - due)
        if response.status_code != 201:
            errors += 1

    await asyncio.gather(*(one(start + i * interval) for i in range(total)))
    return latencies, errors, time.perf_counter() - start


async def _closed_loop(
    client: httpx.AsyncClient, body: dict, concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop = start + seconds

    async def loop() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            response = await client.post("/v1/posts", json=body)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 201:
                errors += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
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
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
    ) as client:
        for _ in range(50):  # warm-up
            await client.post("/v1/posts", json=body)
        _report(
            f"open loop @ {args.rate:.0f} req/s",
            *await _open_loop(client, body, args.rate, args.seconds),
        )
        _report(
            f"saturation ({args.concurrency} connections)",
            *await _closed_loop(client, body, args.concurrency, args.seconds),
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
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
