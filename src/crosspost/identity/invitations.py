"""Invitations into a tenant and password resets: single-use links that expire, sent by
mail; and the tenant's members and their roles.

A link's token is shown once (in the mail, and to the inviter); the database keeps only its
SHA-256, and spending it is one conditional update, so a link works exactly once even when
two requests race with it.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from crosspost.domain.enums import KeyRole
from crosspost.errors import Conflict, Forbidden, Gone, NotFound
from crosspost.identity import mail, passwords
from crosspost.identity.audit import Actor, record
from crosspost.identity.signin import normalize_email, token_hash
from crosspost.store import people, tenants
from crosspost.store.rows import Row

if TYPE_CHECKING:  # the services bundle is built above this layer; only its type is used
    from crosspost.engine.services import Services

log = logging.getLogger("crosspost.identity")

ACCEPT_PATH = "/invitations/accept"
RESET_PATH = "/password-reset"


@dataclass(frozen=True)
class Link:
    """A link just made: its row, and the URL with its token (shown once)."""

    row: Row
    url: str
    tenant_name: str


def invite(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    email: str,
    role: KeyRole,
    actor: Actor,
    inviter_role: KeyRole | None,
) -> Link:
    """Invite `email` into the tenant with `role`, in the caller's transaction; the mail
    goes out after (a mail server down does not lose the invitation: its URL is in the
    answer). Only an owner may invite an owner."""
    address = normalize_email(email)
    if role is KeyRole.OWNER and inviter_role is not KeyRole.OWNER:
        raise Forbidden("only an owner may invite an owner", code="owner_only")
    tenant = tenants.get_tenant(conn, tenant_id)
    if tenant is None or tenant["status"] in ("deleted", "purged"):
        raise NotFound(f"no tenant {tenant_id!r}")
    existing = people.user_by_email(conn, address)
    if existing is not None and people.membership(conn, tenant_id, existing["id"]) is not None:
        raise Conflict(f"{address} is a member already; change their role instead",
                       code="already_a_member")  # fmt: skip
    now = svc.clock.now()
    token = secrets.token_urlsafe(32)
    row = people.insert_token(conn, {
        "token_hash": token_hash(token), "kind": "invitation", "tenant_id": tenant_id,
        "email": address, "role": role.value, "invited_by": actor.id, "created_at": now,
        "expires_at": now + timedelta(hours=svc.settings.invitation_ttl_hours),
    })  # fmt: skip
    record(
        conn, actor, "user.invited", tenant_id=tenant_id, now=now,
        target=("invitation", row["id"]), data={"email": address, "role": role.value},
    )  # fmt: skip
    url = f"{svc.settings.base_url}{ACCEPT_PATH}?token={token}"
    return Link(row, url, tenant["name"])


def send_invitation(svc: Services, link: Link) -> bool:
    """Mail an invitation made by `invite` (after its transaction committed); whether it
    went out."""
    text = (
        f"You are invited to join {link.tenant_name} on crosspost as {link.row['role']}.\n\n"
        f"Accept within {svc.settings.invitation_ttl_hours:g} hours: {link.url}\n"
    )
    return _send(svc, link.row["email"], "Your crosspost invitation", text)


def accept(
    svc: Services, *, token: str, name: str | None, password: str | None, ip: str | None
) -> Row:
    """Spend an invitation: the invited email becomes a member with the role (a new user
    sets a name and password; an existing one keeps theirs). Returns the user."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        link = _spend(conn, token, "invitation", now)
        user = people.user_by_email(conn, link["email"])
        if user is None:
            if not password:
                raise Conflict("a new account needs a password", code="password_required")
            user = people.insert_user(
                conn, email=link["email"], name=(name or link["email"]).strip()[:200],
                password_hash=passwords.hash_password(passwords.check_new(password)), now=now,
            )  # fmt: skip
        people.put_membership(conn, link["tenant_id"], user["id"], link["role"], now)
        record(
            conn, Actor("user", user["id"], ip), "invitation.accepted",
            tenant_id=link["tenant_id"], now=now, target=("invitation", link["id"]),
            data={"email": link["email"], "role": link["role"]},
        )  # fmt: skip
    return user


def request_reset(svc: Services, *, email: str, ip: str | None) -> None:
    """Mail a password-reset link when the email has an account; the caller answers the
    same either way, so the endpoint tells no one which emails exist."""
    address = normalize_email(email)
    now = svc.clock.now()
    with svc.db.write() as conn:
        user = people.user_by_email(conn, address)
        if user is None:
            return
        token = secrets.token_urlsafe(32)
        people.insert_token(conn, {
            "token_hash": token_hash(token), "kind": "reset", "tenant_id": None,
            "email": address, "role": None, "invited_by": None, "created_at": now,
            "expires_at": now + timedelta(minutes=svc.settings.password_reset_ttl_minutes),
        })  # fmt: skip
        for membership in people.tenants_of(conn, user["id"]):
            record(
                conn, Actor("user", user["id"], ip), "user.password_reset_requested",
                tenant_id=membership["tenant_id"], now=now, target=("user", user["id"]),
            )  # fmt: skip
    url = f"{svc.settings.base_url}{RESET_PATH}?token={token}"
    minutes = f"{svc.settings.password_reset_ttl_minutes:g}"
    text = (
        f"Set a new password within {minutes} minutes: {url}\n\n"
        "If you did not ask for this, ignore this mail: your password is unchanged.\n"
    )
    _send(svc, address, "Reset your crosspost password", text)


def reset(svc: Services, *, token: str, password: str, ip: str | None) -> None:
    """Spend a reset link: set the new password, lift a lockout, end every session."""
    now = svc.clock.now()
    new_hash = passwords.hash_password(passwords.check_new(password))
    with svc.db.write() as conn:
        link = _spend(conn, token, "reset", now)
        user = people.user_by_email(conn, link["email"])
        if user is None:
            raise Gone("this link's account no longer exists", code="link_used")
        people.update_user(conn, user["id"], {"password_hash": new_hash, "failed_logins": 0,
                                              "locked_until": None})  # fmt: skip
        ended = people.delete_sessions(conn, user["id"])
        for membership in people.tenants_of(conn, user["id"]):
            record(
                conn, Actor("user", user["id"], ip), "user.password_reset",
                tenant_id=membership["tenant_id"], now=now, target=("user", user["id"]),
                data={"sessions_ended": ended},
            )  # fmt: skip


def _spend(conn: Connection, token: str, kind: str, now: datetime) -> Row:
    row = people.token_by_hash(conn, token_hash(token))
    if row is None or row["kind"] != kind:
        raise NotFound("this link is not valid; ask for a new one", code="invalid_link")
    if not people.use_token(conn, row["id"], now):
        raise Gone(
            "this link was used already, revoked, or has expired; ask for a new one",
            code="link_used",
        )
    return row


def _send(svc: Services, to: str, subject: str, text: str) -> bool:
    try:
        sent = mail.send(svc.settings, to=to, subject=subject, text=text)
    except (smtplib.SMTPException, OSError) as exc:
        # The link stays valid and is shown to whoever made it; the mail can be resent.
        log.warning("mail to %s not sent: %s", to, exc)
        return False
    if svc.settings.sandbox:
        # The sandbox's mail stays in its local sink: show the link where the operator looks.
        print(f"[sandbox mail to {to}] {subject}\n{text}", flush=True)
    return sent


# -- members -----------------------------------------------------------------------------


def change_role(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    user_id: str,
    role: KeyRole | None,
    actor: Actor,
    actor_role: KeyRole | None,
) -> None:
    """Give a member another role, or remove them (`role` None). Only an owner grants or
    takes away the owner role, and the last owner stays."""
    current = people.membership(conn, tenant_id, user_id)
    if current is None:
        raise NotFound(f"no member {user_id!r} in this tenant")
    touches_owner = KeyRole.OWNER in (role, KeyRole(current["role"]))
    if touches_owner and actor_role is not KeyRole.OWNER:
        raise Forbidden("only an owner may grant or take away the owner role", code="owner_only")
    demoted = current["role"] == KeyRole.OWNER.value and role is not KeyRole.OWNER
    if demoted and people.count_owners(conn, tenant_id) <= 1:
        raise Conflict("a tenant keeps at least one owner; make another owner first",
                           code="last_owner")  # fmt: skip
    now = svc.clock.now()
    if role is None:
        people.delete_membership(conn, tenant_id, user_id)
        action, data = "user.removed", {"was": current["role"]}
    else:
        people.put_membership(conn, tenant_id, user_id, role.value, now)
        action, data = "user.role_changed", {"from": current["role"], "to": role.value}
    record(conn, actor, action, tenant_id=tenant_id, now=now, target=("user", user_id),
           data=data)  # fmt: skip
