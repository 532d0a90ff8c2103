"""CPU time per `POST /v1/posts`, through the whole ASGI app in this process, no sockets.

A rate measured over sockets moves ±25 % with whatever else the machine runs; the CPU one
request costs the server hardly does, so this is the figure to compare two commits by
(best of `--rounds` rounds of `--requests`). It runs the app exactly as `serve` builds it
(middleware, dependencies, idempotency, metering, outbox) on a temp database, with a unique
`Idempotency-Key` per request. `--profile N` prints cProfile's N most expensive calls.

    python -m bench.post_cpu [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from bench._stack import bench_database
from crosspost.api.app import create_app
from crosspost.api.streams import ApiServer
from crosspost.config import Settings
from crosspost.domain.enums import Mode
from crosspost.engine.keys import default_tenant, issue_key
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.engine.services import Services
from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig
from crosspost.fakes.server import free_port, serve_in_thread
from crosspost.media.samples import make_video

Message = MutableMapping[str, Any]


def _services(home: Path, database_url: str, fakes_port: int, api_port: int) -> Services:
    settings = Settings(
        _env_file=None,
        home=home,
        database_url=database_url,
        sandbox=True,
        sandbox_host="127.0.0.1",
        sandbox_port=fakes_port,
        workers=0,
        public_url=f"http://127.0.0.1:{api_port}",
    )
    svc = Services.build(settings)
    svc.upgrade_database()
    return svc


def _upload(app: FastAPI, port: int, key: str, folder: Path) -> str:
    """A real clip, uploaded over HTTP (the media path is not what is measured)."""
    clip = folder / "clip.mp4"
    make_video(clip, seconds=1.0)
    api = serve_in_thread(app, port=port, server_class=ApiServer)
    try:
        answer = httpx.post(
            f"{api.url}/v1/media",
            content=clip.read_bytes(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "video/mp4"},
            timeout=60,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])
    finally:
        api.stop()


def _caller(app: FastAPI, key: str, body: bytes) -> Callable[[], Awaitable[None]]:
    """One POST /v1/posts through the ASGI app, as uvicorn would hand it over."""
    count = itertools.count()
    base = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def call() -> None:
        headers = [*base, (b"idempotency-key", b"cpu-%d" % next(count))]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/posts", "raw_path": b"/v1/posts",
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never leaves mid-request here
            raise AssertionError("unreachable")

        statuses: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if statuses != [201]:
            raise RuntimeError(f"POST /v1/posts answered {statuses}: the bench is miswired")

    return call


async def _measure(app: FastAPI, call: Callable[[], Awaitable[None]], args: Any) -> float:
    """Best CPU seconds per request over the rounds (after a warm-up)."""
    events: asyncio.Queue[Message] = asyncio.Queue()
    replies: asyncio.Queue[Message] = asyncio.Queue()
    await events.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, events.get, replies.put)
    )
    if (await replies.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    for _ in range(100):
        await call()
    best = float("inf")
    for _ in range(args.rounds):
        started = time.process_time()
        for _ in range(args.requests):
            await call()
        best = min(best, (time.process_time() - started) / args.requests)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            await call()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    await events.put({"type": "lifespan.shutdown"})
    await lifespan
    return best


def main() -> None:
    """Print the server CPU time per POST /v1/posts."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (temp DB)")
    parser.add_argument("--requests", type=int, default=200, help="per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    fakes = serve_in_thread(create_sandbox_app(FakeConfig()))
    with tempfile.TemporaryDirectory() as folder, bench_database(args.database_url) as url:
        port = free_port()
        svc = _services(Path(folder) / "home", url, fakes.port, port)
        try:
            tenant = default_tenant(svc)
            provision_sandbox_accounts(svc, tenant)
            _, key = issue_key(svc, tenant_id=tenant, name="cpu", mode=Mode.TEST)
            media_id = _upload(create_app(svc), port, key, Path(folder))
            body = json.dumps(
                {"media_id": media_id, "text": "bench #clip", "targets": ["youtube", "tiktok"],
                 "publish_at": "2099-01-01T00:00:00Z"}
            ).encode()  # fmt: skip
            app = create_app(svc)
            best = asyncio.run(_measure(app, _caller(app, key, body), args))
        finally:
            svc.close()
    fakes.stop()
    where = "PostgreSQL" if args.database_url else "SQLite"
    print(f"POST /v1/posts in-process on {where}: {best * 1000:.2f} ms CPU per request (best of "
          f"{args.rounds} x {args.requests})")  # fmt: skip


if __name__ == "__main__":
    main()
