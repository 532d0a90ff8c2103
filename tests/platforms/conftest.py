"""Platform-client fixtures: the real fakes on loopback, a shared test clock, and a small
driver that calls `step` / `reconcile` the way the engine does.

Time is the only thing mocked: one FrozenClock drives both the clients and the fakes, and the
driver advances it instead of sleeping, so polls, token expiry and upload-URL lifetimes are
deterministic and instant.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crosspost.clock import FrozenClock
from crosspost.config import SANDBOX_TOKEN_PATHS
from crosspost.domain.enums import ErrorKind, MediaKind, TargetStatus
from crosspost.fakes import FakeConfig, create_sandbox_app, serve_in_thread
from crosspost.platforms.base import (
    AppCredentials,
    Credentials,
    MediaFile,
    PlatformClient,
    PublishRequest,
    StepResult,
)
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import new_http_client

MIB = 1024 * 1024
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
TOKEN_PATHS = {platform.value: path for platform, path in SANDBOX_TOKEN_PATHS.items()}


@dataclass
class Sandbox:
    """The running fakes plus the HTTP client and clock the clients under test share."""

    url: str
    clock: FrozenClock
    http: httpx.Client

    def base(self, platform: str) -> str:
        """The API base URL of one fake."""
        return f"{self.url}/{platform}"

    def app(self, platform: str) -> AppCredentials:
        """The sandbox OAuth app of one fake."""
        return AppCredentials(CLIENT_ID, CLIENT_SECRET, self.base(platform) + TOKEN_PATHS[platform])

    def account(self, platform: str, handle: str = "creator") -> tuple[str, Credentials]:
        """Consent a new account on a fake: (external id, credentials)."""
        body = self._post(platform, "accounts", {"handle": handle})
        creds = Credentials(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=self.clock.now() + timedelta(seconds=body["expires_in"]),
        )
        return body["external_id"], creds

    def faults(self, platform: str, **knobs: Any) -> dict[str, Any]:
        """Change a fake's fault knobs."""
        return self._post(platform, "faults", knobs)

    def state(self, platform: str) -> dict[str, Any]:
        """A fake's inspection view (posts, calls, sessions)."""
        response = self.http.get(f"{self.base(platform)}/_fake/state")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _post(self, platform: str, what: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.base(platform)}/_fake/{what}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start the sandbox fakes with FakeConfig overrides; everything stops after the test."""
    servers = []
    clients = []

    def start(**config: Any) -> Sandbox:
        clock = FrozenClock(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
        fake_config = FakeConfig.of(clock=lambda: clock.now().timestamp(), **config)
        server = serve_in_thread(create_sandbox_app(fake_config))
        servers.append(server)
        http = new_http_client(timeout=10.0)
        clients.append(http)
        return Sandbox(server.url, clock, http)

    yield start
    for http in clients:
        http.close()
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    """The sandbox fakes with their default configuration."""
    return make_sandbox()


def make_media(
    folder: Path,
    size: int,
    *,
    name: str = "clip.mp4",
    content_type: str = "video/mp4",
    duration: float | None = 30.0,
    width: int | None = 1080,
    height: int | None = 1920,
) -> MediaFile:
    """A file of `size` deterministic pseudo-random bytes (the fakes check bytes, not codecs)."""
    data = random.Random(size).randbytes(size)
    path = folder / name
    path.write_bytes(data)
    return MediaFile(
        source=path,
        size=size,
        content_type=content_type,
        kind=MediaKind.VIDEO,
        filename=name,
        sha256=hashlib.sha256(data).hexdigest(),
        duration_seconds=duration,
        width=width,
        height=height,
    )


def make_request(
    media: MediaFile | None,
    *,
    external_id: str = "acct",
    handle: str = "creator",
    text: str = "A clip\nwith a longer description",
    **options: Any,
) -> PublishRequest:
    """A publish request for one account."""
    return PublishRequest(
        target_id="tgt_test",
        account_external_id=external_id,
        account_handle=handle,
        text=text,
        options=options,
        media=media,
    )


@dataclass
class Run:
    """What one drive did: the last result, the session and every notable thing on the way."""

    result: StepResult | None = None
    session: dict[str, Any] = field(default_factory=dict)
    creds: Credentials | None = None
    steps: int = 0
    commit_steps: int = 0
    reconciles: int = 0
    refreshes: int = 0
    errors: list[PlatformError] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)

    def event_names(self) -> list[str]:
        """The ledger events in order."""
        return [name for name, _ in self.events]


def drive(
    client: PlatformClient,
    request: PublishRequest,
    creds: Credentials,
    clock: FrozenClock,
    *,
    app: AppCredentials | None = None,
    session: dict[str, Any] | None = None,
    until: Callable[[dict[str, Any]], bool] | None = None,
    on_error: Callable[[PlatformError], None] | None = None,
    max_steps: int = 400,
    max_transient: int = 10,
) -> Run:
    """Run the client like the engine: persist each session, mark commits, reconcile after an
    unconfirmed commit, refresh once on auth, wait (by moving the clock) when asked.

    Stops when the target is published or `until(session)` holds; raises the first error the
    engine would not retry itself (permanent, quota, a second auth, too many transients).
    """
    run = Run(session=dict(session or {}), creds=creds)
    refreshed = False
    transient = 0
    for _ in range(max_steps):
        current = run.session
        reconciling = bool(current.get("commit_attempted"))
        attempt = current
        if not reconciling and client.is_commit(current):
            attempt = {**current, "commit_attempted": True}
        run.phases.append("reconcile" if reconciling else str(current.get("phase", "<new>")))
        try:
            if reconciling:
                run.reconciles += 1
                result = client.reconcile(request, attempt, creds)
            else:
                run.steps += 1
                run.commit_steps += attempt is not current
                result = client.step(request, attempt, creds)
        except PlatformError as exc:
            run.errors.append(exc)
            if on_error is not None:
                on_error(exc)
            # A definite "no" to a commit means nothing was created: no reconcile needed.
            run.session = current if exc.definite_refusal else attempt
            if exc.kind is ErrorKind.AUTH and app is not None and not refreshed:
                refreshed = True
                creds = client.refresh(creds, app)
                run.creds = creds
                run.refreshes += 1
                continue
            if exc.kind is ErrorKind.RATE_LIMITED and exc.retry_after is not None:
                clock.advance(exc.retry_after)
                continue
            if exc.kind in {ErrorKind.TRANSIENT, ErrorKind.UNCONFIRMED}:
                transient += 1
                if transient > max_transient:
                    raise
                clock.advance(1.0)
                continue
            raise
        refreshed = False
        run.result = result
        run.session = result.session
        if result.event:
            run.events.append((result.event, result.event_data))
        if result.status is TargetStatus.PUBLISHED:
            return run
        if until is not None and until(run.session):
            return run
        if result.wait_seconds:
            run.waits.append(result.wait_seconds)
            clock.advance(result.wait_seconds)
    raise AssertionError(f"not finished after {max_steps} steps; last session {run.session}")
