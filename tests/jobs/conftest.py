"""The `db` fixture for the runner tests: the shared `database_url` with the schema created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crosspost.jobs import backoff
from crosspost.store.db import Database
from crosspost.store.tables import metadata


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A `Database` on a fresh database (SQLite or PostgreSQL) with every table created."""
    database = Database(database_url)
    metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(autouse=True)
def _real_backoff() -> Iterator[None]:
    """Leave the process-wide backoff test switch off after every test."""
    yield
    backoff.set_testing(False)
