"""/internal/credentials: decrypted tokens for trusted internal services (seed 001).

Off unless CROSSPOST_INTERNAL_API_KEY is set; callers send it as `X-Internal-Key`. Every
call names the tenant it acts for and is written to the account's ledger. Serve it only on
a private network.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.domain.models import TokenLifetime
from crosspost.engine.services import Services
from crosspost.engine.tokens import resolve_credentials, update_token
from crosspost.errors import Forbidden

router = APIRouter(prefix="/internal/credentials", tags=["internal"])
_ERRORS = problem_responses(403, 404, 422)


class ResolveRequest(BaseModel):
    """Which account's credentials, for which tenant."""

    model_config = ConfigDict(extra="forbid")
    tenant_id: str = Field(min_length=1, max_length=40)
    account_id: str = Field(min_length=1, max_length=40)


class ResolvedCredentials(BaseModel):
    """An account's decrypted tokens."""

    account_id: str
    platform: str
    external_id: str
    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(repr=False)
    expires_at: datetime | None
    scopes: list[str]


class TokenUpdate(ResolveRequest):
    """A token the caller refreshed itself."""

    access_token: str = Field(min_length=1, max_length=8192, repr=False)
    refresh_token: str | None = Field(default=None, max_length=8192, repr=False)
    expires_in: TokenLifetime | None = None


def _caller(svc: ServicesDep, x_internal_key: Annotated[str | None, Header()] = None) -> Services:
    configured = svc.settings.internal_api_key
    expected = configured.get_secret_value() if configured else None
    # compare_digest: the time taken must not reveal how much of the key was right.
    if (
        not expected
        or not x_internal_key
        or not hmac.compare_digest(x_internal_key.encode(), expected.encode())
    ):
        raise Forbidden("a valid X-Internal-Key is required", code="internal_key_invalid")
    return svc


InternalDep = Annotated[Services, Depends(_caller)]


@router.post("/resolve", response_model=ResolvedCredentials, responses=_ERRORS)
async def resolve(
    body: ResolveRequest, svc: InternalDep, response: Response
) -> ResolvedCredentials:
    """The account's decrypted tokens (never cached by anything in between)."""
    response.headers["Cache-Control"] = "no-store"
    # It may refresh the token with the platform: off the event loop and the database's threads.
    account, creds = await run_in_threadpool(
        resolve_credentials,
        svc,
        tenant_id=body.tenant_id,
        account_id=body.account_id,
        caller="internal",
    )
    return ResolvedCredentials(
        account_id=account["id"],
        platform=account["platform"],
        external_id=account["external_id"],
        access_token=creds.access_token,
        refresh_token=creds.refresh_token,
        expires_at=creds.expires_at,
        scopes=creds.scopes,
    )


@router.post("/update-token", status_code=204, responses=_ERRORS)
async def update(body: TokenUpdate, svc: InternalDep) -> Response:
    """Store a token the caller refreshed; a missing refresh token keeps the stored one."""
    now = svc.clock.now()
    expires = now + timedelta(seconds=body.expires_in) if body.expires_in is not None else None
    await svc.db.run(
        update_token,
        svc,
        tenant_id=body.tenant_id,
        account_id=body.account_id,
        access_token=body.access_token,
        refresh_token=body.refresh_token,
        expires_at=expires,
        caller="internal",
    )
    return Response(status_code=204)
