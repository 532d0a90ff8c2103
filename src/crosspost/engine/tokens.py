"""Token refresh for the engine: never lose a refresh token, explain a dead one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import AccountStatus, ErrorKind, Mode, Platform, TargetStatus
from crosspost.engine import events
from crosspost.engine.publish_jobs import enqueue_publish
from crosspost.engine.services import Services
from crosspost.errors import NotFound
from crosspost.ids import new_id
from crosspost.platforms.base import AppCredentials, Credentials, PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.store import accounts, ledger, posts
from crosspost.vault import credentials as vault_creds

# Longer than any token endpoint takes to answer; a holder that dies frees it by expiry.
_REFRESH_LEASE = timedelta(seconds=60)


def app_credentials(svc: Services, platform: Platform, mode: Mode) -> AppCredentials:
    """The OAuth app an account of this platform and mode refreshes through."""
    test = mode is Mode.TEST
    client_id, secret = svc.settings.client_credentials(platform, test_mode=test)
    settings = svc.settings
    return AppCredentials(
        client_id,
        secret,
        settings.token_url(platform, test_mode=test),
        settings.code_url(platform, test_mode=test),
        settings.revoke_url(platform, test_mode=test),
    )


class RefreshInProgress(Exception):
    """Another worker is refreshing this account's token right now: try again shortly."""

    retry_after = 1.0


class CredentialsChanged(RefreshInProgress):
    """The account's stored credentials were removed or replaced (a disconnect, a
    reconnect, a refusal) since they were read: nothing is refreshed or stored over them;
    run again from what is stored now."""


def refresh_account(
    svc: Services, account: Mapping[str, Any], client: PlatformClient, creds: Credentials
) -> Credentials:
    """Refresh an account's token, once across every worker and process, and store the result
    before anyone uses it.

    `account` is the row `creds` were read from. When the stored credentials changed since
    (another worker refreshed, or the owner reconnected), those are returned without a call;
    when another worker holds the refresh lease, RefreshInProgress is raised; when they were
    removed (or are no longer usable) before the call, or changed during it,
    CredentialsChanged, and nothing is stored. A response without a refresh token keeps
    the stored one (Google never rotates it); `invalid_grant` marks the account
    `needs_reauth` and re-raises.
    """
    platform, mode = Platform(account["platform"]), Mode(account["mode"])
    owner = new_id("rfl")
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = accounts.lock_account_by_id(conn, account["id"])
        if current is None:
            raise PlatformError(ErrorKind.AUTH, "account_deleted", "the account is gone")
        if current["credentials"] != account["credentials"]:
            newer = vault_creds.unseal(svc.keyring, current)
            if newer is not None and current["status"] == AccountStatus.ACTIVE.value:
                return newer
            raise CredentialsChanged(f"account {account['id']} changed while refreshing")
        if not accounts.try_lock_refresh(
            conn, account["id"], account["credentials"], owner, now, now + _REFRESH_LEASE
        ):
            raise RefreshInProgress(f"account {account['id']} is being refreshed")
    try:
        fresh = client.refresh(creds, app_credentials(svc, platform, mode))
    except BaseException as err:
        with svc.db.write() as conn:
            accounts.release_refresh(conn, account["id"], owner)
        if isinstance(err, PlatformError) and err.kind is ErrorKind.AUTH:
            mark_needs_reauth(svc, account, f"token refresh refused: {err.code}: {err.message}")
        raise
    if not fresh.refresh_token:
        fresh.refresh_token = creds.refresh_token
    if not fresh.scopes:
        fresh.scopes = creds.scopes
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = accounts.lock_account_by_id(conn, account["id"])
        # Disconnected or reconnected during the call: storing would bring back what the
        # owner removed (or overwrite what they gave). The lease is released either way.
        changed = current is None or current["credentials"] != account["credentials"]
        if changed:
            accounts.release_refresh(conn, account["id"], owner)
        else:
            _store(
                svc, conn, account, fresh, now, refresh_locked_until=None, refresh_locked_by=None
            )
            ledger.append_event(
                conn,
                tenant_id=account["tenant_id"],
                account_id=account["id"],
                event_type="token_refreshed",
                now=now,
                data={"platform": platform.value, "expires_at": _iso(fresh)},
            )
    if changed:
        raise CredentialsChanged(f"account {account['id']} changed while refreshing")
    return fresh


def reconnect_account(svc: Services, account_id: str, creds: Credentials) -> list[str]:
    """Store fresh credentials from the owner (OAuth again, or imported tokens), make the
    account active, and resume every target that was waiting for it; returns their ids."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        account = accounts.get_account_by_id(conn, account_id)
        if account is None:
            raise PlatformError(ErrorKind.PERMANENT, "account_not_found", account_id)
        _store(
            svc,
            conn,
            account,
            creds,
            now,
            scopes=creds.scopes,
            status=AccountStatus.ACTIVE.value,
            last_error=None,
            refresh_locked_until=None,
            refresh_locked_by=None,
        )
        waiting = posts.targets_waiting_for(conn, account_id, TargetStatus.NEEDS_REAUTH.value)
        for target_id in waiting:
            enqueue_publish(svc.jobs, conn, target_id, now)
        ledger.append_event(
            conn,
            tenant_id=account["tenant_id"],
            account_id=account_id,
            event_type="account_reconnected",
            now=now,
            data={"platform": account["platform"], "resumed_targets": waiting},
        )
        stored = accounts.get_account_by_id(conn, account_id)
        assert stored is not None
        events.emit_account(conn, stored, "account.connected", now, reconnected=True)
    return waiting


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
        events.emit_account(
            conn,
            {**account, "status": AccountStatus.NEEDS_REAUTH.value},
            "account.needs_reauth",
            now,
            reason=reason,
        )


def _store(
    svc: Services,
    conn: Connection,
    account: Mapping[str, Any],
    creds: Credentials,
    now: datetime,
    **columns: Any,
) -> None:
    """Seal `creds` into the account's row (with any other columns), in the caller's
    transaction."""
    accounts.update_account(
        conn,
        account["id"],
        credentials=vault_creds.seal(
            svc.keyring, tenant_id=account["tenant_id"], account_id=account["id"], creds=creds
        ),
        token_expires_at=creds.expires_at,
        updated_at=now,
        **columns,
    )


def _iso(creds: Credentials) -> str | None:
    return creds.expires_at.isoformat() if creds.expires_at else None


def resolve_credentials(
    svc: Services, *, tenant_id: str, account_id: str, caller: str
) -> tuple[Mapping[str, Any], Credentials]:
    """An account's decrypted credentials for a trusted internal service; audited."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        account = accounts.get_account(conn, tenant_id, account_id)
        creds = vault_creds.unseal(svc.keyring, account) if account is not None else None
        if account is None or creds is None:
            raise NotFound(f"no account {account_id!r} with credentials in this tenant")
        ledger.append_event(
            conn,
            tenant_id=tenant_id,
            account_id=account_id,
            event_type="credentials_resolved",
            now=now,
            data={"platform": account["platform"], "caller": caller},
        )
    return account, creds


def update_token(
    svc: Services,
    *,
    tenant_id: str,
    account_id: str,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    caller: str,
) -> None:
    """Store a token an internal service refreshed itself; a missing refresh token keeps the
    stored one. Audited."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        account = accounts.get_account(conn, tenant_id, account_id)
        old = vault_creds.unseal(svc.keyring, account) if account is not None else None
        if account is None:
            raise NotFound(f"no account {account_id!r} in this tenant")
        creds = Credentials(
            access_token=access_token,
            refresh_token=refresh_token or (old.refresh_token if old else None),
            expires_at=expires_at,
            scopes=old.scopes if old else [],
        )
        _store(svc, conn, account, creds, now)
        ledger.append_event(
            conn,
            tenant_id=tenant_id,
            account_id=account_id,
            event_type="token_updated",
            now=now,
            data={"platform": account["platform"], "caller": caller, "expires_at": _iso(creds)},
        )
