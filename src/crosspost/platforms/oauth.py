"""What the platform clients share: transport-safe sending and the OAuth refresh grant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from crosspost.domain.enums import ErrorKind
from crosspost.platforms.base import Credentials
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import parse_retry_after

# Errors of the OAuth token endpoint (RFC 6749 §5.2) that mean "the app, not the user, is wrong":
# reconnecting the account would not help, so they are permanent rather than auth.
_APP_ERRORS = frozenset({"invalid_client", "unauthorized_client", "unsupported_grant_type"})


def send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; a network failure becomes a transient PlatformError."""
    try:
        return http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise PlatformError(
            ErrorKind.TRANSIENT,
            "network_error",
            f"{type(exc).__name__} on {method} {httpx.URL(url).copy_with(query=None)}: {exc}",
        ) from exc


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or its text when it is not JSON (kept as the raw error)."""
    try:
        return response.json()
    except ValueError:
        return response.text or None


def refresh_grant(
    http: httpx.Client,
    token_url: str,
    form: Mapping[str, str],
    *,
    previous: Credentials,
    now: datetime,
) -> Credentials:
    """POST a form-encoded refresh grant and build the new credentials.

    A response without a refresh token keeps the old one (Google); a rotated one replaces it
    (TikTok, SoundCloud).
    """
    response = send(
        http, "POST", token_url, data=dict(form), headers={"Accept": "application/json"}
    )
    body = json_body(response)
    if (
        response.status_code >= 400
        or not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
    ):
        raise classify_token_error(response, body, now=now)
    expires_in = body.get("expires_in")
    scope = body.get("scope")
    scopes = (
        [s for s in scope.replace(",", " ").split() if s]
        if isinstance(scope, str)
        else list(previous.scopes)
    )
    return Credentials(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or previous.refresh_token,
        expires_at=now + timedelta(seconds=float(expires_in))
        if isinstance(expires_in, int | float)
        else None,
        scopes=scopes,
    )


def classify_token_error(response: httpx.Response, body: Any, *, now: datetime) -> PlatformError:
    """Classify a failed token-endpoint answer (OAuth error shape `{"error", ...}`)."""
    status = response.status_code
    error = ""
    description = ""
    if isinstance(body, dict):
        raw_error = body.get("error")
        # Some platforms nest their own error object here instead of the OAuth string.
        if isinstance(raw_error, dict):
            error = str(raw_error.get("code") or "")
            description = str(raw_error.get("message") or "")
        elif raw_error is not None:
            error = str(raw_error)
            description = str(body.get("error_description") or "")
    message = description or f"token endpoint answered HTTP {status}"
    if status >= 500:
        return PlatformError(
            ErrorKind.TRANSIENT, error or f"http_{status}", message, raw=body, http_status=status
        )
    if status == 429:
        return PlatformError(
            ErrorKind.RATE_LIMITED,
            error or "rate_limited",
            message,
            retry_after=parse_retry_after(response.headers.get("Retry-After"), now=now),
            raw=body,
            http_status=status,
        )
    if error in _APP_ERRORS:
        return PlatformError(ErrorKind.PERMANENT, error, message, raw=body, http_status=status)
    if error == "invalid_grant" or status == 401:
        return PlatformError(
            ErrorKind.AUTH,
            "invalid_grant",
            f"the refresh token was refused ({message}); the account must be reconnected",
            raw=body,
            http_status=status,
        )
    if status < 300 and not error:
        return PlatformError(
            ErrorKind.PERMANENT,
            "malformed_token_response",
            "token endpoint answered without an access_token",
            raw=body,
            http_status=status,
        )
    return PlatformError(
        ErrorKind.PERMANENT, error or f"http_{status}", message, raw=body, http_status=status
    )
