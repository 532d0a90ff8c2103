"""Disconnecting a social account: access revoked at the platform where it allows that, our
copy of the credentials erased, and what was still to publish on it failed, explained.

The revocation call goes first, outside any transaction; whatever it answers, the
credentials are erased (a disconnect the platform refused is still a disconnect here, and
the answer says the platform did not confirm it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crosspost.domain.enums import AccountStatus, Mode, Platform, TargetStatus
from crosspost.engine import events
from crosspost.engine.clients import build_client
from crosspost.engine.services import Services
from crosspost.engine.tokens import app_credentials
from crosspost.engine.transitions import refresh_post_status
from crosspost.errors import NotFound
from crosspost.identity.audit import Actor, record
from crosspost.platforms.errors import PlatformError
from crosspost.store import accounts, ledger, posts
from crosspost.store.rows import Row
from crosspost.vault import credentials as vault_creds
from crosspost.vault.keyring import VaultError

Revocation = Literal["revoked", "unsupported", "failed"]
CODE = "account_disconnected"
_LIVE = tuple(s.value for s in TargetStatus if not s.terminal)


@dataclass(frozen=True)
class Disconnected:
    """What a disconnect did."""

    account: Row
    platform_revocation: Revocation
    revocation_detail: str | None
    failed_targets: list[str]


def disconnect_account(
    svc: Services, *, tenant_id: str, mode: Mode, account_id: str, actor: Actor
) -> Disconnected:
    """Disconnect one of a tenant's accounts of `mode` (404 if it has none by that id)."""
    with svc.db.read() as conn:
        account = accounts.get_account(conn, tenant_id, account_id)
    if account is None or account["mode"] != mode.value:
        raise NotFound(f"no account {account_id!r}")
    revocation, detail = _revoke(svc, account)
    now = svc.clock.now()
    message = "the account was disconnected before this target was published"
    with svc.db.write() as conn:
        accounts.update_account(
            conn, account_id, credentials=None, token_expires_at=None,
            status=AccountStatus.DISABLED.value, last_error="disconnected", updated_at=now,
            refresh_locked_until=None, refresh_locked_by=None,
        )  # fmt: skip
        failed = posts.fail_account_targets(conn, account_id, _LIVE, code=CODE,
                                            message=message, now=now)  # fmt: skip
        for target in failed:
            ledger.append_event(
                conn, tenant_id=tenant_id, post_id=target["post_id"], target_id=target["id"],
                account_id=account_id, event_type="publish_failed", now=now,
                data={"platform": target["platform"], "error_kind": "permanent", "code": CODE,
                      "message": message},
            )  # fmt: skip
        for post_id in sorted({t["post_id"] for t in failed}):
            refresh_post_status(conn, tenant_id, post_id, now)
        ledger.append_event(
            conn, tenant_id=tenant_id, account_id=account_id, event_type="account_disconnected",
            now=now, data={"platform": account["platform"], "platform_revocation": revocation},
        )  # fmt: skip
        stored = accounts.get_account_by_id(conn, account_id)
        assert stored is not None
        ids = [t["id"] for t in failed]
        events.emit_account(conn, stored, "account.disconnected", now,
                            platform_revocation=revocation, failed_targets=ids)  # fmt: skip
        record(conn, actor, "account.disconnected", tenant_id=tenant_id, now=now,
               target=("account", account_id),
               data={"platform_revocation": revocation, "failed_targets": len(ids)})  # fmt: skip
    return Disconnected(stored, revocation, detail, ids)


def _revoke(svc: Services, account: Row) -> tuple[Revocation, str | None]:
    platform, mode = Platform(account["platform"]), Mode(account["mode"])
    try:
        creds = vault_creds.unseal(svc.keyring, account)
    except VaultError:
        return "failed", "the stored credentials could not be read"
    if creds is None:
        return "failed", "no credentials were stored"
    client = build_client(svc, platform, mode)
    try:
        client.revoke(creds, app_credentials(svc, platform, mode))
    except PlatformError as err:
        if err.code == "unsupported_operation":
            return "unsupported", err.message
        return "failed", f"{err.code}: {err.message}"
    return "revoked", None
