"""Fake Twitch: app and user tokens, Get Users, Get Clips and clip downloads, strictly.

Written from Twitch's documentation (authentication guides, the API guide, the reference for Get
Users, Get Clips and Get Clips Download) and the error bodies developers report, never from our
client; rules and messages live in `twitch_rules`. Under its mount (``/twitch`` in the sandbox)
the paths are those of the real hosts:

- id.twitch.tv: ``POST /oauth2/token`` (client_credentials, authorization_code, refresh_token),
  ``GET /oauth2/validate``, ``POST /oauth2/revoke``, ``GET /oauth2/authorize`` (consent page);
- api.twitch.tv: ``GET /helix/users``, ``GET /helix/clips``, ``GET /helix/clips/downloads``;
- the CDN: ``GET /cdn/clips/{id}/landscape.mp4`` (signed, expiring) and ``GET /cdn/thumbs/…``.

Strict about: ``Authorization: Bearer`` with a live token AND a ``Client-Id`` equal to the
token's client on every Helix call (401 in Helix's envelope otherwise); every Get Clips parameter
(one selector, first 1-100, RFC 3339 dates with the documented one-week default and ignored
seconds, after or before, signed cursors bound to their query); Get Clips Download's user token,
scope and editor checks; a token bucket per client (per client and user for user tokens) with
``Ratelimit-*`` headers and 429 when empty. Controls: ``/_fake/reset``, ``/_fake/state``,
``/_fake/requests``, ``/_fake/clips``, ``/_fake/faults``, ``/_fake/accounts``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from crosspost.fakes import twitch_rules as rules
from crosspost.fakes.base import drain, mount_base, platform_path, unique_id
from crosspost.fakes.tokens import Account, AuthFailure, Grant, TokenStore
from crosspost.fakes.twitch_rules import (
    SANDBOX_BROADCASTER_ID,
    SANDBOX_LOGIN,
    AppTokens,
    Clip,
    ClipQuery,
    Cursors,
    HelixError,
    TokenBucket,
    User,
    id_error,
)

# The sandbox's published fake app credentials (Twitch's are 30 lowercase letters and digits).
SANDBOX_CLIENT_ID = "crosspostsandboxclient00000001"
SANDBOX_CLIENT_SECRET = "crosspostsandboxsecret00000001"  # noqa: S105 - public sandbox value


@dataclass(frozen=True)
class TwitchFakeConfig:
    """The fake's knobs; limits and lifetimes default to Twitch's documented values."""

    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    clock: Callable[[], float] = time.time  # epoch seconds; tests inject one they move
    seed: int = 0  # the sample channel's clips
    sample_clips: int = 12
    points_per_minute: int = 800  # the guide's bucket size
    app_token_ttl_seconds: int = 5_011_271  # the lifetime in the docs' app token example
    user_token_ttl_seconds: int = 14_400  # about four hours, as observed (not documented)
    download_url_ttl_seconds: int = 900  # the signed CDN URL's life (not documented)


@dataclass(frozen=True)
class Caller:
    """Who a Helix request authenticated as: an app token (no account) or a user token."""

    client_id: str
    account: Account | None
    scopes: tuple[str, ...]

    @property
    def bucket(self) -> str:
        """App tokens share one bucket per client; user tokens get one per client and user."""
        return f"{self.client_id}:{self.account.external_id if self.account else 'app'}"


Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Caller], Awaitable[Response]]


class TwitchFake:
    """The fake's state: users, clips, tokens, buckets, pending faults and the request log."""

    def __init__(self, config: TwitchFakeConfig | None = None) -> None:
        self.config = config or TwitchFakeConfig()
        self._secret = secrets.token_bytes(32)  # signs cursors and CDN URLs
        self.cursors = Cursors(self._secret)
        # Twitch's confidential-client refresh tokens do not expire: they live until revoked.
        self.tokens = TokenStore(
            self.config.clock, access_prefix="", refresh_prefix="", refresh_ttl=None
        )
        self.app_tokens = AppTokens(self.config.clock)
        self.users: dict[str, User] = {}
        self.clips: dict[str, Clip] = {}
        self.scopes: dict[str, tuple[str, ...]] = {}  # user id -> scopes the user granted us
        self.editors: dict[str, set[str]] = {}  # broadcaster id -> editor user ids
        self.expiry: dict[str, float] = {}  # user access token -> expiry, for /validate
        self.buckets: dict[str, TokenBucket] = {}
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.issued: Counter[str] = Counter()
        self._media: dict[str, bytes] = {}  # rendered files; clip ids never repeat, so kept
        self.reset()

    def now(self) -> float:
        """The fake's clock."""
        return self.config.clock()

    def reset(self) -> None:
        """Back to the state the fake started in: the sample channel, nothing issued."""
        for table in (self.scopes, self.editors, self.expiry, self.buckets, self.issued):
            table.clear()
        self.tokens.clear()
        self.app_tokens.clear()
        self.faults.clear()
        self.requests.clear()
        users, clips = rules.sample_channel(self.config.seed, self.now(), self.config.sample_clips)
        self.users = {user.id: user for user in users}
        self.clips = {clip.id: clip for clip in clips}

    def state(self, base: str = "") -> dict[str, Any]:
        """The inspection view (thumbnail URLs under `base`)."""
        return {
            "broadcasters": [u.as_json() for u in self.users.values() if u.broadcaster_type],
            "clips": [
                {**c.as_json(self.users, base), "missing_media": c.missing_media}
                for c in sorted(self.clips.values(), key=lambda c: -c.created_at)
            ],
            "tokens_issued": {"app": self.issued["app"], "user": self.issued["user"]},
            "faults": list(self.faults),
            "requests": list(self.requests),
        }

    def asgi(self) -> Starlette:
        """The ASGI app: id.twitch.tv, api.twitch.tv and CDN paths plus ``/_fake`` controls."""
        app = Starlette(
            routes=[
                Route("/oauth2/authorize", self._logged(self._authorize), methods=["GET"]),
                Route("/oauth2/token", self._logged(self._token), methods=["POST"]),
                Route("/oauth2/validate", self._logged(self._validate), methods=["GET"]),
                Route("/oauth2/revoke", self._logged(self._revoke), methods=["POST"]),
                Route("/helix/users", self._helix(self._users), methods=["GET"]),
                Route("/helix/clips", self._helix(self._clips), methods=["GET"]),
                Route("/helix/clips/downloads", self._helix(self._downloads), methods=["GET"]),
                Route(
                    "/cdn/clips/{clip_id}/landscape.mp4",
                    self._logged(self._cdn_clip),
                    methods=["GET"],
                ),
                Route("/cdn/thumbs/{name}", self._logged(self._cdn_thumb), methods=["GET"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/_fake/state", self._state, methods=["GET"]),
                Route("/_fake/requests", self._requests, methods=["GET"]),
                Route("/_fake/clips", self._add_clip, methods=["POST"]),
                Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
                Route("/_fake/accounts", self._accounts, methods=["GET", "POST"]),
            ],
            exception_handlers={HTTPException: self._framework_error},
        )
        app.router.redirect_slashes = False  # real hosts answer 404, not a redirect
        return app

    # -- api.twitch.tv ------------------------------------------------------------------------

    def _logged(self, handler: Endpoint) -> Endpoint:
        """Log a request to id.twitch.tv or the CDN with the status it got."""

        async def endpoint(request: Request) -> Response:
            entry = self._log(request)
            response = await handler(request)
            entry["status"] = response.status_code
            return response

        return endpoint

    def _helix(self, handler: Handler) -> Endpoint:
        """Wrap a Helix handler in authentication, the rate limit, faults and the log."""

        async def endpoint(request: Request) -> Response:
            entry = self._log(request, params=_params(request))
            limits: dict[str, str] = {}
            try:
                caller = self._caller(request)
                entry["caller"] = f"user:{caller.account.handle}" if caller.account else "app"
                bucket = self.buckets.setdefault(
                    caller.bucket, TokenBucket(self.config.points_per_minute, self.now())
                )
                allowed, limits = bucket.take(self.now())
                if not allowed:
                    raise HelixError(429, "Too Many Requests")
                self._raise_fault("helix")
                response = await handler(request, caller)
            except HelixError as exc:
                if exc.status == 429 and limits:
                    limits["Ratelimit-Remaining"] = "0"
                response = exc.response()
            response.headers.update(limits)
            entry["status"] = response.status_code
            return response

        return endpoint

    def _caller(self, request: Request) -> Caller:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HelixError(401, "OAuth token is missing")
        app = self.app_tokens.live(token)
        account: Account | None = None
        scopes: tuple[str, ...] = ()
        if app is not None:
            owner = app[0]
        else:
            found = self.tokens.authenticate(f"Bearer {token}")
            if isinstance(found, AuthFailure):
                raise HelixError(401, "Invalid OAuth token")
            owner, account = self.config.client_id, found
            scopes = self.scopes.get(found.external_id, ())
        client_id = request.headers.get("client-id")
        if not client_id:
            raise HelixError(401, "Client ID is missing")
        if client_id != owner:
            raise HelixError(401, "Client ID and OAuth token do not match")
        return Caller(owner, account, scopes)

    async def _users(self, request: Request, caller: Caller) -> Response:
        ids = {v for v in request.query_params.getlist("id") if v}
        logins = {v.lower() for v in request.query_params.getlist("login") if v}
        if len(ids) + len(logins) > rules.MAX_USERS:
            raise HelixError(
                400, f"The sum of id and login values may not exceed {rules.MAX_USERS}"
            )
        if not ids and not logins:
            if caller.account is None:
                raise HelixError(400, "Must provide an ID, Login or OAuth Token.")
            ids = {caller.account.external_id}
        me = caller.account.external_id if caller.account else None
        emails = "user:read:email" in caller.scopes
        data = [
            user.as_json(f"{user.login}@sandbox.invalid" if emails and user.id == me else None)
            for user in self.users.values()
            if user.id in ids or user.login in logins
        ]
        return JSONResponse({"data": data})

    async def _clips(self, request: Request, caller: Caller) -> Response:
        query, base = rules.clip_query(request.query_params), mount_base(request)
        if query.ids:
            found = [self.clips[i] for i in dict.fromkeys(query.ids) if i in self.clips]
            return JSONResponse(
                {"data": [c.as_json(self.users, base) for c in found], "pagination": {}}
            )
        page, more = self._page(query)
        pagination = (
            {"cursor": self.cursors.encode(query.fingerprint(), page[0], page[-1])}
            if page and more
            else {}  # Twitch leaves the object empty when there is no further page
        )
        data = [c.as_json(self.users, base) for c in page]
        return JSONResponse({"data": data, "pagination": pagination})

    def _page(self, query: ClipQuery) -> tuple[list[Clip], bool]:
        """The page a query asks for, and whether more lie beyond it in its direction."""
        matching = sorted((c for c in self.clips.values() if query.matches(c)), key=Clip.sort_key)
        size, key = query.first, query.fingerprint()
        if query.after:
            edge = self.cursors.decode(query.after, key, "after")
            rest = [c for c in matching if c.sort_key() > edge]
            return rest[:size], len(rest) > size
        if query.before:
            edge = self.cursors.decode(query.before, key, "before")
            ahead = [c for c in matching if c.sort_key() < edge]
            return ahead[-size:], len(ahead) > size
        return matching[:size], len(matching) > size

    async def _downloads(self, request: Request, caller: Caller) -> Response:
        if caller.account is None:
            # The reference says "an app access token or user access token that includes the
            # editor:manage:clips or channel:manage:clips scope", yet editor_id "must match the
            # user_id in the user access token" and app tokens carry no user or scopes: the
            # strict reading, which a client can always satisfy, is a user token.
            raise HelixError(401, "Missing User OAUTH Token")
        if not set(rules.DOWNLOAD_SCOPES) & set(caller.scopes):
            raise HelixError(401, f"Missing scope: {' or '.join(rules.DOWNLOAD_SCOPES)}")
        broadcaster_id, clip_ids = rules.download_request(
            request.query_params, caller.account.external_id, self.editors
        )
        expires, base = int(self.now() + self.config.download_url_ttl_seconds), mount_base(request)
        data = [
            {
                "clip_id": clip.id,
                "landscape_download_url": f"{base}/cdn/clips/{clip.id}/landscape.mp4?"
                + urlencode({"expires": expires, "sig": self._sign(clip.id, expires)}),
                "portrait_download_url": None,  # "null if the URL is not available"
            }
            for clip in (self.clips.get(i) for i in clip_ids)
            if clip is not None and clip.broadcaster_id == broadcaster_id
        ]
        return JSONResponse({"data": data})

    # -- the CDN ------------------------------------------------------------------------------

    async def _cdn_clip(self, request: Request) -> Response:
        """A signed, expiring media URL: tampered or expired is 403, a missing file 404."""
        clip_id, query = request.path_params["clip_id"], request.query_params
        expires, signature = query.get("expires", ""), query.get("sig", "")
        if not expires.isdigit() or not hmac.compare_digest(
            signature, self._sign(clip_id, int(expires))
        ):
            return PlainTextResponse("AccessDenied: bad signature", 403)
        if int(expires) <= self.now():
            return PlainTextResponse("AccessDenied: Request has expired", 403)
        if self.faults and self.faults[0]["where"] == "cdn":
            return PlainTextResponse("CDN fault", self.faults.pop(0)["status"])
        clip = self.clips.get(clip_id)
        if clip is None or clip.missing_media:
            return PlainTextResponse("NoSuchKey: The specified key does not exist.", 404)
        if clip.id not in self._media:
            shade = rules.shade(clip.id)
            self._media[clip.id] = await run_in_threadpool(rules.render_mp4, clip.duration, shade)
        return Response(self._media[clip.id], media_type="video/mp4")

    async def _cdn_thumb(self, request: Request) -> Response:
        clip_id = request.path_params["name"].removesuffix("-preview-480x272.jpg")
        if clip_id not in self.clips or not request.path_params["name"].endswith(".jpg"):
            return PlainTextResponse("NoSuchKey: The specified key does not exist.", 404)
        image = self._media.get(f"thumb:{clip_id}")
        if image is None:
            image = await run_in_threadpool(rules.render_jpeg, rules.shade(clip_id))
            self._media[f"thumb:{clip_id}"] = image
        return Response(image, media_type="image/jpeg")

    def _sign(self, clip_id: str, expires: int) -> str:
        message = f"{clip_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    # -- id.twitch.tv -------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await rules.form_fields(request)
        if isinstance(form, Response):
            return form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        grant = form.get("grant_type")
        if not client_id:
            return id_error(400, "missing client id")
        if client_id != self.config.client_id:
            return id_error(400, "invalid client")
        if not secret:
            return id_error(400, "missing client secret")
        if not hmac.compare_digest(secret, self.config.client_secret):
            return id_error(403, "invalid client secret")
        if grant == "client_credentials":
            ttl = self.config.app_token_ttl_seconds
            self.issued["app"] += 1
            token = self.app_tokens.issue(client_id, ttl)
            return JSONResponse({"access_token": token, "expires_in": ttl, "token_type": "bearer"})
        if grant == "refresh_token":
            if not form.get("refresh_token"):
                return id_error(400, "missing refresh token")
            # Twitch: "refresh tokens may change", so the fake always rotates them.
            issued = self.tokens.refresh(form["refresh_token"], rotate=True)
            return self._user_grant(issued) if issued else id_error(400, "Invalid refresh token")
        if grant == "authorization_code":
            code, redirect_uri = form.get("code"), form.get("redirect_uri")
            if not code or not redirect_uri:
                return id_error(400, "missing code" if not code else "missing redirect uri")
            issued = self.tokens.redeem_code(
                code, client_id=client_id, redirect_uri=redirect_uri, verifier=""
            )  # Twitch's code flow has no PKCE: the code is bound by the client secret
            return (
                self._user_grant(issued) if issued else id_error(400, "Invalid authorization code")
            )
        return id_error(400, "missing grant type" if not grant else "unsupported grant type")

    def _user_grant(self, grant: Grant) -> Response:
        return JSONResponse(self._grant_body(grant))

    def _grant_body(self, grant: Grant) -> dict[str, Any]:
        """A user token grant as the token endpoint returns it (recorded for /validate)."""
        self.issued["user"] += 1
        self.expiry[grant.access_token] = self.now() + grant.expires_in
        return {
            "access_token": grant.access_token,
            "expires_in": grant.expires_in,
            "refresh_token": grant.refresh_token,
            "scope": list(self.scopes.get(grant.account.external_id, ())),
            "token_type": "bearer",
        }

    async def _validate(self, request: Request) -> Response:
        """The token's client, user and scopes; "OAuth <token>" as documented (Bearer works)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token, now = token.strip(), self.now()
        if scheme.lower() not in ("oauth", "bearer") or not token:
            return id_error(401, "missing authorization token")
        if (app := self.app_tokens.live(token)) is not None:
            return JSONResponse(
                {"client_id": app[0], "scopes": None, "expires_in": int(app[1] - now)}
            )
        found = self.tokens.authenticate(f"Bearer {token}")
        if not isinstance(found, Account):
            return id_error(401, "invalid access token")
        return JSONResponse({
            "client_id": self.config.client_id, "login": found.handle,
            "scopes": list(self.scopes.get(found.external_id, ())) or None,  # null, not []
            "user_id": found.external_id,
            "expires_in": max(int(self.expiry.get(token, now) - now), 0),
        })  # fmt: skip

    async def _revoke(self, request: Request) -> Response:
        form = await rules.form_fields(request)
        if isinstance(form, Response):
            return form
        if not form.get("client_id"):
            return id_error(400, "missing client id")
        if form["client_id"] != self.config.client_id:
            return id_error(404, "client does not exist")
        if not form.get("token"):
            return id_error(400, "missing oauth token")
        if self.app_tokens.revoke(form["token"]) or self.tokens.revoke(form["token"]):
            return Response(status_code=200)
        return id_error(400, "Invalid token")

    async def _authorize(self, request: Request) -> Response:
        """The consent page of the authorization code flow; tests add ``consent=allow`` (and
        ``login``) to the query instead of clicking."""
        query = request.query_params
        redirect_uri = query.get("redirect_uri") or ""
        if query.get("client_id") != self.config.client_id or not redirect_uri.startswith(
            ("http://", "https://")
        ):
            return HTMLResponse("<h1>Invalid client_id or redirect_uri</h1>", status_code=400)

        def back(**params: str) -> Response:
            joiner = "&" if "?" in redirect_uri else "?"
            location = (
                f"{redirect_uri}{joiner}{urlencode({**params, 'state': query.get('state', '')})}"
            )
            return RedirectResponse(location, status_code=302)

        scopes = tuple(dict.fromkeys((query.get("scope") or "").split()))
        if query.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="response_type")
        if unknown := [s for s in scopes if s not in rules.KNOWN_SCOPES]:
            return back(error="invalid_scope", error_description=f"unknown scope {unknown[0]}")
        decision = query.get("consent")
        if decision is None:
            return HTMLResponse(rules.consent_page(str(request.url), scopes))
        if decision != "allow":
            return back(error="access_denied", error_description="The user denied you access")
        user = self._user_for(query.get("login") or SANDBOX_LOGIN)
        self.scopes[user.id] = scopes
        code = self.tokens.issue_code(
            user.login,
            user.id,
            self.config.user_token_ttl_seconds,
            client_id=self.config.client_id,
            redirect_uri=redirect_uri,
            challenge="",
        )
        return back(code=code, scope=" ".join(scopes))

    # -- controls -----------------------------------------------------------------------------

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state(mount_base(request)))

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _add_clip(self, request: Request) -> Response:
        """POST ``{"title", "created_at"?, "view_count"?, "duration"?, "is_featured"?,
        "missing_media"?, "broadcaster_id"?}`` adds a clip (by a regular clipper); 201 + clip."""
        body = await rules.json_object(request)
        if isinstance(body, Response):
            return body
        try:
            clip = rules.clip_from_body(body, self.users, self.now())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.clips[clip.id] = clip
        return JSONResponse(clip.as_json(self.users, mount_base(request)), status_code=201)

    async def _faults(self, request: Request) -> Response:
        """POST ``{"status": 429|500|503, "count"?: N, "where"?: "helix"|"cdn",
        "expire_tokens"?: true}``: the next N Helix (or CDN) requests fail so; expire_tokens
        expires every token issued so far. DELETE drops pending faults."""
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            body = await rules.json_object(request)
            if isinstance(body, Response):
                return body
            try:
                faults, expire = rules.fault_request(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.faults += faults
            if expire:
                self.tokens.expire_all()
                self.app_tokens.expire_all()
        return JSONResponse({"faults": self.faults})

    async def _accounts(self, request: Request) -> Response:
        """POST ``{"login" (or "handle"), "scopes"?: [...], "editor_of"?: [broadcaster ids],
        "access_ttl_seconds"?}`` stands in for a user's consent and returns their tokens; the
        scopes default to channel:manage:clips. GET lists the accounts."""
        if request.method == "GET":
            accounts = self.tokens.accounts.values()
            return JSONResponse([{"login": a.handle, "user_id": a.external_id,
                                  "scopes": list(self.scopes.get(a.external_id, ()))}
                                 for a in accounts])  # fmt: skip
        body = await rules.json_object(request)
        if isinstance(body, Response):
            return body
        try:
            asked = rules.account_request(body, self.config.user_token_ttl_seconds)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        user = self._user_for(asked.login)
        self.scopes[user.id] = asked.scopes
        for broadcaster_id in asked.editor_of:
            self.editors.setdefault(broadcaster_id, set()).add(user.id)
        grant = self.tokens.consent(user.login, user.id, asked.access_ttl)
        # external_id and handle too: the sandbox's test helpers read the platform fakes' names.
        return JSONResponse(
            {
                **self._grant_body(grant),
                "user_id": user.id,
                "login": user.login,
                "external_id": user.id,
                "handle": user.login,
                "client_id": self.config.client_id,
            }
        )

    def _user_for(self, login: str) -> User:
        """The user with this login, created (with a fresh numeric id) if new."""
        known = next((u for u in self.users.values() if u.login == login), None)
        if known is not None:
            return known
        user = User("8" + unique_id(8, "0123456789"), login, login, self.now())
        self.users[user.id] = user
        return user

    def _raise_fault(self, where: str) -> None:
        if self.faults and self.faults[0]["where"] == where:
            status = self.faults.pop(0)["status"]
            raise HelixError(status, "Too Many Requests" if status == 429 else "")

    def _log(self, request: Request, **extra: Any) -> dict[str, Any]:
        """A log entry for this request (never a query string: CDN URLs carry signatures)."""
        entry = {"method": request.method, "path": platform_path(request), **extra}
        self.requests.append(entry)
        return entry

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # registered for HTTPException only
        await drain(request)
        where = f"{request.method} {platform_path(request)}"
        if platform_path(request).startswith("/oauth2/"):
            return id_error(exc.status_code, f"{exc.detail} ({where})")
        return HelixError(exc.status_code, f"{exc.detail} ({where})").response()


def _params(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}


def create_twitch_app(config: TwitchFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = TwitchFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "SANDBOX_BROADCASTER_ID",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_LOGIN",
    "AppTokens",
    "Caller",
    "TwitchFake",
    "TwitchFakeConfig",
    "create_twitch_app",
]
