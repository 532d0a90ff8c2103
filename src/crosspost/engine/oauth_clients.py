"""OAuth 2.0 client credentials for partner backends: clients, access tokens, verification.

A client's secret is shown once; only its keyed hash is stored, like an API key's. Its
access tokens are short-lived ES256 JWTs (RFC 9068) that carry the tenant, mode and scopes,
so checking one needs no database read but a cached look at whether its client was revoked.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection

from crosspost.domain.enums import Mode
from crosspost.engine.keys import ALL_SCOPES, check_tier, default_tier
from crosspost.engine.services import Services
from crosspost.errors import CrosspostError, Forbidden, InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.store import oauth_clients as store
from crosspost.store.db import Database
from crosspost.store.rows import Row
from crosspost.vault.apikeys import hash_key
from crosspost.vault.jwt_keys import InvalidAccessToken, SigningKeys

SECRET_PREFIX = "cpcs_"  # noqa: S105 - the prefix of every secret, not a secret
AUDIENCE = "crosspost"
GRANT_TYPE = "client_credentials"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_CHARS = 43  # 43 base62 characters carry 256 random bits
_MAX_CLIENT_ID = 40
_MAX_SECRET = 200
_MAX_SCOPE = 1000
_NO_HASH = "0" * 64  # compared against when the client is unknown, so both paths cost alike
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_KEYS_CACHE_SECONDS = 5.0
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REVOKED_HINT = "ask the account owner for new client credentials"

_TITLES = {
    "invalid_request": "Invalid token request",
    "invalid_client": "Client authentication failed",
    "unsupported_grant_type": "Unsupported grant type",
    "invalid_scope": "Invalid scope",
}


class TokenError(CrosspostError):
    """An RFC 6749 §5.2 token endpoint error that is also problem+json: the body carries
    `error` and `error_description`, and `code` equals `error` unless a finer one is given."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        title: str | None = None,
        code: str | None = None,
    ) -> None:
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="crosspost"'
        super().__init__(
            description,
            code=code or error,
            error=error,
            error_description=description,
            headers=headers,
        )
        self.status = status
        self.title = title or _TITLES.get(error, "Token request refused")


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token allows: whose it is and what it may do."""

    tenant_id: str
    client_id: str
    mode: Mode
    scopes: frozenset[str]
    tier: str | None
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    """A token endpoint answer (RFC 6749 §5.1)."""

    access_token: str = field(repr=False)
    expires_in: int
    scope: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the token type name, not a secret


@dataclass(frozen=True)
class _ClientState:
    tenant_id: str
    mode: str
    scopes: frozenset[str]
    tier: str | None
    revoked: bool


@dataclass
class _ClientCache:
    """Recently read clients, so a revocation is noticed within `ttl` seconds."""

    ttl: float
    entries: dict[str, tuple[float, _ClientState | None]] = field(default_factory=dict)

    def get(self, svc: Services, client_id: str) -> _ClientState | None:
        entry = self.entries.get(client_id)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        with svc.db.read() as conn:
            row = store.find_client(conn, client_id)
        found = None
        if row is not None:
            found = _ClientState(
                row["tenant_id"],
                row["mode"],
                frozenset(row["scopes"]),
                row["tier"],
                row["revoked_at"] is not None,
            )
        if self.ttl > 0:
            if len(self.entries) >= 10_000:
                self.entries.clear()  # rare: cheaper and simpler than an LRU
            self.entries[client_id] = (time.monotonic() + self.ttl, found)
        return found

    def forget(self, client_id: str) -> None:
        self.entries.pop(client_id, None)


@dataclass
class _State:
    keys: SigningKeys
    clients: _ClientCache


# Per database (hence per Services): the signing keys and clients this process has read.
_states: WeakKeyDictionary[Database, _State] = WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(svc: Services) -> _State:
    with _states_lock:
        state = _states.get(svc.db)
        if state is None:
            settings = svc.settings
            keys = SigningKeys(
                svc.db,
                svc.keyring,
                rotate_after=timedelta(seconds=settings.jwt_key_rotate_seconds),
                token_ttl=timedelta(seconds=settings.jwt_ttl_seconds),
                cache_seconds=_KEYS_CACHE_SECONDS,
            )
            state = _State(keys, _ClientCache(settings.auth_cache_seconds))
            _states[svc.db] = state
        return state


def generate_secret() -> str:
    """A new client secret: `cpcs_` and 256 random bits in base62."""
    return SECRET_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_CHARS))


def create_client(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    name: str,
    mode: Mode,
    scopes: Iterable[str],
    tier: str | None = None,
    granter_scopes: Iterable[str] | None = None,
) -> tuple[Row, str]:
    """Create a client in `conn`'s transaction; returns (its row, the secret to show once).

    `granter_scopes` are the creating key's: a client can hold no scope its creator lacks
    (None = the operator at the command line, who may grant any scope).
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name must be 1 to 200 characters", code="invalid_name")
    wanted = _check_scopes(scopes, granter_scopes)
    tier = tier if tier is not None else default_tier(svc, conn, tenant_id)
    check_tier(svc, tier)
    client_id, secret = new_id("cli"), generate_secret()
    store.insert_client(
        conn,
        client_id=client_id,
        tenant_id=tenant_id,
        name=name,
        mode=mode.value,
        secret_hash=hash_key(secret, svc.hash_key),
        scopes=list(wanted),
        tier=tier,
        now=svc.clock.now(),
    )
    row = store.get_client(conn, tenant_id, client_id)
    assert row is not None
    return row, secret


def _check_scopes(scopes: Iterable[str], granter: Iterable[str] | None) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(scopes))
    if not wanted:
        raise InvalidInput(
            f"a client needs at least one scope; valid scopes: {', '.join(ALL_SCOPES)}",
            code="unknown_scope",
        )
    unknown = [s for s in wanted if s not in ALL_SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(unknown)}; valid scopes: {', '.join(ALL_SCOPES)}",
            code="unknown_scope",
        )
    if granter is not None:
        missing = [s for s in wanted if s not in set(granter)]
        if missing:
            raise Forbidden(
                f"a key cannot grant scopes it lacks: {', '.join(missing)}",
                code="scope_escalation",
            )
    return wanted


def list_clients(svc: Services, tenant_id: str) -> list[Row]:
    """Every client of a tenant, newest first."""
    with svc.db.read() as conn:
        return store.list_clients(conn, tenant_id)


def get_client(svc: Services, tenant_id: str, client_id: str) -> Row:
    """One client of a tenant; 404 when the tenant has no such client."""
    with svc.db.read() as conn:
        row = store.get_client(conn, tenant_id, client_id)
    if row is None:
        raise NotFound(f"no OAuth client {client_id!r}")
    return row


def revoke_client(svc: Services, *, tenant_id: str, client_id: str) -> Row:
    """Revoke a client (idempotent): its tokens stop working in this process at once and in
    the others within `auth_cache_seconds`; returns its row."""
    with svc.db.write() as conn:
        if not store.revoke_client(conn, tenant_id, client_id, svc.clock.now()):
            raise NotFound(f"no OAuth client {client_id!r}")
        row = store.get_client(conn, tenant_id, client_id)
    assert row is not None
    _state(svc).clients.forget(client_id)
    return row


def authenticate_client(svc: Services, client_id: str, client_secret: str) -> Row:
    """The client these credentials belong to, or `invalid_client` (401). The secret is
    compared in constant time, and an unknown client costs the same comparison."""
    presented = hash_key(client_secret, svc.hash_key)
    row = None
    plausible = 0 < len(client_id) <= _MAX_CLIENT_ID and client_id.isascii()
    if plausible and len(client_secret) <= _MAX_SECRET:
        with svc.db.read() as conn:
            row = store.find_client(conn, client_id)
    stored = row["secret_hash"] if row is not None else _NO_HASH
    if not hmac.compare_digest(presented, stored) or row is None:
        raise TokenError(
            "invalid_client",
            "client authentication failed: unknown client_id or wrong client_secret",
            status=401,
        )
    if row["revoked_at"] is not None:
        raise TokenError("invalid_client", f"this client was revoked; {_REVOKED_HINT}", status=401)
    return row


def granted_scopes(client_scopes: Iterable[str], requested: str | None) -> tuple[str, ...]:
    """The scopes to grant: the requested ones (all of the client's when absent), which must
    all be the client's; else `invalid_scope`."""
    held = tuple(client_scopes)
    if requested is None or not requested.strip():
        return held
    if len(requested) > _MAX_SCOPE:
        raise TokenError("invalid_scope", f"scope is longer than {_MAX_SCOPE} characters")
    tokens = [t for t in requested.split(" ") if t]
    if not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise TokenError(
            "invalid_scope", "scope must be scope names separated by spaces (RFC 6749 3.3)"
        )
    missing = [t for t in dict.fromkeys(tokens) if t not in held]
    if missing:
        raise TokenError(
            "invalid_scope",
            f"this client may not request {' '.join(missing[:10])}; "
            f"its scopes are: {' '.join(held)}",
        )
    wanted = set(tokens)
    return tuple(s for s in held if s in wanted)


def issue_token(svc: Services, client: Row, scope: str | None = None) -> IssuedToken:
    """A signed access token for an authenticated client (RFC 9068 claims)."""
    granted = granted_scopes(client["scopes"], scope)
    ttl = svc.settings.jwt_ttl_seconds
    now = svc.clock.now()
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": svc.settings.base_url,
        "sub": client["id"],
        "aud": AUDIENCE,
        "client_id": client["id"],
        "iat": issued,
        "exp": issued + ttl,
        "jti": new_id("tok"),
        "scope": " ".join(granted),
        "tenant": client["tenant_id"],
        "mode": client["mode"],
    }
    token = _state(svc).keys.sign(claims, now)
    return IssuedToken(access_token=token, expires_in=ttl, scope=" ".join(granted))


def jwks(svc: Services) -> dict[str, list[dict[str, Any]]]:
    """The JWK Set that verifies our access tokens."""
    return _state(svc).keys.jwks(svc.clock.now())


def looks_like_jwt(token: str) -> bool:
    """True for a compact JWS shape (three base64url parts); API keys never look like it."""
    parts = token.split(".")
    return len(parts) == 3 and token.startswith("eyJ") and all(_B64URL.fullmatch(p) for p in parts)


def verify_access_token(svc: Services, token: str) -> AccessClaims:
    """The claims of a valid access token; raises `Unauthorized` (`invalid_token`,
    `token_expired`) saying what to do."""
    state = _state(svc)
    claims = state.keys.verify(
        token,
        svc.clock.now(),
        iss={"essential": True, "value": svc.settings.base_url},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        jti={"essential": True},
        client_id={"essential": True},
        tenant={"essential": True},
        scope={"essential": True},
        mode={"essential": True, "values": [m.value for m in Mode]},
    )
    client_id, tenant_id = claims["sub"], claims["tenant"]
    scope, mode = claims["scope"], claims["mode"]
    if not all(isinstance(v, str) for v in (client_id, tenant_id, scope, mode)) or (
        claims["client_id"] != client_id
    ):
        raise InvalidAccessToken("the access token has malformed claims")
    client = state.clients.get(svc, client_id)
    if client is None or client.tenant_id != tenant_id or client.mode != mode:
        raise InvalidAccessToken("the access token's client does not exist")
    if client.revoked:
        raise InvalidAccessToken("the access token's client was revoked", hint=_REVOKED_HINT)
    return AccessClaims(
        tenant_id=tenant_id,
        client_id=client_id,
        mode=Mode(mode),
        # A client's scopes never change, but a token can never exceed them either way.
        scopes=frozenset(scope.split()) & client.scopes,
        tier=client.tier,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
