"""Developers' credentials beyond API keys: a key's signing secrets and the signing policy,
OAuth apps (and the grants people gave them) and OAuth client credentials. Every secret is
shown once, on the page answering its creation, and on no later page."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.engine.keys import SCOPE_DESCRIPTIONS
from crosspost.engine.services import Services
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_APPS = "/app/developers/apps"
_SIGNING = "/app/developers/signing"
# Generous: the API's own limits apply, and its message says which one a form broke.
_LONG = 25_000

FormText = Annotated[str, Form(max_length=_LONG)]
FormKey = Annotated[str, Form(max_length=64)]
FormScopes = Annotated[list[str] | None, Form()]


async def _apps_page(
    request: Request, person: Person, api: Api, status: int = 200, **values: Any
) -> Response:
    try:
        apps = (await api.get("/v1/oauth-apps"))["data"]
        grants = (await api.get("/v1/oauth-grants"))["data"]
        apps_off = ""
    except Refused as refused:
        # The operator may switch apps off for the tenant; client credentials still work.
        if refused.code != "feature_disabled":
            raise
        apps, grants, apps_off = [], [], refused.message
    clients = (await api.get("/v1/oauth-clients"))["data"]
    svc: Services = request.app.state.services
    return render(request, "developers/apps.html", status, person=person, apps=apps,
                  grants=grants, clients=clients, apps_off=apps_off, scopes=SCOPE_DESCRIPTIONS,
                  tiers=sorted(svc.settings.rate_limit_tiers),
                  form_key=secrets.token_urlsafe(16), **values)  # fmt: skip


async def _refused_on_apps(
    request: Request, person: Person, api: Api, refused: Refused, **values: Any
) -> Response:
    return await _apps_page(request, person, api, refused.status, error=refused.message,
                            fields=refused.field_errors(), **values)  # fmt: skip


@router.get(_APPS)
async def list_apps(request: Request) -> Response:
    """The tenant's OAuth apps, the grants people gave them and its client-credentials
    clients (never a secret), with the forms to add an app or a client."""
    person, api = await signed_in(request)
    return await _apps_page(request, person, api)


@router.post(_APPS)
async def create_app(
    request: Request,
    name: FormText = "",
    client_type: Annotated[str, Form(max_length=20)] = "confidential",
    redirect_uris: FormText = "",
    scopes: FormScopes = None,
    form_key: FormKey = "",
) -> Response:
    """Register an app; a confidential app's secret is on this answer page only. The form's
    own key makes a second press of the button the same request, not a second app."""
    person, api = await signed_in(request)
    uris = [line.strip() for line in redirect_uris.splitlines() if line.strip()]
    body = {"name": name.strip(), "client_type": client_type, "redirect_uris": uris,
            "scopes": scopes or []}  # fmt: skip
    try:
        created = await api.send("POST", "/v1/oauth-apps", body, idempotency_key=form_key or None)
    except Refused as refused:
        return await _refused_on_apps(request, person, api, refused, app_form=body)
    return await _apps_page(request, person, api, 201, created_app=created)


async def _delete(request: Request, path: str) -> Response:
    """DELETE `path` through the API; back to the apps page, with the API's reason if not."""
    person, api = await signed_in(request)
    try:
        await api.send("DELETE", path)
    except Refused as refused:
        return await _refused_on_apps(request, person, api, refused)
    return secure(RedirectResponse(_APPS, status_code=303))


@router.post(_APPS + "/{app_id}/delete")
async def delete_app(request: Request, app_id: str) -> Response:
    """Revoke an app, which ends every grant people gave it."""
    return await _delete(request, f"/v1/oauth-apps/{app_id}")


@router.post(_APPS + "/grants/{grant_id}/revoke")
async def revoke_grant(request: Request, grant_id: str) -> Response:
    """End what a person authorised an app to do."""
    return await _delete(request, f"/v1/oauth-grants/{grant_id}")


@router.post(_APPS + "/clients")
async def create_client(
    request: Request,
    name: FormText = "",
    scopes: FormScopes = None,
    tier: Annotated[str, Form(max_length=16)] = "",
    form_key: FormKey = "",
) -> Response:
    """Create a client-credentials client; its secret is on this answer page only."""
    person, api = await signed_in(request)
    body = {"name": name.strip(), "scopes": scopes or [], "tier": tier or None}
    try:
        created = await api.send("POST", "/v1/oauth-clients", body,
                                 idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _refused_on_apps(request, person, api, refused, client_form=body)
    return await _apps_page(request, person, api, 201, created_client=created)


@router.post(_APPS + "/clients/{client_id}/delete")
async def delete_client(request: Request, client_id: str) -> Response:
    """Revoke a client: it gets no new token and its tokens stop working."""
    return await _delete(request, f"/v1/oauth-clients/{client_id}")


def _secrets_of(key_id: str) -> str:
    # The id may come from the query string: it stays one path segment.
    return f"/v1/keys/{quote(key_id, safe='')}/signing-secrets"


async def _signing_page(
    request: Request, person: Person, api: Api, key_id: str = "", status: int = 200,
    **values: Any,
) -> Response:  # fmt: skip
    policy = await api.get("/v1/signing-policy")
    keys = (await api.get("/v1/keys"))["data"]
    listed: list[dict[str, Any]] = []
    if key_id:
        try:
            listed = (await api.get(_secrets_of(key_id)))["data"]
        except Refused as refused:
            # No such key: the page still offers the policy and the keys to choose from.
            status, key_id = refused.status, ""
            values.setdefault("error", refused.message)
    chosen = next((k for k in keys if k["id"] == key_id), None)
    return render(request, "developers/signing.html", status, person=person, policy=policy,
                  keys=keys, names={k["id"]: k["name"] for k in keys}, key_id=key_id,
                  chosen=chosen, signing_secrets=listed, form_key=secrets.token_urlsafe(16),
                  **values)  # fmt: skip


@router.get(_SIGNING)
async def show_signing(
    request: Request, key: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """The signing policy, and the signing secrets of the chosen API key (never a value)."""
    person, api = await signed_in(request)
    return await _signing_page(request, person, api, key)


@router.post(_SIGNING + "/policy")
async def set_policy(
    request: Request, required: Annotated[str, Form(max_length=5)] = ""
) -> Response:
    """Require signed requests of every API key of the tenant, or stop requiring them."""
    person, api = await signed_in(request)
    try:
        # As sent: a value that is no yes or no is the API's to refuse, never read as "no".
        await api.send("PUT", "/v1/signing-policy", {"required": required})
    except Refused as refused:
        return await _signing_page(request, person, api, "", refused.status, error=refused.message,
                                   fields=refused.field_errors())  # fmt: skip
    return secure(RedirectResponse(_SIGNING, status_code=303))


@router.post(_SIGNING + "/keys/{key_id}/secrets")
async def create_signing_secret(request: Request, key_id: str, form_key: FormKey = "") -> Response:
    """Create the key's signing secret (a rotation if it has one); its value is on this
    answer page only."""
    person, api = await signed_in(request)
    try:
        created = await api.send("POST", _secrets_of(key_id),
                                 idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _signing_page(request, person, api, key_id, refused.status,
                                   error=refused.message)  # fmt: skip
    return await _signing_page(request, person, api, key_id, 201, created=created)


@router.post(_SIGNING + "/keys/{key_id}/secrets/{secret_id}/delete")
async def delete_signing_secret(request: Request, key_id: str, secret_id: str) -> Response:
    """Stop one signing secret at once, with no grace period."""
    person, api = await signed_in(request)
    try:
        await api.send("DELETE", f"{_secrets_of(key_id)}/{secret_id}")
    except Refused as refused:
        return await _signing_page(request, person, api, key_id, refused.status,
                                   error=refused.message)  # fmt: skip
    # The key's id names no secret: it may ride in the URL.
    return secure(RedirectResponse(f"{_SIGNING}?key={quote(key_id, safe='')}", status_code=303))
