"""What the platform clients share: transport-safe sending and the OAuth refresh grant."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from crosspost.domain.enums import ErrorKind
from crosspost.platforms.base import AppCredentials, Credentials, PlatformClient
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
    auth: tuple[str, str] | None = None,
) -> Credentials:
    """POST a form-encoded token grant and build the new credentials.

    A response without a refresh token keeps the old one (Google); a rotated one replaces it
    (TikTok, SoundCloud). `auth` sends the client as HTTP Basic credentials (X).
    """
    response = send(
        http,
        "POST",
        token_url,
        data=dict(form),
        headers={"Accept": "application/json"},
        auth=auth,
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


def revoke_grant(
    http: httpx.Client,
    app: AppCredentials,
    form: Mapping[str, str],
    *,
    now: datetime,
    auth: tuple[str, str] | None = None,
) -> bool:
    """POST a form-encoded revocation to the app's revoke URL; True once the grant is gone
    (Google's 400 `invalid_token` says it already was). Other refusals raise classified."""
    if app.revoke_url is None:
        raise PlatformError(ErrorKind.PERMANENT, "unsupported_operation",
                            "this platform offers no token revocation")  # fmt: skip
    response = send(http, "POST", app.revoke_url, data=dict(form),
                    headers={"Accept": "application/json"}, auth=auth)  # fmt: skip
    if response.status_code < 300:
        return True
    body = json_body(response)
    if isinstance(body, dict) and body.get("error") == "invalid_token":
        return True
    raise classify_token_error(response, body, now=now)


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


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_url(
    client: type[PlatformClient],
    endpoint: str,
    app: AppCredentials,
    *,
    redirect_uri: str,
    state: str,
    challenge: str,
) -> str:
    """The platform's consent page for our app: authorization code with PKCE (S256)."""
    query = {
        client.client_id_param: app.client_id or "",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **client.authorize_extra,
    }
    if client.oauth_scopes:
        query["scope"] = client.scope_separator.join(client.oauth_scopes)
    return f"{endpoint}?{urlencode(query)}"


def exchange_code(
    client: PlatformClient,
    app: AppCredentials,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> Credentials:
    """Trade an authorization code (and its PKCE verifier) for the account's tokens."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        client.client_id_param: app.client_id or "",
    }
    auth = None
    if client.basic_client_auth and app.client_secret:
        auth = (app.client_id or "", app.client_secret)
    elif app.client_secret:
        form["client_secret"] = app.client_secret
    return refresh_grant(
        client.http,
        app.code_url or app.token_url,
        form,
        previous=Credentials(""),
        now=client.clock.now(),
        auth=auth,
    )
