"""Sandbox accounts: one test-mode account per platform, with tokens minted by the fakes.

Minting tokens through the fake's control endpoint stands in for a user clicking "allow"
on a consent page; the account is then used exactly as a live one would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from crosspost.domain.enums import AccountRole, Mode, Platform
from crosspost.engine.accounts import connect_account
from crosspost.engine.services import Services
from crosspost.engine.tokens import reconnect_account
from crosspost.platforms.base import Credentials
from crosspost.platforms.registry import supported_platforms
from crosspost.store import accounts


def provision_sandbox_accounts(svc: Services, tenant_id: str) -> list[str]:
    """Create (or re-credential) a sandbox account per supported platform; returns their ids."""
    ids: list[str] = []
    for platform in sorted(supported_platforms(), key=lambda p: p.value):
        ids.append(_provision(svc, tenant_id, platform))
    return ids


def _provision(svc: Services, tenant_id: str, platform: Platform) -> str:
    with svc.db.read() as conn:
        existing = accounts.find_accounts(
            conn, tenant_id, platform=platform.value, mode=Mode.TEST.value
        )
    main = next((a for a in existing if a["role"] == AccountRole.MAIN.value), None)
    handle = main["handle"] if main else f"sandbox_{platform.value}"
    creds, minted = _consent(svc, platform, handle, main["external_id"] if main else None)
    # A known account is reconnected (resuming whatever waited for it); a new one created.
    account_id, _ = connect_account(
        svc,
        tenant_id=tenant_id,
        mode=Mode.TEST,
        platform=platform,
        external_id=str(minted["external_id"]),
        handle=minted.get("handle") or handle,
        creds=creds,
        via="sandbox",
    )
    return account_id


def reprovision_sandbox_account(svc: Services, account: Mapping[str, Any]) -> Credentials:
    """Fresh sandbox tokens for a test-mode account whose own are missing or unreadable."""
    platform = Platform(account["platform"])
    creds, _ = _consent(svc, platform, account["handle"], account["external_id"])
    reconnect_account(svc, account["id"], creds)
    return creds


def _consent(
    svc: Services, platform: Platform, handle: str, external_id: str | None
) -> tuple[Credentials, dict[str, Any]]:
    """Tokens minted by the platform's fake (the stand-in for a user clicking Allow)."""
    body: dict[str, object] = {"handle": handle}
    if external_id is not None:
        body["external_id"] = external_id
    url = f"{svc.settings.sandbox_base_url}/{platform.value}/_fake/accounts"
    response = svc.http.post(url, json=body)
    response.raise_for_status()
    minted: dict[str, Any] = response.json()
    creds = Credentials(
        access_token=minted["access_token"],
        refresh_token=minted.get("refresh_token"),
        expires_at=svc.clock.now() + timedelta(seconds=int(minted.get("expires_in") or 3600)),
        scopes=list(minted.get("scopes") or []),
    )
    return creds, minted
