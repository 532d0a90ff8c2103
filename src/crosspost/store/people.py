"""Users, their memberships, sessions and single-use links (invitations, resets)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.rows import Row, every, one
from crosspost.store.tables_identity import memberships, user_sessions, user_tokens, users

# -- users -------------------------------------------------------------------------------


def insert_user(
    conn: Connection, *, email: str, name: str, password_hash: str | None, now: datetime
) -> Row:
    """A new user; returns its row."""
    user_id = new_id("usr")
    conn.execute(
        users.insert().values(
            id=user_id, email=email, name=name, password_hash=password_hash, failed_logins=0,
            created_at=now,
        )
    )  # fmt: skip
    found = user_by_id(conn, user_id)
    assert found is not None
    return found


def user_by_email(conn: Connection, email: str) -> Row | None:
    """The user with this (lowercased) email."""
    return one(conn.execute(sa.select(users).where(users.c.email == email)))


def user_by_id(conn: Connection, user_id: str) -> Row | None:
    """One user."""
    return one(conn.execute(sa.select(users).where(users.c.id == user_id)))


def update_user(conn: Connection, user_id: str, values: Mapping[str, Any]) -> None:
    """Change a user's columns."""
    conn.execute(users.update().where(users.c.id == user_id).values(**values))


def count_failure(conn: Connection, user_id: str) -> int:
    """Add one failed sign-in atomically; the count after it."""
    conn.execute(
        users.update().where(users.c.id == user_id).values(failed_logins=users.c.failed_logins + 1)
    )
    found = conn.execute(sa.select(users.c.failed_logins).where(users.c.id == user_id)).scalar()
    return int(found or 0)


# -- memberships -------------------------------------------------------------------------


def membership(conn: Connection, tenant_id: str, user_id: str) -> Row | None:
    """A user's membership of a tenant (its role), if any."""
    return one(
        conn.execute(
            sa.select(memberships).where(
                memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id
            )
        )
    )


def put_membership(
    conn: Connection, tenant_id: str, user_id: str, role: str, now: datetime
) -> None:
    """Make the user a member of the tenant with `role` (replacing a role it had)."""
    if membership(conn, tenant_id, user_id) is None:
        conn.execute(
            memberships.insert().values(
                tenant_id=tenant_id, user_id=user_id, role=role, created_at=now
            )
        )
    else:
        conn.execute(
            memberships.update()
            .where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
            .values(role=role)
        )


def delete_membership(conn: Connection, tenant_id: str, user_id: str) -> bool:
    """Remove the user from the tenant; False when it was not a member."""
    result = conn.execute(
        memberships.delete().where(
            memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id
        )
    )
    return result.rowcount == 1


def members(conn: Connection, tenant_id: str) -> list[Row]:
    """The tenant's members with their roles, by email."""
    query = (
        sa.select(users.c.id, users.c.email, users.c.name, users.c.totp_enabled_at,
                  users.c.last_login_at, memberships.c.role, memberships.c.created_at)
        .select_from(memberships.join(users, users.c.id == memberships.c.user_id))
        .where(memberships.c.tenant_id == tenant_id)
        .order_by(users.c.email)
    )  # fmt: skip
    return every(conn.execute(query))


def tenants_of(conn: Connection, user_id: str) -> list[Row]:
    """The tenants a user belongs to: tenant_id and role, oldest membership first."""
    query = (
        sa.select(memberships.c.tenant_id, memberships.c.role)
        .where(memberships.c.user_id == user_id)
        .order_by(memberships.c.created_at, memberships.c.tenant_id)
    )
    return every(conn.execute(query))


def count_owners(conn: Connection, tenant_id: str) -> int:
    """How many owners the tenant has."""
    found = conn.execute(
        sa.select(sa.func.count())
        .select_from(memberships)
        .where(memberships.c.tenant_id == tenant_id, memberships.c.role == "owner")
    ).scalar()
    return int(found or 0)


# -- sessions ----------------------------------------------------------------------------


def insert_session(conn: Connection, values: Mapping[str, Any]) -> None:
    """Store a session (token_hash, user_id, tenant_id, mode, csrf_token, times, ip)."""
    conn.execute(user_sessions.insert().values(**values))


_SESSION = (
    sa.select(user_sessions, memberships.c.role)
    .select_from(
        user_sessions.join(
            memberships,
            sa.and_(
                memberships.c.user_id == user_sessions.c.user_id,
                memberships.c.tenant_id == user_sessions.c.tenant_id,
            ),
        )
    )
    .where(user_sessions.c.token_hash == sa.bindparam("token_hash"))
)


def session(conn: Connection, token_hash: str) -> Row | None:
    """A session with the role its user holds in the session's tenant (None when the
    session or the membership is gone)."""
    return one(conn.execute(_SESSION, {"token_hash": token_hash}))


def touch_session(conn: Connection, token_hash: str, now: datetime) -> None:
    """Record the session's use."""
    conn.execute(
        user_sessions.update()
        .where(user_sessions.c.token_hash == token_hash)
        .values(last_seen_at=now)
    )


def delete_session(conn: Connection, token_hash: str) -> None:
    """End one session."""
    conn.execute(user_sessions.delete().where(user_sessions.c.token_hash == token_hash))


def delete_sessions(conn: Connection, user_id: str) -> int:
    """End every session of a user; how many."""
    result = conn.execute(user_sessions.delete().where(user_sessions.c.user_id == user_id))
    return int(result.rowcount)


# -- single-use links --------------------------------------------------------------------


def insert_token(conn: Connection, values: Mapping[str, Any]) -> Row:
    """Store a link (token_hash, kind, tenant_id, email, role, invited_by, expires_at)."""
    row = {"id": new_id("inv" if values["kind"] == "invitation" else "rst"), **values}
    conn.execute(user_tokens.insert().values(**row))
    found = one(conn.execute(sa.select(user_tokens).where(user_tokens.c.id == row["id"])))
    assert found is not None
    return found


def token_by_hash(conn: Connection, token_hash: str) -> Row | None:
    """A link by its token's hash."""
    return one(conn.execute(sa.select(user_tokens).where(user_tokens.c.token_hash == token_hash)))


def use_token(conn: Connection, token_id: str, now: datetime) -> bool:
    """Spend a link; False when it was spent, revoked or expired already (one use only,
    also under concurrency: the conditional update decides)."""
    result = conn.execute(
        user_tokens.update()
        .where(
            user_tokens.c.id == token_id,
            user_tokens.c.used_at.is_(None),
            user_tokens.c.revoked_at.is_(None),
            user_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


def invitations(conn: Connection, tenant_id: str, now: datetime) -> list[Row]:
    """The tenant's invitations not yet used, revoked or expired, newest first."""
    query = (
        sa.select(user_tokens)
        .where(
            user_tokens.c.tenant_id == tenant_id,
            user_tokens.c.kind == "invitation",
            user_tokens.c.used_at.is_(None),
            user_tokens.c.revoked_at.is_(None),
            user_tokens.c.expires_at > now,
        )
        .order_by(user_tokens.c.id.desc())
    )
    return every(conn.execute(query))


def revoke_invitation(conn: Connection, tenant_id: str, token_id: str, now: datetime) -> bool:
    """Revoke an unused invitation of the tenant; False when there is none of that id."""
    result = conn.execute(
        user_tokens.update()
        .where(
            user_tokens.c.id == token_id,
            user_tokens.c.tenant_id == tenant_id,
            user_tokens.c.kind == "invitation",
            user_tokens.c.used_at.is_(None),
        )
        .values(revoked_at=sa.func.coalesce(user_tokens.c.revoked_at, now))
    )
    return result.rowcount == 1
