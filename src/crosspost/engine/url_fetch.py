"""Downloading a media file from a customer's URL, safely: through the webhooks' SSRF guard
(`webhooks.ssrf`: every connection, redirects included, goes only to an address the policy
allows, checked when connecting, so DNS rebinding gains nothing), following a few
redirects each checked again, within a size and a total time limit, streamed to storage.

Every refusal is a `FetchError` with a stable code and a message that says what to change;
messages show a URL without its query string, which often carries a token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from crosspost.errors import PayloadTooLarge
from crosspost.media.storage import PendingWrite
from crosspost.webhooks.ssrf import (
    AddressPolicy,
    BlockedAddress,
    RefusedConnection,
    host_address,
    is_host_name,
    safe_async_client,
)

ALLOW_CIDRS_SETTING = "CROSSPOST_MEDIA_FETCH_ALLOW_CIDRS"
_CONNECT_AND_READ_SECONDS = 30.0  # per connection and per read, within the total limit
_WATCH_SECONDS = 0.25  # how often progress is reported (and a cancellation noticed)
_HEADERS = {
    "User-Agent": "crosspost-media-fetch/1",
    "Accept": "video/*, audio/*, image/*, */*;q=0.1",
    # The bytes as stored at the source: the size limit counts what is kept, and a
    # compressed body cannot expand past it unseen.
    "Accept-Encoding": "identity",
}


class FetchError(Exception):
    """A fetch that failed for a reason the customer can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FetchCancelled(Exception):
    """The media item was deleted while it was being fetched."""


@dataclass
class _Progress:
    got: int = 0
    total: int | None = None


@dataclass(frozen=True)
class Fetched:
    """What the source said about the file it sent."""

    content_type: str | None
    total: int | None
    size: int


def media_policy(allow_cidrs: tuple[str, ...] | list[str]) -> AddressPolicy:
    """Public addresses only, plus the networks the operator allows."""
    return AddressPolicy(allow_private=False, allow_cidrs=tuple(allow_cidrs))


def shown_url(url: httpx.URL | str) -> str:
    """A URL fit for a message or a listing: without credentials, its query hidden."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except httpx.InvalidURL:
        return "(an invalid URL)"
    port = f":{parsed.port}" if parsed.port is not None else ""
    path = parsed.raw_path.decode("ascii", "replace").split("?", 1)[0]
    query = "?…" if parsed.query else ""
    return f"{parsed.scheme}://{parsed.host}{port}{path}{query}"


def file_name(url: httpx.URL) -> str | None:
    """The last segment of the URL's path, as a file name (None when there is none)."""
    segment = unquote(url.path.rsplit("/", 1)[-1]).strip()
    return segment or None


def check_url(url: str, policy: AddressPolicy) -> httpx.URL:
    """The URL, if crosspost may fetch it; FetchError `invalid_url` or `url_not_allowed`
    otherwise. A literal address is judged now; a host name when connecting."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError("invalid_url", f"the URL is not valid: {exc}") from None
    if parsed.scheme not in {"https", "http"}:
        raise FetchError(
            "invalid_url", f"a media URL starts with https:// or http://, not {shown_url(url)!r}"
        )
    if parsed.userinfo:
        raise FetchError(
            "invalid_url",
            "the URL may not carry a user name or password (they would be stored in plain "
            "text); use a URL that needs none, such as a presigned one",
        )
    if not parsed.host:
        raise FetchError("invalid_url", "the URL has no host; e.g. https://cdn.example.com/a.mp4")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError("invalid_url", f"the URL's port {parsed.port} is not 1 to 65535")
    ip = host_address(parsed.host)
    if ip is None and not is_host_name(parsed.raw_host.decode("ascii", "replace")):
        raise FetchError("invalid_url", f"the URL's host {parsed.host[:80]!r} is no host name")
    if ip is not None:
        try:
            policy.check(ip)
        except BlockedAddress as exc:
            raise _not_allowed(parsed.host, [exc]) from None
    return parsed


def _not_allowed(host: str, blocked: list[BlockedAddress]) -> FetchError:
    reasons = "; ".join(str(b) for b in blocked)
    return FetchError(
        "url_not_allowed",
        f"{host} is refused: {reasons}; media URLs reach public addresses only (an operator "
        f"may allow a network with {ALLOW_CIDRS_SETTING})",
    )


def _too_large(limit: int, announced: int | None = None) -> FetchError:
    what = f"announces {announced} bytes" if announced is not None else "sends more bytes"
    return FetchError(
        "fetch_too_large",
        f"the file {what} than the upload limit of {limit} bytes; use a smaller file",
    )


async def download(
    url: httpx.URL,
    sink: PendingWrite,
    *,
    policy: AddressPolicy,
    max_bytes: int,
    timeout: float,
    max_redirects: int,
    on_headers: Callable[[int | None], None],
    report: Callable[[int, int | None], bool],
) -> Fetched:
    """Stream `url` into `sink`. `on_headers(length)` runs once the source answers (it may
    raise to refuse); `report(bytes, length)` runs a few times a second and returns False
    to cancel (FetchCancelled). FetchError when the source or the limits refuse."""
    progress = _Progress()
    per_step = min(timeout, _CONNECT_AND_READ_SECONDS)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with safe_async_client(policy, timeout=per_step, max_connections=4) as client:
        task = asyncio.create_task(
            _get(client, url, sink, progress, policy, max_bytes, max_redirects, on_headers)
        )
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise FetchError(
                        "fetch_timeout",
                        f"the file did not arrive within {timeout:g} s ({progress.got} bytes "
                        "received); the source is too slow or stalled: try a faster host",
                    )
                done, _ = await asyncio.wait({task}, timeout=min(left, _WATCH_SECONDS))
                if done:
                    return task.result()
                if not report(progress.got, progress.total):
                    raise FetchCancelled
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _get(
    client: httpx.AsyncClient,
    url: httpx.URL,
    sink: PendingWrite,
    progress: _Progress,
    policy: AddressPolicy,
    max_bytes: int,
    max_redirects: int,
    on_headers: Callable[[int | None], None],
) -> Fetched:
    hops = 0
    while True:
        try:
            request = client.build_request("GET", url, headers=_HEADERS)
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _network_error(exc, url) from None
        try:
            if response.has_redirect_location:
                hops += 1
                if hops > max_redirects:
                    raise FetchError(
                        "fetch_too_many_redirects",
                        f"{shown_url(url)} redirects more than {max_redirects} times; give "
                        "the file's final URL",
                    )
                target = response.next_request
                if target is None:  # pragma: no cover - httpx sets it for every redirect
                    raise FetchError("fetch_failed", f"{shown_url(url)} redirects nowhere")
                url = check_url(str(target.url), policy)
                continue
            if not 200 <= response.status_code < 300:
                raise FetchError(
                    "fetch_http_error",
                    f"{shown_url(url)} answered HTTP {response.status_code} "
                    f"{response.reason_phrase}".rstrip()
                    + "; check that the URL is right and public",
                )
            length = response.headers.get("content-length")
            total = int(length) if length is not None and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise _too_large(max_bytes, total)
            progress.total = total
            on_headers(total)
            try:
                async for chunk in response.aiter_raw():
                    sink.write(chunk)
                    progress.got += len(chunk)
            except PayloadTooLarge:
                raise _too_large(max_bytes) from None
            except httpx.HTTPError as exc:
                raise _network_error(exc, url, progress.got) from None
            return Fetched(response.headers.get("content-type"), total, progress.got)
        finally:
            await response.aclose()


def _network_error(exc: httpx.HTTPError, url: httpx.URL, got: int | None = None) -> FetchError:
    cause = exc.__cause__
    if isinstance(cause, RefusedConnection):
        return _not_allowed(url.host, list(cause.blocked))
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(
            "fetch_timeout",
            f"{shown_url(url)} stopped answering (nothing for {_CONNECT_AND_READ_SECONDS:g} s, "
            "or the time limit); try again later or a faster host",
        )
    during = f" after {got} bytes" if got else ""
    detail = str(exc) or type(exc).__name__
    return FetchError("fetch_failed", f"could not fetch {shown_url(url)}{during}: {detail}")
