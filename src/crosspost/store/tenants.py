"""Tenants and API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.rows import Row, every, one
from crosspost.store.tables import api_keys, tenants


def ensure_default_tenant(conn: Connection, now: datetime) -> str:
    """The default tenant's id, created on first start."""
    found = conn.execute(sa.select(tenants.c.id).where(tenants.c.is_default)).scalar()
    if found:
        return str(found)
    tenant_id = new_id("ten")
    conn.execute(
        tenants.insert().values(id=tenant_id, name="default", is_default=True, created_at=now)
    )
    return tenant_id


def get_tenant(conn: Connection, tenant_id: str) -> Row | None:
    """One tenant."""
    return one(conn.execute(sa.select(tenants).where(tenants.c.id == tenant_id)))


def insert_api_key(
    conn: Connection,
    *,
    tenant_id: str,
    name: str,
    mode: str,
    display_prefix: str,
    key_hash: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None = None,
    role: str | None = None,
    tier: str | None = None,
    rate_limits: dict[str, int] | None = None,
) -> str:
    """Store a new key's hash; returns the key id."""
    key_id = new_id("key")
    conn.execute(
        api_keys.insert().values(
            id=key_id,
            tenant_id=tenant_id,
            name=name,
            mode=mode,
            display_prefix=display_prefix,
            key_hash=key_hash,
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
            role=role,
            tier=tier,
            rate_limits=rate_limits,
        )
    )
    return key_id


def get_api_key(conn: Connection, tenant_id: str, key_id: str) -> Row | None:
    """One key of a tenant (another tenant's id finds nothing)."""
    return one(
        conn.execute(
            sa.select(api_keys).where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id)
        )
    )


def mark_rolled(conn: Connection, key_id: str, *, rolled_to: str, expires_at: datetime) -> None:
    """Record a key's replacement and when the old key stops working."""
    conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id)
        .values(rolled_to=rolled_to, expires_at=expires_at)
    )


def update_api_key(conn: Connection, key_id: str, values: dict[str, object]) -> None:
    """Change a key's name, tier or rate-limit override."""
    allowed = {k: v for k, v in values.items() if k in ("name", "tier", "rate_limits")}
    if allowed:
        conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(**allowed))


_BY_HASH = (
    sa.select(api_keys, tenants.c.require_signing)
    .join(tenants, tenants.c.id == api_keys.c.tenant_id)
    .where(api_keys.c.key_hash == sa.bindparam("key_hash"))
)


def find_api_key(conn: Connection, key_hash: str) -> Row | None:
    """The key row with this hash, if any."""
    return one(conn.execute(_BY_HASH, {"key_hash": key_hash}))


def touch_api_key(conn: Connection, key_id: str, now: datetime) -> None:
    """Record that the key was used."""
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))


def list_api_keys(conn: Connection, tenant_id: str) -> list[Row]:
    """Every key of a tenant, newest first."""
    rows = conn.execute(
        sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.id.desc())
    )
    return every(rows)


def revoke_api_key(conn: Connection, tenant_id: str, key_id: str, now: datetime) -> bool:
    """Revoke a key; False if the tenant has no such key."""
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id)
        .values(revoked_at=sa.func.coalesce(api_keys.c.revoked_at, now))
    )
    return result.rowcount == 1
