"""/v1/auth: people sign in and out, and reset a forgotten password; /v1/me/totp: their
second factor. A session is a cookie (HttpOnly, SameSite=Lax, Secure off loopback)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crosspost.api import cookies
from crosspost.api.deps import ServicesDep, SessionDep, SignInLimited, client_ip
from crosspost.api.errors import problem_responses
from crosspost.domain.people import (
    InvitationAccept,
    Login,
    ResetConfirm,
    ResetRequest,
    SessionPublic,
    TotpCode,
    TotpSetup,
    UserPublic,
)
from crosspost.identity import invitations, signin
from crosspost.store import people

router = APIRouter(tags=["people"])
_ERRORS = problem_responses(401, 403, 404, 409, 410, 422, 429)


def _public(new: signin.NewSession) -> SessionPublic:
    user = UserPublic(id=new.user["id"], email=new.user["email"], name=new.user["name"])
    return SessionPublic(user=user, tenant_id=new.tenant_id, role=new.role, mode=new.mode,
                         csrf_token=new.csrf_token, expires_at=new.expires_at)  # fmt: skip


@router.post("/v1/auth/login", response_model=SessionPublic, responses=_ERRORS)
async def login(
    body: Login, request: Request, response: Response, svc: ServicesDep, _limited: SignInLimited
) -> SessionPublic:
    """Sign in: sets the session cookie and answers the CSRF token to send with changes.
    Five failures in a row lock the account for a while; an address is limited too."""
    new = await svc.db.run(
        lambda: signin.sign_in(
            svc, email=body.email, password=body.password, totp_code=body.totp_code,
            tenant_id=body.tenant_id, ip=client_ip(request),
        )
    )  # fmt: skip
    cookies.set_session(response, request, svc.settings, new.token)
    return _public(new)


@router.get("/v1/auth/session", response_model=SessionPublic, responses=_ERRORS)
async def current_session(session: SessionDep, svc: ServicesDep) -> SessionPublic:
    """Who is signed in, where, and the CSRF token."""

    def read() -> UserPublic:
        with svc.db.read() as conn:
            user = people.user_by_id(conn, session.user_id)
        assert user is not None
        return UserPublic(id=user["id"], email=user["email"], name=user["name"])

    return SessionPublic(user=await svc.db.run(read), tenant_id=session.tenant_id,
                         role=session.role, mode=session.mode,
                         csrf_token=session.csrf_token)  # fmt: skip


async def _sign_out(
    request: Request, svc: ServicesDep, session: SessionDep, *, everywhere: bool
) -> Response:
    await svc.db.run(
        lambda: signin.sign_out(svc, session, everywhere=everywhere, ip=client_ip(request))
    )
    response = Response(status_code=204)
    cookies.clear_session(response, request)
    return response


@router.post("/v1/auth/logout", status_code=204, responses=_ERRORS)
async def logout(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    """End this session."""
    return await _sign_out(request, svc, session, everywhere=False)


@router.post("/v1/auth/logout-everywhere", status_code=204, responses=_ERRORS)
async def logout_everywhere(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    """End every session of the signed-in person, on every device."""
    return await _sign_out(request, svc, session, everywhere=True)


@router.post("/v1/auth/password-reset", status_code=202, responses=_ERRORS)
async def request_password_reset(
    body: ResetRequest, request: Request, svc: ServicesDep, _limited: SignInLimited
) -> Response:
    """Mail a reset link if the email has an account; the answer is the same either way."""
    await svc.db.run(
        lambda: invitations.request_reset(svc, email=body.email, ip=client_ip(request))
    )
    return Response(status_code=202)


@router.post("/v1/auth/password-reset/confirm", status_code=204, responses=_ERRORS)
async def confirm_password_reset(
    body: ResetConfirm, request: Request, svc: ServicesDep, _limited: SignInLimited
) -> Response:
    """Set a new password with the mailed link (once); every session of the account ends."""
    await svc.db.run(
        lambda: invitations.reset(
            svc, token=body.token, password=body.password, ip=client_ip(request)
        )
    )
    return Response(status_code=204)


@router.post("/v1/invitations/accept", response_model=UserPublic, responses=_ERRORS)
async def accept_invitation(
    body: InvitationAccept, request: Request, svc: ServicesDep, _limited: SignInLimited
) -> UserPublic:
    """Join the tenant of an invitation (once); a new account sets its name and password.
    Then sign in."""
    user = await svc.db.run(
        lambda: invitations.accept(
            svc, token=body.token, name=body.name, password=body.password, ip=client_ip(request)
        )
    )
    return UserPublic(id=user["id"], email=user["email"], name=user["name"])


@router.post("/v1/me/totp", response_model=TotpSetup, responses=_ERRORS)
async def start_totp(session: SessionDep, svc: ServicesDep) -> TotpSetup:
    """A new second-factor secret for your authenticator app; confirm a code to turn it on."""
    secret, uri = await svc.db.run(signin.begin_totp, svc, session)
    return TotpSetup(secret=secret, otpauth_uri=uri)


@router.post("/v1/me/totp/confirm", status_code=204, responses=_ERRORS)
async def confirm_totp(
    body: TotpCode, request: Request, session: SessionDep, svc: ServicesDep
) -> Response:
    """Require the second factor from now on (a code proves the app holds the secret)."""
    await svc.db.run(lambda: signin.confirm_totp(svc, session, body.code, ip=client_ip(request)))
    return Response(status_code=204)


@router.post("/v1/me/totp/disable", status_code=204, responses=_ERRORS)
async def disable_totp(
    body: TotpCode, request: Request, session: SessionDep, svc: ServicesDep
) -> Response:
    """Stop requiring the second factor (with a current code)."""
    await svc.db.run(lambda: signin.disable_totp(svc, session, body.code, ip=client_ip(request)))
    return Response(status_code=204)
