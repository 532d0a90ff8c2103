"""/v1/oauth-apps: the third-party apps a tenant registers (admin scope); /v1/oauth-grants:
what its people authorised them to do. An admin sees and revokes every grant of the tenant;
a person signed in sees and revokes their own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from crosspost.api.auth import Principal
from crosspost.api.deps import AdminDep, PrincipalDep, ServicesDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.domain.enums import Mode
from crosspost.domain.models import Page
from crosspost.engine import oauth_apps
from crosspost.errors import Forbidden
from crosspost.store.rows import Row

router = APIRouter(tags=["oauth2"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)
FLAG = "oauth.apps"


class OAuthAppCreate(BaseModel):
    """Register an app that people of this tenant can authorise."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown on the consent screen.")
    client_type: Literal["confidential", "public"] = Field(
        description="confidential: a server that keeps a secret; public: a browser or native "
        "app (PKCE alone, no secret)."
    )
    redirect_uris: list[str] = Field(
        min_length=1, max_length=10,
        description="Where codes may be sent, matched exactly: https, or http to a loopback "
        "address only.",
    )  # fmt: skip
    scopes: list[str] = Field(
        min_length=1, max_length=20, description="The most the app may ask for."
    )


class OAuthAppPublic(BaseModel):
    """An app as listed (a confidential app's secret is shown only at creation)."""

    id: str
    client_id: str = Field(description="The same as id: the OAuth client_id.")
    name: str
    client_type: Literal["confidential", "public"]
    redirect_uris: list[str]
    scopes: list[str]
    mode: Mode = Field(description="The mode of the tokens people grant it: the creator's.")
    created_at: datetime
    revoked_at: datetime | None


class OAuthAppCreated(OAuthAppPublic):
    """A new app with its secret (confidential apps; shown once: a replay answers null)."""

    client_secret: str | None = Field(repr=False)


class OAuthGrantPublic(BaseModel):
    """What a person authorised an app to do."""

    id: str
    client_id: str
    app_name: str
    user_id: str
    user_email: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime = Field(description="When its refresh token was last used.")


def _app(row: Row, secret: str | None = None, *, created: bool = False) -> OAuthAppPublic:
    data = {**row, "client_id": row["id"], "redirect_uris": row["redirect_uris"] or []}
    if created:
        return OAuthAppCreated.model_validate({**data, "client_secret": secret})
    return OAuthAppPublic.model_validate(data)


def _grant(row: Row) -> OAuthGrantPublic:
    return OAuthGrantPublic.model_validate({**row, "app_name": row["client_name"]})


@router.post("/v1/oauth-apps", status_code=201, response_model=OAuthAppCreated, responses=_ERRORS)
async def create_app(
    request: Request,
    body: OAuthAppCreate,
    svc: ServicesDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Register an app in the caller's mode; a confidential app's `client_secret` is in
    this answer only."""
    require_flag(request, FLAG, principal.tenant_id)

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, secret = oauth_apps.create_app(
            svc, conn, tenant_id=principal.tenant_id, name=body.name,
            client_type=body.client_type, redirect_uris=body.redirect_uris,
            scopes=body.scopes, mode=principal.mode, actor=principal.actor(client_ip(request)),
            granter_scopes=principal.scopes,
        )  # fmt: skip
        # A replay answers the app without its secret: no secret rests in the database.
        return (
            _app(row, secret, created=True).model_dump_json().encode(),
            _app(row, None, created=True).model_dump_json().encode(),
        )

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("/v1/oauth-apps", response_model=Page[OAuthAppPublic], responses=_ERRORS)
async def list_apps(
    request: Request, svc: ServicesDep, principal: AdminDep
) -> Page[OAuthAppPublic]:
    """Every app of the tenant, newest first (never their secrets)."""
    require_flag(request, FLAG, principal.tenant_id)
    rows = await svc.db.run(oauth_apps.list_apps, svc, principal.tenant_id)
    return Page[OAuthAppPublic](data=[_app(r) for r in rows], has_more=False, next_cursor=None)


@router.get("/v1/oauth-apps/{app_id}", response_model=OAuthAppPublic, responses=_ERRORS)
async def get_app(
    request: Request, app_id: str, svc: ServicesDep, principal: AdminDep
) -> OAuthAppPublic:
    """One app."""
    require_flag(request, FLAG, principal.tenant_id)
    return _app(await svc.db.run(oauth_apps.get_app, svc, principal.tenant_id, app_id))


@router.delete("/v1/oauth-apps/{app_id}", status_code=204, responses=_ERRORS)
async def delete_app(
    request: Request, app_id: str, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Revoke an app: every grant people gave it ends, and its tokens stop working here at
    once and on other API processes within seconds."""
    require_flag(request, FLAG, principal.tenant_id)
    await svc.db.run(
        lambda: oauth_apps.delete_app(
            svc,
            tenant_id=principal.tenant_id,
            app_id=app_id,
            actor=principal.actor(client_ip(request)),
        )
    )
    return Response(status_code=204)


def _whose(principal: Principal) -> str | None:
    """Whose grants the caller may see: everyone's for an admin, else their own."""
    if principal.holds("admin"):
        return None
    if principal.key_id.startswith("usr_"):
        return principal.key_id
    raise Forbidden(
        "sign in as a person to see the apps you authorised, or use an admin key to see "
        "every grant of the tenant",
        code="person_required",
    )


@router.get("/v1/oauth-grants", response_model=Page[OAuthGrantPublic], responses=_ERRORS)
async def list_grants(
    request: Request,
    svc: ServicesDep,
    principal: PrincipalDep,
    client_id: Annotated[str | None, Query(max_length=40, description="One app's.")] = None,
    user_id: Annotated[str | None, Query(max_length=40, description="One person's.")] = None,
) -> Page[OAuthGrantPublic]:
    """The active grants: every one of the tenant for an admin, a person's own otherwise."""
    require_flag(request, FLAG, principal.tenant_id)
    mine = _whose(principal)
    rows = await svc.db.run(
        lambda: oauth_apps.list_grants(
            svc, principal.tenant_id, user_id=mine or user_id, client_id=client_id
        )
    )
    return Page[OAuthGrantPublic](data=[_grant(r) for r in rows], has_more=False,
                                  next_cursor=None)  # fmt: skip


@router.delete("/v1/oauth-grants/{grant_id}", status_code=204, responses=_ERRORS)
async def revoke_grant(
    request: Request, grant_id: str, svc: ServicesDep, principal: PrincipalDep
) -> Response:
    """Revoke a grant: the app's refresh token stops at once, its access tokens within
    seconds. A person may revoke their own; an admin any of the tenant's."""
    require_flag(request, FLAG, principal.tenant_id)
    mine = _whose(principal)
    await svc.db.run(
        lambda: oauth_apps.revoke_grants(
            svc,
            tenant_id=principal.tenant_id,
            grant_id=grant_id,
            user_id=mine,
            actor=principal.actor(client_ip(request)),
        )
    )
    return Response(status_code=204)
