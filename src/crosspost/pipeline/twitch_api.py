"""A client of Twitch's Helix API for a channel's clips: an app access token by client
credentials, the broadcaster by login, the clips made in a time range (cursor-paged), the
clips' download URLs (Get Clips Download, which needs a user token with
`editor:manage:clips` or `channel:manage:clips`) and the media behind them; and a channel
owner's user token by the authorization code flow, its refresh, validation and revocation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from crosspost.clock import Clock
from crosspost.domain.enums import ErrorKind
from crosspost.providers.errors import ProviderError, retry_after_seconds

# Get Clips Download takes either: an owner grants channel:manage:clips, an editor of the
# channel editor:manage:clips.
DOWNLOAD_SCOPES = ("channel:manage:clips", "editor:manage:clips")
PAGE_SIZE = 100  # Get Clips' largest page
DOWNLOAD_BATCH = 10  # Get Clips Download's most clip ids a request
_EARLY = timedelta(minutes=5)  # an app token is replaced this long before it expires


@dataclass(frozen=True)
class Broadcaster:
    """A channel's owner."""

    id: str
    login: str
    display_name: str


@dataclass(frozen=True)
class Clip:
    """One clip as Get Clips describes it."""

    id: str
    url: str
    embed_url: str
    broadcaster_id: str
    broadcaster_name: str
    creator_name: str
    title: str
    view_count: int
    created_at: datetime
    thumbnail_url: str
    duration: float


@dataclass(frozen=True)
class UserGrant:
    """A user's tokens from the token endpoint (Twitch may rotate the refresh token)."""

    access_token: str
    refresh_token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"UserGrant(expires_at={self.expires_at.isoformat()})"  # never a token


@dataclass(frozen=True)
class TokenOwner:
    """Whose a user token is and what it may do, as /oauth2/validate tells."""

    user_id: str
    login: str
    scopes: tuple[str, ...]


class TwitchClient:
    """Helix with one app's credentials; thread-safe (the app token is shared)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        client_id: str,
        client_secret: str,
        clock: Clock,
        auth_base: str,
        api_base: str,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._auth_base = auth_base.rstrip("/")
        self._api_base = api_base.rstrip("/")
        self._token: tuple[str, datetime] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TwitchClient(api_base={self._api_base!r})"  # never a secret

    def broadcaster(self, login: str) -> Broadcaster | None:
        """The channel with this login; None when Twitch has none."""
        data = self._helix("GET", "/helix/users", params={"login": login})["data"]
        if not data:
            return None
        user = data[0]
        return Broadcaster(str(user["id"]), str(user["login"]), str(user["display_name"]))

    def clips(
        self, broadcaster_id: str, since: datetime, until: datetime, *, page: int = PAGE_SIZE
    ) -> Iterator[Clip]:
        """Every clip of the channel made in [since, until), `page` at a time."""
        params: dict[str, Any] = {
            "broadcaster_id": broadcaster_id,
            "started_at": _iso(since),
            "ended_at": _iso(until),
            "first": page,
        }
        while True:
            body = self._helix("GET", "/helix/clips", params=params)
            for raw in body["data"]:
                yield _clip(raw)
            cursor = (body.get("pagination") or {}).get("cursor")
            if not cursor or not body["data"]:
                return
            params = {**params, "after": cursor}

    def download_urls(
        self, user_token: str, *, editor_id: str, broadcaster_id: str, clip_ids: Sequence[str]
    ) -> dict[str, str | None]:
        """Each clip's landscape download URL (None when Twitch has none to give)."""
        found: dict[str, str | None] = {}
        for start in range(0, len(clip_ids), DOWNLOAD_BATCH):
            batch = list(clip_ids[start : start + DOWNLOAD_BATCH])
            params: list[tuple[str, str]] = [
                ("editor_id", editor_id),
                ("broadcaster_id", broadcaster_id),
            ]
            params += [("clip_id", clip_id) for clip_id in batch]
            body = self._helix("GET", "/helix/clips/downloads", params=params, token=user_token)
            for entry in body["data"]:
                found[str(entry["clip_id"])] = entry.get("landscape_download_url")
        return found

    def fetch(self, url: str, target: Path, *, max_bytes: int) -> int:
        """Stream a clip's media to `target`; its size. A file over `max_bytes` is refused."""
        written = 0
        try:
            with self._http.stream("GET", url) as answer, target.open("wb") as out:
                if answer.status_code != 200:
                    answer.read()
                    raise _refusal(answer, "clip_download_failed")
                for chunk in answer.iter_bytes(1024 * 1024):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ProviderError(
                            ErrorKind.PERMANENT,
                            "clip_too_large",
                            f"the clip is over {max_bytes} bytes",
                        )
                    out.write(chunk)
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        return written

    # -- a user's consent --------------------------------------------------------------------

    def authorize_url(self, *, redirect_uri: str, state: str, scopes: Sequence[str]) -> str:
        """Twitch's consent page for the authorization code flow (Twitch takes no PKCE: the
        code is bound to this app's secret and the redirect URI)."""
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": " ".join(scopes),
                "state": state,
                "force_verify": "true",  # the user picks the account, not a stale session
            }
        )
        return f"{self._auth_base}/oauth2/authorize?{query}"

    def exchange_code(self, code: str, *, redirect_uri: str) -> UserGrant:
        """The user's tokens for the code their consent returned."""
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        return self._user_grant(form, "twitch_code_refused")

    def refresh(self, refresh_token: str) -> UserGrant:
        """New user tokens; a refresh token Twitch no longer takes is an `auth` error (the
        owner must connect again)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._user_grant(form, "twitch_refresh_refused")

    def validate(self, access_token: str) -> TokenOwner:
        """Who the user token belongs to and its scopes."""
        try:
            answer = self._http.get(
                f"{self._auth_base}/oauth2/validate",
                headers={"Authorization": f"OAuth {access_token}"},
            )
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        if answer.status_code != 200:
            raise _refusal(answer, "twitch_token_invalid")
        body = _json(answer)
        if not isinstance(body, dict) or not body.get("user_id"):
            raise ProviderError(
                ErrorKind.PERMANENT, "twitch_token_invalid", "the token names no Twitch user"
            )
        scopes = tuple(str(s) for s in body.get("scopes") or ())  # null when none
        return TokenOwner(str(body["user_id"]), str(body.get("login") or ""), scopes)

    def revoke(self, token: str) -> None:
        """Revoke a user token; one Twitch no longer knows counts as revoked."""
        try:
            answer = self._http.post(
                f"{self._auth_base}/oauth2/revoke",
                data={"client_id": self._client_id, "token": token},
            )
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        if answer.status_code not in (200, 400):  # 400: "Invalid token", already gone
            raise _refusal(answer, "twitch_revoke_failed")

    def _user_grant(self, form: dict[str, str], code: str) -> UserGrant:
        now = self._clock.now()
        try:
            answer = self._http.post(
                f"{self._auth_base}/oauth2/token",
                data={"client_id": self._client_id, "client_secret": self._client_secret, **form},
            )
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        if answer.status_code != 200:
            error = _refusal(answer, code)
            if answer.status_code == 400:  # the code or refresh token is spent or unknown
                raise ProviderError(ErrorKind.AUTH, code, error.message, http_status=400)
            raise error
        body = _json(answer)
        try:
            return UserGrant(
                str(body["access_token"]),
                str(body["refresh_token"]),
                now + timedelta(seconds=int(body["expires_in"])),
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderError(
                ErrorKind.TRANSIENT, "twitch_unexpected", "Twitch's token answer lacks a field"
            ) from None

    # -- the wire ---------------------------------------------------------------------------

    def _helix(
        self, method: str, path: str, *, params: Any, token: str | None = None
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            bearer = token or self._app_token(renew=attempt == 2)
            headers = {"Authorization": f"Bearer {bearer}", "Client-Id": self._client_id}
            try:
                answer = self._http.request(
                    method, f"{self._api_base}{path}", params=params, headers=headers
                )
            except httpx.TransportError as exc:
                raise _unreachable(exc) from exc
            if answer.status_code == 401 and token is None and attempt == 1:
                continue  # the app token was revoked or expired early: one new one
            if answer.status_code != 200:
                raise self._error(answer)
            body = _json(answer)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ProviderError(
                    ErrorKind.TRANSIENT,
                    "twitch_unexpected",
                    f"Twitch answered {path} without a data list",
                )
            return body
        raise AssertionError("unreachable")  # the loop returns or raises

    def _app_token(self, *, renew: bool) -> str:
        with self._lock:
            now = self._clock.now()
            if self._token is not None and not renew and self._token[1] - _EARLY > now:
                return self._token[0]
            try:
                answer = self._http.post(
                    f"{self._auth_base}/oauth2/token",
                    data={
                        "client_id": self._client_id,
                        "client_secret": self._client_secret,
                        "grant_type": "client_credentials",
                    },
                )
            except httpx.TransportError as exc:
                raise _unreachable(exc) from exc
            if answer.status_code != 200:
                error = _refusal(answer, "twitch_app_token_refused")
                raise ProviderError(
                    ErrorKind.AUTH,
                    error.code,
                    f"Twitch refused this app's credentials: {error.message}; "
                    "check CROSSPOST_TWITCH_CLIENT_ID and _SECRET",
                    http_status=answer.status_code,
                )
            body = _json(answer)
            token = str(body["access_token"])
            self._token = (token, now + timedelta(seconds=int(body.get("expires_in") or 3600)))
            return token

    def _error(self, answer: httpx.Response) -> ProviderError:
        if answer.status_code == 429:
            wait = retry_after_seconds(answer.headers)
            reset = answer.headers.get("ratelimit-reset", "")
            if wait is None and reset.isdigit():
                wait = max(0.0, int(reset) - self._clock.now().timestamp())
            return ProviderError(
                ErrorKind.RATE_LIMITED,
                "twitch_rate_limited",
                "Twitch's rate limit is spent",
                retry_after=wait or 1.0,
                http_status=429,
            )
        return _refusal(answer, "twitch_refused")


def _refusal(answer: httpx.Response, code: str) -> ProviderError:
    """Twitch's error (`{"error","status","message"}`), classified."""
    body = _json(answer, strict=False)
    message = str(body.get("message") if isinstance(body, dict) else "") or answer.reason_phrase
    status = answer.status_code
    if status in (401, 403):
        kind = ErrorKind.AUTH
    elif status >= 500 or status == 429:
        kind = ErrorKind.TRANSIENT
    else:
        kind = ErrorKind.PERMANENT
    return ProviderError(kind, code, f"Twitch answered {status}: {message}", http_status=status)


def _unreachable(exc: Exception) -> ProviderError:
    return ProviderError(
        ErrorKind.TRANSIENT,
        "twitch_unreachable",
        f"Twitch could not be reached ({type(exc).__name__})",
    )


def _json(answer: httpx.Response, *, strict: bool = True) -> Any:
    try:
        return answer.json()
    except ValueError:
        if not strict:
            return None
        raise ProviderError(
            ErrorKind.TRANSIENT,
            "twitch_unexpected",
            f"Twitch answered {answer.status_code} without JSON",
        ) from None


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clip(raw: dict[str, Any]) -> Clip:
    return Clip(
        id=str(raw["id"]),
        url=str(raw["url"]),
        embed_url=str(raw["embed_url"]),
        broadcaster_id=str(raw["broadcaster_id"]),
        broadcaster_name=str(raw["broadcaster_name"]),
        creator_name=str(raw["creator_name"]),
        title=str(raw["title"]),
        view_count=int(raw["view_count"]),
        created_at=datetime.fromisoformat(str(raw["created_at"]).replace("Z", "+00:00")),
        thumbnail_url=str(raw["thumbnail_url"]),
        duration=float(raw["duration"]),
    )
