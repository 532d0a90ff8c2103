"""`Annotated` dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from crosspost.api.auth import KeyCache, Principal, authenticate
from crosspost.engine.services import Services


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
    """The authenticated caller."""
    cache: KeyCache = request.app.state.key_cache
    return await svc.db.run(authenticate, svc, authorization, cache)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
