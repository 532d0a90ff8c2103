"""Fake GitHub REST API (api.github.com), strict, with a seeded sample repository and webhooks.

Written from GitHub's REST and webhook documentation (`github_rules`, `github_hooks`), never
from our client. Strict about:

* every request: a ``User-Agent`` (403 without one), a supported ``X-GitHub-Api-Version``
  (400 otherwise; the fake serves 2022-11-28 only), ``Authorization: Bearer|token <token>``
  (401 "Bad credentials" for an unknown token; 401 "Requires authentication" where a token is
  needed); an unknown path or a method a path does not serve is 404, as on GitHub;
* access: tokens are fine-grained PATs minted on ``/_fake/tokens`` with read/write/admin per
  repository; a private repository the caller cannot see is 404; a write without write access
  is 403 "Resource not accessible by personal access token"; public repositories read
  anonymously (60 requests an hour per IP);
* rate limits: ``X-RateLimit-Limit/-Remaining/-Used/-Reset/-Resource`` on every API answer,
  5000 an hour per user by default, 403 "API rate limit exceeded for user ID …" once spent;
  a 304 to an authenticated conditional request is free, as GitHub documents;
* conditional requests: a weak ``ETag`` on every GET (``Last-Modified`` on single resources
  and commit lists), ``If-None-Match``/``If-Modified-Since`` answered 304 with no body.

The API lives at the mount root, as on api.github.com (mounted at ``/github``, a client's base
URL is ``…/github``). Control routes: ``/_fake/reset``, ``/_fake/state``, ``/_fake/faults``
(next N requests answer 500/502/503, or a secondary rate limit with Retry-After; or spend a
user's primary limit), ``/_fake/tokens``, ``/_fake/repos``, ``/_fake/events`` (commits, pull
requests, issues, releases at chosen times), ``/_fake/hooks``, ``/_fake/deliver`` and
``/_fake/redeliver``.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import mount_base, platform_path, unique_id
from crosspost.fakes.github_call import Call, Endpoint
from crosspost.fakes.github_controls import Controls
from crosspost.fakes.github_git import WRITES
from crosspost.fakes.github_hooks import Hooks
from crosspost.fakes.github_model import Repo, Shapes, Token, rank
from crosspost.fakes.github_reads import READS
from crosspost.fakes.github_rules import (
    API_VERSIONS,
    MEDIA_TYPE,
    NOT_ACCESSIBLE,
    SECONDARY_DOCS,
    SECONDARY_LIMITED,
    USER_AGENT_REQUIRED,
    Answer,
    ApiError,
    doc_url,
    etag_matches,
    http_date,
    not_found,
    parse_http_date,
    primary_limited,
    unsupported_version,
    weak_etag,
)
from crosspost.fakes.github_world import SAMPLE_OWNER, SAMPLE_REPO, World, build_sample

# The sandbox's published fake tokens, shaped like fine-grained PATs: admin and read-only on
# the sample repository.
SANDBOX_TOKEN = (
    "github_pat_11SANDBOX0CROSSPOST000_adminOnSandboxDevCrosspostDemo0publishedFakeSandboxToken000"  # noqa: S105
)
SANDBOX_READ_TOKEN = (
    "github_pat_11SANDBOX0READONLY0000_readOnSandboxDevCrosspostDemo0publishedFakeSandboxToken0000"  # noqa: S105
)
READER = "sandbox-reader"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SERVER_ERRORS = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_METHODS = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]


@dataclass(frozen=True)
class GitHubFakeConfig:
    """The fake's knobs; limits default to GitHub's documented ones.

    ``clock`` returns epoch seconds (tests move it instead of sleeping); ``seed`` makes the
    sample repository and the hook agent's version; the sample is built at the clock's time
    of construction and of every reset.
    """

    seed: int = 0
    clock: Callable[[], float] = time.time
    rate_limit: int = 5000
    anonymous_rate_limit: int = 60
    rate_window_seconds: int = 3600
    sample: bool = True
    sample_private: bool = False
    hook_timeout_seconds: float = 10.0


@dataclass
class _Window:
    limit: int
    reset: float
    used: int = 0


class GitHubFake:
    """The fake's state: the world, tokens, rate windows, faults, hooks and request log."""

    def __init__(self, config: GitHubFakeConfig | None = None) -> None:
        self.config = config or GitHubFakeConfig()
        rng = random.Random(f"github-hookshot:{self.config.seed}")
        self.hooks = Hooks(
            f"GitHub-Hookshot/{rng.getrandbits(28):07x}", self.config.hook_timeout_seconds
        )
        self.world = World()
        self.tokens: dict[str, Token] = {}
        self.windows: dict[str, _Window] = {}
        self.faults: list[dict[str, Any]] = []
        self.latency_ms = 0  # added to every API answer (a slow GitHub), until reset
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self._served = 0
        self.controls = Controls(self)
        self.reset()

    def now(self) -> float:
        """The fake's clock."""
        return self.config.clock()

    def reset(self) -> None:
        """Back to the state the fake started in (the sample rebuilt at the clock's now)."""
        self.world = World()
        self.tokens.clear()
        self.windows.clear()
        self.faults.clear()
        self.latency_ms = 0
        self.requests.clear()
        self.hooks.clear()
        owner = self.world.user(SAMPLE_OWNER)
        if self.config.sample:
            build_sample(
                self.world, self.now(), self.config.seed, private=self.config.sample_private
            )
        sample = f"{SAMPLE_OWNER}/{SAMPLE_REPO}".lower()
        self.tokens[SANDBOX_TOKEN] = Token(SANDBOX_TOKEN, owner, {sample: "admin"})
        reader = self.world.user(READER, "Sandbox Reader")
        self.tokens[SANDBOX_READ_TOKEN] = Token(SANDBOX_READ_TOKEN, reader, {sample: "read"})

    def mint(self, login: str, repos: dict[str, str]) -> Token:
        """A new fine-grained token for a user (created when new)."""
        value = f"github_pat_11{unique_id(20, _ALNUM)}_{unique_id(59, _ALNUM)}"
        token = Token(value, self.world.user(login), {k.lower(): v for k, v in repos.items()})
        self.tokens[value] = token
        return token

    def state(self) -> dict[str, Any]:
        """The inspection view (token values are never shown)."""
        return {
            "repos": [_repo_view(r) for r in self.world.repos.values()],
            "users": sorted(u.login for u in self.world.users.values()),
            "tokens": [
                {"login": t.user.login, "repos": dict(t.repos)} for t in self.tokens.values()
            ],
            "rate_limits": {
                k: {"limit": w.limit, "used": w.used, "reset": int(w.reset)}
                for k, w in self.windows.items()
            },
            "faults": list(self.faults),
            "hooks": [
                {
                    "id": h.id,
                    "repo": h.repo.full_name,
                    "url": h.url,
                    "events": list(h.events),
                    "content_type": h.content_type,
                }
                for h in self.hooks.hooks.values()
            ],
            "deliveries": [d.view() for d in self.hooks.deliveries],
            "requests": list(self.requests),
        }

    def asgi(self) -> Starlette:
        """The ASGI app: the REST API at the root plus the ``/_fake`` controls."""
        by_path: dict[str, dict[str, Endpoint]] = {}
        for endpoint in (*READS, *WRITES, _RATE_LIMIT):
            by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
        routes: list[BaseRoute] = list(self.controls.routes())
        routes += [
            Route(path, self._route(methods), methods=_METHODS) for path, methods in by_path.items()
        ]
        app = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self._framework_error, Exception: self._crash},
        )
        app.router.redirect_slashes = False  # GitHub answers a trailing slash with 404
        return app

    def _route(self, endpoints: dict[str, Endpoint]) -> Callable[[Request], Any]:
        async def serve(request: Request) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await self.serve(request, endpoints.get(method))

        return serve

    # -- the pipeline -------------------------------------------------------------------------

    async def serve(self, request: Request, endpoint: Endpoint | None) -> Response:
        """Answer one API request: user agent, version, token, limits, faults, access, the
        endpoint, then conditional-request handling and the rate-limit headers."""
        self._served += 1
        entry: dict[str, Any] = {"method": request.method, "path": platform_path(request)}
        self.requests.append(entry)  # logged on arrival: a slow answer is seen in flight
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        now = self.now()
        rid = _request_id(self._served, self.config.seed, now)
        agent = request.headers.get("user-agent", "").strip()
        if not agent:
            response: Response = PlainTextResponse(USER_AGENT_REQUIRED, 403)
            response.headers["X-GitHub-Request-Id"] = rid
            entry["status"] = 403
            return response
        token: Token | None = None
        window: _Window | None = None
        charge = False
        try:
            version = request.headers.get("x-github-api-version")
            if version is not None and version not in API_VERSIONS:
                raise unsupported_version(version)
            token = self._token(request)
            window = self._window(token, request, now)
            if window.used >= window.limit:
                raise primary_limited(
                    str(token.user.id) if token else _client(request), rid, now, token is not None
                )
            charge = endpoint is None or endpoint.counts
            self._injected_fault(rid)
            if endpoint is None:
                raise not_found()
            request.state.rate_window = window
            answer = await self._answer(request, endpoint, token, now)
        except ApiError as exc:
            answer = exc.answer()
        fresh = request.method in ("GET", "HEAD") and answer.status == 200
        if fresh and self._not_modified(request, answer, token) and token is not None:
            charge = False  # documented: an authorized 304 is free
        if window is not None:
            window.used += 1 if charge else 0
            answer.headers.update(_limit_headers(window))
        answer.headers.update(
            {
                "X-GitHub-Request-Id": rid,
                "X-GitHub-Media-Type": MEDIA_TYPE,
                "X-GitHub-Api-Version-Selected": API_VERSIONS[0],
                "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            }
        )
        if endpoint is not None and endpoint.accepted:
            answer.headers.setdefault("X-Accepted-GitHub-Permissions", endpoint.accepted)
        entry.update(status=answer.status, login=token.user.login if token else None)
        return answer.response()

    def _token(self, request: Request) -> Token | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "basic":  # a token as the password of basic auth also works
            try:
                value = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                value = ""
        elif scheme.lower() not in ("bearer", "token"):
            value = ""
        token = self.tokens.get(value.strip())
        if token is None:
            raise ApiError(401, "Bad credentials")
        return token

    def _window(self, token: Token | None, request: Request, now: float) -> _Window:
        """The caller's current window: per user with a token, per IP address without."""
        if token is None:
            return self._open(f"ip:{_client(request)}", self.config.anonymous_rate_limit, now)
        return self._open(f"user:{token.user.login}", self.config.rate_limit, now)

    def _open(self, key: str, limit: int, now: float) -> _Window:
        # A window opens with the first request after the last one closed, as GitHub's do.
        window = self.windows.get(key)
        if window is None or now >= window.reset:
            window = self.windows[key] = _Window(limit, now + self.config.rate_window_seconds)
        return window

    def exhaust(self, login: str) -> None:
        """Spend a user's primary rate limit for the rest of the current window."""
        window = self._open(f"user:{login}", self.config.rate_limit, self.now())
        window.used = window.limit

    def _injected_fault(self, rid: str) -> None:
        if not self.faults:
            return
        fault = self.faults.pop(0)
        status = fault["status"]
        if fault.get("secondary"):
            raise ApiError(
                status,
                SECONDARY_LIMITED.format(rid=rid),
                doc=SECONDARY_DOCS,
                headers={"Retry-After": str(fault["retry_after"])},
            )
        raise ApiError(status, _SERVER_ERRORS[status])

    async def _answer(
        self, request: Request, endpoint: Endpoint, token: Token | None, now: float
    ) -> Answer:
        doc = doc_url(endpoint.doc_key)
        user = token.user if token else None
        if endpoint.access in ("user", "write") and user is None:
            raise ApiError(401, "Requires authentication", doc=doc)
        repo: Repo | None = None
        permission: str | None = None
        if "owner" in request.path_params:
            full = f"{request.path_params['owner']}/{request.path_params['repo']}"
            repo = self.world.find_repo(full)
            permission = _permission(token, repo) if repo else None
            if repo is None or (repo.private and rank(permission) < 1):
                raise not_found(doc)  # GitHub hides what the caller may not see
            if endpoint.access == "write" and rank(permission) < 2:
                raise ApiError(
                    403,
                    NOT_ACCESSIBLE,
                    doc=doc,
                    headers={"X-Accepted-GitHub-Permissions": endpoint.accepted},
                )
        call = Call(
            request,
            self.world,
            Shapes(mount_base(request)),
            user,
            permission,
            now,
            endpoint.doc_key,
            repo,
        )
        return await endpoint.handler(call)

    def _not_modified(self, request: Request, answer: Answer, token: Token | None) -> bool:
        """Tag the answer; turn it into a bodiless 304 when the client's copy is current."""
        who = token.user.login if token else ""
        etag = weak_etag(answer.content(), f"{request.headers.get('accept', '')}|{who}")
        answer.headers["ETag"] = etag
        answer.headers["Cache-Control"] = (
            "private, max-age=60, s-maxage=60" if token else "public, max-age=60, s-maxage=60"
        )
        if answer.last_modified is not None:
            answer.headers["Last-Modified"] = http_date(answer.last_modified)
        if_none_match = request.headers.get("if-none-match")
        since = request.headers.get("if-modified-since")
        if if_none_match is not None:
            fresh = etag_matches(if_none_match, etag)
        elif since is not None and answer.last_modified is not None:
            stamp = parse_http_date(since)
            fresh = stamp is not None and int(answer.last_modified) <= stamp
        else:
            fresh = False
        if fresh:
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k in ("ETag", "Last-Modified", "Cache-Control", "Link")
            }
            answer.status, answer.body, answer.raw, answer.headers = 304, None, None, kept
        return fresh

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if platform_path(request).startswith("/_fake/"):
            return JSONResponse(
                {"error": f"{exc.detail} ({request.method} {platform_path(request)})"},
                exc.status_code,
            )
        return await self.serve(request, None)

    async def _crash(self, request: Request, exc: Exception) -> Response:
        return ApiError(500, "Server Error").answer().response()


async def _rate_limit(call: Call) -> Answer:
    """GET /rate_limit: the caller's window (the pipeline leaves it on the request)."""
    window: _Window = call.request.state.rate_window
    core = {
        "limit": window.limit,
        "used": min(window.used, window.limit),
        "remaining": max(0, window.limit - window.used),
        "reset": int(window.reset),
        "resource": "core",
    }
    return Answer({"resources": {"core": core}, "rate": core})


_RATE_LIMIT = Endpoint("GET", "/rate_limit", _rate_limit, "rate_limit", "any", counts=False)


def _request_id(served: int, seed: int, now: float) -> str:
    """An X-GitHub-Request-Id in GitHub's five-group shape (``1C45:12F767:6C7E73:…``)."""
    mixed = (served * 2_654_435_761 + seed) & 0xFFFFFFFFFFFF
    groups = (
        f"{served & 0xFFFF:04X}",
        f"{mixed >> 24:06X}",
        f"{mixed & 0xFFFFFF:06X}",
        f"{seed & 0xFFFFFF:06X}",
        f"{int(now) & 0xFFFFFFFF:08X}",
    )
    return ":".join(groups)


def _limit_headers(window: _Window) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(max(0, window.limit - window.used)),
        "X-RateLimit-Used": str(min(window.used, window.limit)),
        "X-RateLimit-Reset": str(int(window.reset)),
        "X-RateLimit-Resource": "core",
    }


def _client(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


def _permission(token: Token | None, repo: Repo) -> str | None:
    if token is None:
        return None
    granted = token.repos.get(repo.full_name.lower())
    if granted is None and repo.owner == token.user:
        granted = "admin"
    return granted or (None if repo.private else "read")


def _repo_view(repo: Repo) -> dict[str, Any]:
    return {
        "full_name": repo.full_name,
        "private": repo.private,
        "default_branch": repo.default_branch,
        "branches": {
            k.removeprefix("refs/heads/"): v
            for k, v in repo.refs.items()
            if k.startswith("refs/heads/")
        },
        "tags": {
            k.removeprefix("refs/tags/"): v
            for k, v in repo.refs.items()
            if k.startswith("refs/tags/")
        },
        "pulls": len(repo.pulls),
        "issues": len(repo.issues),
        "releases": len(repo.releases),
        "commits": len(repo.store.commits),
    }


def create_github_app(config: GitHubFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = GitHubFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "SANDBOX_READ_TOKEN",
    "SANDBOX_TOKEN",
    "GitHubFake",
    "GitHubFakeConfig",
    "create_github_app",
]
