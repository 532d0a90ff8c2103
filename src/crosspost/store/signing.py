"""Request signing: sealed signing secrets per API key, recent nonces, the tenant's policy."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crosspost.store.rows import Row, every, one
from crosspost.store.tables import api_keys, request_nonces, signing_secrets, tenants

_PUBLIC = (
    signing_secrets.c.id,
    signing_secrets.c.key_id,
    signing_secrets.c.created_at,
    signing_secrets.c.expires_at,
)


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > now)


def find_key(conn: Connection, tenant_id: str, key_id: str, *, lock: bool = False) -> Row | None:
    """A key of the tenant (id, revoked_at, expires_at); `lock` holds its row until commit
    (FOR UPDATE; SQLite's writers are serialised anyway), so two rotations of one key at
    once cannot both leave a secret without expiry."""
    query = sa.select(api_keys.c.id, api_keys.c.revoked_at, api_keys.c.expires_at).where(
        api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id
    )
    return one(conn.execute(query.with_for_update() if lock else query))


def insert_secret(
    conn: Connection,
    *,
    secret_id: str,
    tenant_id: str,
    key_id: str,
    sealed: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    """Store a sealed signing secret (no expiry: current until rotated or revoked)."""
    conn.execute(
        signing_secrets.insert().values(
            id=secret_id,
            tenant_id=tenant_id,
            key_id=key_id,
            secret=sealed,
            created_at=now,
            expires_at=expires_at,
        )
    )


def expire_secrets(conn: Connection, key_id: str, *, at: datetime, now: datetime) -> int:
    """Make every live secret of a key stop at `at` (never later than already planned)."""
    result = conn.execute(
        signing_secrets.update()
        .where(
            signing_secrets.c.key_id == key_id,
            _live(now),
            sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > at),
        )
        .values(expires_at=at)
    )
    return int(result.rowcount)


def live_secrets(conn: Connection, tenant_id: str, key_id: str, now: datetime) -> list[Row]:
    """The sealed secrets of a key that still verify, newest first."""
    rows = conn.execute(
        sa.select(signing_secrets)
        .where(
            signing_secrets.c.tenant_id == tenant_id,
            signing_secrets.c.key_id == key_id,
            _live(now),
        )
        .order_by(signing_secrets.c.id.desc())
    )
    return every(rows)


def list_secrets(conn: Connection, tenant_id: str, key_id: str) -> list[Row]:
    """Every secret of a key, newest first, without the sealed value."""
    rows = conn.execute(
        sa.select(*_PUBLIC)
        .where(signing_secrets.c.tenant_id == tenant_id, signing_secrets.c.key_id == key_id)
        .order_by(signing_secrets.c.id.desc())
    )
    return every(rows)


def end_secret(
    conn: Connection, tenant_id: str, key_id: str, secret_id: str, now: datetime
) -> bool:
    """Stop one secret now (kept for the record); False if the key has no such secret."""
    found = conn.execute(
        sa.select(signing_secrets.c.expires_at).where(
            signing_secrets.c.id == secret_id,
            signing_secrets.c.tenant_id == tenant_id,
            signing_secrets.c.key_id == key_id,
        )
    ).first()
    if found is None:
        return False
    if found.expires_at is None or found.expires_at > now:
        conn.execute(
            signing_secrets.update().where(signing_secrets.c.id == secret_id).values(expires_at=now)
        )
    return True


def keys_without_secret(conn: Connection, tenant_id: str, now: datetime) -> list[str]:
    """Ids of the tenant's usable keys that have no live signing secret."""
    has_secret = (
        sa.select(signing_secrets.c.id)
        .where(signing_secrets.c.key_id == api_keys.c.id, _live(now))
        .exists()
    )
    rows = conn.execute(
        sa.select(api_keys.c.id)
        .where(
            api_keys.c.tenant_id == tenant_id,
            api_keys.c.revoked_at.is_(None),
            sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
            ~has_secret,
        )
        .order_by(api_keys.c.id)
    )
    return [str(r.id) for r in rows]


def require_signing(conn: Connection, tenant_id: str) -> bool:
    """Whether the tenant requires every API-key request to be signed."""
    found = conn.execute(
        sa.select(tenants.c.require_signing).where(tenants.c.id == tenant_id)
    ).scalar()
    return bool(found)


def set_require_signing(conn: Connection, tenant_id: str, required: bool) -> bool:
    """Turn the tenant's signing requirement on or off; False if there is no such tenant."""
    result = conn.execute(
        tenants.update().where(tenants.c.id == tenant_id).values(require_signing=required)
    )
    return result.rowcount == 1


def _remember_statement(dialect: str) -> sa.Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(request_nonces).values(
        key_id=sa.bindparam("key_id"),
        nonce=sa.bindparam("nonce"),
        expires_at=sa.bindparam("expires_at"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[request_nonces.c.key_id, request_nonces.c.nonce],
        set_={"expires_at": stmt.excluded.expires_at},
        where=request_nonces.c.expires_at <= sa.bindparam("now"),
    ).returning(request_nonces.c.key_id)


# Built once per dialect: every signed request runs it, and building the statement (and
# its cache key) per call cost more than executing it on SQLite.
_REMEMBER = {dialect: _remember_statement(dialect) for dialect in ("postgresql", "sqlite")}


def remember_nonce(
    conn: Connection, key_id: str, nonce: str, *, expires_at: datetime, now: datetime
) -> bool:
    """Record a nonce; False when the key already used it and it has not yet expired.

    One statement (insert, or take over a row whose time is up), so two API processes
    racing on one nonce serialise on its primary key and exactly one of them wins.
    """
    params = {"key_id": key_id, "nonce": nonce, "expires_at": expires_at, "now": now}
    # RETURNING, not rowcount: psycopg reports -1 for an upsert's rowcount.
    return conn.execute(_REMEMBER[conn.dialect.name], params).first() is not None


def purge_nonces(conn: Connection, now: datetime, *, limit: int = 1000) -> int:
    """Delete up to `limit` nonces whose time is up; returns how many.

    Rows another transaction holds are skipped (SKIP LOCKED), so API processes purging at
    the same moment never wait on, or deadlock with, each other.
    """
    expired = (
        sa.select(request_nonces.c.key_id, request_nonces.c.nonce)
        .where(request_nonces.c.expires_at <= now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = conn.execute(
        request_nonces.delete().where(
            sa.tuple_(request_nonces.c.key_id, request_nonces.c.nonce).in_(expired)
        )
    )
    return int(result.rowcount)
