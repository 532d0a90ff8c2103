"""The operator's console under /app/admin: tenants (suspend, resume) and feature flags (a
rollout slider, kill, revive), through `/v1/admin` with the operator's own key.

The operator signs in with an operator key (`crosspost operator-keys create`). The browser
keeps it only sealed by the server's keyring (AES-GCM) in a cookie that is HttpOnly,
SameSite=Strict, limited to /app/admin and to an hour; the server opens it for each page and
calls the API with it, so a revoked key ends the console at once.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.engine.services import Services
from crosspost.hosts import is_loopback
from crosspost.vault.keyring import VaultError
from crosspost.web.api_calls import Api, Refused, SignedOut
from crosspost.web.pages import render, secure
from crosspost.web.people import same_origin
from crosspost.web.traffic import RANGES, chosen, range_window

router = APIRouter()
_ADMIN = "/app/admin"
_COOKIE = "cp_operator"
_SEAL = {"tenant_id": "", "table": "operator_console", "row_id": _COOKIE}
_HOUR = 3600


def _operator(request: Request) -> Api:
    """The API as the operator whose sealed key the cookie holds; `SignedOut` when none (or
    it cannot be opened: another keyring, or tampered with)."""
    sealed = request.cookies.get(_COOKIE)
    if not sealed:
        raise SignedOut
    svc: Services = request.app.state.services
    try:
        key = svc.keyring.decrypt(sealed, **_SEAL)
    except VaultError as exc:  # another keyring, or tampered with: sign in again
        raise SignedOut from exc
    return Api(request, bearer=key)


def _changing(request: Request) -> Api:
    """The operator's API for a change, which must come from a page of this server."""
    if not same_origin(request):
        raise Refused(403, {"detail": "change this from the console's own page",
                            "code": "csrf_token_invalid"})  # fmt: skip
    return _operator(request)


@router.get(_ADMIN + "/sign-in")
async def sign_in_form(request: Request) -> Response:
    """The operator's sign-in: their operator key."""
    return render(request, "admin/sign_in.html", error="")


@router.post(_ADMIN + "/sign-in")
async def sign_in(request: Request, key: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Check the key with the API; keep it sealed in the console's cookie."""
    if not same_origin(request):
        return render(request, "admin/sign_in.html", 403, error="sign in from this page")
    try:
        await Api(request, bearer=key.strip()).get("/v1/admin/flags")
    except Refused as refused:
        return render(request, "admin/sign_in.html", refused.status, error=refused.message)
    svc: Services = request.app.state.services
    response = RedirectResponse(_ADMIN, status_code=303)
    response.set_cookie(
        _COOKIE, svc.keyring.encrypt(key.strip(), **_SEAL), max_age=_HOUR, httponly=True,
        secure=not is_loopback(request.url.hostname or ""), samesite="strict", path=_ADMIN,
    )  # fmt: skip
    return secure(response)


@router.post(_ADMIN + "/sign-out")
async def sign_out() -> Response:
    """Forget the operator's key."""
    response = RedirectResponse(_ADMIN + "/sign-in", status_code=303)
    response.delete_cookie(_COOKIE, path=_ADMIN)
    return secure(response)


async def _console(
    request: Request, api: Api, status: int = 200, over: str = "24h", **values: Any
) -> Response:
    tenants = await api.get("/v1/admin/tenants", limit=100)
    flags = await api.get("/v1/admin/flags")
    svc: Services = request.app.state.services
    window = range_window(over, svc.clock.now())
    by_tenant = await api.get("/v1/admin/analytics", group_by="tenant", **window)
    by_endpoint = await api.get("/v1/admin/analytics", group_by="endpoint", **window)
    return render(request, "admin/console.html", status, tenants=tenants["data"],
                  flags=flags["data"], form_key=secrets.token_urlsafe(12),
                  by_tenant=by_tenant["data"], by_endpoint=by_endpoint["data"],
                  names={t["id"]: t["name"] for t in tenants["data"]}, ranges=list(RANGES),
                  range=chosen(over), **values)  # fmt: skip


@router.get(_ADMIN)
async def console(
    request: Request, over: Annotated[str, Query(alias="range", max_length=4)] = "24h"
) -> Response:
    """Every tenant with its standing, every feature flag with its rollout, and the API
    traffic of every tenant and endpoint."""
    return await _console(request, _operator(request), over=over)


@router.post(_ADMIN + "/tenants/{tenant_id}/{action}")
async def tenant_action(request: Request, tenant_id: str, action: str) -> Response:
    """Suspend or resume a tenant."""
    api = _changing(request)
    if action not in ("suspend", "resume"):
        raise Refused(404, {"detail": f"no action {action!r} on a tenant", "code": "not_found"})
    try:
        await api.send("POST", f"/v1/admin/tenants/{tenant_id}/{action}")
    except Refused as refused:
        return await _console(request, api, refused.status, error=refused.message)
    return secure(RedirectResponse(_ADMIN, status_code=303))


@router.post(_ADMIN + "/flags/{key}")
async def set_flag(
    request: Request,
    key: str,
    rollout_percent: Annotated[str, Form(max_length=3)] = "100",
    enabled: Annotated[str, Form(max_length=5)] = "",
    killed: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Set a flag's rollout and whether it is on; kill or revive it. Its allow and deny
    lists are kept as they are."""
    api = _changing(request)
    try:
        current = await api.get(f"/v1/admin/flags/{key}")
        share = int(rollout_percent) if rollout_percent.isdigit() else -1  # the API says why
        body = {"enabled": enabled == "on", "allow_tenants": current["allow_tenants"],
                "deny_tenants": current["deny_tenants"], "rollout_percent": share}  # fmt: skip
        if killed in ("true", "false"):
            body["killed"] = killed == "true"
        await api.send("PUT", f"/v1/admin/flags/{key}", body)
    except Refused as refused:
        return await _console(request, api, refused.status, error=refused.message)
    return secure(RedirectResponse(f"{_ADMIN}#flag-{key}", status_code=303))
