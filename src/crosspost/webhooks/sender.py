"""One delivery attempt over HTTP: the request as signed, and what came back (or didn't).

The body is the event's stored payload, byte for byte (signatures cover it). The endpoint's
custom headers go first and may never replace what crosspost sets: the Standard Webhooks
headers, the seed's `X-Webhook-ID`/`X-Event`/`User-Agent`, `Content-Type` or framing
headers. The whole attempt, connect to last byte read, must end within the timeout; only
the first 4 KiB of a response body are read and kept.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from crosspost.webhooks.endpoints import RESERVED_HEADERS, RESERVED_PREFIXES
from crosspost.webhooks.ssrf import RefusedConnection

BODY_LIMIT = 4096


@functools.lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)


@dataclass(frozen=True, slots=True)
class Response:
    """The outcome of one attempt: a response (status, headers, body start) or an error."""

    status_code: int | None
    latency_ms: float
    headers: dict[str, str] | None = None
    body: str | None = None
    error: str | None = None
    timed_out: bool = False


def request_headers(custom: Mapping[str, str] | None, signed: Mapping[str, str]) -> dict[str, str]:
    """The endpoint's custom headers, minus any crosspost sets itself, then the signed ones."""
    ours = {name.lower() for name in signed}
    headers = {
        name: value
        for name, value in (custom or {}).items()
        if (low := name.lower()) not in ours
        and low not in RESERVED_HEADERS
        and not low.startswith(RESERVED_PREFIXES)
    }
    headers.update(signed)
    return headers


def describe_error(exc: Exception, timeout: float) -> tuple[str, bool]:
    """A readable error for the attempt log, and whether it counts as a timeout."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timeout: no complete response within {timeout:g} s", True
    cause = exc.__cause__
    if isinstance(cause, RefusedConnection):
        reason = str(cause).removeprefix("refused: ")
        return f"blocked by SSRF protection: {reason}", False
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}", False
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"invalid URL: {detail}", False
    return f"{type(exc).__name__}: {detail}", False


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
) -> Response:
    """POST `body` to `url` and report what happened; never raises for network trouble.

    The request is built here rather than by the client: no default headers, and no cookies
    a receiver set earlier are sent back (the client's own request building also cost a
    tenth of a delivery's CPU).
    """
    started = time.perf_counter()
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    try:
        async with asyncio.timeout(timeout):
            request = httpx.Request(
                "POST", _url(url), content=body, headers=headers, extensions={"timeout": limits}
            )
            response = await client.send(request, stream=True)
            try:
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= BODY_LIMIT:
                        break  # the rest is not read; closing drops the connection
            finally:
                await response.aclose()
    except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
        error, timed_out = describe_error(exc, timeout)
        latency = (time.perf_counter() - started) * 1000
        return Response(None, latency, error=error, timed_out=timed_out)
    latency = (time.perf_counter() - started) * 1000
    return Response(
        response.status_code,
        latency,
        headers=dict(response.headers.items()),
        body=bytes(received[:BODY_LIMIT]).decode("utf-8", errors="replace"),
    )
