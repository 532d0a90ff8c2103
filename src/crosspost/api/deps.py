"""`Annotated` dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import SecurityScopes

from crosspost.api.auth import (
    KeyCache,
    Operator,
    Principal,
    authenticate,
    authenticate_operator,
    cached_principal,
    check_csrf,
    check_scopes,
    credentials,
    session_principal,
)
from crosspost.api.security import AUTHORIZATION, OPERATOR, SESSION
from crosspost.api.signature import nonce_reused, verify_request
from crosspost.engine.services import Services
from crosspost.errors import NotFound, Unauthorized
from crosspost.flags import FlagCache
from crosspost.identity.signin import ActiveSession, session_of
from crosspost.usage.admission import Nonce, admit
from crosspost.usage.ratelimit import Policy, RateLimiter, rate_limited_error, resolve_policies


async def get_services(request: Request) -> Services:
    """The process's services, attached to the app at creation (async: no thread hop)."""
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(get_services)]
CSRF_HEADER = "X-CSRF-Token"


def require_flag(request: Request, key: str, tenant_id: str | None) -> None:
    """Refuse with 404 `feature_disabled` when the operator switched capability `key` off
    for the tenant (`crosspost flags`): to that tenant the route is not there."""
    flags: FlagCache = request.app.state.flags
    if not flags.is_on(key, tenant_id):
        raise NotFound(
            f"this capability ({key}) is switched off on this server; ask its operator",
            code="feature_disabled",
        )


def client_ip(request: Request) -> str | None:
    """The caller's address as the audit log records it: the peer's (no forwarding header
    is trusted, since any client can send one)."""
    return request.client.host if request.client else None


async def limit_attempts(request: Request, name: str, per_minute: int, *keys: str) -> None:
    """Refuse (429) an attempt once any of `keys` (an address, an account, a client) made
    `per_minute` of them this minute: guessing a secret stays slow."""
    svc: Services = request.app.state.services
    limiter: RateLimiter = request.app.state.rate_limiter
    policy = Policy(name, per_minute, 60, per_minute)
    now = svc.clock.now().timestamp()
    for key in keys:
        decision = await limiter.hit(f"{name}:{key}", [policy], now)
        if not decision.allowed:
            raise rate_limited_error(decision)


async def _limit_sign_in(request: Request) -> None:
    """Sign-in and reset attempts per address and minute (guessing is slow per account
    too: the lockout)."""
    svc: Services = request.app.state.services
    per_minute = svc.settings.login_attempts_per_minute
    await limit_attempts(request, "signin", per_minute, client_ip(request) or "")


SignInLimited = Annotated[None, Depends(_limit_sign_in)]


async def get_principal(
    request: Request,
    svc: ServicesDep,
    security_scopes: SecurityScopes,
    authorization: Annotated[str | None, Depends(AUTHORIZATION)],
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    session: Annotated[str | None, Depends(SESSION)] = None,
) -> Principal:
    """The authenticated caller, within its rate limits, holding the scopes the route asks
    for with `scoped` (403 otherwise)."""
    authorization = credentials(authorization, x_api_key)
    cache: KeyCache = request.app.state.key_cache
    # A key seen lately needs no database: no thread hop (PostgreSQL) for the common case.
    principal = (
        None if session and not authorization else cached_principal(svc, authorization, cache)
    )
    if principal is None:
        if authorization is None and session is not None:
            csrf = request.headers.get(CSRF_HEADER)
            principal = await svc.db.run(session_principal, svc, session, request.method, csrf)
        else:
            principal = await svc.db.run(authenticate, svc, authorization, cache)
    request.state.principal = principal  # for analytics, which run after the response
    nonce = await verify_request(request, svc, principal)
    request.app.state.analytics.check_api_calls(principal.tenant_id, request.url.path)
    await _admit(request, svc, principal, nonce)
    check_scopes(principal, security_scopes.scopes)
    return principal


def scoped(scope: str) -> Any:
    """A route parameter's `Annotated` metadata: the caller, refused with 403 unless it holds
    `scope`; the OpenAPI document shows the scope in the operation's security."""
    return Security(get_principal, scopes=[scope])


async def _admit(
    request: Request, svc: Services, principal: Principal, nonce: Nonce | None
) -> None:
    """Record a signed request's nonce and count the request against the key's limits (one
    Redis round trip for both when both live there)."""
    policies = resolve_policies(
        svc.settings.rate_limit_tiers, principal.tier, principal.rate_limits
    )
    if not policies and nonce is None:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    now = svc.clock.now()
    admitted = await admit(
        limiter, request.app.state.nonces, principal.key_id, policies, now.timestamp(), nonce
    )
    if nonce is not None and not admitted.fresh:
        raise nonce_reused(nonce, now)
    decision = admitted.decision
    if decision is None:
        return
    if not decision.allowed:
        raise rate_limited_error(decision)
    # EdgeMiddleware copies these onto the answer, whatever the handler returns.
    request.state.response_headers = decision.headers()


async def get_operator(
    svc: ServicesDep,
    authorization: Annotated[str | None, Depends(OPERATOR)],
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Operator:
    """The server's operator, authenticated by an operator key (`/v1/admin/*` only)."""
    return await svc.db.run(authenticate_operator, svc, credentials(authorization, x_api_key))


OperatorDep = Annotated[Operator, Depends(get_operator)]


async def get_session(
    request: Request,
    svc: ServicesDep,
    session: Annotated[str | None, Depends(SESSION)] = None,
) -> ActiveSession:
    """A signed-in person's own session (routes about the person, not the tenant); a
    request that changes something carries its CSRF token."""
    if session is None:
        raise Unauthorized(
            "sign in first (POST /v1/auth/login): this route is a person's own, not a key's",
            code="session_required",
        )
    active = await svc.db.run(session_of, svc, session)
    check_csrf(request.method, request.headers.get(CSRF_HEADER), active)
    return active


SessionDep = Annotated[ActiveSession, Depends(get_session)]

# Any authenticated caller; a route that needs a scope takes one of the aliases below.
PrincipalDep = Annotated[Principal, Depends(get_principal)]
PostsReadDep = Annotated[Principal, scoped("posts:read")]
PostsWriteDep = Annotated[Principal, scoped("posts:write")]
MediaWriteDep = Annotated[Principal, scoped("media:write")]
AccountsWriteDep = Annotated[Principal, scoped("accounts:write")]
WebhooksWriteDep = Annotated[Principal, scoped("webhooks:write")]
UsageReadDep = Annotated[Principal, scoped("usage:read")]
AdminDep = Annotated[Principal, scoped("admin")]
