"""Two targets of one post finishing at the same moment still roll the post up correctly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from crosspost.domain.enums import TargetStatus
from crosspost.engine.transitions import transition
from crosspost.store import migrate
from crosspost.store.db import Database
from crosspost.store.posts import get_target
from crosspost.store.tables import posts, social_accounts, targets, tenants

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(db: Database) -> None:
    with db.write() as conn:
        conn.execute(
            tenants.insert(), {"id": "t", "name": "t", "is_default": True, "created_at": NOW}
        )
        conn.execute(
            social_accounts.insert(),
            {
                "id": "acc",
                "tenant_id": "t",
                "platform": "youtube",
                "mode": "test",
                "handle": "h",
                "external_id": "x",
                "role": "main",
                "status": "active",
                "scopes": [],
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        conn.execute(
            posts.insert(),
            {
                "id": "post",
                "tenant_id": "t",
                "text": "",
                "overrides": {},
                "status": "publishing",
                "mode": "test",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        for tid in ("t1", "t2"):
            conn.execute(
                targets.insert(),
                {
                    "id": tid,
                    "tenant_id": "t",
                    "post_id": "post",
                    "account_id": "acc",
                    "platform": "youtube",
                    "status": "processing",
                    "attempts": 1,
                    "transient_errors": 0,
                    "session": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )


def test_concurrent_final_transitions(database_url: str) -> None:
    """A holds its transaction open while B finishes the other target: the post ends published."""
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        _seed(db)
        a_written, b_done = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def finish(target_id: str, first: bool) -> None:
            try:
                with db.write() as conn:
                    row = get_target(conn, target_id)
                    assert row is not None
                    transition(conn, row, now=NOW, status=TargetStatus.PUBLISHED)
                    if first:
                        a_written.set()
                        # Give B the chance to interleave (it blocks on the post lock when
                        # the rollup is serialised; without the lock it would finish here).
                        b_done.wait(timeout=1.0)
            except BaseException as exc:
                errors.append(exc)
            finally:
                if not first:
                    b_done.set()

        a = threading.Thread(target=finish, args=("t1", True))
        a.start()
        assert a_written.wait(timeout=10)
        b = threading.Thread(target=finish, args=("t2", False))
        b.start()
        a.join(timeout=20)
        b.join(timeout=20)
        assert not errors, errors
        with db.read() as conn:
            status = conn.execute(
                sa.select(posts.c.status).where(posts.c.id == "post")
            ).scalar_one()
        assert status == "published"
    finally:
        db.dispose()
