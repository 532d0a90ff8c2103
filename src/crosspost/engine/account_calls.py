"""One platform call on an account's behalf outside the publish loop (a delete, a metrics
read): its credentials unsealed as the publish worker does, refreshed when about to expire
or once when refused, and an account whose grant is dead marked `needs_reauth`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from crosspost.domain.enums import AccountStatus, ErrorKind, Mode
from crosspost.engine.sandbox import reprovision_sandbox_account
from crosspost.engine.services import Services
from crosspost.engine.tokens import mark_needs_reauth, refresh_account
from crosspost.platforms.base import Credentials, PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.vault import credentials as vault_creds
from crosspost.vault.keyring import VaultError

T = TypeVar("T")


class AccountUnusable(Exception):
    """The account cannot reach its platform until its owner reconnects it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def call_as(
    svc: Services,
    account: Mapping[str, Any],
    client: PlatformClient,
    call: Callable[[Credentials], T],
) -> T:
    """`call(creds)` with the account's credentials; a refused token is refreshed and the
    call made once more. Raises AccountUnusable (the account is then `needs_reauth`),
    RefreshInProgress (another worker is refreshing: try again shortly) or the call's own
    PlatformError."""
    if account["status"] != AccountStatus.ACTIVE.value:
        raise AccountUnusable(account["last_error"] or f"the account is {account['status']}")
    creds = _credentials(svc, account)
    refreshed = vault_creds.needs_refresh(creds, svc.clock.now()) and bool(creds.refresh_token)
    if refreshed:
        creds = _refresh(svc, account, client, creds)
    try:
        return call(creds)
    except PlatformError as err:
        if err.kind is not ErrorKind.AUTH:
            raise
        if refreshed or not creds.refresh_token:
            raise _dead(svc, account, err) from err
    creds = _refresh(svc, account, client, creds)
    try:
        return call(creds)
    except PlatformError as err:
        if err.kind is ErrorKind.AUTH:
            raise _dead(svc, account, err) from err
        raise


def _refresh(
    svc: Services, account: Mapping[str, Any], client: PlatformClient, creds: Credentials
) -> Credentials:
    """A refreshed token; a refused refresh (which marks the account) is AccountUnusable."""
    try:
        return refresh_account(svc, account, client, creds)
    except PlatformError as err:
        if err.kind is ErrorKind.AUTH:
            raise AccountUnusable(f"token refresh refused: {err.code}: {err.message}") from err
        raise


def _dead(svc: Services, account: Mapping[str, Any], err: PlatformError) -> AccountUnusable:
    """Mark an account whose fresh token the platform still refuses; the error to raise."""
    reason = f"{err.code}: {err.message}"
    mark_needs_reauth(svc, account, reason)
    return AccountUnusable(reason)


def _credentials(svc: Services, account: Mapping[str, Any]) -> Credentials:
    """The account's tokens; a sandbox account without readable ones gets fresh tokens from
    the fakes, a live one is marked `needs_reauth` (its owner must reconnect)."""
    try:
        creds = vault_creds.unseal(svc.keyring, account)
        reason = "the account has no stored credentials; reconnect it"
    except VaultError:
        creds = None
        reason = "the account's credentials cannot be decrypted; reconnect it"
    if creds is not None:
        return creds
    if account["mode"] == Mode.TEST.value:
        return reprovision_sandbox_account(svc, account)
    mark_needs_reauth(svc, account, reason)
    raise AccountUnusable(reason)
