"""HMAC signing secrets of API keys: created and rotated here, sealed in the vault at rest.

They cannot be stored as a hash like API keys, because the server recomputes each request's
HMAC with the plaintext. Creating a secret for a key that has one is a rotation: the old
secret keeps verifying for the grace period, then stops.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from crosspost.errors import Conflict, NotFound
from crosspost.ids import new_id
from crosspost.store import signing as store
from crosspost.store.db import Database
from crosspost.store.rows import Row
from crosspost.vault.keyring import Keyring

TABLE = "signing_secrets"
PREFIX = "cpsig_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 43  # 256 random bits in base62


@dataclass(frozen=True)
class NewSecret:
    """A secret just created: its plaintext is shown this once."""

    id: str
    key_id: str
    secret: str = field(repr=False)
    created_at: datetime
    previous_expires_at: datetime | None


@dataclass(frozen=True)
class SigningSecret:
    """A live secret opened for verification."""

    id: str
    secret: str = field(repr=False)
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        """True while the secret still verifies."""
        return self.expires_at is None or self.expires_at > now


def generate_secret() -> str:
    """A new secret: ``cpsig_`` and 43 base62 characters (256 random bits)."""
    value = secrets.randbits(256)
    chars = []
    for _ in range(_BODY_LEN):
        value, rem = divmod(value, 62)
        chars.append(_ALPHABET[rem])
    return PREFIX + "".join(chars)


def _usable_key(conn: Connection, tenant_id: str, key_id: str, now: datetime) -> None:
    row = store.find_key(conn, tenant_id, key_id, lock=True)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    if row["revoked_at"] is not None or (
        row["expires_at"] is not None and row["expires_at"] <= now
    ):
        raise Conflict(
            f"API key {key_id!r} is revoked or expired; signing secrets belong to usable keys",
            code="api_key_not_usable",
        )


def create_secret(
    conn: Connection,
    keyring: Keyring,
    *,
    tenant_id: str,
    key_id: str,
    now: datetime,
    grace: timedelta,
) -> NewSecret:
    """Create a key's signing secret; the key's live secrets now stop after `grace`."""
    _usable_key(conn, tenant_id, key_id, now)
    previous_until = now + grace
    rotated = store.expire_secrets(conn, key_id, at=previous_until, now=now)
    secret_id = new_id("sig")
    plaintext = generate_secret()
    sealed = keyring.encrypt(plaintext, tenant_id=tenant_id, table=TABLE, row_id=secret_id)
    store.insert_secret(
        conn, secret_id=secret_id, tenant_id=tenant_id, key_id=key_id, sealed=sealed, now=now
    )
    return NewSecret(secret_id, key_id, plaintext, now, previous_until if rotated else None)


def issue_secret(
    db: Database,
    keyring: Keyring,
    *,
    tenant_id: str,
    key_id: str,
    now: datetime,
    grace: timedelta,
) -> NewSecret:
    """`create_secret` in its own transaction (for the CLI)."""
    with db.write() as conn:
        return create_secret(
            conn, keyring, tenant_id=tenant_id, key_id=key_id, now=now, grace=grace
        )


def list_secrets(conn: Connection, tenant_id: str, key_id: str) -> list[Row]:
    """A key's secrets (id, key_id, created_at, expires_at), never their values."""
    if store.find_key(conn, tenant_id, key_id) is None:
        raise NotFound(f"no API key {key_id!r}")
    return store.list_secrets(conn, tenant_id, key_id)


def revoke_secret(
    conn: Connection, *, tenant_id: str, key_id: str, secret_id: str, now: datetime
) -> None:
    """Stop one secret at once (no grace); 404 if the key has no such secret."""
    if not store.end_secret(conn, tenant_id, key_id, secret_id, now):
        raise NotFound(f"API key {key_id!r} has no signing secret {secret_id!r}")


def carry_over(
    conn: Connection,
    keyring: Keyring,
    *,
    tenant_id: str,
    from_key_id: str,
    to_key_id: str,
    now: datetime,
) -> int:
    """Give a rolled key's replacement the same live secrets (re-sealed for their new rows),
    so clients keep signing with the secret they hold; returns how many were copied."""
    copied = 0
    for row in reversed(store.live_secrets(conn, tenant_id, from_key_id, now)):
        plain = keyring.decrypt(row["secret"], tenant_id=tenant_id, table=TABLE, row_id=row["id"])
        secret_id = new_id("sig")
        sealed = keyring.encrypt(plain, tenant_id=tenant_id, table=TABLE, row_id=secret_id)
        store.insert_secret(
            conn,
            secret_id=secret_id,
            tenant_id=tenant_id,
            key_id=to_key_id,
            sealed=sealed,
            now=now,
            expires_at=row["expires_at"],
        )
        copied += 1
    return copied


class SecretCache:
    """Opened secrets per key for `ttl` seconds, so a signed request costs no database read
    and no decryption each time. Expiry is still checked on every use; a secret revoked in
    another process stops verifying here within `ttl`."""

    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, tuple[SigningSecret, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> tuple[SigningSecret, ...] | None:
        """The cached secrets of a key, if still fresh."""
        with self._lock:
            entry = self._entries.get(key_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_id: str, found: tuple[SigningSecret, ...]) -> None:
        """Remember a key's secrets."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare: cheaper and simpler than an LRU
            self._entries[key_id] = (time.monotonic() + self.ttl, found)

    def forget(self, key_id: str) -> None:
        """Drop a key whose secrets changed in this process."""
        with self._lock:
            self._entries.pop(key_id, None)


def live_secrets(
    db: Database,
    keyring: Keyring,
    *,
    tenant_id: str,
    key_id: str,
    now: datetime,
    cache: SecretCache | None = None,
    fresh: bool = False,
) -> list[SigningSecret]:
    """The secrets a request signed for this key may have used; `fresh` skips the cache
    (blocking: run it off the event loop on PostgreSQL)."""
    found = cache.get(key_id) if cache is not None and not fresh else None
    if found is None:
        with db.read() as conn:
            rows = store.live_secrets(conn, tenant_id, key_id, now)
        found = tuple(
            SigningSecret(
                row["id"],
                keyring.decrypt(row["secret"], tenant_id=tenant_id, table=TABLE, row_id=row["id"]),
                row["expires_at"],
            )
            for row in rows
        )
        if cache is not None:
            cache.put(key_id, found)
    return [s for s in found if s.live(now)]
