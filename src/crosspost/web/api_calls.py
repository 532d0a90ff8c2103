"""The API, called in-process on behalf of the person the browser signed in: their session
cookie, their CSRF token, their address. The API's own rules (roles, scopes, validation,
idempotency, rate limits, the audit log) apply to every page and action, with no second
path to keep in step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request

CSRF_HEADER = "X-CSRF-Token"
_TIMEOUT = 60.0


@dataclass
class Refused(Exception):
    """The API refused the call: its status and problem+json, to show the person."""

    status: int
    problem: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        """The problem's stable `code`."""
        return str(self.problem.get("code", "error"))

    @property
    def message(self) -> str:
        """What went wrong and what to change, as the API said it."""
        return str(self.problem.get("detail") or self.problem.get("title") or "refused")

    def field_errors(self) -> dict[str, str]:
        """A validation problem's message per field (`targets.0.platform`)."""
        return {
            str(e.get("field", "")): str(e.get("message", ""))
            for e in self.problem.get("errors") or ()
            if isinstance(e, dict)
        }


class SignedOut(Refused):
    """The session is missing, ended or expired (401): the person signs in again."""

    def __init__(self, problem: dict[str, Any] | None = None) -> None:
        super().__init__(401, problem or {"detail": "sign in first"})


@dataclass
class Answer:
    """A successful call's body and the cookies the API set."""

    body: Any
    set_cookies: list[str]


class Api:
    """Calls the API of the app serving `request`, as the caller of `request`."""

    def __init__(
        self, request: Request, csrf_token: str | None = None, *, bearer: str | None = None
    ) -> None:
        self._request = request
        self.csrf_token = csrf_token
        # The operator's key (the admin console), sent instead of the session.
        self._bearer = bearer

    def _client(self) -> httpx.AsyncClient:
        peer = self._request.client
        transport = httpx.ASGITransport(
            app=self._request.app,
            # The person's address, so sign-in limits and the audit log see them.
            client=(peer.host, peer.port) if peer else ("127.0.0.1", 0),
        )
        return httpx.AsyncClient(
            transport=transport, base_url=str(self._request.base_url), timeout=_TIMEOUT
        )

    def _headers(self, method: str, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        cookie = self._request.headers.get("cookie")
        if self._bearer is not None:
            headers["Authorization"] = f"Bearer {self._bearer}"
        elif cookie:
            headers["Cookie"] = cookie  # the session's, as the browser sent it
        if method != "GET" and self.csrf_token:
            headers[CSRF_HEADER] = self.csrf_token
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """One API call; raises `SignedOut` on 401 and `Refused` on any other refusal."""
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        async with self._client() as client:
            response = await client.request(
                method, path, params=query, json=json,
                headers=self._headers(method, idempotency_key),
            )  # fmt: skip
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            if response.status_code == 401:
                raise SignedOut(problem)
            raise Refused(response.status_code, problem, dict(response.headers))
        body = response.json() if response.content else None
        return Answer(body, response.headers.get_list("set-cookie"))

    async def get(self, path: str, **params: Any) -> Any:
        """The body of `GET path?params`."""
        return (await self.call("GET", path, params=params)).body

    async def send(
        self, method: str, path: str, json: Any = None, *, idempotency_key: str | None = None
    ) -> Any:
        """The body of a call that changes something (with the session's CSRF token)."""
        return (await self.call(method, path, json=json, idempotency_key=idempotency_key)).body
