"""Issuing API keys: the secret is returned once, only its keyed hash is stored."""

from __future__ import annotations

from crosspost.domain.enums import Mode
from crosspost.engine.services import Services
from crosspost.store import tenants
from crosspost.vault.apikeys import generate_key, hash_key, parse_key

ALL_SCOPES = (
    "posts:write",
    "posts:read",
    "media:write",
    "accounts:write",
    "webhooks:write",
    "usage:read",
    "admin",
)


def issue_key(
    svc: Services, *, tenant_id: str, name: str, mode: Mode, scopes: tuple[str, ...] = ALL_SCOPES
) -> tuple[str, str]:
    """Create a key; returns (key id, the secret to show once)."""
    raw = generate_key(mode)
    parsed = parse_key(raw)
    assert parsed is not None
    with svc.db.write() as conn:
        key_id = tenants.insert_api_key(
            conn,
            tenant_id=tenant_id,
            name=name,
            mode=mode.value,
            display_prefix=parsed.display_prefix,
            key_hash=hash_key(raw, svc.hash_key),
            scopes=list(scopes),
            now=svc.clock.now(),
        )
    return key_id, raw


def default_tenant(svc: Services) -> str:
    """The default tenant, created on first use."""
    with svc.db.write() as conn:
        return tenants.ensure_default_tenant(conn, svc.clock.now())
