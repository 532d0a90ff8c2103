"""What people authorised third-party apps to do: authorization codes, grants (token
families) and refresh tokens, every secret by its hash."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables_identity import (
    memberships,
    oauth_clients,
    oauth_codes,
    oauth_grants,
    oauth_refresh_tokens,
    users,
)


def insert_code(conn: Connection, values: Mapping[str, Any]) -> None:
    """Store a new authorization code."""
    conn.execute(oauth_codes.insert().values(**values))


def find_code(conn: Connection, code_hash: str, client_id: str) -> Row | None:
    """An authorization code issued to `client_id`, used or not."""
    query = sa.select(oauth_codes).where(
        oauth_codes.c.code_hash == code_hash, oauth_codes.c.client_id == client_id
    )
    return one(conn.execute(query))


def use_code(conn: Connection, code_hash: str, grant_id: str, now: datetime) -> bool:
    """Mark a code used by the grant it started; False when another exchange used it first
    (the row lock makes a racing exchange wait, then find it used)."""
    result = conn.execute(
        oauth_codes.update()
        .where(oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at.is_(None))
        .values(used_at=now, grant_id=grant_id)
    )
    return result.rowcount == 1


def delete_codes_expired_before(conn: Connection, cutoff: datetime) -> int:
    """Forget codes that expired before `cutoff`."""
    return conn.execute(oauth_codes.delete().where(oauth_codes.c.expires_at < cutoff)).rowcount


def insert_grant(conn: Connection, values: Mapping[str, Any]) -> None:
    """Store a new grant."""
    conn.execute(oauth_grants.insert().values(**values))


def get_grant(conn: Connection, grant_id: str) -> Row | None:
    """A grant with its app's name and standing, and the person's current role in the
    grant's tenant (None once they left it)."""
    query = (
        sa.select(
            oauth_grants,
            oauth_clients.c.name.label("client_name"),
            oauth_clients.c.revoked_at.label("client_revoked_at"),
            memberships.c.role,
        )
        .join(oauth_clients, oauth_clients.c.id == oauth_grants.c.client_id)
        .outerjoin(
            memberships,
            sa.and_(
                memberships.c.tenant_id == oauth_grants.c.tenant_id,
                memberships.c.user_id == oauth_grants.c.user_id,
            ),
        )
        .where(oauth_grants.c.id == grant_id)
    )
    return one(conn.execute(query))


def list_grants(
    conn: Connection,
    tenant_id: str,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    active_only: bool = True,
) -> list[Row]:
    """A tenant's grants, newest first, with the app's name and the person's email."""
    query = (
        sa.select(
            oauth_grants,
            oauth_clients.c.name.label("client_name"),
            users.c.email.label("user_email"),
        )
        .join(oauth_clients, oauth_clients.c.id == oauth_grants.c.client_id)
        .join(users, users.c.id == oauth_grants.c.user_id)
        .where(oauth_grants.c.tenant_id == tenant_id)
        .order_by(oauth_grants.c.id.desc())
    )
    if user_id is not None:
        query = query.where(oauth_grants.c.user_id == user_id)
    if client_id is not None:
        query = query.where(oauth_grants.c.client_id == client_id)
    if active_only:
        query = query.where(oauth_grants.c.revoked_at.is_(None))
    return every(conn.execute(query))


def revoke_grants(
    conn: Connection,
    tenant_id: str,
    *,
    now: datetime,
    reason: str,
    grant_id: str | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
) -> list[str]:
    """Revoke the tenant's active grants that match; the ids revoked."""
    where = [oauth_grants.c.tenant_id == tenant_id, oauth_grants.c.revoked_at.is_(None)]
    if grant_id is not None:
        where.append(oauth_grants.c.id == grant_id)
    if user_id is not None:
        where.append(oauth_grants.c.user_id == user_id)
    if client_id is not None:
        where.append(oauth_grants.c.client_id == client_id)
    ids = [r[0] for r in conn.execute(sa.select(oauth_grants.c.id).where(*where))]
    if ids:
        conn.execute(
            oauth_grants.update()
            .where(oauth_grants.c.id.in_(ids), oauth_grants.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
    return ids


def touch_grant(conn: Connection, grant_id: str, now: datetime) -> None:
    """Note that the grant's refresh token was used."""
    conn.execute(
        oauth_grants.update().where(oauth_grants.c.id == grant_id).values(last_used_at=now)
    )


def insert_refresh_token(conn: Connection, values: Mapping[str, Any]) -> None:
    """Store a new refresh token."""
    conn.execute(oauth_refresh_tokens.insert().values(**values))


def find_refresh_token(conn: Connection, token_hash: str) -> Row | None:
    """A refresh token with its grant's app, person and standing."""
    query = (
        sa.select(
            oauth_refresh_tokens,
            oauth_grants.c.client_id,
            oauth_grants.c.user_id,
            oauth_grants.c.revoked_at.label("grant_revoked_at"),
        )
        .join(oauth_grants, oauth_grants.c.id == oauth_refresh_tokens.c.grant_id)
        .where(oauth_refresh_tokens.c.token_hash == token_hash)
    )
    return one(conn.execute(query))


def rotate_refresh_token(conn: Connection, token_hash: str, now: datetime) -> bool:
    """Mark a refresh token used; False when it already was (a replay, or a racing use)."""
    result = conn.execute(
        oauth_refresh_tokens.update()
        .where(
            oauth_refresh_tokens.c.token_hash == token_hash,
            oauth_refresh_tokens.c.rotated_at.is_(None),
        )
        .values(rotated_at=now)
    )
    return result.rowcount == 1


def delete_refresh_tokens_expired_before(conn: Connection, cutoff: datetime) -> int:
    """Forget refresh tokens that expired before `cutoff`."""
    table = oauth_refresh_tokens
    return conn.execute(table.delete().where(table.c.expires_at < cutoff)).rowcount
