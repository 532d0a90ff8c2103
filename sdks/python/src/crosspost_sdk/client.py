"""`Client` and `AsyncClient`: every endpoint, with one way to authenticate each."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from crosspost_sdk._resources import AsyncResources, Resources
from crosspost_sdk._transport import (
    AsyncTransport,
    Call,
    Config,
    Retries,
    Transport,
    build_config,
)
from crosspost_sdk.oauth import ClientCredentials
from crosspost_sdk.ratelimit import RateLimit
from crosspost_sdk.signing import HmacAuth


def _config(
    api_key: str | None,
    base_url: str | None,
    signing_secret: str | None,
    signing_key_id: str | None,
    client_id: str | None,
    client_secret: str | None,
    scope: str | None,
    retries: Retries | int | None,
    timeout: float,
) -> Config:
    auth: httpx.Auth | None = None
    if client_id is not None:
        if client_secret is None:
            raise ValueError("give client_secret with client_id (OAuth client credentials)")
        auth = ClientCredentials(client_id, client_secret, scope=scope)
    elif signing_secret is not None:
        config = build_config(
            base_url=base_url, api_key=api_key, auth=None, retries=retries, timeout=timeout
        )
        key = config.headers.get("Authorization", "").removeprefix("Bearer ") or None
        auth = HmacAuth(key, signing_secret, signing_key_id)
    return build_config(
        base_url=base_url, api_key=api_key, auth=auth, retries=retries, timeout=timeout
    )


class Client(Resources):
    """The crosspost API, synchronously.

    ``Client(api_key)`` (or CROSSPOST_API_KEY) sends the key as a Bearer token; add
    `signing_secret` to sign every request (HMAC), or give `client_id` and `client_secret`
    instead to act as an OAuth client. `base_url` defaults to CROSSPOST_API_URL, then
    http://127.0.0.1:8000. Calls are retried `retries` times on 429, 5xx and dropped
    connections (re-sending the same Idempotency-Key), after `timeout` seconds each.
    `raw=True` answers the JSON the API sent (dicts and lists) instead of models, and never
    loads the models (for a caller that only passes answers on).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        signing_secret: str | None = None,
        signing_key_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        retries: Retries | int | None = None,
        timeout: float = 60.0,
        http_client: httpx.Client | None = None,
        raw: bool = False,
    ) -> None:
        config = _config(
            api_key,
            base_url,
            signing_secret,
            signing_key_id,
            client_id,
            client_secret,
            scope,
            retries,
            timeout,
        )
        config.raw = raw
        super().__init__(Transport(config, http_client))

    def __repr__(self) -> str:
        return f"<crosspost_sdk.Client {self._t.config.base_url}>"

    @property
    def base_url(self) -> str:
        """The API this client talks to."""
        return self._t.config.base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The key's rate-limit state after the last answer (None: unlimited or unknown)."""
        return self._t.rate_limit

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any call by method and path, its answer as decoded JSON: for what a release of
        the API has that this SDK does not know yet."""
        call = Call(method.upper(), path, params=params, json=json, idempotency_key=idempotency_key)
        return self._t.call(call)

    def close(self) -> None:
        """Close the connection pool."""
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(AsyncResources):
    """The crosspost API, asynchronously: the same surface as `Client`, every call awaited
    (a list is awaited for its first page, or walked with ``async for``)."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        signing_secret: str | None = None,
        signing_key_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        retries: Retries | int | None = None,
        timeout: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
        raw: bool = False,
    ) -> None:
        config = _config(
            api_key,
            base_url,
            signing_secret,
            signing_key_id,
            client_id,
            client_secret,
            scope,
            retries,
            timeout,
        )
        config.raw = raw
        super().__init__(AsyncTransport(config, http_client))

    def __repr__(self) -> str:
        return f"<crosspost_sdk.AsyncClient {self._t.config.base_url}>"

    @property
    def base_url(self) -> str:
        """The API this client talks to."""
        return self._t.config.base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The key's rate-limit state after the last answer (None: unlimited or unknown)."""
        return self._t.rate_limit

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any call by method and path, its answer as decoded JSON."""
        call = Call(method.upper(), path, params=params, json=json, idempotency_key=idempotency_key)
        return await self._t.call(call)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._t.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
