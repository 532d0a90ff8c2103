"""Schema migrations (Alembic), run programmatically by `crosspost migrate` and `serve`."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from crosspost.store.db import Database

# Alembic is imported only to migrate: importing it (Mako and Pygments with it) costs every
# process a fifth of a second at start, and the usual start finds the schema current.
if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)
_REVISES = re.compile(r'^down_revision = (?:"([^"]+)"|None)$', re.MULTILINE)


def _config(conn: sa.engine.Connection | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415

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
        at = _revision_of(conn)
        if revision == "head" and at is not None and at == head_revision():
            return  # the usual start
        from alembic import command  # noqa: PLC0415

        command.upgrade(_config(conn), revision)


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with db.engine.connect() as conn:
        return _revision_of(conn)


def _revision_of(conn: sa.engine.Connection) -> str | None:
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


@functools.cache
def head_revision() -> str:
    """The newest revision shipped with this code: the one no script revises.

    Read from the scripts' `revision` and `down_revision` lines (once per process), which
    is what Alembic's ScriptDirectory does by importing every script; a test holds the two
    equal.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (_SCRIPTS / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        found, revises = _REVISION.search(text), _REVISES.search(text)
        if found is None or revises is None:
            raise RuntimeError(f"{script.name} names no revision or down_revision")
        revisions.add(found.group(1))
        if revises.group(1) is not None:
            revised.add(revises.group(1))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()
