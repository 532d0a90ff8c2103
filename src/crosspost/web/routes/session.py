"""Signing in to and out of the dashboard, through the API's own sign-in (its lockout, its
limits, its audit log); the session cookie it sets is the browser's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crosspost.web.api_calls import Api, Refused, SignedOut
from crosspost.web.pages import render, secure
from crosspost.web.people import SIGN_IN, safe_next, same_origin, signed_in

router = APIRouter()


def _sign_in_page(request: Request, next_url: str, error: str = "", email: str = "",
                  status: int = 200) -> Response:  # fmt: skip
    return render(request, "sign_in.html", status, next=next_url, error=error, email=email)


@router.get(SIGN_IN)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form (or straight on, for a person already signed in)."""
    try:
        await signed_in(request)
    except SignedOut:
        return _sign_in_page(request, safe_next(next))
    return secure(RedirectResponse(safe_next(next), status_code=303))


@router.post(SIGN_IN)
async def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    totp_code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    """Check the credentials with the API; on success the browser gets its session."""
    next_url = safe_next(next)
    if not same_origin(request):
        # A page elsewhere posting a sign-in would sign the browser in as the attacker.
        return _sign_in_page(request, next_url, "sign in from this page", email, 403)
    body = {"email": email, "password": password, "totp_code": totp_code or None}
    try:
        answer = await Api(request).call("POST", "/v1/auth/login", json=body)
    except Refused as refused:
        return _sign_in_page(request, next_url, refused.message, email, refused.status)
    response = RedirectResponse(next_url, status_code=303)
    for cookie in answer.set_cookies:
        response.headers.append("set-cookie", cookie)
    return secure(response)


@router.post("/app/sign-out")
async def sign_out(request: Request) -> Response:
    """End this session; back to the sign-in form."""
    response = RedirectResponse(SIGN_IN, status_code=303)
    try:
        _, api = await signed_in(request)
        if same_origin(request):
            answer = await api.call("POST", "/v1/auth/logout")
            for cookie in answer.set_cookies:
                response.headers.append("set-cookie", cookie)
    except SignedOut:
        pass  # already out
    return secure(response)
