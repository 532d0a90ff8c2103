"""OAuth 2.0 clients of partner backends, and the access tokens of every client: signing
and verification.

A client's secret is shown once; only its keyed hash is stored, like an API key's. Access
tokens are short-lived ES256 JWTs (RFC 9068) that carry the tenant, mode and scopes (and,
for an app a person authorised, the person and the grant), so checking one needs no
database read but a cached look at whether its client or grant was revoked.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import ALL_SCOPES, ROLE_SCOPES, check_tier, default_tier
from crosspost.engine.services import Services
from crosspost.errors import Forbidden, InvalidInput, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.ids import new_id
from crosspost.store import oauth_clients as store
from crosspost.store import oauth_grants as grants_store
from crosspost.store.db import Database
from crosspost.store.rows import Row
from crosspost.vault.apikeys import hash_key
from crosspost.vault.jwt_keys import InvalidAccessToken, SigningKeys

SECRET_PREFIX = "cpcs_"  # noqa: S105 - the prefix of every secret, not a secret
AUDIENCE = "crosspost"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_CHARS = 43  # 43 base62 characters carry 256 random bits
_KEYS_CACHE_SECONDS = 5.0
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REVOKED_HINT = "ask the account owner for new client credentials"
_GRANT_HINT = "send the person through the authorization flow again"
_V = TypeVar("_V")


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token allows: whose it is and what it may do. A token a
    person granted an app names them (`user_id`) and the grant it came from."""

    tenant_id: str
    client_id: str
    mode: Mode
    scopes: frozenset[str]
    tier: str | None
    expires_at: datetime
    user_id: str | None = None
    grant_id: str | None = None
    role: KeyRole | None = None


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


@dataclass(frozen=True)
class _GrantState:
    tenant_id: str
    client_id: str
    user_id: str
    revoked: bool
    # The person's role now: a grant never gives more than the role, and nothing once the
    # person has left the tenant.
    role: KeyRole | None


class _TtlCache(Generic[_V]):
    """Recently read rows by id, so a revocation elsewhere is noticed within `ttl` seconds
    and one here at once (`forget`)."""

    def __init__(self, ttl: float, load: Callable[[Connection, str], _V | None]) -> None:
        self.ttl = ttl
        self._load = load
        self._entries: dict[str, tuple[float, _V | None]] = {}

    def get(self, svc: Services, key: str) -> _V | None:
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        with svc.db.read() as conn:
            found = self._load(conn, key)
        if self.ttl > 0:
            if len(self._entries) >= 10_000:
                self._entries.clear()  # rare: cheaper and simpler than an LRU
            self._entries[key] = (time.monotonic() + self.ttl, found)
        return found

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


def _load_client(conn: Connection, client_id: str) -> _ClientState | None:
    row = store.find_client(conn, client_id)
    if row is None:
        return None
    return _ClientState(row["tenant_id"], row["mode"], frozenset(row["scopes"]), row["tier"],
                        row["revoked_at"] is not None)  # fmt: skip


def _load_grant(conn: Connection, grant_id: str) -> _GrantState | None:
    row = grants_store.get_grant(conn, grant_id)
    if row is None:
        return None
    revoked = row["revoked_at"] is not None or row["client_revoked_at"] is not None
    role = KeyRole(row["role"]) if row["role"] else None
    return _GrantState(row["tenant_id"], row["client_id"], row["user_id"], revoked, role)


@dataclass
class _State:
    keys: SigningKeys
    clients: _TtlCache[_ClientState]
    grants: _TtlCache[_GrantState]


# Per database (hence per Services): the signing keys, clients and grants this process read.
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
            ttl = settings.auth_cache_seconds
            state = _State(keys, _TtlCache(ttl, _load_client), _TtlCache(ttl, _load_grant))
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
    actor: Actor | None = None,
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
    record(conn, actor or Actor.cli(), "oauth_client.created", tenant_id=tenant_id,
           now=svc.clock.now(), target=("oauth_client", client_id),
           data={"name": name, "scopes": list(wanted)})  # fmt: skip
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


def revoke_client(
    svc: Services, *, tenant_id: str, client_id: str, actor: Actor | None = None
) -> Row:
    """Revoke a client (idempotent): its tokens stop working in this process at once and in
    the others within `auth_cache_seconds`; returns its row."""
    with svc.db.write() as conn:
        if not store.revoke_client(conn, tenant_id, client_id, svc.clock.now()):
            raise NotFound(f"no OAuth client {client_id!r}")
        record(conn, actor or Actor.cli(), "oauth_client.revoked", tenant_id=tenant_id,
               now=svc.clock.now(), target=("oauth_client", client_id))  # fmt: skip
        row = store.get_client(conn, tenant_id, client_id)
    assert row is not None
    forget_client(svc, client_id)
    return row


def sign_access_token(
    svc: Services,
    *,
    client_id: str,
    tenant_id: str,
    mode: str,
    scopes: Iterable[str],
    user_id: str | None = None,
    grant_id: str | None = None,
) -> IssuedToken:
    """A signed access token (RFC 9068 claims): for a client itself, or for the person
    (`user_id`) who gave it the grant `grant_id`. Call `prepare_signing` first."""
    granted = " ".join(scopes)
    ttl = svc.settings.jwt_ttl_seconds
    now = svc.clock.now()
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": svc.settings.base_url,
        "sub": user_id or client_id,
        "aud": AUDIENCE,
        "client_id": client_id,
        "iat": issued,
        "exp": issued + ttl,
        "jti": new_id("tok"),
        "scope": granted,
        "tenant": tenant_id,
        "mode": mode,
    }
    if grant_id is not None:
        claims["grant"] = grant_id
    token = _state(svc).keys.sign(claims, now, rotate=False)
    return IssuedToken(access_token=token, expires_in=ttl, scope=granted)


def prepare_signing(svc: Services) -> None:
    """Call before a transaction in which `sign_access_token` runs."""
    _state(svc).keys.prepare(svc.clock.now())


def forget_client(svc: Services, client_id: str) -> None:
    """Stop honouring a revoked client's tokens in this process at once."""
    _state(svc).clients.forget(client_id)


def forget_grants(svc: Services, grant_ids: Iterable[str]) -> None:
    """Stop honouring revoked grants' tokens in this process at once."""
    cache = _state(svc).grants
    for grant_id in grant_ids:
        cache.forget(grant_id)


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
    subject, client_id, tenant_id = claims["sub"], claims["client_id"], claims["tenant"]
    scope, mode, grant_id = claims["scope"], claims["mode"], claims.get("grant")
    if not all(isinstance(v, str) for v in (subject, client_id, tenant_id, scope, mode)) or (
        (grant_id is None and subject != client_id)
        or (grant_id is not None and not isinstance(grant_id, str))
    ):
        raise InvalidAccessToken("the access token has malformed claims")
    client = state.clients.get(svc, client_id)
    if client is None or client.tenant_id != tenant_id or client.mode != mode:
        raise InvalidAccessToken("the access token's client does not exist")
    if client.revoked:
        raise InvalidAccessToken("the access token's client was revoked", hint=_REVOKED_HINT)
    # A token can never exceed its client's scopes, whatever it says.
    scopes = frozenset(scope.split()) & client.scopes
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if grant_id is None:
        return AccessClaims(tenant_id, client_id, Mode(mode), scopes, client.tier, expires_at)
    grant = state.grants.get(svc, grant_id)
    if grant is None or (grant.tenant_id, grant.client_id, grant.user_id) != (
        tenant_id,
        client_id,
        subject,
    ):
        raise InvalidAccessToken("the access token's grant does not exist", hint=_GRANT_HINT)
    if grant.revoked or grant.role is None:
        raise InvalidAccessToken("the access token's grant was revoked", hint=_GRANT_HINT)
    return AccessClaims(
        tenant_id,
        client_id,
        Mode(mode),
        scopes & frozenset(ROLE_SCOPES[grant.role]),
        None,
        expires_at,
        user_id=subject,
        grant_id=grant_id,
        role=grant.role,
    )
