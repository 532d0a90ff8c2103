"""The sandbox's own person: an owner of the default tenant whom `serve --sandbox` signs in to
the dashboard with the password it prints, so a new user needs no invitation first."""

from __future__ import annotations

from crosspost.engine.services import Services
from crosspost.identity import passwords
from crosspost.identity.audit import Actor, record
from crosspost.store import people

SANDBOX_EMAIL = "sandbox@crosspost.test"


def ensure_sandbox_owner(svc: Services, tenant_id: str, password: str) -> str:
    """Make `SANDBOX_EMAIL` an owner of `tenant_id` whose password is `password` (set again
    when it differs, so the printed one always works); returns the email."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        user = people.user_by_email(conn, SANDBOX_EMAIL)
        if user is None:
            user = people.insert_user(
                conn, email=SANDBOX_EMAIL, name="Sandbox owner",
                password_hash=passwords.hash_password(password), now=now,
            )  # fmt: skip
            record(conn, Actor("system", "sandbox", None), "user.created", tenant_id=tenant_id,
                   now=now, target=("user", user["id"]), data={"email": SANDBOX_EMAIL})  # fmt: skip
        elif not passwords.verify(user["password_hash"], password):
            people.update_user(
                conn, user["id"],
                {"password_hash": passwords.hash_password(password), "locked_until": None},
            )  # fmt: skip
        if people.membership(conn, tenant_id, user["id"]) is None:
            people.put_membership(conn, tenant_id, user["id"], "owner", now)
    return SANDBOX_EMAIL
