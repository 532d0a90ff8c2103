"""Accounts: each connected account's health, token expiry and call budgets; connecting one
by the platform's OAuth consent (the API's flow, coming back here), reconnecting, and
disconnecting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crosspost.domain.enums import Platform
from crosspost.web.api_calls import Refused
from crosspost.web.pages import render, secure
from crosspost.web.people import signed_in

router = APIRouter()
_ACCOUNTS = "/app/accounts"


@router.get(_ACCOUNTS)
async def list_accounts(
    request: Request,
    account_id: Annotated[str, Query(max_length=40)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    error_description: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The tenant's accounts in this session's mode, each with its budgets; after a consent,
    what it connected or why it did not."""
    person, api = await signed_in(request)
    listed = await api.get("/v1/accounts")
    mine = [a for a in listed if a["mode"] == person.mode]
    # Budgets are on each account's own page of the API (they cost a look-up each).
    accounts = [await api.get(f"/v1/accounts/{a['id']}") for a in mine]
    return render(request, "accounts/list.html", person=person, accounts=accounts,
                  platforms=[p.value for p in Platform], connected=account_id,
                  error=error_description or error)  # fmt: skip


@router.post(_ACCOUNTS + "/connect")
async def connect(request: Request, platform: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Send the person to the platform's consent page; it brings them back to the list."""
    person, api = await signed_in(request)
    back = f"{str(request.base_url).rstrip('/')}{_ACCOUNTS}"
    try:
        link = await api.send("POST", "/v1/accounts/connect",
                              {"platform": platform, "return_to": back})  # fmt: skip
    except Refused as refused:
        listed = await api.get("/v1/accounts")
        return render(request, "accounts/list.html", refused.status, person=person,
                      accounts=[a for a in listed if a["mode"] == person.mode],
                      platforms=[p.value for p in Platform], connected="",
                      error=refused.message)  # fmt: skip
    # A page with the link, not a redirect: the pages' policy lets forms lead only here
    # (form-action 'self'), and the consent page is the platform's own.
    return render(request, "accounts/connect.html", person=person, platform=platform,
                  authorize_url=link["authorize_url"])  # fmt: skip


@router.post(_ACCOUNTS + "/{account_id}/disconnect")
async def disconnect(request: Request, account_id: str) -> Response:
    """Disconnect an account (its scheduled targets fail, explained)."""
    _, api = await signed_in(request)
    await api.send("DELETE", f"/v1/accounts/{account_id}")
    return secure(RedirectResponse(_ACCOUNTS, status_code=303))
