"""Connecting social accounts: store the tokens sealed, or refresh a known account's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from crosspost.domain.enums import AccountRole, AccountStatus, Mode, Platform
from crosspost.domain.models import AccountImport
from crosspost.engine import events
from crosspost.engine.services import Services
from crosspost.engine.tokens import reconnect_account
from crosspost.errors import InvalidInput
from crosspost.ids import new_id
from crosspost.platforms.base import Credentials
from crosspost.platforms.registry import supported_platforms
from crosspost.store import accounts, ledger
from crosspost.vault import credentials as vault_creds


def import_account(
    svc: Services, *, tenant_id: str, mode: Mode, body: AccountImport
) -> tuple[str, bool]:
    """Store an account from tokens the customer holds; (account id, created?).

    The same platform user imported again is a reconnection: its new tokens replace the
    old ones and its targets waiting for reauthorization resume.
    """
    if body.platform not in supported_platforms():
        raise InvalidInput(
            f"crosspost cannot publish to {body.platform.value} yet", code="unsupported_platform"
        )
    lifetime = timedelta(seconds=body.expires_in) if body.expires_in is not None else None
    creds = Credentials(
        access_token=body.access_token,
        refresh_token=body.refresh_token,
        expires_at=svc.clock.now() + lifetime if lifetime is not None else None,
        scopes=list(body.scopes),
    )
    return connect_account(
        svc,
        tenant_id=tenant_id,
        mode=mode,
        platform=body.platform,
        external_id=body.external_id,
        handle=body.handle,
        creds=creds,
        role=body.role,
        parent_id=body.parent_id,
        via="import",
    )


def connect_account(
    svc: Services,
    *,
    tenant_id: str,
    mode: Mode,
    platform: Platform,
    external_id: str,
    handle: str,
    creds: Credentials,
    role: AccountRole = AccountRole.MAIN,
    parent_id: str | None = None,
    via: str,
) -> tuple[str, bool]:
    """Store a platform user's credentials as an account of the tenant; (id, created?).
    A user already connected is reconnected: new tokens, parked targets resumed."""
    now = svc.clock.now()
    with svc.db.read() as conn:
        known = accounts.find_accounts(conn, tenant_id, platform=platform.value, mode=mode.value)
        parent = accounts.get_account(conn, tenant_id, parent_id) if parent_id else None
    same = next((a for a in known if a["external_id"] == external_id), None)
    if same is not None:
        reconnect_account(svc, same["id"], creds)
        return str(same["id"]), False
    _check_role(role, parent_id, parent, platform, mode)
    account_id = new_id("acc")
    with svc.db.write() as conn:
        accounts.insert_account(
            conn,
            id=account_id,
            tenant_id=tenant_id,
            platform=platform.value,
            mode=mode.value,
            handle=handle,
            external_id=external_id,
            role=role.value,
            parent_id=parent_id,
            status=AccountStatus.ACTIVE.value,
            credentials=vault_creds.seal(
                svc.keyring, tenant_id=tenant_id, account_id=account_id, creds=creds
            ),
            token_expires_at=creds.expires_at,
            scopes=creds.scopes,
            created_at=now,
            updated_at=now,
        )
        ledger.append_event(
            conn,
            tenant_id=tenant_id,
            account_id=account_id,
            event_type="account_connected",
            now=now,
            data={"platform": platform.value, "mode": mode.value, "via": via},
        )
        stored = accounts.get_account_by_id(conn, account_id)
        assert stored is not None
        events.emit_account(conn, stored, "account.connected", now, reconnected=False)
    return account_id, True


def _check_role(
    role: AccountRole,
    parent_id: str | None,
    parent: Mapping[str, Any] | None,
    platform: Platform,
    mode: Mode,
) -> None:
    """A main account has no parent; a satellite posts through a main one of its kind."""
    if role is AccountRole.MAIN:
        if parent_id is not None:
            raise InvalidInput("a main account has no parent_id", code="invalid_parent")
        return
    if parent_id is None:
        raise InvalidInput(
            "a satellite needs parent_id: the main account whose app it posts through",
            code="parent_required",
        )
    if parent is None:
        raise InvalidInput(f"no account {parent_id!r} to be the parent", code="invalid_parent")
    if (parent["platform"], parent["mode"], parent["role"]) != (
        platform.value, mode.value, AccountRole.MAIN.value,
    ):  # fmt: skip
        raise InvalidInput(
            f"the parent must be a {mode.value} main account on {platform.value}",
            code="invalid_parent",
        )
