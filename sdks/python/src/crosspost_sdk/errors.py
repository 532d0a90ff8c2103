"""Typed exceptions: one class per kind of refusal, each carrying the problem+json answer.

Every API error has the problem's stable `code`, its `detail` (what to change), the HTTP
`status` and the `request_id` to quote when asking what happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class CrosspostError(Exception):
    """Anything the SDK raises."""


class APIConnectionError(CrosspostError):
    """The API could not be reached (or stopped answering) after every retry."""


class APITimeoutError(APIConnectionError):
    """The API did not answer within the timeout, after every retry."""


class APIError(CrosspostError):
    """The API answered with an error (RFC 9457 problem+json)."""

    def __init__(self, status: int, problem: Mapping[str, Any], headers: Mapping[str, str]):
        self.status = status
        self.problem: dict[str, Any] = dict(problem)
        self.headers: Mapping[str, str] = headers
        self.code = str(problem.get("code") or f"http_{status}")
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or problem.get("title") or "")
        self.type = str(problem.get("type") or "about:blank")
        self.errors: list[Any] = list(problem.get("errors") or [])
        self.request_id: str | None = headers.get("x-request-id")
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait before trying again (`Retry-After`), if it said."""
        return retry_after_seconds(self.headers)


class BadRequest(APIError):
    """400: the request is malformed."""


class Unauthorized(APIError):
    """401: no valid credentials (a missing, revoked or expired key or token)."""


class QuotaExceeded(APIError):
    """402: a quota of the key or the tenant is used up until its period ends."""


class Forbidden(APIError):
    """403: the credentials lack the role or scope this needs."""


class NotFound(APIError):
    """404: no such resource (or it belongs to another tenant)."""


class Conflict(APIError):
    """409: the resource's state forbids this now (or an idempotency key was reused)."""


class Gone(APIError):
    """410: the resource existed and is gone for good."""


class PayloadTooLarge(APIError):
    """413: the body is larger than the endpoint accepts."""


class UnsupportedMediaType(APIError):
    """415: the body's content type is not one the endpoint accepts."""


class InvalidInput(APIError):
    """422: the body or query broke a rule; `errors` lists each field and what to change."""


class RateLimited(APIError):
    """429: too many requests; `retry_after` says when to come back."""


class ServerError(APIError):
    """5xx: the API failed; retried already, the request id says which."""


class ServiceUnavailable(ServerError):
    """503: the API is overloaded or starting; retried already."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: QuotaExceeded,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: InvalidInput,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error answer (its body read already)."""
    try:
        problem = json.loads(response.content)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"detail": response.text[:500] or response.reason_phrase}
    status = response.status_code
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return kind(status, problem, response.headers)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` as seconds: a number of seconds, or an HTTP date from now."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
