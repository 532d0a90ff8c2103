"""Schema migrations (Alembic), run programmatically by `crosspost migrate` and `serve`."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crosspost.store.db import Database

_SCRIPTS = Path(__file__).with_name("migrations")


def _config(conn: sa.engine.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent)."""
    # The write lock (SQLite) or an advisory lock (PostgreSQL) lets several processes
    # start at once without racing each other through the same migration.
    with db.write() as conn:
        if not db.is_sqlite:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(72010001)"))
        at = MigrationContext.configure(conn).get_current_revision()
        if revision == "head" and at is not None and at == head_revision():
            return  # the usual start: Alembic would load every migration script to say so
        command.upgrade(_config(conn), revision)


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest revision shipped with this code (read once per process)."""
    return ScriptDirectory.from_config(_config()).get_current_head()
