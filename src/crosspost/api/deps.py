"""`Annotated` dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from crosspost.api.auth import KeyCache, Principal, authenticate
from crosspost.api.signature import verify_request
from crosspost.engine.services import Services
from crosspost.usage.ratelimit import RateLimiter, rate_limited_error, resolve_policies


async def get_services(request: Request) -> Services:
    """The process's services, attached to the app at creation (async: no thread hop)."""
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    request: Request,
    svc: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The authenticated caller, within its rate limits."""
    cache: KeyCache = request.app.state.key_cache
    principal = await svc.db.run(authenticate, svc, authorization, cache)
    request.state.principal = principal  # for analytics, which run after the response
    await verify_request(request, svc, principal)
    request.app.state.analytics.check_api_calls(principal.tenant_id, request.url.path)
    await _enforce_rate_limit(request, svc, principal)
    return principal


async def _enforce_rate_limit(request: Request, svc: Services, principal: Principal) -> None:
    policies = resolve_policies(
        svc.settings.rate_limit_tiers, principal.tier, principal.rate_limits
    )
    if not policies:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = await limiter.hit(principal.key_id, policies, svc.clock.now().timestamp())
    if not decision.allowed:
        raise rate_limited_error(decision)
    # EdgeMiddleware copies these onto the answer, whatever the handler returns.
    request.state.response_headers = decision.headers()


PrincipalDep = Annotated[Principal, Depends(get_principal)]
