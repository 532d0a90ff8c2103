"""Nonces of signed requests, remembered per API key so a captured request cannot be replayed.

Two stores, both exact across any number of API processes: Redis (``SET … NX EX``) when
``CROSSPOST_REDIS_URL`` is set, else the ``request_nonces`` table (one row per key and nonce,
insert-or-conflict on its primary key). Either way a nonce is kept for the TTL the caller
gives (twice the allowed clock skew), after which its timestamp alone refuses the request.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crosspost.clock import Clock
from crosspost.config import Settings
from crosspost.errors import CrosspostError
from crosspost.store import signing as store
from crosspost.store.db import Database

REDIS_PREFIX = "crosspost:nonce:"
_PURGE_EVERY = 60.0
_REDIS_TIMEOUT = 2.0


class NonceStoreUnavailable(CrosspostError):
    """The nonce store cannot be reached (503): a signed request is refused rather than
    accepted unchecked, since accepting it would let a replay through."""

    status = 503
    code = "nonce_store_unavailable"
    title = "Service unavailable"


def unavailable(exc: BaseException) -> NonceStoreUnavailable:
    """The 503 for a nonce that could not be checked because Redis failed with `exc`."""
    return NonceStoreUnavailable(
        f"cannot check the request's nonce (Redis: {type(exc).__name__}); retry shortly",
        headers={"Retry-After": "1"},
    )


class NonceStore(Protocol):
    """Remembers (key id, nonce) pairs for a while."""

    async def remember(self, key_id: str, nonce: str, ttl_seconds: int) -> bool:
        """Record the nonce; False when this key already used it within its TTL."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class RedisNonceStore:
    """Nonces in Redis: one key per (API key, nonce) that expires by itself."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @classmethod
    def from_url(cls, url: str) -> RedisNonceStore:
        """A store on a fresh client (connections open lazily, on the running event loop)."""
        return cls(
            Redis.from_url(
                url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT
            )
        )

    @staticmethod
    def key_for(key_id: str, nonce: str) -> str:
        """The Redis key that records `nonce` of API key `key_id`."""
        return f"{REDIS_PREFIX}{key_id}:{nonce}"

    async def remember(self, key_id: str, nonce: str, ttl_seconds: int) -> bool:
        """SET NX EX: atomic in Redis, so exactly one of two racing requests succeeds."""
        try:
            created = await self.redis.set(
                self.key_for(key_id, nonce), b"1", nx=True, ex=ttl_seconds
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        return bool(created)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.redis.aclose()


class DatabaseNonceStore:
    """Nonces in the ``request_nonces`` table; expired rows are purged now and then."""

    def __init__(self, db: Database, clock: Clock, *, purge_every: float = _PURGE_EVERY) -> None:
        self.db = db
        self.clock = clock
        self.purge_every = purge_every
        self._next_purge = 0.0

    async def remember(self, key_id: str, nonce: str, ttl_seconds: int) -> bool:
        """Insert the nonce; a live row with the same key is a replay."""
        return await self.db.run(self._remember, key_id, nonce, ttl_seconds)

    def _remember(self, key_id: str, nonce: str, ttl_seconds: int) -> bool:
        now = self.clock.now()
        with self.db.write() as conn:
            fresh = store.remember_nonce(
                conn, key_id, nonce, expires_at=now + timedelta(seconds=ttl_seconds), now=now
            )
        if time.monotonic() >= self._next_purge:
            # Its own transaction, after the answer is known: the check never waits on it.
            self._next_purge = time.monotonic() + self.purge_every
            with self.db.write() as conn:
                store.purge_nonces(conn, now)
        return fresh

    async def close(self) -> None:
        """Nothing to release: the database belongs to the process's services."""


def create_nonce_store(settings: Settings, db: Database, clock: Clock) -> NonceStore:
    """Redis when configured (the scale-out deployment), else the database."""
    if settings.resolved_redis_url:
        return RedisNonceStore.from_url(settings.resolved_redis_url)
    return DatabaseNonceStore(db, clock)
