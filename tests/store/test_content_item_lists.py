"""Content item lists on SQLite and PostgreSQL: every sort pages through all matching items
exactly once in order (ties by id, unscored items last both ways), and each is planned as a
read off its index rather than a sort of the tenant's rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.store import content_items as rows
from crosspost.store.db import Database
from crosspost.store.tables import tenants
from crosspost.store.tables_pipeline import SORT_COLUMNS, content_items, pipelines

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def filled(db: Database) -> tuple[Database, list[dict[str, Any]]]:
    """A tenant with 57 items: repeated values, a third unscored, another tenant's noise."""
    rng = random.Random(7)
    made: list[dict[str, Any]] = []
    with db.write() as conn:
        for tenant in ("tn_a", "tn_b"):
            conn.execute(
                tenants.insert(),
                {"id": tenant, "name": tenant, "is_default": False, "created_at": NOW},
            )
            conn.execute(
                pipelines.insert(),
                {"id": f"pln_{tenant}", "tenant_id": tenant, "name": "p", "mode": "test",
                 "twitch_login": "someone", "repositories": [], "match_window_minutes": 60,
                 "webhook_secret": "x", "github_seen": {}, "created_at": NOW,
                 "updated_at": NOW},
            )  # fmt: skip
        for n in range(57 + 20):
            tenant = "tn_a" if n < 57 else "tn_b"
            item = {
                "id": f"ci_{n:03d}", "tenant_id": tenant, "pipeline_id": f"pln_{tenant}",
                "platform": "twitch", "clip_id": f"c{n}", "clip_title": "t", "clip_url": "u",
                "clip_embed_url": "", "clip_thumbnail_url": "",
                "clip_duration": float(rng.choice([10, 20, 30])),
                "clip_view_count": rng.choice([0, 5, 5, 100]),
                "clip_created_at": NOW - timedelta(minutes=rng.choice([1, 2, 3, 4])),
                "broadcaster_name": "b", "creator_name": "c",
                "processing_status": "pending", "review": "pending",
                "content_score": None if n % 3 == 0 else float(rng.choice([10, 50, 50, 90])),
                "stored_at": NOW, "updated_at": NOW,
            }  # fmt: skip
            conn.execute(content_items.insert(), item)
            if tenant == "tn_a":
                made.append(item)
    return db, made


@pytest.mark.parametrize("sort", sorted(rows.SORTS))
@pytest.mark.parametrize("descending", [True, False])
def test_every_sort_pages_through_each_item_once_in_order(
    filled: tuple[Database, list[dict[str, Any]]], sort: str, descending: bool
) -> None:
    """Pages of 5 with keyset positions give exactly the Python-sorted list."""
    db, made = filled
    column = rows.SORTS[sort].name

    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        value = item[column]
        return (value is None, value if value is not None else 0, item["id"])

    valued = sorted((i for i in made if i[column] is not None), key=key, reverse=descending)
    unvalued = sorted((i for i in made if i[column] is None), key=key, reverse=descending)
    expected = [i["id"] for i in valued + unvalued]
    seen: list[str] = []
    after = None
    with db.read() as conn:
        while True:
            page = rows.list_items(
                conn, "tn_a", rows.ItemFilter(), sort=sort, descending=descending,
                after=after, limit=5,
            )  # fmt: skip
            if not page:
                break
            seen += [r["id"] for r in page]
            last = page[-1]
            after = (last[column], last["id"])
    assert seen == expected


def test_each_sort_is_read_off_its_index(filled: tuple[Database, list[dict[str, Any]]]) -> None:
    """The planner is asked how it would list the first page of each sort: no step sorts."""
    db, _ = filled
    with db.read() as conn:
        for sort, column in rows.SORTS.items():
            query = (
                sa.select(content_items.c.id)
                .where(content_items.c.tenant_id == "tn_a", column.is_not(None))
                .order_by(column.desc(), content_items.c.id.desc())
                .limit(20)
            )
            compiled = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            if conn.dialect.name == "sqlite":
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}"))  # fmt: skip
                assert "TEMP B-TREE" not in plan, (sort, plan)
                assert f"ix_content_items_tenant_id_{column.name}_id" in plan, (sort, plan)
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
                assert "Sort" not in plan, (sort, plan)


def test_sqlite_statistics_are_refreshed_on_request(
    filled: tuple[Database, list[dict[str, Any]]],
) -> None:
    """SQLite keeps no planner statistics until asked; the maintenance job's call writes
    them for the items' indexes (PostgreSQL's autovacuum keeps its own: a no-op there)."""
    db, _ = filled
    if not db.is_sqlite:
        pytest.skip("PostgreSQL's autovacuum keeps its statistics")
    db.refresh_statistics()
    with db.read() as conn:
        indexes = set(
            conn.exec_driver_sql(
                "SELECT idx FROM sqlite_stat1 WHERE tbl = 'content_items'"
            ).scalars()
        )
    assert {f"ix_content_items_tenant_id_{c}_id" for c in SORT_COLUMNS} <= indexes
