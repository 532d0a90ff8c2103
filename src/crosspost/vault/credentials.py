"""Account credentials: sealed in the vault at rest, refreshed before they expire."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from crosspost.platforms.base import Credentials
from crosspost.vault.keyring import Keyring

TABLE = "social_accounts"
REFRESH_MARGIN = timedelta(minutes=5)


def seal(keyring: Keyring, *, tenant_id: str, account_id: str, creds: Credentials) -> str:
    """Encrypt credentials for one account row."""
    payload = json.dumps(
        {
            "access_token": creds.access_token,
            "refresh_token": creds.refresh_token,
            "scopes": creds.scopes,
        }
    )
    return keyring.encrypt(payload, tenant_id=tenant_id, table=TABLE, row_id=account_id)


def unseal(keyring: Keyring, account: Mapping[str, Any]) -> Credentials | None:
    """Decrypt an account row's credentials; None when it has none."""
    envelope = account["credentials"]
    if not envelope:
        return None
    data = json.loads(
        keyring.decrypt(envelope, tenant_id=account["tenant_id"], table=TABLE, row_id=account["id"])
    )
    return Credentials(
        access_token=data["access_token"],
        refresh_token=data.get("refresh_token"),
        expires_at=account["token_expires_at"],
        scopes=list(data.get("scopes") or []),
    )


def needs_refresh(creds: Credentials, now: datetime) -> bool:
    """True when the access token expires within the safety margin."""
    return creds.expires_at is not None and creds.expires_at - REFRESH_MARGIN <= now
