"""The refresh lease is only taken over the credentials the refresher read: a refresh token
another worker already spent (and rotated) is never sent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from crosspost.store import accounts
from crosspost.store.db import Database
from crosspost.store.tables import social_accounts, tenants

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=60)


def _seed(db: Database) -> None:
    with db.write() as conn:
        conn.execute(
            tenants.insert(), {"id": "t", "name": "t", "is_default": True, "created_at": NOW}
        )
        accounts.insert_account(
            conn,
            id="acc",
            tenant_id="t",
            platform="x",
            mode="test",
            handle="h",
            external_id="x",
            role="main",
            status="active",
            scopes=[],
            credentials="sealed-0",
            created_at=NOW,
            updated_at=NOW,
        )


def _holder(db: Database) -> str | None:
    with db.read() as conn:
        holder: str | None = conn.execute(
            sa.select(social_accounts.c.refresh_locked_by).where(social_accounts.c.id == "acc")
        ).scalar_one()
    return holder


def test_the_lease_goes_only_to_a_refresher_holding_the_stored_credentials(db: Database) -> None:
    """Stale credentials never get the lease; the current ones do, and only once."""
    _seed(db)
    with db.write() as conn:
        assert not accounts.try_lock_refresh(conn, "acc", "sealed-old", "rfl_a", NOW, LEASE)
        assert accounts.try_lock_refresh(conn, "acc", "sealed-0", "rfl_b", NOW, LEASE)
        assert not accounts.try_lock_refresh(conn, "acc", "sealed-0", "rfl_c", NOW, LEASE)
    assert _holder(db) == "rfl_b"


def test_a_refresher_that_read_before_another_committed_does_not_get_the_lease(
    pg_database_url: str,
) -> None:
    """PostgreSQL, READ COMMITTED: A reads the account while B's refresh is not yet committed,
    B commits new credentials and frees the lease, then A asks for the lease. A read the old
    credentials, so it must be refused (it would spend a rotated refresh token)."""
    db = Database(pg_database_url)
    try:
        _seed(db)
        with db.engine.connect() as b, db.engine.connect() as a:
            b.begin()
            b.execute(
                social_accounts.update()
                .where(social_accounts.c.id == "acc")
                .values(credentials="sealed-1", refresh_locked_until=None, refresh_locked_by=None)
            )
            a.begin()
            seen = accounts.get_account_by_id(a, "acc")
            assert seen is not None and seen["credentials"] == "sealed-0"
            b.commit()
            assert not accounts.try_lock_refresh(a, "acc", seen["credentials"], "rfl_a", NOW, LEASE)
            a.commit()
        assert _holder(db) is None
    finally:
        db.dispose()
