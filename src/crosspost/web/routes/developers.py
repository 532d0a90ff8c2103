"""Developers: the tenant's API keys — create one (its secret shown once, on the answer
page only), roll it, revoke it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.enums import KeyRole
from crosspost.engine.services import Services
from crosspost.web.api_calls import Api, Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import Person, signed_in

router = APIRouter()
_KEYS = "/app/developers/keys"


def _tiers(request: Request) -> list[str]:
    svc: Services = request.app.state.services
    return sorted(svc.settings.rate_limit_tiers)


async def _keys_page(
    request: Request, person: Person, api: Api, status: int = 200, **values: Any
) -> Response:
    keys = await api.get("/v1/keys")
    svc: Services = request.app.state.services
    return render(request, "developers/keys.html", status, person=person, keys=keys["data"],
                  roles=[r.value for r in KeyRole], tiers=_tiers(request),
                  form_key=secrets.token_urlsafe(16), issued=svc.clock.now().isoformat(),
                  **values)  # fmt: skip


@router.get(_KEYS)
async def list_keys(request: Request) -> Response:
    """Every key of the tenant (never a secret), and the form to make one."""
    person, api = await signed_in(request)
    return await _keys_page(request, person, api)


@router.post(_KEYS)
async def create_key(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "developer",
    tier: Annotated[str, Form(max_length=16)] = "",
    expires_in_days: Annotated[str, Form(max_length=6)] = "",
    form_key: Annotated[str, Form(max_length=64)] = "",
    issued: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create a key; the page shows its secret this once. The form's own key makes a second
    press of the button the same request, not a second key (its expiry counts from when
    the form was shown, so the two requests are the same)."""
    person, api = await signed_in(request)
    body: dict[str, Any] = {"name": name.strip(), "role": role, "tier": tier or None}
    if expires_in_days.strip():
        if not expires_in_days.strip().isdigit() or not 1 <= int(expires_in_days) <= 3650:
            return await _keys_page(request, person, api, 422, error="expiry: give a whole "
                                    "number of days from 1 to 3650, or leave it empty")  # fmt: skip
        svc: Services = request.app.state.services
        try:
            shown = datetime.fromisoformat(issued)
        except ValueError:
            shown = svc.clock.now()
        expires = shown + timedelta(days=int(expires_in_days))
        body["expires_at"] = expires.isoformat()
    try:
        created = await api.send("POST", "/v1/keys", body, idempotency_key=form_key or None)
    except Refused as refused:
        return await _keys_page(request, person, api, refused.status, error=refused.message,
                                fields=refused.field_errors())  # fmt: skip
    return await _keys_page(request, person, api, 201, created=created)


@router.post(_KEYS + "/{key_id}/roll")
async def roll_key(
    request: Request,
    key_id: str,
    overlap_hours: Annotated[str, Form(max_length=4)] = "24",
    form_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Replace a key; the old one works for the overlap. The new secret is shown once."""
    person, api = await signed_in(request)
    hours = int(overlap_hours) if overlap_hours.isdigit() else 24
    try:
        created = await api.send("POST", f"/v1/keys/{key_id}/roll",
                                 {"overlap_seconds": min(hours, 720) * 3600},
                                 idempotency_key=form_key or None)  # fmt: skip
    except Refused as refused:
        return await _keys_page(request, person, api, refused.status, error=refused.message)
    return await _keys_page(request, person, api, 201, created=created)


@router.post(_KEYS + "/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    """Revoke a key at once."""
    _, api = await signed_in(request)
    await api.send("DELETE", f"/v1/keys/{key_id}")
    return secure(RedirectResponse(_KEYS, status_code=303))
