"""The pages a person sees when an app asks for access: sign-in, the consent screen and
refusals, rendered on the server (no script), framed by nobody, cached by nobody.

GET /oauth/authorize shows what the app asks; the form POSTs the person's decision with the
session's CSRF token, and the answer redirects to the app with a code or `access_denied`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from crosspost.api import cookies
from crosspost.api.auth import check_csrf
from crosspost.api.deps import ServicesDep, SignInLimited, client_ip
from crosspost.api.pages import TEMPLATES, html_page
from crosspost.api.security import SESSION
from crosspost.engine import oauth_server
from crosspost.engine.keys import SCOPE_DESCRIPTIONS
from crosspost.engine.oauth_server import ConsentRefused
from crosspost.engine.oauth_types import ConsentRequest, OAuthCall, Reply
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError, Unauthorized
from crosspost.identity import signin
from crosspost.identity.signin import ActiveSession
from crosspost.store import people

router = APIRouter(tags=["oauth2"], include_in_schema=False)

_SIGNIN_COOKIE = "cp_signin"
_AUTHORIZE = "/oauth/authorize"
# Parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3); each once.
_REQUEST_PARAMS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method",
)  # fmt: skip
_MAX_PARAM = 2000


def _params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The authorization request's parameters, each at most once (RFC 6749 §3.1)."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in _REQUEST_PARAMS or not value:
            continue
        if name in params:
            raise ConsentRefused(f"the app sent {name} more than once; it must send it once")
        if len(value) > _MAX_PARAM:
            raise ConsentRefused(f"the app sent a {name} longer than {_MAX_PARAM} characters")
        params[name] = value
    return params


def _call(svc: Services, method: str, params: dict[str, str]) -> OAuthCall:
    return OAuthCall(method, f"{svc.settings.base_url}{_AUTHORIZE}", {}, params)


async def _session(svc: Services, token: str | None) -> ActiveSession | None:
    if not token:
        return None
    try:
        return await svc.db.run(signin.session_of, svc, token)
    except Unauthorized:
        return None  # expired or signed out: sign in again


def _sign_in_page(request: Request, next_url: str, error: str = "", email: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = html_page("signin.html", 401 if error else 200, signin_csrf=token,
                     next=next_url, error=error, email=email)  # fmt: skip
    # Double-submit: a page on another site cannot read this cookie to forge a sign-in.
    response.set_cookie(
        _SIGNIN_COOKIE, token, max_age=1800, httponly=True, secure=cookies.secure(request),
        samesite="strict", path="/oauth",
    )  # fmt: skip
    return response


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _redirect(reply: Reply) -> Response:
    location = reply.location
    if location is None:
        return html_page("refused.html", 400, reason="the request could not be completed")
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


async def _consent_page(svc: Services, session: ActiveSession, params: dict[str, str]) -> Response:
    def work() -> tuple[ConsentRequest | Reply, str]:
        found = oauth_server.consent(svc, _call(svc, "GET", params), session.user_id)
        with svc.db.read() as conn:
            user = people.user_by_id(conn, session.user_id)
        return found, user["email"] if user else ""

    try:
        found, email = await svc.db.run(work)
    except ConsentRefused as refused:
        return html_page("refused.html", 400, reason=refused.reason)
    if isinstance(found, Reply):
        return _redirect(found)
    unavailable = [s for s in found.requested if s not in found.grantable]
    return html_page("consent.html", consent=found, email=email, csrf_token=session.csrf_token,
                 words=SCOPE_DESCRIPTIONS, unavailable=unavailable,
                 form_to=_origin(found.redirect_uri))  # fmt: skip


@router.get(_AUTHORIZE)
async def authorize(
    request: Request,
    svc: ServicesDep,
    session_token: Annotated[str | None, Depends(SESSION)] = None,
) -> Response:
    """The authorization endpoint: the consent screen for the signed-in person, or the
    sign-in form first."""
    try:
        params = _params(request.query_params.multi_items())
    except ConsentRefused as refused:
        return html_page("refused.html", 400, reason=refused.reason)
    session = await _session(svc, session_token)
    if session is None:
        try:
            await svc.db.run(oauth_server.precheck, svc, _call(svc, "GET", params))
        except ConsentRefused as refused:
            return html_page("refused.html", 400, reason=refused.reason)
        return _sign_in_page(request, f"{_AUTHORIZE}?{request.url.query}")
    return await _consent_page(svc, session, params)


@router.post(_AUTHORIZE)
async def decide(
    request: Request,
    svc: ServicesDep,
    session_token: Annotated[str | None, Depends(SESSION)] = None,
) -> Response:
    """The person's decision: back to the app with a code for what they granted, or with
    `access_denied`."""
    form = await request.form()
    session = await _session(svc, session_token)
    if session is None:
        return html_page("refused.html", 401, reason="your session ended; start again from the app")
    csrf = form.get("csrf_token")
    check_csrf("POST", csrf if isinstance(csrf, str) else None, session)
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    try:
        params = _params(pairs)
    except ConsentRefused as refused:
        return html_page("refused.html", 400, reason=refused.reason)
    allow = form.get("decision") == "allow"
    granted = [v for k, v in pairs if k == "grant"]
    try:
        reply = await svc.db.run(
            lambda: oauth_server.decide(
                svc, _call(svc, "POST", params), session.user_id, allow=allow, granted=granted
            )
        )
    except ConsentRefused as refused:
        return html_page("refused.html", 400, reason=refused.reason)
    return _redirect(reply)


@router.post("/oauth/sign-in")
async def sign_in(request: Request, svc: ServicesDep, _limited: SignInLimited) -> Response:
    """The sign-in form of the consent flow: opens a session, then back to the request."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    next_url = values.get("next", "")
    if not next_url.startswith(f"{_AUTHORIZE}?") or "\\" in next_url:
        return html_page("refused.html", 400, reason="start again from the app")
    given, expected = values.get("signin_csrf", ""), request.cookies.get(_SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _sign_in_page(request, next_url, "the form expired; sign in again")
    email = values.get("email", "")
    try:
        new = await svc.db.run(
            lambda: signin.sign_in(
                svc,
                email=email,
                password=values.get("password", ""),
                totp_code=values.get("totp_code") or None,
                ip=client_ip(request),
            )
        )
    except CrosspostError as refused:
        return _sign_in_page(request, next_url, refused.detail, email)
    response = RedirectResponse(next_url, status_code=303)
    cookies.set_session(response, request, svc.settings, new.token)
    response.delete_cookie(_SIGNIN_COOKIE, path="/oauth")
    return response


@router.get("/oauth/page.css")
async def stylesheet() -> Response:
    """The pages' one stylesheet (a file, since the pages allow no inline style)."""
    css = (TEMPLATES / "page.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
