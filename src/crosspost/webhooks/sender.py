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
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import httpcore
import httpx

from crosspost.webhooks.endpoints import RESERVED_HEADERS, RESERVED_PREFIXES
from crosspost.webhooks.ssrf import RefusedConnection

BODY_LIMIT = 4096
# Content encodings zlib inflates (wbits 47 reads a gzip or a zlib header).
_INFLATED = frozenset({b"gzip", b"x-gzip", b"deflate"})


# What a failed attempt can raise (httpcore's errors, as httpx would map them).
_FAILURES = (
    TimeoutError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpx.InvalidURL,
)


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpcore.URL
    host: bytes  # the Host header


@functools.lru_cache(maxsize=4096)
def _target(url: str) -> _Target:
    parsed = httpx.URL(url)  # raises httpx.InvalidURL, as an httpx client would
    port = parsed.port
    # An IPv6 literal keeps its brackets in the Host header, as in the URL.
    name = b"[%b]" % parsed.raw_host if b":" in parsed.raw_host else parsed.raw_host
    host = name if port is None else b"%b:%d" % (name, port)
    raw = httpcore.URL(
        scheme=parsed.raw_scheme, host=parsed.raw_host, port=port, target=parsed.raw_path
    )
    return _Target(raw, host)


@functools.lru_cache(maxsize=16)
def _timeouts(timeout: float) -> dict[str, dict[str, float]]:
    # Shared, read-only: httpcore only looks the values up.
    return {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)}


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
    """A readable error for the attempt log, and whether it counts as a timeout (httpx's
    exceptions, or httpcore's as `post` meets them)."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException | httpcore.TimeoutException):
        return f"timeout: no complete response within {timeout:g} s", True
    refused = exc if isinstance(exc, RefusedConnection) else exc.__cause__
    if isinstance(refused, RefusedConnection):
        reason = str(refused).removeprefix("refused: ")
        return f"blocked by SSRF protection: {reason}", False
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpcore.ConnectError):
        return f"connection failed: {detail}", False
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpcore.UnsupportedProtocol):
        return f"invalid URL: {detail}", False
    return f"{type(exc).__name__}: {detail}", False


async def post(
    pool: httpcore.AsyncConnectionPool,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
) -> Response:
    """POST `body` to `url` and report what happened; never raises for network trouble.

    The request goes to httpcore's pool (`ssrf.guarded_pool`) as it is, with the Host and
    Content-Length headers an httpx client would add and nothing else: no default headers,
    no cookies, no redirects (httpx's layers above the pool also cost a fifth of a
    delivery's CPU).
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            target = _target(url)
            raw = [(b"Host", target.host), (b"Content-Length", b"%d" % len(body))]
            raw += [(k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()]
            request = httpcore.Request(
                b"POST", target.url, headers=raw, content=body, extensions=_timeouts(timeout)
            )
            response = await pool.handle_async_request(request)
            try:
                start = await _body_start(response)
            finally:
                await response.aclose()
    except _FAILURES as exc:
        error, timed_out = describe_error(exc, timeout)
        latency = (time.perf_counter() - started) * 1000
        return Response(None, latency, error=error, timed_out=timed_out)
    latency = (time.perf_counter() - started) * 1000
    return Response(
        response.status,
        latency,
        headers=_headers(response.headers),
        body=start,
    )


async def _body_start(response: httpcore.Response) -> str:
    """The first 4 KiB of the body as text, inflated when gzip or deflate (as httpx would),
    with NUL shown as U+FFFD: PostgreSQL text cannot hold it, and one such answer must not
    stop its whole settle batch from being written."""
    encoding = next(
        (v.strip().lower() for k, v in response.headers if k.lower() == b"content-encoding"), b""
    )
    inflate = zlib.decompressobj(wbits=47) if encoding in _INFLATED else None
    received = bytearray()
    try:
        async for chunk in response.aiter_stream():
            received += inflate.decompress(chunk, BODY_LIMIT) if inflate else chunk
            if len(received) >= BODY_LIMIT:
                break  # the rest is not read; closing drops the connection
    except zlib.error:
        return f"(a {encoding.decode('latin-1')} body that does not inflate)"
    text = bytes(received[:BODY_LIMIT]).decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    # As `dict(httpx.Headers(raw).items())`: names lower-cased, repeated ones joined with ", ".
    headers: dict[str, str] = {}
    for name, value in raw:
        key = _text(name).lower()
        text = _text(value)
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _text(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("iso-8859-1")
