"""The server's ES256 keys for access tokens: rotation, the JWKS, signing and verifying.

The newest key not yet retired signs. Once it is older than `rotate_after`, the first signer
to notice creates a successor and retires it under a lock, so processes racing to rotate
agree on one new key. A retired key stays published, and keeps verifying, until every token
it may have signed has expired; then it is deleted. Keys are cached in memory for a few
seconds, so verifying a token normally costs no database read; a token naming an unknown
`kid` (a key another process has just made) triggers one reload.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeyParameters
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry
from sqlalchemy.engine import Connection

from crosspost.errors import Unauthorized
from crosspost.ids import new_id
from crosspost.store import oauth_clients as store
from crosspost.store.db import Database
from crosspost.store.rows import Row
from crosspost.vault.keyring import Keyring
from crosspost.vault.rotation import SERVER_TENANT

ALG = "ES256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 §2.1 media type, not a secret
_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4 accepts both spellings
_HEADER = frozenset({"alg", "kid", "typ"})
_KID = re.compile(r"jwk_[0-9A-Z]{26}")
_TABLE = "jwt_keys"
# A process may sign with a key another process has just retired until its cache refreshes,
# and API machines' clocks differ a little: retired keys stay published this much longer.
PUBLISH_GRACE = timedelta(seconds=60)
# How far in the future an `iat` may lie: another API process's clock may run ahead.
_ISSUED_SKEW = 60
_MAX_TOKEN_CHARS = 4096
_WHAT_TO_DO = "request a new token at POST /oauth/token"


class InvalidAccessToken(Unauthorized):
    """A bearer JWT that is malformed, forged, not ours or no longer honoured (401)."""

    code = "invalid_token"
    title = "Invalid access token"

    def __init__(self, reason: str, *, hint: str = _WHAT_TO_DO) -> None:
        super().__init__(
            f"{reason}; {hint}",
            headers={
                # RFC 6750 §3: tell the client which error it hit.
                "WWW-Authenticate": f'Bearer realm="crosspost", error="invalid_token", '
                f'error_description="{reason}"'
            },
        )


class ExpiredAccessToken(InvalidAccessToken):
    """A bearer JWT past its `exp` (401)."""

    code = "token_expired"
    title = "Access token expired"


def _params(kid: str) -> KeyParameters:
    return {"kid": kid, "use": "sig", "alg": ALG}


@dataclass(frozen=True)
class _Key:
    kid: str
    public: ECKey
    sealed: str = field(repr=False)
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> _Key:
        return cls(
            kid=row["id"],
            public=ECKey.import_key(row["public_jwk"]),
            sealed=row["private_key"],
            created_at=row["created_at"],
            retired_at=row["retired_at"],
        )


@dataclass(frozen=True)
class _Snapshot:
    keys: tuple[_Key, ...]  # newest first
    fresh_until: float  # on the monotonic clock

    @property
    def current(self) -> _Key | None:
        return next((k for k in self.keys if k.retired_at is None), None)

    def find(self, kid: str) -> _Key | None:
        return next((k for k in self.keys if k.kid == kid), None)


class _AccessTokenClaims(JWTClaimsRegistry):
    """The registry's checks, except that `iat` may run a little ahead (clock skew)."""

    def __init__(self, now: int, options: dict[str, ClaimsOption]) -> None:
        super().__init__(now=now)
        self.options = options

    def validate_iat(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidClaimError("iat", "Claim 'iat' must be a NumericDate value")
        if not math.isfinite(value):
            raise InvalidClaimError("iat", "Claim 'iat' must be a NumericDate value")
        if value > self.now + _ISSUED_SKEW:
            raise InvalidClaimError("iat", "The token was issued in the future")


@dataclass
class SigningKeys:
    """The server-wide signing keys stored in one database, cached in this process."""

    db: Database
    keyring: Keyring
    rotate_after: timedelta
    token_ttl: timedelta
    cache_seconds: float = 5.0
    monotonic: Callable[[], float] = time.monotonic
    _snapshot: _Snapshot | None = field(default=None, init=False, repr=False)
    _private: dict[str, ECKey] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def sign(self, claims: dict[str, Any], now: datetime, *, rotate: bool = True) -> str:
        """A compact JWS of `claims` by the current key (rotating it first when due, unless
        `rotate` is False: the caller is inside a transaction and called `prepare`)."""
        current = None if rotate else self._fresh().current
        key = current if current is not None else self._signing_key(now)
        header = {"alg": ALG, "kid": key.kid, "typ": TOKEN_TYPE}
        return jwt.encode(header, claims, self._private_key(key), algorithms=[ALG])

    def prepare(self, now: datetime) -> None:
        """Make sure a current key exists, rotating it when due, before a transaction that
        signs (a rotation writes, and must not wait on that transaction)."""
        self._signing_key(now)

    def jwks(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set: the current key and retired keys whose tokens may be alive."""
        keys = self._fresh().keys
        return {"keys": [dict(k.public.as_dict()) for k in keys if self._published(k, now)]}

    def verify(self, token: str, now: datetime, **claims: ClaimsOption) -> dict[str, Any]:
        """The claims of a token we signed, checked (`exp`, `iat` and the `claims` options);
        raises InvalidAccessToken / ExpiredAccessToken."""
        if len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidAccessToken("the access token is malformed")
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError):
            raise InvalidAccessToken("the access token is malformed") from None
        kid = header.get("kid")
        if header.get("alg") != ALG or not isinstance(kid, str) or set(header) - _HEADER:
            raise InvalidAccessToken("the access token was not issued by this server")
        if str(header.get("typ", "")).lower() not in _TYPES:
            raise InvalidAccessToken("the token is not an access token (typ must be at+jwt)")
        key = self._verifying_key(kid, now)
        if key is None:
            raise InvalidAccessToken("the access token is signed by an unknown or retired key")
        try:
            decoded = jwt.decode(token, key.public, algorithms=[ALG])
        except BadSignatureError:
            raise InvalidAccessToken("the access token signature does not verify") from None
        except (JoseError, ValueError, TypeError):
            raise InvalidAccessToken("the access token is malformed") from None
        options: dict[str, ClaimsOption] = {
            "exp": {"essential": True},
            "iat": {"essential": True},
            **claims,
        }
        registry = _AccessTokenClaims(int(now.timestamp()), options)
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise ExpiredAccessToken("the access token has expired") from None
        except MissingClaimError as exc:
            raise InvalidAccessToken(f"the access token lacks the {exc.claim} claim") from None
        except ClaimError as exc:
            raise InvalidAccessToken(f"the access token has a wrong {exc.claim} claim") from None
        return decoded.claims

    def _published(self, key: _Key, now: datetime) -> bool:
        return key.retired_at is None or now < key.retired_at + self.token_ttl + PUBLISH_GRACE

    def _signing_key(self, now: datetime) -> _Key:
        current = self._fresh().current
        if current is not None and now - current.created_at < self.rotate_after:
            return current
        with self._lock, self.db.write() as conn:
            self._rotate_if_due(conn, now)
            snapshot = self._load(conn)
        assert snapshot.current is not None
        return snapshot.current

    def _rotate_if_due(self, conn: Connection, now: datetime) -> None:
        store.lock_jwt_keys(conn)
        # Another process may have rotated while we waited for the lock: look again.
        row = store.current_jwt_key(conn)
        if row is not None and now - row["created_at"] < self.rotate_after:
            return
        kid = new_id("jwk")
        key = ECKey.generate_key("P-256", _params(kid), auto_kid=False)
        pem = key.as_pem(private=True).decode()
        sealed = self.keyring.encrypt(pem, tenant_id=SERVER_TENANT, table=_TABLE, row_id=kid)
        public = dict(key.as_dict(private=False))
        store.insert_jwt_key(conn, kid=kid, private_key=sealed, public_jwk=public, now=now)
        store.retire_jwt_keys(conn, keep=kid, now=now)
        store.delete_jwt_keys_retired_before(conn, now - self.token_ttl - PUBLISH_GRACE)
        self._private[kid] = key

    def _verifying_key(self, kid: str, now: datetime) -> _Key | None:
        key = self._fresh().find(kid)
        if key is None and _KID.fullmatch(kid):
            # Perhaps a key another process has just created: reload once.
            key = self._reload().find(kid)
        return key if key is not None and self._published(key, now) else None

    def _fresh(self) -> _Snapshot:
        # The cache's age is measured on the monotonic clock; whether a key is current or
        # published is decided against the caller's `now` each time it is used.
        snapshot = self._snapshot
        if snapshot is not None and self.monotonic() < snapshot.fresh_until:
            return snapshot
        with self._lock:
            snapshot = self._snapshot  # another thread may have reloaded meanwhile
            if snapshot is not None and self.monotonic() < snapshot.fresh_until:
                return snapshot
            with self.db.read() as conn:
                return self._load(conn)

    def _reload(self) -> _Snapshot:
        with self._lock, self.db.read() as conn:
            return self._load(conn)

    def _load(self, conn: Connection) -> _Snapshot:
        # Rotation deletes keys past their window, so the table holds only a few rows.
        snapshot = _Snapshot(
            keys=tuple(_Key.from_row(r) for r in store.list_jwt_keys(conn)),
            fresh_until=self.monotonic() + self.cache_seconds,
        )
        self._snapshot = snapshot
        alive = {k.kid for k in snapshot.keys}
        for kid in list(self._private):
            if kid not in alive:
                self._private.pop(kid, None)
        return snapshot

    def _private_key(self, key: _Key) -> ECKey:
        found = self._private.get(key.kid)
        if found is None:
            pem = self.keyring.decrypt(
                key.sealed, tenant_id=SERVER_TENANT, table=_TABLE, row_id=key.kid
            )
            found = ECKey.import_key(pem, _params(key.kid))
            self._private[key.kid] = found
        return found
