"""OAuth 2.0 clients (services and third-party apps) and the server's JWT signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables_identity import jwt_keys, oauth_clients

# Serializes key rotation across PostgreSQL processes (SQLite's BEGIN IMMEDIATE already does).
_ROTATION_LOCK = 72010017


def insert_client(
    conn: Connection,
    *,
    client_id: str,
    tenant_id: str,
    name: str,
    mode: str,
    secret_hash: str | None,
    scopes: list[str],
    tier: str | None,
    now: datetime,
    kind: str = "service",
    client_type: str = "confidential",
    redirect_uris: list[str] | None = None,
) -> None:
    """Store a new client with the keyed hash of its secret (None: a public app)."""
    conn.execute(
        oauth_clients.insert().values(
            id=client_id,
            tenant_id=tenant_id,
            name=name,
            mode=mode,
            secret_hash=secret_hash,
            scopes=scopes,
            tier=tier,
            created_at=now,
            kind=kind,
            client_type=client_type,
            redirect_uris=redirect_uris,
        )
    )


def find_client(conn: Connection, client_id: str) -> Row | None:
    """A client by id whatever its tenant (authentication: the id arrives before the tenant)."""
    return one(conn.execute(sa.select(oauth_clients).where(oauth_clients.c.id == client_id)))


def get_client(
    conn: Connection, tenant_id: str, client_id: str, kind: str = "service"
) -> Row | None:
    """One of a tenant's clients of a kind ('service' or 'app')."""
    query = sa.select(oauth_clients).where(
        oauth_clients.c.id == client_id,
        oauth_clients.c.tenant_id == tenant_id,
        oauth_clients.c.kind == kind,
    )
    return one(conn.execute(query))


def list_clients(conn: Connection, tenant_id: str, kind: str = "service") -> list[Row]:
    """Every client of a kind ('service' or 'app') of a tenant, newest first."""
    query = (
        sa.select(oauth_clients)
        .where(oauth_clients.c.tenant_id == tenant_id, oauth_clients.c.kind == kind)
        .order_by(oauth_clients.c.id.desc())
    )
    return every(conn.execute(query))


def revoke_client(
    conn: Connection, tenant_id: str, client_id: str, now: datetime, kind: str = "service"
) -> bool:
    """Revoke a client (the first revocation time is kept); False if the tenant has none."""
    result = conn.execute(
        oauth_clients.update()
        .where(
            oauth_clients.c.id == client_id,
            oauth_clients.c.tenant_id == tenant_id,
            oauth_clients.c.kind == kind,
        )
        .values(revoked_at=sa.func.coalesce(oauth_clients.c.revoked_at, now))
    )
    return result.rowcount == 1


def lock_jwt_keys(conn: Connection) -> None:
    """Hold the rotation lock until the transaction ends (a write transaction on SQLite
    already excludes every other writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ROTATION_LOCK)))


def insert_jwt_key(
    conn: Connection, *, kid: str, private_key: str, public_jwk: dict[str, Any], now: datetime
) -> None:
    """Store a new signing key (its private half already sealed)."""
    conn.execute(
        jwt_keys.insert().values(
            id=kid, private_key=private_key, public_jwk=public_jwk, created_at=now
        )
    )


def list_jwt_keys(conn: Connection) -> list[Row]:
    """Every stored signing key, newest first (private halves still sealed)."""
    query = sa.select(jwt_keys).order_by(jwt_keys.c.created_at.desc(), jwt_keys.c.id.desc())
    return every(conn.execute(query))


def current_jwt_key(conn: Connection) -> Row | None:
    """The newest key not yet retired."""
    query = (
        sa.select(jwt_keys)
        .where(jwt_keys.c.retired_at.is_(None))
        .order_by(jwt_keys.c.created_at.desc(), jwt_keys.c.id.desc())
        .limit(1)
    )
    return one(conn.execute(query))


def retire_jwt_keys(conn: Connection, *, keep: str, now: datetime) -> int:
    """Retire every key in use except `keep`; returns how many were retired."""
    result = conn.execute(
        jwt_keys.update()
        .where(jwt_keys.c.retired_at.is_(None), jwt_keys.c.id != keep)
        .values(retired_at=now)
    )
    return result.rowcount


def delete_jwt_keys_retired_before(conn: Connection, cutoff: datetime) -> int:
    """Delete keys retired before `cutoff` (no token they signed is still valid)."""
    result = conn.execute(jwt_keys.delete().where(jwt_keys.c.retired_at < cutoff))
    return result.rowcount
