"""Prepared statements write and read exactly what Core does, on SQLite and PostgreSQL, and
fail the way Core fails: SQLAlchemy's exceptions, parameters hidden, the transaction intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crosspost.store.db import Database
from crosspost.store.prepared import Prepared, pipelined
from crosspost.store.tables import UTCDateTime

NOW = datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=UTC)
_meta = sa.MetaData()
things = sa.Table(
    "prepared_things",
    _meta,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("ratio", sa.Float, nullable=True),  # psycopg's reader depends on the cursor
)
COLUMNS = ["id", "count", "data", "at", "flag", "ratio"]
INSERT = Prepared(things.insert(), COLUMNS)
GET = Prepared(sa.select(things).where(things.c.id == sa.bindparam("id")))


@pytest.fixture
def things_db(db: Database) -> Database:
    _meta.create_all(db.engine)
    return db


def _row(id_: str, **changes: object) -> dict[str, object]:
    row = {"id": id_, "count": 1, "data": {"a": [1, "é"]}, "at": NOW, "flag": True, "ratio": 0.25}
    return {**row, **changes}


def test_rows_written_prepared_equal_rows_written_by_core(things_db: Database) -> None:
    east = timezone(timedelta(hours=5))
    cases = [
        _row("full"),
        _row(
            "nulls", data=None, at=None, flag=False, ratio=None
        ),  # JSON None is JSON null, as in Core
        _row("zone", at=NOW.astimezone(east)),
    ]
    with things_db.write() as conn:
        INSERT.execute(conn, cases[0])
        INSERT.execute_many(conn, cases[1:])
        conn.execute(things.insert(), [{**c, "id": f"core-{c['id']}"} for c in cases])
    with things_db.read() as conn:
        raw = {
            r["id"]: r
            for r in conn.execute(
                sa.select(things.c.id, sa.type_coerce(things.c.data, sa.String).label("json"))
            ).mappings()
        }
        for case in cases:
            mine = GET.first(conn, {"id": case["id"]})
            core = dict(
                conn.execute(sa.select(things).where(things.c.id == f"core-{case['id']}"))
                .mappings()
                .one()
            )
            assert mine == {**core, "id": case["id"]}
            assert raw[case["id"]]["json"] == raw[f"core-{case['id']}"]["json"]
        assert GET.first(conn, {"id": "zone"})["at"] == NOW  # type: ignore[index]
        assert GET.first(conn, {"id": "absent"}) is None


def test_returning_gives_the_value_and_on_conflict_skips(things_db: Database) -> None:
    dialect = things_db.engine.dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(things)
    bump = Prepared(
        insert.on_conflict_do_update(
            index_elements=["id"], set_={"count": things.c.count + insert.excluded.count}
        ).returning(things.c.count),
        COLUMNS,
    )
    with things_db.write() as conn:
        assert bump.scalar(conn, _row("n", count=2)) == 2
        assert bump.scalar(conn, _row("n", count=3)) == 5
    skip = Prepared(insert.on_conflict_do_nothing().returning(things.c.id), COLUMNS)
    with things_db.write() as conn:
        assert skip.first(conn, _row("n")) is None
        assert skip.first(conn, _row("m")) == {"id": "m"}


def test_a_failed_statement_raises_core_errors_without_its_values(things_db: Database) -> None:
    with things_db.write() as conn:
        INSERT.execute(conn, _row("dup"))

    def write_both() -> None:
        with things_db.write() as conn:
            INSERT.execute(conn, _row("other"))
            INSERT.execute(conn, _row("dup", data={"secret": "hunter2"}))

    with pytest.raises(sa.exc.IntegrityError) as caught:
        write_both()
    assert "hunter2" not in str(caught.value)
    assert "INSERT INTO prepared_things" in str(caught.value)
    with things_db.read() as conn:  # the whole transaction rolled back
        assert GET.first(conn, {"id": "other"}) is None


def test_a_missing_column_is_refused_before_any_sql(things_db: Database) -> None:
    with pytest.raises(KeyError, match="flag"), things_db.write() as conn:
        INSERT.execute(conn, {k: v for k, v in _row("x").items() if k != "flag"})


def test_all_reads_every_row_in_order_with_readers_applied(things_db: Database) -> None:
    counted = Prepared(
        sa.select(things.c.id, things.c.at)
        .where(things.c.count >= sa.bindparam("least"))
        .order_by(things.c.id.desc())
    )
    with things_db.write() as conn:
        INSERT.execute_many(conn, [_row(f"r{i}", count=i, at=NOW + timedelta(i)) for i in range(4)])
    with things_db.read() as conn:
        assert counted.all(conn, {"least": 1}) == [
            {"id": f"r{i}", "at": NOW + timedelta(i)} for i in (3, 2, 1)
        ]
        assert counted.all(conn, {"least": 1}, limit=2) == [
            {"id": "r3", "at": NOW + timedelta(3)},
            {"id": "r2", "at": NOW + timedelta(2)},
        ]
        assert counted.all(conn, {"least": 9}) == []


def test_values_the_statement_carries_itself_need_no_parameter(things_db: Database) -> None:
    newest_flagged = Prepared(
        sa.select(things.c.id)
        .where(things.c.flag.is_(True), things.c.data.is_not(None), things.c.id != "skip")
        .order_by(things.c.id.desc())
        .limit(1)
    )
    with things_db.write() as conn:
        INSERT.execute_many(conn, [_row("a"), _row("b"), _row("skip"), _row("c", flag=False)])
    with things_db.read() as conn:
        assert newest_flagged.all(conn, {}) == [{"id": "b"}]


def test_expanding_in_lists_are_refused_when_compiled(things_db: Database) -> None:
    listed = Prepared(sa.select(things.c.id).where(things.c.id.in_(["a", "b"])))
    with pytest.raises(ValueError, match="expanding IN"), things_db.read() as conn:
        listed.all(conn, {})


def test_a_pipeline_sends_writes_together_and_fails_like_core(things_db: Database) -> None:
    """Inside `pipelined`, reads still see the block's own writes; a failing write raises
    Core's error (values hidden) by the block's end, and the transaction keeps nothing."""
    with things_db.write() as conn, pipelined(conn):
        INSERT.execute(conn, _row("p1"))
        INSERT.execute_many(conn, [_row("p2"), _row("p3")])
        assert GET.first(conn, {"id": "p2"}) == {**_row("p2")}
        INSERT.execute(conn, _row("p4"))

    def failing() -> None:
        with things_db.write() as conn, pipelined(conn):
            INSERT.execute(conn, _row("p5"))
            INSERT.execute(conn, _row("p1", data={"secret": "hunter2"}))  # a duplicate
            INSERT.execute(conn, _row("p6"))

    with pytest.raises(sa.exc.IntegrityError) as caught:
        failing()
    assert "hunter2" not in str(caught.value)
    with things_db.read() as conn:
        found = [GET.first(conn, {"id": f"p{i}"}) is not None for i in range(1, 7)]
    assert found == [True, True, True, True, False, False]


def test_execute_answers_the_rows_it_changed(things_db: Database) -> None:
    bump = Prepared(things.update().where(things.c.flag == sa.bindparam("which")), ["count"])
    with things_db.write() as conn:
        INSERT.execute_many(conn, [_row("u1"), _row("u2"), _row("u3", flag=False)])
        assert bump.execute(conn, {"which": True, "count": 7}) == 2
        assert bump.execute(conn, {"which": False, "count": 9}) == 1
    with things_db.write() as conn:
        conn.execute(things.delete())
        assert bump.execute(conn, {"which": True, "count": 1}) == 0
