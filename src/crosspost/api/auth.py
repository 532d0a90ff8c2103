"""Bearer API key authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from crosspost.domain.enums import Mode
from crosspost.engine.services import Services
from crosspost.errors import Forbidden, Unauthorized
from crosspost.store import tenants
from crosspost.vault.apikeys import hash_key, parse_key

_TOUCH_EVERY = timedelta(minutes=1)
_CHALLENGE = {"headers": {"WWW-Authenticate": 'Bearer realm="crosspost"'}}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the key and what it may do."""

    tenant_id: str
    key_id: str
    mode: Mode
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """Raise 403 unless the key holds `scope` (or `admin`)."""
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope", code="insufficient_scope")


def authenticate(svc: Services, authorization: str | None) -> Principal:
    """Resolve an `Authorization: Bearer cp_…` header to a principal, or raise 401."""
    if not authorization:
        raise Unauthorized(
            "missing Authorization header; send `Authorization: Bearer cp_test_…`",
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
    parsed = parse_key(raw.strip())
    if parsed is None:
        # Rejected on format and checksum alone: no database look-up for garbage.
        raise Unauthorized(
            "Invalid API key (malformed or mistyped)", code="invalid_api_key", **_CHALLENGE
        )
    now = svc.clock.now()
    with svc.db.read() as conn:
        row = tenants.find_api_key(conn, hash_key(parsed.raw, svc.hash_key))
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("Invalid API key", code="invalid_api_key", **_CHALLENGE)
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Unauthorized(
            "API key expired; create a new one", code="api_key_expired", **_CHALLENGE
        )
    if row["last_used_at"] is None or now - row["last_used_at"] >= _TOUCH_EVERY:
        with svc.db.write() as conn:
            tenants.touch_api_key(conn, row["id"], now)
    return Principal(row["tenant_id"], row["id"], Mode(row["mode"]), frozenset(row["scopes"]))
