"""/v1/oauth-clients: partner backends' OAuth 2.0 clients — create, list, read, revoke
(admin scope). A client trades its id and secret for access tokens at POST /oauth/token."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from crosspost.api.deps import AdminDep, ServicesDep, client_ip
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.domain.enums import Mode
from crosspost.domain.models import Page
from crosspost.engine import oauth_clients
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/oauth-clients", tags=["oauth2"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


class OAuthClientCreate(BaseModel):
    """Create a client; its scopes cannot exceed the creating key's."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(
        min_length=1, max_length=20, description="What its tokens may do, e.g. posts:write."
    )
    tier: str | None = Field(
        default=None,
        max_length=16,
        description="Rate-limit tier of its tokens (free, pro, enterprise); default: the "
        "server's default tier.",
    )


class OAuthClientPublic(BaseModel):
    """A client as listed (its secret is shown only once, at creation)."""

    id: str
    client_id: str = Field(description="The same as id: the OAuth client_id.")
    name: str
    scopes: list[str]
    mode: Mode = Field(description="The mode of its tokens: the creating key's.")
    tier: str | None
    created_at: datetime
    revoked_at: datetime | None


class OAuthClientCreated(OAuthClientPublic):
    """A new client with its secret (shown once: a replay of the request answers null)."""

    client_secret: str | None = Field(repr=False)


def _public(row: Row) -> OAuthClientPublic:
    return OAuthClientPublic.model_validate({**row, "client_id": row["id"]})


def _created(row: Row, secret: str | None) -> OAuthClientCreated:
    return OAuthClientCreated.model_validate(
        {**row, "client_id": row["id"], "client_secret": secret}
    )


@router.post("", status_code=201, response_model=OAuthClientCreated, responses=_ERRORS)
async def create_client(
    request: Request,
    body: OAuthClientCreate,
    svc: ServicesDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a client in the key's mode; `client_secret` is in this answer only."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, secret = oauth_clients.create_client(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            name=body.name,
            mode=principal.mode,
            scopes=body.scopes,
            tier=body.tier,
            granter_scopes=principal.scopes,
            actor=principal.actor(client_ip(request)),
        )
        # A replay answers the client without its secret: no secret rests in the database.
        return (
            _created(row, secret).model_dump_json().encode(),
            _created(row, None).model_dump_json().encode(),
        )

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("", response_model=Page[OAuthClientPublic], responses=_ERRORS)
async def list_clients(svc: ServicesDep, principal: AdminDep) -> Page[OAuthClientPublic]:
    """Every client of the tenant, newest first (never their secrets)."""
    rows = await svc.db.run(oauth_clients.list_clients, svc, principal.tenant_id)
    return Page[OAuthClientPublic](
        data=[_public(r) for r in rows], has_more=False, next_cursor=None
    )


@router.get("/{client_id}", response_model=OAuthClientPublic, responses=_ERRORS)
async def get_client(client_id: str, svc: ServicesDep, principal: AdminDep) -> OAuthClientPublic:
    """One client."""
    row = await svc.db.run(oauth_clients.get_client, svc, principal.tenant_id, client_id)
    return _public(row)


@router.delete("/{client_id}", status_code=204, responses=_ERRORS)
async def revoke_client(
    request: Request, client_id: str, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Revoke a client: it gets no new token, and its tokens stop working here at once and
    on other API processes within seconds."""
    await svc.db.run(
        lambda: oauth_clients.revoke_client(
            svc,
            tenant_id=principal.tenant_id,
            client_id=client_id,
            actor=principal.actor(client_ip(request)),
        )
    )
    return Response(status_code=204)
