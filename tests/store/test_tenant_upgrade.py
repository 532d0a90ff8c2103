"""Migration 0010 upgrades a single-tenant install in place, on SQLite and PostgreSQL: its
tenant, keys, quotas and posts survive, the tenant is active and its quotas its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crosspost.store import migrate, tenants
from crosspost.store.db import Database
from crosspost.store.tables import usage_quotas
from crosspost.usage import metering

TENANT, KEY, POST = "ten_01JOLDINSTALL00000000000", "key_01JOLDKEY0000000000000000", "post_01JOLD"
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _stamp(db: Database) -> str:
    """`CREATED` as text the backend's timestamp column reads back as that instant."""
    return "2026-01-02 03:04:05.000000" if db.is_sqlite else "2026-01-02 03:04:05+00"


_SEED = [
    "INSERT INTO tenants (id, name, is_default, created_at, require_signing) "
    "VALUES (:tenant, 'default', TRUE, :at, FALSE)",
    "INSERT INTO api_keys (id, tenant_id, name, mode, display_prefix, key_hash, scopes, "
    "created_at, role) VALUES (:key, :tenant, 'old', 'test', 'cp_test_abcd', :hash, :scopes, "
    ":at, 'developer')",
    "INSERT INTO usage_quotas (tenant_id, metric, soft_limit, hard_limit) "
    "VALUES (:tenant, 'posts', 80, 100)",
    "INSERT INTO posts (id, tenant_id, text, overrides, status, mode, created_at, updated_at) "
    "VALUES (:post, :tenant, 'before the upgrade', '{}', 'scheduled', 'test', :at, :at)",
]
HASH = "ab" * 32


def _seed_0009(db: Database) -> None:
    """What a 0009 install holds, written with plain SQL (no code of the new schema)."""
    params = {
        "tenant": TENANT,
        "key": KEY,
        "post": POST,
        "at": _stamp(db),
        "hash": HASH,
        "scopes": '["posts:read", "posts:write"]',
    }
    with db.write() as conn:
        for statement in _SEED:
            conn.execute(sa.text(statement), params)


def test_a_single_tenant_install_upgrades_in_place(empty_database_url: str) -> None:
    """0009 → head keeps the tenant's id (now active), its key and post, and makes its quota
    the tenant's own (key_id '', set_by tenant); a key's quota on the same metric then fits."""
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db, "0009")
        assert migrate.current_revision(db) == "0009"
        _seed_0009(db)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        with db.read() as conn:
            tenant = tenants.get_tenant(conn, TENANT)
            assert tenant is not None
            assert (tenant["name"], tenant["status"], bool(tenant["is_default"])) == (
                "default",
                "active",
                True,
            )
            assert tenant["created_at"] == CREATED
            assert tenant["suspended_at"] is None and tenant["purge_after"] is None
            assert tenants.tenant_status(conn, TENANT) == "active"
            key = tenants.find_api_key(conn, HASH)
            assert key is not None
            assert (key["id"], key["tenant_id"], key["tenant_status"]) == (KEY, TENANT, "active")
            assert sorted(key["scopes"]) == ["posts:read", "posts:write"]
            post = conn.execute(
                sa.text("SELECT text, status FROM posts WHERE id = :id"), {"id": POST}
            )
            assert post.one() == ("before the upgrade", "scheduled")
            quotas = conn.execute(sa.select(usage_quotas)).mappings().all()
            assert [dict(q) for q in quotas] == [
                {
                    "tenant_id": TENANT,
                    "key_id": "",
                    "metric": "posts",
                    "set_by": "tenant",
                    "soft_limit": 80,
                    "hard_limit": 100,
                    "warned_period": None,
                }
            ]
            [report] = metering.quota_report(conn, TENANT, "2026-01")
            assert (report["key_id"], report["set_by"], report["hard_limit"]) == (
                None,
                "tenant",
                100,
            )
        # The key joined the primary key: the key's own quota on the metric is a new row,
        # and the old one is still unique for the tenant.
        with db.write() as conn:
            conn.execute(
                usage_quotas.insert().values(
                    tenant_id=TENANT, key_id=KEY, metric="posts", set_by="tenant", hard_limit=5
                )
            )
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.execute(
                usage_quotas.insert().values(tenant_id=TENANT, metric="posts", hard_limit=1)
            )
        with db.read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(usage_quotas))
            assert count.scalar_one() == 2
    finally:
        db.dispose()
