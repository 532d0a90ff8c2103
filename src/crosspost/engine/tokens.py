"""Token refresh for the engine: never lose a refresh token, explain a dead one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crosspost.domain.enums import AccountStatus, ErrorKind, Mode, Platform
from crosspost.engine.services import Services
from crosspost.platforms.base import AppCredentials, Credentials, PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.store import accounts, ledger
from crosspost.vault import credentials as vault_creds


def app_credentials(svc: Services, platform: Platform, mode: Mode) -> AppCredentials:
    """The OAuth app an account of this platform and mode refreshes through."""
    test = mode is Mode.TEST
    client_id, secret = svc.settings.client_credentials(platform, test_mode=test)
    return AppCredentials(client_id, secret, svc.settings.token_url(platform, test_mode=test))


def refresh_account(
    svc: Services, account: Mapping[str, Any], client: PlatformClient, creds: Credentials
) -> Credentials:
    """Refresh an account's token and store the result before anyone uses it.

    A response without a refresh token keeps the stored one (Google never rotates it);
    `invalid_grant` marks the account `needs_reauth` and re-raises.
    """
    platform, mode = Platform(account["platform"]), Mode(account["mode"])
    try:
        fresh = client.refresh(creds, app_credentials(svc, platform, mode))
    except PlatformError as err:
        if err.kind is ErrorKind.AUTH:
            mark_needs_reauth(svc, account, f"token refresh refused: {err.code}: {err.message}")
        raise
    if not fresh.refresh_token:
        fresh.refresh_token = creds.refresh_token
    if not fresh.scopes:
        fresh.scopes = creds.scopes
    now = svc.clock.now()
    with svc.db.write() as conn:
        accounts.update_account(
            conn,
            account["id"],
            credentials=vault_creds.seal(
                svc.keyring, tenant_id=account["tenant_id"], account_id=account["id"], creds=fresh
            ),
            token_expires_at=fresh.expires_at,
            updated_at=now,
        )
        ledger.append_event(
            conn,
            tenant_id=account["tenant_id"],
            account_id=account["id"],
            event_type="token_refreshed",
            now=now,
            data={"platform": platform.value, "expires_at": _iso(fresh)},
        )
    return fresh


def mark_needs_reauth(svc: Services, account: Mapping[str, Any], reason: str) -> None:
    """Flag an account whose credentials must be reconnected by its owner."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        accounts.update_account(
            conn,
            account["id"],
            status=AccountStatus.NEEDS_REAUTH.value,
            last_error=reason,
            updated_at=now,
        )
        ledger.append_event(
            conn,
            tenant_id=account["tenant_id"],
            account_id=account["id"],
            event_type="account_needs_reauth",
            now=now,
            data={"platform": account["platform"], "reason": reason},
        )


def _iso(creds: Credentials) -> str | None:
    return creds.expires_at.isoformat() if creds.expires_at else None
