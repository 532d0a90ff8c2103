"""Sending one API call: retries with backoff and jitter, the same idempotency key on every
attempt, typed errors, and responses parsed into the generated models."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import httpx
from pydantic import TypeAdapter

from crosspost_sdk._lazy import resolve
from crosspost_sdk._version import __version__
from crosspost_sdk.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    error_for,
    retry_after_seconds,
)
from crosspost_sdk.ratelimit import RateLimit

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
USER_AGENT = f"crosspost-sdk-python/{__version__}"
# Answers worth another attempt: the request did not take effect (or, with an idempotency
# key, taking effect twice is impossible).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Body = bytes | Iterable[bytes] | AsyncIterable[bytes] | None
BodyFactory = Callable[[], Body]


@dataclass(frozen=True)
class Retries:
    """How calls are retried: up to `max_retries` more attempts, waiting `Retry-After` when
    the API says (up to `max_retry_after`), else an exponential backoff with jitter."""

    max_retries: int = 3
    initial_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, headers: Mapping[str, str] | None) -> float | None:
        """Seconds before attempt `attempt + 1`, or None when it should not be made."""
        asked = retry_after_seconds(headers) if headers is not None else None
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.initial_delay * 2.0**attempt)
        # "Equal jitter": at least half the backoff, so retries never bunch up at zero.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class Call:
    """One API call as the resources describe it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    content: BodyFactory | None = None
    replayable: bool = True  # False: the body is a stream, read once, so never resent
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)
    idempotent: bool = False  # the endpoint honours Idempotency-Key
    idempotency_key: str | None = None
    timeout: float | None = None


@dataclass
class Config:
    """What every call of one client shares."""

    base_url: str
    auth: httpx.Auth | None
    headers: dict[str, str]
    retries: Retries
    timeout: float
    # True: answers are the JSON the API sent, never parsed into models.
    raw: bool = False


def build_config(
    *,
    base_url: str | None,
    api_key: str | None,
    auth: httpx.Auth | None,
    retries: Retries | int | None,
    timeout: float,
) -> Config:
    """A client's config: arguments first, then CROSSPOST_API_URL and CROSSPOST_API_KEY."""
    url = base_url or os.environ.get("CROSSPOST_API_URL") or DEFAULT_BASE_URL
    key = api_key if api_key is not None else os.environ.get("CROSSPOST_API_KEY")
    headers = {"User-Agent": USER_AGENT}
    if key and auth is None:
        headers["Authorization"] = f"Bearer {key}"
    if isinstance(retries, int):
        retries = Retries(max_retries=retries)
    return Config(url.rstrip("/"), auth, headers, retries or Retries(), timeout)


def prepare(call: Call) -> Call:
    """Give an idempotent call its key once, so every retry re-sends the same one."""
    if call.idempotent and call.idempotency_key is None:
        call.idempotency_key = str(uuid.uuid4())
    if call.idempotency_key is not None:
        call.headers["Idempotency-Key"] = call.idempotency_key
    return call


def may_retry(call: Call) -> bool:
    """Whether sending `call` again is harmless (and possible: a stream is read once)."""
    safe = call.method in _SAFE_METHODS or call.idempotency_key is not None
    return safe and call.replayable


def request_kwargs(config: Config, call: Call) -> dict[str, Any]:
    """httpx's arguments for one attempt (a streamed body is made anew each time)."""
    kwargs: dict[str, Any] = {
        "params": _query(call.params),
        "headers": call.headers,
        "timeout": call.timeout if call.timeout is not None else config.timeout,
        "extensions": call.extensions,
    }
    if call.json is not None:
        kwargs["json"] = call.json
    if call.data is not None:
        kwargs["data"] = call.data
    if call.files is not None:
        kwargs["files"] = call.files
    if call.content is not None:
        kwargs["content"] = call.content()
    return kwargs


def _query(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:
                pairs.append((name, _text(item)))
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if hasattr(value, "value"):
        return str(value.value)  # an enum member
    return str(value)


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def parse(response: httpx.Response, kind: Any, *, raw: bool = False) -> Any:
    """The answer as `kind` (a model, a list of models, dict…), or as the JSON it is when
    `raw`; None for an empty answer."""
    if response.status_code == 204 or not response.content:
        return None
    if kind is None or raw:
        return response.json()
    return _adapter(resolve(kind)).validate_json(response.content)


class Transport:
    """Sends calls for a synchronous client."""

    def __init__(self, config: Config, http: httpx.Client | None = None) -> None:
        self.config = config
        self.http = http or httpx.Client(base_url=config.base_url, headers=config.headers)
        self.rate_limit: RateLimit | None = None

    def send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """The answer to `call` after any retries; raises an `APIError` for a refusal."""
        call = prepare(call)
        attempt = 0
        while True:
            try:
                request = self.http.build_request(
                    call.method, call.path, **request_kwargs(self.config, call)
                )
                response = self.http.send(request, auth=self._auth(), stream=stream)
            except httpx.TransportError as exc:
                wait = self.config.retries.delay(attempt, None) if may_retry(call) else None
                if wait is None or attempt >= self.config.retries.max_retries:
                    raise _connection_error(exc, attempt) from exc
                time.sleep(wait)
                attempt += 1
                continue
            self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
            if response.status_code < 400:
                return response
            response.read()
            wait = retry_wait(self.config, call, response, attempt)
            if wait is None:
                raise error_for(response)
            response.close()
            time.sleep(wait)
            attempt += 1

    @overload
    def call(self, call: Call, kind: type[T]) -> T: ...
    @overload
    def call(self, call: Call, kind: None = None) -> Any: ...
    def call(self, call: Call, kind: Any = None) -> Any:
        """Send `call` and parse its answer as `kind`."""
        response = self.send(call)
        return parse(response, kind, raw=self.config.raw)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _auth(self) -> Any:
        return self.config.auth if self.config.auth is not None else httpx.USE_CLIENT_DEFAULT


class AsyncTransport:
    """Sends calls for an asynchronous client."""

    def __init__(self, config: Config, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.http = http or httpx.AsyncClient(base_url=config.base_url, headers=config.headers)
        self.rate_limit: RateLimit | None = None

    async def send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """The answer to `call` after any retries; raises an `APIError` for a refusal."""
        call = prepare(call)
        attempt = 0
        while True:
            try:
                request = self.http.build_request(
                    call.method, call.path, **request_kwargs(self.config, call)
                )
                auth = (
                    self.config.auth if self.config.auth is not None else httpx.USE_CLIENT_DEFAULT
                )
                response = await self.http.send(request, auth=auth, stream=stream)
            except httpx.TransportError as exc:
                wait = self.config.retries.delay(attempt, None) if may_retry(call) else None
                if wait is None or attempt >= self.config.retries.max_retries:
                    raise _connection_error(exc, attempt) from exc
                await asyncio.sleep(wait)
                attempt += 1
                continue
            self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
            if response.status_code < 400:
                return response
            await response.aread()
            wait = retry_wait(self.config, call, response, attempt)
            if wait is None:
                raise error_for(response)
            await response.aclose()
            await asyncio.sleep(wait)
            attempt += 1

    @overload
    async def call(self, call: Call, kind: type[T]) -> T: ...
    @overload
    async def call(self, call: Call, kind: None = None) -> Any: ...
    async def call(self, call: Call, kind: Any = None) -> Any:
        """Send `call` and parse its answer as `kind`."""
        response = await self.send(call)
        return parse(response, kind, raw=self.config.raw)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()


def retry_wait(config: Config, call: Call, response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before sending `call` again after this refusal, or None to raise."""
    if response.status_code not in RETRY_STATUSES or attempt >= config.retries.max_retries:
        return None
    if not call.replayable or (not may_retry(call) and response.status_code != 429):
        return None  # a 429 was refused before any work: resending it is harmless
    return config.retries.delay(attempt, response.headers)


def _connection_error(exc: httpx.TransportError, attempt: int) -> APIConnectionError:
    tries = f"after {attempt + 1} attempt{'s' if attempt else ''}"
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"the API did not answer in time {tries}: {exc!r}")
    return APIConnectionError(f"could not reach the API {tries}: {exc!r}")


__all__ = ["APIError", "AsyncTransport", "Call", "Config", "Retries", "Transport"]
