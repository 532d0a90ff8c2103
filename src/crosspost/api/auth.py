"""Bearer API key authentication."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import ROLE_SCOPES
from crosspost.engine.oauth_clients import looks_like_jwt, verify_access_token
from crosspost.engine.services import Services
from crosspost.errors import Forbidden, Unauthorized
from crosspost.identity.audit import Actor, ActorType
from crosspost.identity.signin import ActiveSession, session_of
from crosspost.store import operator_keys, tenants
from crosspost.vault.apikeys import hash_key, is_operator_key, parse_key

_TOUCH_EVERY = timedelta(minutes=1)
_CHALLENGE = {"headers": {"WWW-Authenticate": 'Bearer realm="crosspost"'}}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the key (or OAuth client) and what it may do."""

    tenant_id: str
    key_id: str
    mode: Mode
    scopes: frozenset[str]
    # Rate limits: the tier's, unless the key overrides them; neither = not limited.
    tier: str | None = None
    rate_limits: Mapping[str, int] | None = None
    require_signing: bool = False
    role: KeyRole | None = None
    # The third-party app a person's token was granted to, when an app acts for them.
    app_id: str | None = None

    def holds(self, scope: str) -> bool:
        """True when the key holds `scope` (or `admin`, which holds every scope)."""
        return scope in self.scopes or "admin" in self.scopes

    def actor(self, ip: str | None) -> Actor:
        """This caller as the audit log names it."""
        kind = _ACTOR_KINDS.get(self.key_id.partition("_")[0], "key")
        return Actor(kind, self.key_id, ip)


# What the id of a principal says it is: an OAuth client's token, a person's session.
_ACTOR_KINDS: dict[str, ActorType] = {"cli": "app", "usr": "user"}


@dataclass(frozen=True)
class Operator:
    """The server's operator, calling `/v1/admin/*` with an operator key."""

    key_id: str

    def actor(self, ip: str | None) -> Actor:
        """This operator as the audit log names them."""
        return Actor("operator", self.key_id, ip)


def check_scopes(principal: Principal, scopes: list[str]) -> None:
    """Raise 403 unless the caller holds every scope (`admin` holds them all).

    Only `deps.scoped` calls this, so the OpenAPI document states what each route enforces.
    """
    for scope in scopes:
        if not principal.holds(scope):
            raise Forbidden(
                f"these credentials lack the {scope!r} scope; use a key or client granted it",
                code="insufficient_scope",
            )


class KeyCache:
    """Recently verified keys, so a busy client costs one key look-up per `ttl` seconds.

    A revocation made through this process drops the entry at once (`forget`); another
    process notices within `ttl` seconds.
    """

    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal, datetime | None]] = {}

    def get(self, key_hash: str) -> tuple[Principal, datetime | None] | None:
        """The cached principal and key expiry, if still fresh."""
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, key_hash: str, principal: Principal, expires_at: datetime | None) -> None:
        """Remember a verified key."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare: cheaper and simpler than an LRU
        self._entries[key_hash] = (time.monotonic() + self.ttl, principal, expires_at)

    def forget(self, key_id: str | None = None, *, tenant_id: str | None = None) -> None:
        """Drop a key (revoked or rolled), or every key of a tenant (suspended), from the
        cache."""
        for key_hash, entry in list(self._entries.items()):
            if entry[1].key_id == key_id or entry[1].tenant_id == tenant_id:
                self._entries.pop(key_hash, None)


def credentials(authorization: str | None, api_key: str | None) -> str | None:
    """The `Authorization` header to authenticate, also when the key came as `X-API-Key`
    (seed 003's header); both at once must agree."""
    if api_key is None:
        return authorization
    if authorization is not None and _bearer(authorization) != api_key.strip():
        raise Unauthorized(
            "Authorization and X-API-Key carry different credentials; send one of them",
            code="conflicting_credentials",
            **_CHALLENGE,
        )
    return f"Bearer {api_key.strip()}"


def _bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or 401."""
    if not authorization:
        raise Unauthorized(
            "missing Authorization header; send `Authorization: Bearer cp_test_…` (or the "
            "key alone as `X-API-Key`)",
            code="missing_api_key",
            **_CHALLENGE,
        )
    scheme, _, raw = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized(
            "use the Bearer scheme: `Authorization: Bearer cp_…`",
            code="invalid_auth_scheme",
            **_CHALLENGE,
        )
    return raw.strip()


def cached_principal(svc: Services, authorization: str | None, cache: KeyCache) -> Principal | None:
    """The caller of an API key this process verified within the cache's ttl, without
    touching the database (so without leaving the event loop); None when `authenticate`
    must look further. Raises 401 as `authenticate` would for what is plainly wrong."""
    token = _bearer(authorization)
    if looks_like_jwt(token):
        return None
    parsed = parse_key(token)
    if parsed is None:
        return None  # authenticate says why
    cached = cache.get(hash_key(parsed.raw, svc.hash_key))
    if cached is None:
        return None
    principal, expires_at = cached
    _check_expiry(expires_at, svc.clock.now())
    return principal


def authenticate(
    svc: Services, authorization: str | None, cache: KeyCache | None = None
) -> Principal:
    """Resolve an `Authorization: Bearer cp_…` header to a principal, or raise 401."""
    principal = cached_principal(svc, authorization, cache) if cache is not None else None
    if principal is not None:
        return principal
    token = _bearer(authorization)
    if looks_like_jwt(token):
        # An OAuth access token: stateless, checked against the JWKS; only the tenant's
        # standing is read (and the client's or grant's, through a short cache).
        claims = verify_access_token(svc, token)
        if claims.user_id is None:
            with svc.db.read() as conn:
                check_tenant(tenants.tenant_status(conn, claims.tenant_id))
            return Principal(
                claims.tenant_id, claims.client_id, claims.mode, claims.scopes, tier=claims.tier
            )
        with svc.db.read() as conn:
            tenant = tenants.get_tenant(conn, claims.tenant_id)
        check_tenant(tenant["status"] if tenant else None)
        # An app acting for a person: the person acts, within what they granted it, limited
        # as the person is.
        tier = (tenant["default_tier"] if tenant else None) or svc.settings.default_tier
        return Principal(claims.tenant_id, claims.user_id, claims.mode, claims.scopes,
                         tier=tier, role=claims.role, app_id=claims.client_id)  # fmt: skip
    parsed = parse_key(token)
    if parsed is None:
        if is_operator_key(token):
            raise Forbidden(
                "an operator key reaches only /v1/admin; use a tenant's API key here",
                code="operator_key_not_allowed",
            )
        # Rejected on format and checksum alone: no database look-up for garbage.
        raise Unauthorized(
            "Invalid API key (malformed or mistyped)", code="invalid_api_key", **_CHALLENGE
        )
    now = svc.clock.now()
    key_hash = hash_key(parsed.raw, svc.hash_key)
    with svc.db.read() as conn:
        row = tenants.find_api_key(conn, key_hash)
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("Invalid API key", code="invalid_api_key", **_CHALLENGE)
    _check_expiry(row["expires_at"], now)
    check_tenant(row["tenant_status"])
    if row["last_used_at"] is None or now - row["last_used_at"] >= _TOUCH_EVERY:
        with svc.db.write() as conn:
            tenants.touch_api_key(conn, row["id"], now)
    principal = Principal(
        row["tenant_id"],
        row["id"],
        Mode(row["mode"]),
        frozenset(row["scopes"]),
        tier=row["tier"],
        rate_limits=row["rate_limits"],
        require_signing=bool(row["require_signing"]),
        role=KeyRole(row["role"]) if row["role"] else None,
    )
    if cache is not None:
        cache.put(key_hash, principal, row["expires_at"])
    return principal


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise Unauthorized(
            "API key expired; create a new one", code="api_key_expired", **_CHALLENGE
        )


def check_tenant(status: str | None) -> None:
    """Refuse the credentials of a tenant the operator suspended or deleted (403)."""
    if status == "suspended":
        raise Forbidden(
            "this workspace is suspended by the server's operator: its keys are refused and "
            "its scheduled posts wait; ask the operator to resume it",
            code="tenant_suspended",
        )
    if status != "active":
        raise Forbidden(
            "this workspace was deleted by the server's operator; ask them to restore it "
            "within its retention window",
            code="tenant_deleted",
        )


def authenticate_operator(svc: Services, authorization: str | None) -> Operator:
    """Resolve an operator key (`cp_op_…`) to the operator, or raise 401 / 403."""
    token = _bearer(authorization)
    if not is_operator_key(token):
        if parse_key(token) is not None or looks_like_jwt(token):
            raise Forbidden(
                "/v1/admin takes the server operator's key (cp_op_…, from `crosspost "
                "operator-keys create` on the server), never a tenant's credentials",
                code="operator_key_required",
            )
        raise Unauthorized(
            "Invalid operator key (malformed or mistyped)", code="invalid_api_key", **_CHALLENGE
        )
    now = svc.clock.now()
    with svc.db.read() as conn:
        row = operator_keys.find(conn, hash_key(token, svc.hash_key))
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("Invalid operator key", code="invalid_api_key", **_CHALLENGE)
    if row["last_used_at"] is None or now - row["last_used_at"] >= _TOUCH_EVERY:
        with svc.db.write() as conn:
            operator_keys.touch(conn, row["id"], now)
    return Operator(row["id"])


def session_principal(svc: Services, token: str, method: str, csrf: str | None) -> Principal:
    """The person a session cookie signs in, acting in the session's tenant with their
    role's scopes; a request that changes something must carry the session's CSRF token."""
    session = session_of(svc, token)
    check_csrf(method, csrf, session)
    with svc.db.read() as conn:
        tenant = tenants.get_tenant(conn, session.tenant_id)
    check_tenant(tenant["status"] if tenant else None)
    # A person is limited as the tenant's keys are by default.
    tier = (tenant["default_tier"] if tenant else None) or svc.settings.default_tier
    return Principal(
        session.tenant_id,
        session.user_id,
        session.mode,
        frozenset(ROLE_SCOPES[session.role]),
        tier=tier,
        role=session.role,
    )


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(method: str, given: str | None, session: ActiveSession) -> None:
    """Refuse (403) a request that changes something without the session's CSRF token."""
    if method in _SAFE_METHODS or (given and hmac.compare_digest(given, session.csrf_token)):
        return
    raise Forbidden(
        "send the session's csrf_token (from POST /v1/auth/login or GET /v1/auth/session) "
        "as X-CSRF-Token with every request that changes something",
        code="csrf_token_invalid",
    )
