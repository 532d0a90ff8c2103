"""The dashboard's heaviest pages with 10,000 posts in the tenant: p50/p95/p99 of the posts
list (its first page, and filtered by status) and of the calendar (a month, a week), timed
on loopback from a signed-in browser's requests to a real `crosspost serve --sandbox`.

The posts are scheduled over the next year (about 830 a month), each to one platform, made
through the API by `--clients` concurrent clients.

    python -m bench.dashboard_pages [--posts 10000] [--requests 1000] [--database-url URL]

A page is asked for 1,000 times: the p99 of 200 would be its second-worst time alone.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench._stack import bench_database, percentile, running_server
from crosspost.identity.sandbox_owner import SANDBOX_EMAIL


async def _seed(url: str, key: str, posts: int, clients: int) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    numbers = iter(range(posts))

    async def client() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            for n in numbers:
                when = start + timedelta(minutes=n * 365 * 24 * 60 // posts)
                made = await http.post("/v1/posts", json={
                    "text": f"post {n} #bench", "targets": ["x"], "publish_at": when.isoformat(),
                }, headers={"Idempotency-Key": secrets.token_hex(8)})  # fmt: skip
                made.raise_for_status()

    await asyncio.gather(*(client() for _ in range(clients)))


def _settle(url: str) -> None:
    """Measure a tenant whose database has settled: on PostgreSQL, autovacuum would analyze
    the 10,000 new rows a while later, in the middle of the timings; here it is done first.
    (On SQLite the server's maintenance refreshes its own statistics.)"""
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                              isolation_level="AUTOCOMMIT")  # fmt: skip
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _timed(http: httpx.Client, path: str, params: dict[str, str], count: int) -> list[float]:
    times: list[float] = []
    for _ in range(count):
        answer = http.get(path, params=params)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
        times.append(answer.elapsed.total_seconds() * 1000)
    return times


def main() -> None:
    """Seed, sign in, time each page, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with (
        bench_database(args.database_url) as url,
        running_server(database_url=url, workers=0) as server,
    ):
        asyncio.run(_seed(server.url, server.key, args.posts, args.clients))
        _settle(url)
        password = (server.home / "sandbox-password").read_text().strip()
        with httpx.Client(base_url=server.url, headers={"Origin": server.url}, timeout=60) as http:
            signed = http.post("/app/sign-in", data={"email": SANDBOX_EMAIL, "password": password})
            if signed.status_code != 303:
                raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:300]}")
            month = (datetime.now(UTC) + timedelta(days=45)).date().isoformat()
            pages = {
                "posts list": ("/app/posts", {}),
                "posts list, scheduled": ("/app/posts", {"status": "scheduled"}),
                "calendar, month": ("/app/calendar", {"day": month, "tz": "Europe/Paris"}),
                "calendar, week": ("/app/calendar", {"view": "week", "day": month, "tz": "UTC"}),
            }
            database = "PostgreSQL" if args.database_url else "SQLite"
            print(f"{args.posts} posts, {database}, {args.requests} requests a page (ms)")
            for name, (path, params) in pages.items():
                _timed(http, path, params, 5)  # warm
                times = _timed(http, path, params, args.requests)
                p50, p95, p99 = (percentile(times, q) for q in (0.5, 0.95, 0.99))
                print(f"  {name:24} p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f}")


if __name__ == "__main__":
    main()
