"""API keys: issue, roll, revoke and limit them. The secret is returned once; only its
keyed hash is stored.

A role is a named set of scopes. A key can hand out no scope it lacks itself, and only an
`owner` key may create, roll or revoke an `owner` key, so an admin cannot lock out the owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.services import Services
from crosspost.errors import Conflict, Forbidden, InvalidInput, NotFound
from crosspost.identity.audit import Actor, record
from crosspost.store import tenants, usage
from crosspost.store.rows import Row
from crosspost.usage.metering import period_of
from crosspost.usage.ratelimit import resolve_policies
from crosspost.vault.apikeys import generate_key, hash_key, parse_key
from crosspost.vault.signing_secrets import carry_over

SCOPE_DESCRIPTIONS: dict[str, str] = {
    "posts:write": "Create and cancel posts.",
    "posts:read": "Read posts, their targets and ledgers, connected accounts and exports.",
    "media:write": "Upload media.",
    "accounts:write": "Connect social accounts.",
    "webhooks:write": "Manage webhook endpoints and read their deliveries.",
    "usage:read": "Read usage, quotas and API analytics.",
    "admin": "Everything, and manage keys, signing, OAuth clients and quotas.",
}
ALL_SCOPES = tuple(SCOPE_DESCRIPTIONS)

ROLE_SCOPES: dict[KeyRole, tuple[str, ...]] = {
    KeyRole.OWNER: ALL_SCOPES,
    KeyRole.ADMIN: ALL_SCOPES,
    KeyRole.DEVELOPER: tuple(s for s in ALL_SCOPES if s != "admin"),
    KeyRole.VIEWER: ("posts:read", "usage:read"),
}


_CLI = Actor.cli()


@dataclass(frozen=True)
class Issuer:
    """Who asks for a key: what they hold bounds what they may hand out."""

    scopes: frozenset[str]
    role: KeyRole | None
    actor: Actor = _CLI  # as the audit log names who acted

    @classmethod
    def local(cls) -> Issuer:
        """The operator at the server's own command line: may do anything."""
        return cls(frozenset(ALL_SCOPES), KeyRole.OWNER)


@dataclass(frozen=True)
class KeySpec:
    """What a new key may do and how fast."""

    name: str
    mode: Mode
    role: KeyRole | None = None
    scopes: tuple[str, ...] = ALL_SCOPES
    tier: str | None = None
    rate_limits: Mapping[str, int] | None = None
    expires_at: datetime | None = None


def default_tier(svc: Services, conn: Connection, tenant_id: str) -> str | None:
    """The tier of a key or client created without one: the tenant's, else the server's."""
    tenant = tenants.get_tenant(conn, tenant_id)
    if tenant is not None and tenant["default_tier"] is not None:
        return str(tenant["default_tier"])
    return svc.settings.default_tier


def resolve_scopes(role: KeyRole | None, scopes: tuple[str, ...] | None) -> tuple[str, ...]:
    """The scopes of a role or an explicit list (not both); developer when neither is given."""
    if role is not None and scopes is not None:
        raise InvalidInput("give either a role or scopes, not both", code="role_and_scopes")
    if scopes is None:
        return ROLE_SCOPES[role or KeyRole.DEVELOPER]
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(unknown)}; valid scopes: {', '.join(ALL_SCOPES)}",
            code="unknown_scope",
        )
    if not scopes:
        raise InvalidInput("a key needs at least one scope", code="unknown_scope")
    return tuple(dict.fromkeys(scopes))


def check_tier(
    svc: Services, tier: str | None, rate_limits: Mapping[str, int] | None = None
) -> None:
    """Refuse a tier the settings do not define, or a rate-limit override the limiter
    cannot apply."""
    tiers = svc.settings.rate_limit_tiers
    if tier is not None and tier not in tiers:
        raise InvalidInput(
            f"unknown tier {tier!r}; configured tiers: {', '.join(sorted(tiers))}",
            code="unknown_tier",
        )
    try:
        resolve_policies(tiers, tier, rate_limits)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_rate_limits") from None


def issue_key(
    svc: Services, *, tenant_id: str, name: str, mode: Mode, **options: Any
) -> tuple[str, str]:
    """Create a key in its own transaction; returns (key id, the secret to show once)."""
    with svc.db.write() as conn:
        row, raw = create_key(svc, conn, tenant_id=tenant_id, name=name, mode=mode, **options)
    return row["id"], raw


def create_key(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    name: str,
    mode: Mode,
    role: KeyRole | None = None,
    scopes: tuple[str, ...] | None = None,
    tier: str | None = None,
    rate_limits: Mapping[str, int] | None = None,
    expires_at: datetime | None = None,
    issuer: Issuer | None = None,
) -> tuple[Row, str]:
    """Create a key in `conn`'s transaction; returns (its row, the secret to show once).
    Without a role or scopes the key gets every scope (the operator's own key)."""
    issuer = issuer or Issuer.local()
    granted = resolve_scopes(role, scopes) if role or scopes is not None else ALL_SCOPES
    _check_grant(issuer, granted, role)
    tier = tier if tier is not None else default_tier(svc, conn, tenant_id)
    check_tier(svc, tier, rate_limits)
    now = svc.clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future", code="invalid_expiry")
    spec = KeySpec(name, mode, role, granted, tier, rate_limits, expires_at)
    row, raw = _insert(svc, conn, tenant_id, spec, granted, tier, now)
    _audit(conn, issuer, "key.created", row, now, role=row["role"], scopes=row["scopes"])
    return row, raw


def _insert(
    svc: Services,
    conn: Connection,
    tenant_id: str,
    spec: KeySpec,
    scopes: tuple[str, ...],
    tier: str | None,
    now: datetime,
) -> tuple[Row, str]:
    raw = generate_key(spec.mode)
    parsed = parse_key(raw)
    assert parsed is not None
    key_id = tenants.insert_api_key(
        conn,
        tenant_id=tenant_id,
        name=spec.name,
        mode=spec.mode.value,
        display_prefix=parsed.display_prefix,
        key_hash=hash_key(raw, svc.hash_key),
        scopes=list(scopes),
        now=now,
        expires_at=spec.expires_at,
        role=spec.role.value if spec.role else None,
        tier=tier,
        rate_limits=dict(spec.rate_limits) if spec.rate_limits else None,
    )
    row = tenants.get_api_key(conn, tenant_id, key_id)
    assert row is not None
    return row, raw


def roll_key(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    overlap: timedelta | None = None,
    issuer: Issuer | None = None,
) -> tuple[Row, str]:
    """Replace a key with a new one of the same powers in `conn`'s transaction; the old one
    keeps working for `overlap` (default: the configured overlap, 24 h)."""
    issuer = issuer or Issuer.local()
    overlap = (
        overlap if overlap is not None else timedelta(seconds=svc.settings.key_roll_overlap_seconds)
    )
    now = svc.clock.now()
    old = _usable(conn, tenant_id, key_id, now)
    role = KeyRole(old["role"]) if old["role"] else None
    _check_grant(issuer, tuple(old["scopes"]), role)
    spec = KeySpec(
        name=old["name"],
        mode=Mode(old["mode"]),
        role=role,
        scopes=tuple(old["scopes"]),
        tier=old["tier"],
        rate_limits=old["rate_limits"],
        expires_at=old["expires_at"],
    )
    row, raw = _insert(svc, conn, tenant_id, spec, tuple(old["scopes"]), old["tier"], now)
    ends = now + overlap
    if old["expires_at"] is not None:
        ends = min(ends, old["expires_at"])
    tenants.mark_rolled(conn, key_id, rolled_to=row["id"], expires_at=ends)
    # The replacement signs with the secrets the client already holds: a tenant that
    # requires signing must not be locked out by a roll.
    carry_over(
        conn, svc.keyring, tenant_id=tenant_id, from_key_id=key_id, to_key_id=row["id"], now=now
    )
    # Nor may a roll lift the key's quotas or forget what it used this month.
    usage.carry_over_key(conn, tenant_id, key_id, row["id"], period_of(now))
    _audit(conn, issuer, "key.rolled", old, now, rolled_to=row["id"], ends=ends.isoformat())
    return row, raw


def revoke_key(svc: Services, *, tenant_id: str, key_id: str, issuer: Issuer | None = None) -> Row:
    """Revoke a key at once (idempotent); returns its row."""
    issuer = issuer or Issuer.local()
    with svc.db.write() as conn:
        row = tenants.get_api_key(conn, tenant_id, key_id)
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        _check_owner(issuer, row)
        now = svc.clock.now()
        tenants.revoke_api_key(conn, tenant_id, key_id, now)
        if row["revoked_at"] is None:
            _audit(conn, issuer, "key.revoked", row, now)
        found = tenants.get_api_key(conn, tenant_id, key_id)
    assert found is not None
    return found


def update_limits(
    svc: Services,
    *,
    tenant_id: str,
    key_id: str,
    changes: Mapping[str, Any],
    issuer: Issuer | None = None,
) -> Row:
    """Rename a key or change its tier / rate-limit override (present keys only)."""
    check_tier(svc, changes.get("tier"), changes.get("rate_limits"))
    with svc.db.write() as conn:
        before = tenants.get_api_key(conn, tenant_id, key_id)
        if before is None:
            raise NotFound(f"no API key {key_id!r}")
        tenants.update_api_key(conn, key_id, dict(changes))
        was = {k: before[k] for k in changes if k in before}
        _audit(conn, issuer or Issuer.local(), "key.updated", before, svc.clock.now(),
               before=was, after=dict(changes))  # fmt: skip
        row = tenants.get_api_key(conn, tenant_id, key_id)
    assert row is not None
    return row


def _audit(
    conn: Connection, issuer: Issuer, action: str, key: Row, now: datetime, **data: Any
) -> None:
    record(
        conn, issuer.actor, action, tenant_id=key["tenant_id"], now=now,
        target=("api_key", key["id"]), data={"name": key["name"], **data},
    )  # fmt: skip


def _usable(conn: Connection, tenant_id: str, key_id: str, now: datetime) -> Row:
    row = tenants.get_api_key(conn, tenant_id, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    if row["revoked_at"] is not None:
        raise Conflict(f"API key {key_id} is revoked; create a new key", code="key_revoked")
    if row["rolled_to"] is not None:
        raise Conflict(
            f"API key {key_id} was already rolled to {row['rolled_to']}; roll that one",
            code="key_already_rolled",
        )
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Conflict(f"API key {key_id} has expired; create a new key", code="key_expired")
    return row


def _check_grant(issuer: Issuer, scopes: tuple[str, ...], role: KeyRole | None) -> None:
    missing = sorted(set(scopes) - issuer.scopes)
    if missing and "admin" not in issuer.scopes:
        raise Forbidden(
            f"a key cannot grant scopes it lacks: {', '.join(missing)}", code="scope_escalation"
        )
    if role is KeyRole.OWNER and issuer.role is not KeyRole.OWNER:
        raise Forbidden("only an owner key may create or roll owner keys", code="owner_only")


def _check_owner(issuer: Issuer, row: Row) -> None:
    if row["role"] == KeyRole.OWNER.value and issuer.role is not KeyRole.OWNER:
        raise Forbidden("only an owner key may revoke an owner key", code="owner_only")


def default_tenant(svc: Services, tenant_id: str | None = None) -> str:
    """The tenant a command-line act is for: `tenant_id` when given (404 when there is no
    such tenant), else the default tenant, created on first use."""
    if tenant_id is not None:
        with svc.db.read() as conn:
            row = tenants.get_tenant(conn, tenant_id)
        if row is None or row["status"] == "purged":
            raise NotFound(f"no tenant {tenant_id!r}; `crosspost tenants list` shows them")
        return tenant_id
    with svc.db.write() as conn:
        return tenants.ensure_default_tenant(conn, svc.clock.now())
