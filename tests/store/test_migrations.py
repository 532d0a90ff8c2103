"""Alembic's head matches the table definitions, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crosspost.store import migrate
from crosspost.store.db import Database
from crosspost.store.tables import metadata


def test_upgrade_head_matches_metadata(empty_database_url: str) -> None:
    """Migrating an empty database gives exactly the declared schema; twice is a no-op."""
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
    finally:
        db.dispose()


def test_head_is_alembics_head() -> None:
    """The head read from the scripts' lines is the one Alembic finds by loading them."""
    config = Config()
    config.set_main_option("script_location", str(migrate._SCRIPTS))
    assert migrate.head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_current_revision_reads_the_version_table(empty_database_url: str) -> None:
    """An unmigrated database is at no revision; after an upgrade to 0003, at 0003, as
    Alembic itself reads it."""
    db = Database(empty_database_url)
    try:
        assert migrate.current_revision(db) is None
        migrate.upgrade(db, "0003")
        assert migrate.current_revision(db) == "0003"
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0003"
    finally:
        db.dispose()


def test_sqlite_never_reuses_job_ids(sqlite_url: str) -> None:
    """Job ids are fencing tokens with `attempts`: SQLite must not hand a deleted id out again."""
    db = Database(sqlite_url)
    try:
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            ddl = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name='jobs'"
            ).scalar_one()
        assert "AUTOINCREMENT" in ddl.upper()
    finally:
        db.dispose()
