"""One platform fake served at the root of its own loopback server, the way the real host
serves its API, so an official client library's own paths reach the fake unchanged.

The sandbox app mounts every fake under ``/{platform}``; client libraries build their URLs
from a fixed host plus the platform's real paths (google-api-python-client even keeps only
the host of an overridden endpoint for uploads), so each contract test gets a fake of its own
at ``/``. Libraries that hard-code ``https://<platform host>`` are pointed at it by
``HostRewrite``, which changes the scheme, host and port of a request and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import requests
from requests.adapters import HTTPAdapter

from crosspost.fakes import FakeConfig, PlatformFake, RunningServer, serve_in_thread
from tests.fakes.conftest import ManualClock


class HostedFake:
    """A running fake at ``url`` plus the control-endpoint helpers the tests use."""

    def __init__(self, fake: PlatformFake, server: RunningServer, clock: ManualClock) -> None:
        self.fake = fake
        self.server = server
        self.clock = clock
        self.url = server.url
        self.http = httpx.Client(base_url=server.url, timeout=30.0)

    def account(self, handle: str = "creator", **extra: Any) -> dict[str, Any]:
        """Consent a sandbox account; its tokens and external id."""
        return self._post("accounts", {"handle": handle, **extra})

    def state(self) -> dict[str, Any]:
        """The fake's inspection view (``/_fake/state``)."""
        response = self.http.get("/_fake/state")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def faults(self, **knobs: Any) -> dict[str, Any]:
        """Merge fault knobs (``expire_tokens=True`` expires every token issued so far)."""
        return self._post("faults", knobs)

    def _post(self, what: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"/_fake/{what}", json=dict(body))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@contextmanager
def hosted(factory: Callable[[FakeConfig], PlatformFake], **config: Any) -> Iterator[HostedFake]:
    """Serve a fresh fake built by ``factory`` (FakeConfig keywords apply) until the block ends."""
    clock = ManualClock()
    config.setdefault("processing_seconds", 5.0)
    fake = factory(FakeConfig.of(clock=clock, **config))
    server = serve_in_thread(fake.asgi())
    running = HostedFake(fake, server, clock)
    try:
        yield running
    finally:
        running.http.close()
        server.stop()
        fake.reset()  # closes the spooled uploads and part files the fake still holds


class HostRewrite(HTTPAdapter):
    """A requests transport that sends each request to the fake instead of the real host.

    Only scheme, host and port change: the path, query, headers and body go out exactly as
    the library built them, so whatever the library gets wrong about them the fake sees.
    """

    def __init__(self, target: str) -> None:
        super().__init__()
        parts = urlsplit(target)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self.responses: list[requests.Response] = []  # every answer, as the fake sent it

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Rewrite the destination, then send as usual."""
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        response = super().send(request, **kwargs)
        self.responses.append(response)
        return response


def redirect_hosts(session: requests.Session, target: str, *hosts: str) -> HostRewrite:
    """Route a library's ``https://<host>`` requests on ``session`` to ``target``."""
    adapter = HostRewrite(target)
    for host in hosts:
        session.mount(f"https://{host}/", adapter)
    return adapter
