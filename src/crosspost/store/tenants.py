"""Tenants and API keys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.ids import new_id
from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every, one
from crosspost.store.tables import api_keys, tenants

# The tenant's settings an operator may change (None: the server's setting of that name).
SETTINGS = (
    "name",
    "default_tier",
    "require_signing",
    "webhook_max_endpoints",
    "webhook_payload_retention_days",
    "analytics_retention_days",
    "media_retention_days",
    "published_media_retention_days",
)


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


def lock_tenant(conn: Connection, tenant_id: str) -> Row | None:
    """A tenant's row, held until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return one(conn.execute(sa.select(tenants).where(tenants.c.id == tenant_id).with_for_update()))


def insert_tenant(conn: Connection, *, name: str, now: datetime, **settings: object) -> Row:
    """Create an active tenant with `settings` (see SETTINGS); returns its row."""
    tenant_id = new_id("ten")
    conn.execute(
        tenants.insert().values(
            id=tenant_id, name=name, is_default=False, created_at=now, status="active",
            **{k: v for k, v in settings.items() if k in SETTINGS},
        )
    )  # fmt: skip
    row = get_tenant(conn, tenant_id)
    assert row is not None
    return row


def update_tenant(conn: Connection, tenant_id: str, values: dict[str, object]) -> None:
    """Change a tenant's settings or lifecycle columns."""
    if values:
        conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(**values))


def page_tenants(
    conn: Connection, *, limit: int, after: str | None = None, status: str | None = None
) -> list[Row]:
    """Tenants newest first, up to `limit` older than the cursor id `after`."""
    query = sa.select(tenants)
    if after is not None:
        query = query.where(tenants.c.id < after)
    if status is not None:
        query = query.where(tenants.c.status == status)
    return every(conn.execute(query.order_by(tenants.c.id.desc()).limit(limit)))


def tenant_ids(conn: Connection) -> list[str]:
    """Every tenant's id, oldest first."""
    return [str(r[0]) for r in conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id))]


def overrides(conn: Connection, column: str) -> dict[str, int]:
    """Tenant id → its own value of a settings `column`, for tenants that set one."""
    col = tenants.c[column]
    rows = conn.execute(sa.select(tenants.c.id, col).where(col.is_not(None)))
    return {str(r[0]): int(r[1]) for r in rows}


def purged_among(conn: Connection, tenant_ids: Iterable[str]) -> set[str]:
    """Which of these tenants were purged (nothing may be written for them again)."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return set()
    rows = conn.execute(
        sa.select(tenants.c.id).where(tenants.c.id.in_(ids), tenants.c.status == "purged")
    )
    return {str(r[0]) for r in rows}


_STATUS = Prepared(sa.select(tenants.c.status).where(tenants.c.id == sa.bindparam("id")))


def tenant_status(conn: Connection, tenant_id: str) -> str | None:
    """A tenant's status (`active`, `suspended`, …), None when there is no such tenant."""
    # Prepared: every publishing step asks.
    found = _STATUS.scalar(conn, {"id": tenant_id})
    return None if found is None else str(found)


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
    sa.select(api_keys, tenants.c.require_signing, tenants.c.status.label("tenant_status"))
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
