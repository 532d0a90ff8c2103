"""Migration 0016 gives the targets already published a pending metrics row (the planner
then schedules them), and none to the others; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from crosspost.store import migrate
from crosspost.store.db import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _insert(conn: sa.Connection, table: str, **values: object) -> None:
    columns = ", ".join(values)
    names = ", ".join(f":{name}" for name in values)
    conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({names})"), values)  # noqa: S608


def test_published_targets_get_a_pending_metrics_row(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db, "0015")
        naive = NOW.replace(tzinfo=None)  # as SQLite stores UTC; PostgreSQL reads it as UTC
        with db.engine.begin() as conn:
            _insert(conn, "tenants", id="ten_1", name="t", is_default=True, created_at=naive)
            _insert(conn, "social_accounts", id="acc_1", tenant_id="ten_1", platform="x",
                    mode="test", handle="h", external_id="1", role="main", status="active",
                    scopes="[]", created_at=naive, updated_at=naive)  # fmt: skip
            _insert(conn, "posts", id="pst_1", tenant_id="ten_1", text="t", overrides="{}",
                    status="partially_published", mode="test", created_at=naive,
                    updated_at=naive)  # fmt: skip
            for target, status, published in (("tgt_1", "published", naive),
                                               ("tgt_2", "failed", None)):  # fmt: skip
                _insert(conn, "targets", id=target, tenant_id="ten_1", post_id="pst_1",
                        account_id="acc_1", platform="x", status=status, attempts=1,
                        transient_errors=0, session="{}", created_at=naive, updated_at=naive,
                        published_at=published)  # fmt: skip
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT target_id, state, platform, fetches FROM target_metrics")
            ).all()
        assert [tuple(r) for r in rows] == [("tgt_1", "pending", "x", 0)]
    finally:
        db.dispose()
