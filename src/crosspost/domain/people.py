"""The shapes of people: sign-in, sessions, invitations, members, the second factor."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crosspost.domain.enums import KeyRole, Mode


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(_Strict):
    """Sign in with an email and a password (and the authenticator's code when the
    account has a second factor)."""

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024, repr=False)
    totp_code: str | None = Field(default=None, max_length=10, repr=False)
    tenant_id: str | None = Field(
        default=None, max_length=40, description="The tenant to act in; default: your first."
    )


class UserPublic(BaseModel):
    """A person (never their password hash or second-factor secret)."""

    id: str
    email: str
    name: str


class SessionPublic(BaseModel):
    """A signed-in session: who, in which tenant, with which role, until when."""

    user: UserPublic
    tenant_id: str
    role: KeyRole
    mode: Mode
    csrf_token: str = Field(
        repr=False, description="Send as X-CSRF-Token with every request that changes something."
    )
    expires_at: datetime | None = None


class ResetRequest(_Strict):
    """Ask for a password-reset link by mail."""

    email: str = Field(min_length=3, max_length=254)


class ResetConfirm(_Strict):
    """Set a new password with the mailed link's token."""

    token: str = Field(min_length=16, max_length=200, repr=False)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class InvitationCreate(_Strict):
    """Invite someone into the tenant with a role."""

    email: str = Field(min_length=3, max_length=254)
    role: KeyRole = KeyRole.DEVELOPER


class InvitationPublic(BaseModel):
    """An invitation; `url` (with its single-use token) only in the answer that made it."""

    id: str
    email: str
    role: KeyRole
    created_at: datetime
    expires_at: datetime
    url: str | None = Field(default=None, repr=False)
    mailed: bool | None = Field(default=None, description="Whether the mail went out.")


class InvitationAccept(_Strict):
    """Accept an invitation; a new account also gives a name and a password."""

    token: str = Field(min_length=16, max_length=200, repr=False)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=1, max_length=1024, repr=False)


class MemberPublic(BaseModel):
    """A member of the tenant and their role."""

    id: str
    email: str
    name: str
    role: KeyRole
    second_factor: bool
    last_login_at: datetime | None
    created_at: datetime


class MemberUpdate(_Strict):
    """Give a member another role."""

    role: KeyRole


class TotpSetup(BaseModel):
    """A new second-factor secret: add it to an authenticator app, then confirm a code."""

    secret: str = Field(repr=False)
    otpauth_uri: str = Field(repr=False)


class TotpCode(_Strict):
    """A code from the authenticator app."""

    code: str = Field(min_length=6, max_length=10, repr=False)
