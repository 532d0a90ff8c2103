"""An in-process stack over real HTTP: fakes, API, workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.api.app import create_app
from crosspost.api.streams import ApiServer
from crosspost.clock import Clock
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import tenants
from crosspost.engine.keys import default_tenant, issue_key
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.engine.services import Services
from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig, Faults
from crosspost.fakes.server import RunningServer, free_port, serve_in_thread
from crosspost.identity.audit import Actor
from crosspost.jobs import Runner
from crosspost.jobs.backoff import set_testing
from crosspost.media.samples import make_video
from crosspost.platforms.registry import supported_platforms
from crosspost.store import migrate
from crosspost.store.tables import webhook_events
from crosspost.studio.runner import build_runners, wake_all
from crosspost.webhooks.dispatcher import WebhookDispatcher


@pytest.fixture(scope="session")
def fakes() -> Iterator[RunningServer]:
    """The platform fakes, shared by the session (reset before each test)."""
    server = serve_in_thread(create_sandbox_app(FakeConfig(faults=Faults(processing_seconds=0.05))))
    yield server
    server.stop()


# A new httpx client loads the CA bundle (~40 ms), which six fake resets and a client per
# stack paid seven times: every client here shares one TLS context, loaded once, and the
# fakes' control calls one client.
_TLS = ssl.create_default_context()
_LOCAL = httpx.Client(timeout=30, verify=_TLS)


@dataclass
class Stack:
    """A running crosspost: services, workers, API URL, a test key and an HTTP client.

    `runner` is the engine's (publishing and the rest); `runners` every pool, the studio's
    (renders) included."""

    svc: Services
    runner: Runner | None
    api_url: str
    fakes_url: str
    key: str
    http: httpx.Client
    tenant_id: str
    runners: list[Runner] = field(default_factory=list)
    dispatcher: WebhookDispatcher | None = None

    def other_tenant_key(self, name: str = "tenant B") -> str:
        """An owner key (every scope) of a new tenant: for tests of isolation."""
        with self.svc.db.write() as conn:
            row = tenants.create(self.svc, conn, name=name, actor=Actor.cli())
        _, key = issue_key(self.svc, tenant_id=row["id"], name="b", mode=Mode.TEST,
                           role=KeyRole.OWNER)  # fmt: skip
        return key

    def stored_bytes(self, key: str) -> bytes:
        """The bytes of a stored object, read through the media store (local disk or S3)."""
        with self.svc.storage.open(key) as fh:
            return fh.read()

    def stored_everything(self) -> list[str]:
        """Every object in the media store, committed or a write still pending."""
        return sorted(self.svc.storage.keys()) + self.svc.storage.pending()

    def fake(self, platform: str, path: str, **kwargs: Any) -> Any:
        """Call a fake's control endpoint (GET when no json is given)."""
        method = "POST" if "json" in kwargs else "GET"
        response = _LOCAL.request(method, f"{self.fakes_url}/{platform}/_fake/{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def wait_post(
        self, post_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll the API until `done(post)` holds, or fail with the last state seen."""
        deadline = time.monotonic() + timeout
        post: dict[str, Any] = {}
        while time.monotonic() < deadline:
            post = self.http.get(f"/v1/posts/{post_id}").json()
            if done(post):
                return post
            time.sleep(0.05)
        pytest.fail(f"post {post_id} did not reach the expected state: {post}")

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """The bodies of the webhook events of one type recorded so far, oldest first."""
        with self.svc.db.read() as conn:
            payloads = conn.execute(
                sa.select(webhook_events.c.payload)
                .where(webhook_events.c.event_type == event_type)
                .order_by(webhook_events.c.id)
            ).scalars()
            return [json.loads(p) for p in payloads]

    def wait_job(self, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Poll `/v1/jobs/{id}` until the job ends (succeeded or failed), or fail."""
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.1)
        pytest.fail(f"job {job_id} did not end: {job}")

    def upload_video(self, tmp: Path, **kwargs: Any) -> dict[str, Any]:
        """Generate a real video and upload it through the API."""
        path = tmp / "clip.mp4"
        make_video(path, **kwargs)
        response = self.http.post(
            "/v1/media",
            content=path.read_bytes(),
            headers={"Content-Type": "video/mp4", "X-Filename": "clip.mp4"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())


def build_settings(home: Path, database_url: str, fakes: RunningServer, **extra: Any) -> Settings:
    """Settings for a test stack (no environment leaks in: every knob that matters is set)."""
    values: dict[str, Any] = {
        "home": home,
        "database_url": database_url,
        "sandbox": True,
        "sandbox_host": "127.0.0.1",
        "sandbox_port": fakes.port,
        "workers": 2,
        "job_poll_seconds": 0.05,
        "sandbox_poll_seconds": 0.05,
        "upload_chunk_bytes": 256 * 1024,
        # The account check's first pass runs as a stack starts and refreshes every YouTube
        # token (Google's hour-long tokens are always within the hour): a test that faults
        # tokens would race it. test_account_check runs the check itself.
        "account_check_seconds": 0,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def media_store() -> str | None:
    """The media store stacks use: None, local disk. A media suite overrides this fixture
    with the root conftest's `media_store_url` to run on S3 too."""
    return None


@pytest.fixture
def make_stack(
    tmp_path: Path, database_url: str, fakes: RunningServer, media_store: str | None
) -> Iterator[Callable[..., Stack]]:
    """A factory of stacks; each call may override settings (e.g. workers=0), the clock
    (a FrozenClock for tests of time windows), the fakes it runs `on`, and run a webhook
    `dispatcher`."""
    started: list[tuple[Stack, RunningServer]] = []
    set_testing(True, delay=0.05)

    def make(
        *,
        clock: Clock | None = None,
        on: RunningServer | None = None,
        dispatcher: bool = False,
        **extra: Any,
    ) -> Stack:
        server = on or fakes
        for prefix in [
            *(p.value for p in supported_platforms()),
            "twitch",
            "github",
            "distributor",
        ]:
            # A loaded two-core machine can keep a thread-served fake busy for seconds.
            reset = f"{server.url}/{prefix}/_fake/reset"
            _LOCAL.post(reset, timeout=60).raise_for_status()
        # The API's address is fixed before start, so signed media URLs point at it.
        port = free_port()
        extra.setdefault("public_url", f"http://127.0.0.1:{port}")
        if media_store is not None:
            extra.setdefault("media_store", media_store)
            extra.setdefault("media_store_addressing", "path")
        settings = build_settings(tmp_path / "home", database_url, server, **extra)
        svc = Services.build(settings, clock=clock)
        migrate.upgrade(svc.db)
        tenant_id = default_tenant(svc)
        provision_sandbox_accounts(svc, tenant_id)
        # workers=0: no pool at all (the tests' spawned `crosspost worker`s run the jobs).
        runners = build_runners(svc, concurrency=settings.workers) if settings.workers else []
        for pool in runners:
            pool.start()
        runner = runners[0] if runners else None  # build_runners lists the engine's first
        api = serve_in_thread(
            create_app(svc, wake_workers=wake_all(runners)),
            port=port,
            server_class=ApiServer,
        )
        _, key = issue_key(svc, tenant_id=tenant_id, name="test", mode=Mode.TEST)
        http = httpx.Client(
            base_url=api.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
            verify=_TLS,
        )
        stack = Stack(svc, runner, api.url, server.url, key, http, tenant_id, runners)
        if dispatcher:
            # As `crosspost serve` runs one: it numbers events for the feed (which the
            # CLI's follow reads) and delivers them.
            stack.dispatcher = WebhookDispatcher(svc, poll_seconds=0.05)
            stack.dispatcher.start()
        started.append((stack, api))
        return stack

    yield make
    for stack, api in reversed(started):
        stack.http.close()
        if stack.dispatcher is not None:
            stack.dispatcher.stop(timeout=10)
        # Each stop waits out a poll or a server tick of its own: waited together, a
        # stack ends in the longest of them rather than their sum.
        stops = [functools.partial(pool.stop, timeout=5) for pool in stack.runners]
        with ThreadPoolExecutor(len(stops) + 1) as pool_of_stops:
            for done in [pool_of_stops.submit(stop) for stop in [*stops, api.stop]]:
                done.result()
        stack.svc.close()
    set_testing(False)


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A default stack: two workers, sandbox accounts on every supported platform."""
    return make_stack()


def _worker_env(stack: Stack, extra: dict[str, str]) -> dict[str, str]:
    settings = stack.svc.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(settings.home),
        CROSSPOST_DATABASE_URL=settings.resolved_database_url,
        CROSSPOST_SANDBOX_PORT=str(settings.sandbox_port),
        CROSSPOST_UPLOAD_CHUNK_BYTES=str(settings.upload_chunk_bytes),
        CROSSPOST_SANDBOX_POLL_SECONDS="0.05",
        CROSSPOST_JOB_POLL_SECONDS="0.05",
        CROSSPOST_JOB_LEASE_SECONDS="2",
        CROSSPOST_LOG_LEVEL="WARNING",
        # The fakes answer within a second: a commit cut off by a kill has landed by then.
        CROSSPOST_COMMIT_SETTLE_SECONDS="3",
        # The hourly account check would take these one-slot workers first (tested alone).
        CROSSPOST_ACCOUNT_CHECK_SECONDS="0",
    )
    if settings.media_store is not None:  # the AWS_* variables come from os.environ
        env.update(
            CROSSPOST_MEDIA_STORE=settings.media_store,
            CROSSPOST_MEDIA_STORE_ADDRESSING=settings.media_store_addressing,
        )
    env.update(extra)
    return env


@pytest.fixture
def spawn_worker(stack: Stack) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `crosspost worker` processes on the stack's database (extra settings as
    environment variables); all are reaped after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(concurrency: int = 2, **extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "worker", "--concurrency", str(concurrency)],
            env=_worker_env(stack, extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """`check()` once it answers something truthy, or fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def expect_problem(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The RFC 9457 problem `answer` must be: its status, media type, `code` (when given)
    and the members every problem carries; returns its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    body: dict[str, Any] = answer.json()
    if code is not None:
        assert body["code"] == code, body
    assert body["status"] == status and body["title"] and body["detail"] and body["type"], body
    return body
