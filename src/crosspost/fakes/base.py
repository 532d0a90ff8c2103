"""Machinery every platform fake shares: configuration, faults, tokens, counters, aborts.

Fakes import nothing of ours but ``crosspost.domain``, so that a fake can never share a bug
with the client it is meant to check.
"""

from __future__ import annotations

import asyncio
import html
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from crosspost.fakes.tokens import Account, AuthFailure, Grant, RateWindow, TokenStore

DEFAULT_TIKTOK_PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")


_RATES = ("failure_rate", "rate_limit_rate", "reset_mid_chunk_rate", "processing_fail_rate")
_COUNTS = ("retry_after_seconds", "latency_ms", "drop_response_after_commit")


class FaultError(ValueError):
    """A fault patch named an unknown fault or gave it a value of the wrong kind."""


@dataclass
class Faults:
    """The live fault config of one fake."""

    failure_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    latency_ms: int = 0
    reset_mid_chunk_rate: float = 0.0
    drop_response_after_commit: int = 0
    quota_exhausted: bool = False
    processing_seconds: float = 0.2
    processing_fail_rate: float = 0.0

    @classmethod
    def from_config(cls, config: FakeConfig) -> Faults:
        """A fresh copy of the initial faults a config asks for."""
        return replace(config.faults)

    def as_dict(self) -> dict[str, Any]:
        """JSON view."""
        return asdict(self)

    def merged(self, patch: Mapping[str, Any]) -> Faults:
        """A copy with ``patch`` applied; raises FaultError on an unknown key or a bad value."""
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in patch.items():
            if key not in known:
                raise FaultError(f"unknown fault {key!r}")
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if key in _RATES:
                if not is_number or not 0.0 <= value <= 1.0:
                    raise FaultError(f"{key} must be a number in [0, 1]")
                changes[key] = float(value)
            elif key in _COUNTS:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise FaultError(f"{key} must be a non-negative integer")
                changes[key] = value
            elif key == "quota_exhausted":
                if not isinstance(value, bool):
                    raise FaultError("quota_exhausted must be a boolean")
                changes[key] = value
            else:  # processing_seconds
                if not is_number or value < 0:
                    raise FaultError(f"{key} must be a non-negative number")
                changes[key] = float(value)
        return replace(self, **changes)


@dataclass
class FakeConfig:
    """Everything a fake can be told at start; the fault fields are the initial fault config.

    ``clock`` returns epoch seconds (tests inject one and move it instead of sleeping); ``seed``
    seeds each fake's ``random.Random`` (fault draws, processing failures), reseeded on reset.
    Limits, lifetimes and quotas default to the real platforms' documented values.
    """

    @classmethod
    def of(cls, **settings: Any) -> FakeConfig:
        """A config from flat keywords: fault names go to `faults`, the rest to the config."""
        names = {f.name for f in fields(Faults)}
        faults = Faults(**{k: v for k, v in settings.items() if k in names})
        return cls(faults=faults, **{k: v for k, v in settings.items() if k not in names})

    # False lifts every platform's rate limits and daily quotas (benchmarks, soak tests);
    # use `without_rate_limits()`, which also lifts the ones kept as fields below.
    rate_limits: bool = True
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"  # noqa: S105 - the sandbox's published fake secret
    seed: int = 0
    clock: Callable[[], float] = time.time
    # Initial faults; changeable at runtime on /{platform}/_fake/faults.
    faults: Faults = field(default_factory=Faults)
    # YouTube
    youtube_access_ttl_seconds: int = 3600
    quota_model: Literal["legacy", "buckets"] = "buckets"
    youtube_daily_units: int = 10_000
    youtube_insert_units_legacy: int = 1600
    youtube_insert_calls_per_day: int = 100
    youtube_session_ttl_seconds: float = 7 * 86400.0
    youtube_failure_reason: str = "conversion"
    youtube_thumbnail_max_bytes: int = 2 * 1024 * 1024  # older pages: 2 MB; newer: 50 MB
    youtube_custom_thumbnails: bool = True  # False: the channel may not set thumbnails
    # TikTok
    tiktok_access_ttl_seconds: int = 86400
    tiktok_refresh_ttl_seconds: int = 365 * 86400
    tiktok_privacy_level_options: tuple[str, ...] = DEFAULT_TIKTOK_PRIVACY
    tiktok_max_video_post_duration_sec: int = 600
    tiktok_comment_disabled: bool = False
    tiktok_duet_disabled: bool = False
    tiktok_stitch_disabled: bool = False
    tiktok_creator_info_per_minute: int = 20
    tiktok_init_per_minute: int = 6
    tiktok_status_per_minute: int = 30
    tiktok_video_query_per_minute: int = 600  # [U] the Display API's default limit
    tiktok_verified_url_prefixes: tuple[str, ...] = ()
    tiktok_upload_url_ttl_seconds: float = 3600.0
    tiktok_fail_reason: str = "file_format_check_failed"

    def without_rate_limits(self) -> FakeConfig:
        """A copy with every rate limit and quota lifted (faults still apply)."""
        many = 1_000_000_000
        return replace(
            self,
            rate_limits=False,
            tiktok_creator_info_per_minute=many,
            tiktok_init_per_minute=many,
            tiktok_status_per_minute=many,
            tiktok_video_query_per_minute=many,
            youtube_insert_calls_per_day=many,
            youtube_daily_units=many,
        )


class AbortConnection(Response):
    """A response that starts and never finishes, so the client sees a transport error.

    Under uvicorn, returning after ``http.response.start`` without a body makes the server
    close the connection (it logs "ASGI callable returned without completing response");
    the declared Content-Length is never met, so httpx raises a ``TransportError``
    (``RemoteProtocolError`` or ``ReadError``/``WriteError`` if the socket is reset first).
    The 502 status is there only so a client that somehow reads the status line retries.
    """

    def __init__(self) -> None:
        super().__init__(status_code=502)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the status line and headers, then stop."""
        await send(
            {
                "type": "http.response.start",
                "status": 502,
                "headers": [(b"content-length", b"64"), (b"content-type", b"text/plain")],
            }
        )


async def drain(request: Request) -> int:
    """Read and discard the request body, so an early error does not become a reset."""
    size = 0
    try:
        async for piece in request.stream():
            size += len(piece)
    except ClientDisconnect:
        pass
    except RuntimeError:  # Starlette's "Stream consumed": a parser already read it all
        pass
    return size


def header_int(request: Request, name: str) -> int | None:
    """An integer header, or None when absent or not a non-negative integer."""
    value = request.headers.get(name)
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def platform_path(request: Request) -> str:
    """The request's path as the real host would see it (without the fake's mount prefix)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def mount_base(request: Request) -> str:
    """Absolute URL of the fake's mount point as the client reached it (no trailing slash)."""
    root = request.scope.get("root_path", "")
    return str(request.url.replace(path=root, query="")).rstrip("/")


class PlatformFake(ABC):
    """One platform's fake: its API routes plus the shared ``/_fake`` control routes."""

    access_prefix = "tok."
    refresh_prefix = "ref."
    scopes: tuple[str, ...] = ()
    # The platform's OAuth consent page (the path on its real authorization host), and the
    # name its authorize request gives the client id; an empty path serves no consent page.
    authorize_path = ""
    client_id_param = "client_id"
    # False where the platform's web flow has no PKCE: a challenge, if sent, is still enforced.
    pkce_required = True

    def __init__(self, config: FakeConfig | None = None, *, name: str = "") -> None:
        self.config = config or FakeConfig()
        self.name = name or type(self).__name__
        self.faults = Faults.from_config(self.config)
        self.rng = random.Random(f"{self.config.seed}:{self.name}")
        self.calls: Counter[str] = Counter()
        self.tokens = TokenStore(
            self.config.clock,
            access_prefix=self.access_prefix,
            refresh_prefix=self.refresh_prefix,
            refresh_ttl=self.refresh_ttl(),
        )

    # -- hooks for each platform ---------------------------------------------------------

    @abstractmethod
    def api_routes(self) -> list[BaseRoute]:
        """The platform's own routes, at the paths of the real hosts."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """The inspection view: posts, calls, open sessions and whatever else helps tests."""

    @abstractmethod
    def default_access_ttl(self) -> float:
        """Access-token lifetime when an account does not set its own."""

    @abstractmethod
    def new_external_id(self) -> str:
        """A platform-shaped user id for an account created without one."""

    @abstractmethod
    def server_error(self) -> Response:
        """The platform's own 5xx."""

    @abstractmethod
    def rate_limited(self) -> Response:
        """The platform's own 429."""

    @abstractmethod
    def error_response(self, status: int, message: str) -> Response:
        """The platform's own error body and content type for an error the framework raises:
        an unknown route (404), a wrong method (405), an unparseable body (400), a crash (500).

        A platform that answers such requests with another status (Graph's 400) says so here.
        """

    def refresh_ttl(self) -> float | None:
        """Refresh-token lifetime; None means it lives until revoked."""
        return None

    @abstractmethod
    def clear_state(self) -> None:
        """Drop the platform's posts and sessions (called by reset)."""

    # -- shared behaviour ----------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock (injectable through FakeConfig.clock)."""
        return self.config.clock()

    def chance(self, rate: float) -> bool:
        """A seeded coin flip that comes up True with probability ``rate``."""
        return rate > 0.0 and self.rng.random() < rate

    async def injected_latency(self) -> None:
        """Wait the configured latency, if any."""
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)

    async def injected_fault(self) -> Response | None:
        """Apply latency, then maybe answer with an injected 5xx or 429 instead of the API."""
        await self.injected_latency()
        if self.chance(self.faults.failure_rate):
            return self.server_error()
        if self.chance(self.faults.rate_limit_rate):
            return self.rate_limited()
        return None

    def take_drop_after_commit(self) -> bool:
        """True (and one fewer left) when the next completing response must be dropped."""
        if self.faults.drop_response_after_commit > 0:
            self.faults.drop_response_after_commit -= 1
            return True
        return False

    def reset(self) -> None:
        """Back to the state the fake started in."""
        self.calls.clear()
        self.tokens.clear()
        self.faults = Faults.from_config(self.config)
        self.rng.seed(f"{self.config.seed}:{self.name}")
        self.clear_state()

    def asgi(self) -> Starlette:
        """The ASGI app to mount under the platform's prefix."""
        app = Starlette(
            routes=[*self._control_routes(), *self.api_routes()],
            # Every error reaches the client in the platform's envelope, never Starlette's
            # plain-text "Not Found": a client library parses it as the platform's error.
            exception_handlers={
                HTTPException: self._framework_error,
                ClientDisconnect: self._disconnected,
                Exception: self._crash,
            },
        )
        # Real hosts answer a path without its trailing slash with 404, not a redirect.
        app.router.redirect_slashes = False
        return app

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        """An HTTPException from routing or body parsing, in the platform's envelope."""
        assert isinstance(exc, HTTPException)  # registered for HTTPException only
        status, where = exc.status_code, f"{request.method} {platform_path(request)}"
        if status == 404:
            message = f"Unknown path: {where}"
        elif status == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"Unsupported request: {where} (this path serves {allowed})"
        else:
            message = f"{exc.detail} ({where})"
        await drain(request)
        response = self.error_response(status, message)
        if response.status_code == status:
            response.headers.update(exc.headers or {})  # e.g. a 405's Allow
        return response

    async def _disconnected(self, request: Request, exc: Exception) -> Response:
        """The client went away before its body arrived (a worker killed mid-call), wherever
        the fake was reading it. That is the client's doing, not a crash of the fake: answered
        (to no one) instead of re-raised, so no traceback reaches the log."""
        where = f"{request.method} {platform_path(request)}"
        return self.error_response(400, f"The connection closed before the body arrived ({where})")

    async def _crash(self, request: Request, exc: Exception) -> Response:
        """A bug in the fake still answers in the platform's 500 envelope (and is logged)."""
        return self.error_response(500, f"Internal error ({type(exc).__name__})")

    def _control_routes(self) -> list[BaseRoute]:
        consent = (
            [Route(self.authorize_path, self._authorize, methods=["GET"])]
            if self.authorize_path
            else []
        )
        return [
            *consent,
            Route("/_fake/accounts", self._accounts, methods=["GET", "POST"]),
            Route("/_fake/state", self._state, methods=["GET"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
            Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
        ]

    async def _accounts(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(
                [
                    {"handle": a.handle, "external_id": a.external_id}
                    for a in self.tokens.accounts.values()
                ]
            )
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        handle = body.get("handle") if isinstance(body, dict) else None
        external_id = body.get("external_id") if isinstance(body, dict) else None
        ttl = body.get("access_ttl_seconds") if isinstance(body, dict) else None
        if not isinstance(handle, str) or not handle:
            return JSONResponse({"error": "handle must be a non-empty string"}, status_code=400)
        if external_id is not None and (not isinstance(external_id, str) or not external_id):
            return JSONResponse({"error": "external_id must be a string or null"}, 400)
        if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0):
            return JSONResponse({"error": "access_ttl_seconds must be an int >= 0"}, 400)
        if external_id is None:
            known = self.tokens.find_by_handle(handle)
            external_id = known.external_id if known else self.new_external_id()
        grant = self.tokens.consent(
            handle, external_id, self.default_access_ttl() if ttl is None else ttl
        )
        return JSONResponse(
            {
                "external_id": grant.account.external_id,
                "handle": grant.account.handle,
                "access_token": grant.access_token,
                "refresh_token": grant.refresh_token,
                "expires_in": grant.expires_in,
                "scopes": list(self.scopes),
            }
        )

    async def _authorize(self, request: Request) -> Response:
        """The consent page of the authorization-code flow with PKCE (S256 required).

        A person clicks Allow or Deny; a test adds ``consent=allow`` (and ``handle``) to the
        query instead. A bad client or redirect answers 400 here and never redirects.
        """
        self.calls["oauth.authorize"] += 1
        query = request.query_params
        client_id, redirect_uri = query.get(self.client_id_param), query.get("redirect_uri")
        if client_id != self.config.client_id:
            return HTMLResponse("<h1>Invalid client</h1>", status_code=400)
        if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
            return HTMLResponse("<h1>Invalid redirect_uri</h1>", status_code=400)

        def back(**params: str) -> Response:
            joiner = "&" if "?" in redirect_uri else "?"
            location = (
                f"{redirect_uri}{joiner}{urlencode({**params, 'state': query.get('state', '')})}"
            )
            return RedirectResponse(location, status_code=302)

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type")
        challenge = query.get("code_challenge") or ""
        if (challenge or self.pkce_required) and (
            query.get("code_challenge_method") != "S256" or not challenge
        ):
            return back(error="invalid_request", error_description="PKCE S256 is required")
        decision = query.get("consent")
        if decision is None:
            here = html.escape(str(request.url))
            return HTMLResponse(
                f"<h1>{html.escape(self.name)}: allow crosspost to post for you?</h1>"
                f'<form method="get"><input type="hidden" name="consent" value="allow">'
                f'<label>Account <input name="handle" value="sandbox_user"></label></form>'
                f'<p><a href="{here}&amp;consent=allow">Allow</a> '
                f'<a href="{here}&amp;consent=deny">Deny</a></p>'
            )
        if decision != "allow":
            return back(error="access_denied", error_description="The user denied access")
        handle = query.get("handle") or "sandbox_user"
        known = self.tokens.find_by_handle(handle)
        code = self.tokens.issue_code(
            handle,
            known.external_id if known else self.new_external_id(),
            self.default_access_ttl(),
            client_id=client_id,
            redirect_uri=redirect_uri,
            challenge=challenge,
        )
        return back(code=code)

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults = Faults(processing_seconds=self.config.faults.processing_seconds)
        elif request.method == "POST":
            try:
                patch = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            if not isinstance(patch, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            expire = patch.pop("expire_tokens", False)
            if not isinstance(expire, bool):
                return JSONResponse({"error": "expire_tokens must be a boolean"}, 400)
            try:
                self.faults = self.faults.merged(patch)
            except FaultError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if expire:
                self.tokens.expire_all()
        return JSONResponse(self.faults.as_dict())


def iso_time(timestamp: float) -> str:
    """RFC 3339 UTC time with a Z suffix, as Google and TikTok print it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def random_id(rng: random.Random, alphabet: str, length: int) -> str:
    """An id drawn from ``alphabet``."""
    return "".join(rng.choice(alphabet) for _ in range(length))


ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_id_rng = random.SystemRandom()


def unique_id(length: int, alphabet: str = ID_ALPHABET) -> str:
    """An id that never repeats across resets (ids must not collide with a client's old ones)."""
    return random_id(_id_rng, alphabet, length)


__all__ = [
    "AbortConnection",
    "Account",
    "AuthFailure",
    "FakeConfig",
    "FaultError",
    "Faults",
    "Grant",
    "PlatformFake",
    "RateWindow",
    "TokenStore",
    "drain",
    "header_int",
    "iso_time",
    "mount_base",
    "platform_path",
    "unique_id",
]
