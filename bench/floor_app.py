"""The floor of `POST /v1/posts`: the least a FastAPI + uvicorn app can do for that request.

It checks a bearer key against a dict, validates a small pydantic body and inserts one row in
one transaction, into SQLite (WAL, crosspost's pragmas) or PostgreSQL (through a psycopg
connection pool), and is served by uvicorn as `crosspost serve` serves the API. It imports
nothing of crosspost. `bench.api_latency` drives it and crosspost with the same client and
prints how close crosspost comes to it. The `Idempotency-Key` each request carries is ignored
here: keeping answers to replay is part of what crosspost does above the floor.

    FLOOR_KEY=… FLOOR_DATABASE=/tmp/floor.db python -m bench.floor_app --port 8100

FLOOR_DATABASE is a SQLite file's path or a `postgresql://` URL (given by environment, like
the key, so neither shows in the process list).
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at run
# time, and those name the key dict's dependency, a local of create_app.
import argparse
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Protocol

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field


class PostIn(BaseModel):
    """The body: the fields of crosspost's `POST /v1/posts` that the bench sends."""

    model_config = ConfigDict(extra="forbid")

    media_id: str | None = None
    text: str = Field(default="", max_length=10_000)
    targets: list[str] = Field(min_length=1, max_length=50)
    publish_at: datetime | None = None


class PostOut(BaseModel):
    """The row as stored, which is also the answer."""

    id: str
    tenant: str
    text: str
    publish_at: datetime | None
    created_at: datetime


class Store(Protocol):
    """Where the floor writes its one row per request."""

    async def insert(self, post: PostOut) -> None:
        """Insert `post` in a transaction of its own."""

    async def close(self) -> None:
        """Release the connections."""


class SqliteStore:
    """One connection, used on the event loop: crosspost runs its SQLite work inline too (a
    hop to a thread costs more than the insert), and SQLite admits one writer at a time."""

    def __init__(self, path: str) -> None:
        # isolation_level=None: the transaction is the explicit BEGIN IMMEDIATE below, as
        # crosspost's write transactions begin.
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        # The pragmas of crosspost.store.db._configure_sqlite.
        pragmas = (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        )
        for pragma in pragmas:
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, tenant TEXT NOT NULL,"
            " text TEXT NOT NULL, publish_at TEXT, created_at TEXT NOT NULL)"
        )

    async def insert(self, post: PostOut) -> None:
        """Insert `post` in a transaction of its own."""
        publish_at = post.publish_at.isoformat() if post.publish_at else None
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "INSERT INTO posts VALUES (?, ?, ?, ?, ?)",
                (post.id, post.tenant, post.text, publish_at, post.created_at.isoformat()),
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    async def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class PostgresStore:
    """psycopg's async pool, sized as crosspost's engine (10 connections, 10 more at peaks)."""

    def __init__(self, url: str) -> None:
        from psycopg_pool import AsyncConnectionPool  # only the PostgreSQL floor needs it

        self.pool = AsyncConnectionPool(url, min_size=10, max_size=20, open=False)

    async def open(self) -> None:
        """Fill the pool and create the table."""
        await self.pool.open(wait=True)
        async with self.pool.connection() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, tenant TEXT NOT NULL,"
                " text TEXT NOT NULL, publish_at TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL)"
            )

    async def insert(self, post: PostOut) -> None:
        """Insert `post` in a transaction of its own (the pool commits when the block ends)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO posts VALUES (%s, %s, %s, %s, %s)",
                (post.id, post.tenant, post.text, post.publish_at, post.created_at),
            )

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.pool.close()


async def open_store(database: str) -> Store:
    """The store for `database`: a `postgresql://` URL, or else a SQLite file's path."""
    if database.startswith(("postgresql://", "postgres://")):
        store = PostgresStore(database)
        await store.open()
        return store
    return SqliteStore(database)


def create_app(database: str, keys: dict[str, str]) -> FastAPI:
    """The floor app writing to `database` and taking the bearer keys of `keys` (key→tenant)."""
    stores: list[Store] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stores.append(await open_store(database))
        try:
            yield
        finally:
            await stores.pop().close()

    # async: FastAPI runs a plain `def` dependency in its thread pool, a cost of its own.
    async def tenant_of(authorization: Annotated[str | None, Header()] = None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        tenant = keys.get(token) if scheme.lower() == "bearer" else None
        if tenant is None:
            raise HTTPException(401, "unknown key", headers={"WWW-Authenticate": "Bearer"})
        return tenant

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/posts", status_code=201)
    async def create(body: PostIn, tenant: Annotated[str, Depends(tenant_of)]) -> PostOut:
        post = PostOut(
            id=uuid.uuid4().hex,
            tenant=tenant,
            text=body.text,
            publish_at=body.publish_at,
            created_at=datetime.now(UTC),
        )
        await stores[0].insert(post)
        return post

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve the floor on --port until stopped."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ["FLOOR_DATABASE"], {os.environ["FLOOR_KEY"]: "tenant_floor"})
    # uvicorn configured as `crosspost serve` configures it (crosspost.cli.serve): loop and
    # HTTP parser left to "auto" (uvloop, httptools), no access log.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        log_config=None,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
