"""Signing in: password (and TOTP code), lockout after repeated failures, and server-side
sessions whose cookie carries a random token the database keeps only as a SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyotp

from crosspost.domain.enums import KeyRole, Mode
from crosspost.errors import Forbidden, InvalidInput, Unauthorized
from crosspost.identity import passwords
from crosspost.identity.audit import Actor, record
from crosspost.store import people, tenants
from crosspost.store.rows import Row

if TYPE_CHECKING:  # the services bundle is built above this layer; only its type is used
    from crosspost.engine.services import Services

_TOUCH_EVERY = timedelta(minutes=1)
_TOTP_TABLE = "users.totp_secret"
_INVALID = "the email or the password is wrong"


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the token goes in the cookie, the CSRF token in the page."""

    token: str
    csrf_token: str
    expires_at: datetime
    user: Row
    tenant_id: str
    role: KeyRole
    mode: Mode


@dataclass(frozen=True)
class ActiveSession:
    """A session presented by its cookie, still valid."""

    token_hash: str
    user_id: str
    tenant_id: str
    role: KeyRole
    mode: Mode
    csrf_token: str


def normalize_email(email: str) -> str:
    """An email as stored (trimmed, lowercased), or 422 when it is not one."""
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 254 or any(c.isspace() for c in value):
        raise InvalidInput(f"{email!r} is not an email address", code="invalid_email")
    return value


def token_hash(token: str) -> str:
    """What the database keeps of a session or link token."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(
    svc: Services,
    *,
    email: str,
    password: str,
    totp_code: str | None = None,
    tenant_id: str | None = None,
    ip: str | None = None,
) -> NewSession:
    """Check the credentials and open a session in `tenant_id` (default: the user's first
    tenant). Wrong ones count towards the lockout and are audited."""
    now = svc.clock.now()
    settings = svc.settings
    address = email.strip().lower()
    with svc.db.read() as conn:
        user = people.user_by_email(conn, address)
    if user is not None and user["locked_until"] is not None and user["locked_until"] > now:
        _failed(svc, user, ip, now, "locked", count=False)
        raise Forbidden(
            f"this account is locked after {settings.login_max_failures} failed sign-ins; "
            f"try again after {user['locked_until']:%H:%M} UTC or reset the password",
            code="account_locked",
        )
    # Verified even without a user: an unknown email costs what a wrong password does.
    if not passwords.verify(user["password_hash"] if user else None, password) or user is None:
        if user is not None:
            _failed(svc, user, ip, now, "password")
        raise Unauthorized(_INVALID, code="invalid_credentials")
    if user["totp_enabled_at"] is not None:
        if not totp_code:
            raise Unauthorized(
                "this account has a second factor: send the 6-digit code of its "
                "authenticator app as totp_code",
                code="totp_required",
            )
        if not _totp_matches(svc, user, totp_code):
            _failed(svc, user, ip, now, "totp")
            raise Unauthorized("the one-time code is wrong or expired", code="invalid_totp")
    return _open(svc, user, tenant_id, ip, now, password)


def _failed(
    svc: Services, user: Row, ip: str | None, now: datetime, why: str, *, count: bool = True
) -> None:
    settings = svc.settings
    with svc.db.write() as conn:
        failures = people.count_failure(conn, user["id"]) if count else user["failed_logins"]
        locked = count and failures >= settings.login_max_failures
        if locked:
            until = now + timedelta(minutes=settings.login_lockout_minutes)
            people.update_user(conn, user["id"], {"locked_until": until, "failed_logins": 0})
        actor = Actor("user", user["id"], ip)
        for membership in people.tenants_of(conn, user["id"]):
            record(
                conn, actor, "user.sign_in_failed", tenant_id=membership["tenant_id"], now=now,
                target=("user", user["id"]), data={"why": why, "locked": locked},
            )  # fmt: skip


def _totp_matches(svc: Services, user: Row, code: str) -> bool:
    secret = svc.keyring.decrypt(
        user["totp_secret"], tenant_id="", table=_TOTP_TABLE, row_id=user["id"]
    )
    return bool(pyotp.TOTP(secret).verify(code.strip(), valid_window=1))


def _open(
    svc: Services, user: Row, tenant_id: str | None, ip: str | None, now: datetime, password: str
) -> NewSession:
    with svc.db.write() as conn:
        mine = people.tenants_of(conn, user["id"])
        chosen = next((m for m in mine if tenant_id in (None, m["tenant_id"])), None)
        if chosen is None:
            raise Forbidden(
                "you are not a member of that tenant" if tenant_id else
                "you belong to no tenant yet; ask an admin for an invitation",
                code="not_a_member",
            )  # fmt: skip
        tenant = tenants.get_tenant(conn, chosen["tenant_id"])
        if tenant is None or tenant["status"] != "active":
            raise Forbidden("that tenant is suspended or deleted", code="tenant_suspended")
        changes: dict[str, object] = {"failed_logins": 0, "locked_until": None,
                                      "last_login_at": now}  # fmt: skip
        if passwords.needs_rehash(user["password_hash"]):
            changes["password_hash"] = passwords.hash_password(password)
        people.update_user(conn, user["id"], changes)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + timedelta(hours=svc.settings.session_ttl_hours)
        mode = Mode.TEST if svc.settings.sandbox else Mode.LIVE
        people.insert_session(conn, {
            "token_hash": token_hash(token), "user_id": user["id"],
            "tenant_id": chosen["tenant_id"], "mode": mode.value, "csrf_token": csrf,
            "created_at": now, "last_seen_at": now, "expires_at": expires, "ip": ip,
        })  # fmt: skip
        record(
            conn, Actor("user", user["id"], ip), "user.signed_in",
            tenant_id=chosen["tenant_id"], now=now, target=("user", user["id"]),
        )  # fmt: skip
    return NewSession(token, csrf, expires, user, chosen["tenant_id"], KeyRole(chosen["role"]),
                      mode)  # fmt: skip


def session_of(svc: Services, token: str) -> ActiveSession:
    """The session a cookie's token opens, or 401 when it ended (expired, idle too long,
    signed out, or the user left the tenant)."""
    now = svc.clock.now()
    hashed = token_hash(token)
    with svc.db.read() as conn:
        row = people.session(conn, hashed)
    idle = timedelta(minutes=svc.settings.session_idle_minutes)
    if row is None or row["expires_at"] <= now or row["last_seen_at"] + idle <= now:
        if row is not None:
            with svc.db.write() as conn:
                people.delete_session(conn, hashed)
        raise Unauthorized(
            "your session has ended; sign in again", code="session_expired",
            headers={"WWW-Authenticate": 'Bearer realm="crosspost"'},
        )  # fmt: skip
    if now - row["last_seen_at"] >= _TOUCH_EVERY:
        with svc.db.write() as conn:
            people.touch_session(conn, hashed, now)
    return ActiveSession(hashed, row["user_id"], row["tenant_id"], KeyRole(row["role"]),
                         Mode(row["mode"]), row["csrf_token"])  # fmt: skip


def sign_out(svc: Services, session: ActiveSession, *, everywhere: bool, ip: str | None) -> int:
    """End this session, or every session of its user; how many ended."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        if everywhere:
            ended = people.delete_sessions(conn, session.user_id)
        else:
            people.delete_session(conn, session.token_hash)
            ended = 1
        record(
            conn, Actor("user", session.user_id, ip),
            "user.signed_out_everywhere" if everywhere else "user.signed_out",
            tenant_id=session.tenant_id, now=now, target=("user", session.user_id),
        )  # fmt: skip
    return ended


# -- the second factor (RFC 6238) --------------------------------------------------------


def begin_totp(svc: Services, session: ActiveSession) -> tuple[str, str]:
    """A new TOTP secret for the user, stored sealed but not yet required: (the secret, its
    otpauth:// URI for an authenticator app). `confirm_totp` turns it on."""
    secret = pyotp.random_base32()
    with svc.db.write() as conn:
        user = people.user_by_id(conn, session.user_id)
        assert user is not None
        if user["totp_enabled_at"] is not None:
            raise Forbidden(
                "a second factor is on already; turn it off first to replace it",
                code="totp_enabled",
            )
        sealed = svc.keyring.encrypt(secret, tenant_id="", table=_TOTP_TABLE, row_id=user["id"])
        people.update_user(conn, user["id"], {"totp_secret": sealed})
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name="crosspost")
    return secret, uri


def confirm_totp(svc: Services, session: ActiveSession, code: str, *, ip: str | None) -> None:
    """Require the second factor from now on, once a code from the new secret proves the
    app holds it."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        user = people.user_by_id(conn, session.user_id)
        assert user is not None
        if user["totp_secret"] is None:
            raise InvalidInput("start with POST /v1/me/totp", code="totp_not_started")
        if not _totp_matches(svc, user, code):
            raise InvalidInput("the one-time code is wrong or expired", code="invalid_totp")
        people.update_user(conn, user["id"], {"totp_enabled_at": now})
        record(
            conn, Actor("user", user["id"], ip), "user.totp_enabled",
            tenant_id=session.tenant_id, now=now, target=("user", user["id"]),
        )  # fmt: skip


def disable_totp(svc: Services, session: ActiveSession, code: str, *, ip: str | None) -> None:
    """Stop requiring the second factor (a current code is required to do so)."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        user = people.user_by_id(conn, session.user_id)
        assert user is not None
        if user["totp_enabled_at"] is None:
            return
        if not _totp_matches(svc, user, code):
            raise InvalidInput("the one-time code is wrong or expired", code="invalid_totp")
        people.update_user(conn, user["id"], {"totp_enabled_at": None, "totp_secret": None})
        record(
            conn, Actor("user", user["id"], ip), "user.totp_disabled",
            tenant_id=session.tenant_id, now=now, target=("user", user["id"]),
        )  # fmt: skip
