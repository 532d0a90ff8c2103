"""The `accounts.check.v1` job: keep every connected account usable before a post needs it.

Each run refreshes tokens that expire within the hour (single-flight, like any refresh) and
asks each platform, cheaply, who the token belongs to: a dead token becomes an explained
`needs_reauth`, and so does a token that now belongs to someone else, so an account never
looks healthy while holding the wrong credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from crosspost.domain.enums import AccountStatus, ErrorKind, Mode, Platform
from crosspost.engine.clients import build_client
from crosspost.engine.services import Services
from crosspost.engine.tokens import RefreshInProgress, mark_needs_reauth, refresh_account
from crosspost.jobs import JobContext, Outcome, RunAgain
from crosspost.platforms.base import PlatformClient
from crosspost.platforms.errors import PlatformError
from crosspost.store.rows import every
from crosspost.store.tables import social_accounts
from crosspost.vault import credentials as vault_creds

KIND = "accounts.check.v1"
DEDUPE_KEY = "accounts-check"
REFRESH_AHEAD = timedelta(hours=1)
_BATCH = 100
log = logging.getLogger("crosspost.accounts")


@dataclass
class CheckReport:
    """What one pass over the accounts found."""

    checked: int = 0
    refreshed: int = 0
    needs_reauth: int = 0

    def __str__(self) -> str:
        return (
            f"{self.checked} checked, {self.refreshed} token(s) refreshed, "
            f"{self.needs_reauth} now needing reauthorisation"
        )


def ensure_scheduled(svc: Services) -> None:
    """Enqueue the check unless one is already queued or checks are off (safe from every
    process)."""
    if not svc.settings.account_check_seconds:
        return
    with svc.db.write() as conn:
        svc.jobs.enqueue(conn, KIND, {}, run_at=svc.clock.now(), dedupe_key=DEDUPE_KEY)


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Check every account, then come back after `account_check_seconds`."""

    def handle(ctx: JobContext) -> Outcome:
        report = check_accounts(svc)
        if report.refreshed or report.needs_reauth:
            log.info("accounts checked: %s", report)
        every_seconds = svc.settings.account_check_seconds
        return RunAgain(svc.clock.now() + timedelta(seconds=every_seconds))

    return handle


def check_accounts(svc: Services) -> CheckReport:
    """One pass over every active account with credentials."""
    report = CheckReport()
    after = ""
    while True:
        with svc.db.read() as conn:
            batch = every(
                conn.execute(
                    sa.select(social_accounts)
                    .where(
                        social_accounts.c.status == AccountStatus.ACTIVE.value,
                        social_accounts.c.credentials.is_not(None),
                        social_accounts.c.id > after,
                    )
                    .order_by(social_accounts.c.id)
                    .limit(_BATCH)
                )
            )
        if not batch:
            return report
        after = batch[-1]["id"]
        for account in batch:
            report.checked += 1
            _check_one(svc, account, report)


def _check_one(svc: Services, account: Mapping[str, Any], report: CheckReport) -> None:
    creds = vault_creds.unseal(svc.keyring, account)
    if creds is None:
        return
    client = build_client(svc, Platform(account["platform"]), Mode(account["mode"]))
    expires = creds.expires_at
    refreshed = False
    try:
        soon = expires is not None and expires - REFRESH_AHEAD <= svc.clock.now()
        if soon and creds.refresh_token:
            creds, refreshed = refresh_account(svc, account, client, creds), True
        if type(client).whoami is PlatformClient.whoami:
            report.refreshed += refreshed
            return  # no identity call on this platform: refreshing is all we can do
        try:
            external_id, _ = client.whoami(creds)
        except PlatformError as err:
            # A token refused early (revoked, rotated elsewhere): one refresh, then ask again.
            if err.kind is not ErrorKind.AUTH or refreshed or not creds.refresh_token:
                raise
            creds, refreshed = refresh_account(svc, account, client, creds), True
            external_id, _ = client.whoami(creds)
    except RefreshInProgress:
        return  # a worker is refreshing it right now
    except PlatformError as err:
        if err.kind is ErrorKind.AUTH:
            if err.code != "invalid_grant":  # refresh_account already explained that one
                mark_needs_reauth(svc, account, f"the platform refused the token: {err.message}")
            report.needs_reauth += 1
        else:
            log.warning("account %s check failed: %s", account["id"], err)
        return
    report.refreshed += refreshed
    if external_id != account["external_id"]:
        mark_needs_reauth(
            svc,
            account,
            f"the token now belongs to {account['platform']} user {external_id}, not "
            f"{account['external_id']}; reconnect the right account",
        )
        report.needs_reauth += 1
