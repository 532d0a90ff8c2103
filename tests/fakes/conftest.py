"""Fixtures for the fakes: the sandbox served over real HTTP, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crosspost.fakes import (
    FAKES,
    FakeConfig,
    RunningServer,
    create_sandbox_app,
    serve_in_thread,
)
from crosspost.fakes.base import Faults

# 2027-01-15 09:00 UTC, i.e. 01:00 in Pacific time: far from a quota-day boundary.
START = 1_800_003_600.0


class ManualClock:
    """A clock for the fakes that moves only when the test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.now += seconds


class Sandbox:
    """A running sandbox and an httpx client pointed at it, with control-endpoint helpers."""

    def __init__(self, server: RunningServer, clock: ManualClock) -> None:
        self.server = server
        self.clock = clock
        self.http = httpx.Client(base_url=server.url, timeout=30.0)

    def account(self, platform: str, handle: str = "alice", **extra: Any) -> dict[str, Any]:
        """Create an account (the stand-in for a user's consent) and return its tokens."""
        response = self.http.post(f"/{platform}/_fake/accounts", json={"handle": handle, **extra})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def state(self, platform: str) -> dict[str, Any]:
        """The fake's inspection view."""
        response = self.http.get(f"/{platform}/_fake/state")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def faults(self, platform: str, **faults: Any) -> dict[str, Any]:
        """Merge faults into the fake's fault config."""
        response = self.http.post(f"/{platform}/_fake/faults", json=faults)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory: a sandbox of its own, configured by FakeConfig keyword overrides."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        clock = ManualClock()
        overrides.setdefault("processing_seconds", 5.0)
        config = FakeConfig.of(clock=clock, **overrides)
        sandbox = Sandbox(serve_in_thread(create_sandbox_app(config)), clock)
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.http.close()
        sandbox.server.stop()


@pytest.fixture(scope="module")
def _shared_sandbox() -> Iterator[tuple[RunningServer, ManualClock]]:
    # Stopping uvicorn takes ~0.2 s, so tests on the default config share one server.
    clock = ManualClock()
    server = serve_in_thread(
        create_sandbox_app(FakeConfig(clock=clock, faults=Faults(processing_seconds=5.0)))
    )
    yield server, clock
    server.stop()


@pytest.fixture
def sandbox(_shared_sandbox: tuple[RunningServer, ManualClock]) -> Iterator[Sandbox]:
    """The default sandbox, reset (state, faults and clock) before the test."""
    server, clock = _shared_sandbox
    clock.now = START
    sandbox = Sandbox(server, clock)
    for platform in FAKES:
        sandbox.http.post(f"/{platform}/_fake/reset").raise_for_status()
    yield sandbox
    sandbox.http.close()


def bearer(account: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for an account's access token."""
    return {"Authorization": f"Bearer {account['access_token']}"}
