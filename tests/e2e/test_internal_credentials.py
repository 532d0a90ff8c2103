"""/internal/credentials: off by default; with the key, tenant-scoped, audited tokens."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from crosspost.store import accounts, ledger
from crosspost.vault import credentials as vault_creds
from tests.e2e.conftest import Stack

KEY = "k" * 16 + "0123456789abcdef"


def _youtube(stack: Stack) -> dict:
    return next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "youtube")


def test_off_by_default(stack: Stack) -> None:
    """Without CROSSPOST_INTERNAL_API_KEY the routes do not exist, even with a key sent."""
    response = httpx.post(
        f"{stack.api_url}/internal/credentials/resolve",
        json={"tenant_id": stack.tenant_id, "account_id": "acc_x"},
        headers={"X-Internal-Key": KEY},
    )
    assert response.status_code == 404


@pytest.fixture
def internal(make_stack: Callable[..., Stack]) -> Stack:
    """A stack with the internal routes on."""
    return make_stack(workers=0, internal_api_key=KEY)


def test_resolve_and_update_are_keyed_scoped_and_audited(internal: Stack) -> None:
    """Wrong or missing key: 403. Another tenant: 404. Resolve returns the tokens (no-store);
    an update without a refresh token keeps the stored one; both calls are in the ledger."""
    stack = internal
    account = _youtube(stack)
    url = f"{stack.api_url}/internal/credentials"
    body = {"tenant_id": stack.tenant_id, "account_id": account["id"]}

    def post(path: str, payload: dict, key: str | None = KEY) -> httpx.Response:
        headers = {"X-Internal-Key": key} if key is not None else {}
        return httpx.post(f"{url}/{path}", json=payload, headers=headers)

    assert post("resolve", body, key=None).status_code == 403
    assert post("resolve", body, key=KEY[:-1] + "x").json()["code"] == "internal_key_invalid"
    assert post("resolve", {**body, "tenant_id": "ten_other"}).status_code == 404
    resolved = post("resolve", body)
    assert resolved.status_code == 200 and resolved.headers["cache-control"] == "no-store"
    with stack.svc.db.read() as conn:
        row = accounts.get_account_by_id(conn, account["id"])
    stored = vault_creds.unseal(stack.svc.keyring, row) if row else None
    assert stored is not None
    assert resolved.json()["access_token"] == stored.access_token
    assert resolved.json()["refresh_token"] == stored.refresh_token

    updated = post("update-token", {**body, "access_token": "new-access", "expires_in": 3600})
    assert updated.status_code == 204
    after = post("resolve", body).json()
    assert after["access_token"] == "new-access"
    assert after["refresh_token"] == stored.refresh_token  # kept: none was sent
    with stack.svc.db.read() as conn:
        rows = ledger.list_account_events(conn, stack.tenant_id, account["id"])
    events = [e["event_type"] for e in rows]
    assert events.count("credentials_resolved") == 2 and events.count("token_updated") == 1
    # The ledger records that it happened, never the token itself.
    assert "new-access" not in str(rows) and stored.access_token not in str(rows)


def test_a_short_internal_key_is_refused(make_stack: Callable[..., Stack]) -> None:
    """A guessable key is a configuration error, not a running service."""
    with pytest.raises(ValueError, match="at least 32"):
        make_stack(internal_api_key="short")
