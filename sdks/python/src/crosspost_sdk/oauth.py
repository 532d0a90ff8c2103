"""OAuth 2.0 client credentials: a token fetched when needed, cached until near its expiry,
and fetched again when the API says it is no longer good."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Generator
from urllib.parse import quote_plus

import httpx

from crosspost_sdk.errors import error_for

# Fetch a new token this long before the old one expires (clock skew, a slow request).
_EARLY = 30.0


class ClientCredentials(httpx.Auth):
    """Authenticates as an OAuth client (RFC 6749 §4.4) of the API's own authorization
    server: ``Client(client_id=..., client_secret=...)`` uses it."""

    requires_response_body = True

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        token_path: str = "/oauth/token",  # noqa: S107 - a path, not a password
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.token_path = token_path
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret=<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with a cached token; fetch one first when there is none or it is expiring,
        and once more when the API answers 401 (the token was revoked)."""
        for attempt in range(2):
            with self._lock:
                token = self._token if time.monotonic() < self._expires else None
            if token is None or attempt:
                answer = yield self._token_request(request)
                token = self._keep(answer)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401:
                return

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # RFC 6749 §2.3.1: each half form-encoded before the Basic pair is made.
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
        basic = base64.b64encode(pair.encode()).decode()
        headers = {"Accept": "application/json", "Authorization": f"Basic {basic}"}
        return httpx.Request("POST", request.url.join(self.token_path), data=form, headers=headers)

    def _keep(self, answer: httpx.Response) -> str:
        if answer.status_code != 200:
            raise error_for(answer)
        body = answer.json()
        with self._lock:
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3600)
            self._expires = time.monotonic() + max(0.0, lifetime - _EARLY)
            return self._token
