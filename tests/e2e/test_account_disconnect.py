"""Disconnecting accounts over real HTTP, against the fakes' revocation endpoints: our access
is revoked where the platform allows it (the old token then fails at the platform), the
credentials are erased, and what was still to publish fails, explained."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from crosspost.store import accounts
from crosspost.vault import credentials as vault_creds
from tests.e2e.conftest import Stack


def _account(stack: Stack, platform: str) -> dict[str, str]:
    listed = stack.http.get("/v1/accounts").json()
    return next(a for a in listed if a["platform"] == platform)


@pytest.mark.parametrize(
    ("platform", "probe"),
    [
        ("x", "/x/2/users/me"),
        ("youtube", "/youtube/youtube/v3/channels?part=id&mine=true"),
        ("linkedin", "/linkedin/v2/userinfo"),
        ("tiktok", "/tiktok/v2/user/info/?fields=open_id"),
    ],
)
def test_disconnect_revokes_at_the_platform_and_fails_what_waited(
    make_stack: Callable[..., Stack], platform: str, probe: str
) -> None:
    stack = make_stack(workers=0)
    account = _account(stack, platform)
    with stack.svc.db.read() as conn:
        row = accounts.get_account(conn, stack.tenant_id, account["id"])
    creds = vault_creds.unseal(stack.svc.keyring, row or {})
    assert creds is not None
    bearer = {"Authorization": f"Bearer {creds.access_token}"}
    assert httpx.get(f"{stack.fakes_url}{probe}", headers=bearer, timeout=30).status_code == 200
    body = {"text": "later", "targets": [platform], "publish_at": "2099-01-01T00:00:00Z"}
    if platform in ("youtube", "tiktok"):
        body["media_id"] = stack.upload_video(stack.svc.settings.home, seconds=1.0)["id"]
    post = stack.http.post("/v1/posts", json=body)
    assert post.status_code == 201, post.text

    done = stack.http.delete(f"/v1/accounts/{account['id']}")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["platform_revocation"], answer["status"]) == ("revoked", "disabled"), answer
    assert answer["failed_targets"] == [post.json()["targets"][0]["id"]]
    # The platform no longer honours the token, and we no longer hold it.
    refused = httpx.get(f"{stack.fakes_url}{probe}", headers=bearer, timeout=30)
    assert refused.status_code == 401, refused.text
    with stack.svc.db.read() as conn:
        gone = accounts.get_account(conn, stack.tenant_id, account["id"])
    assert gone is not None and gone["credentials"] is None
    failed = stack.http.get(f"/v1/posts/{post.json()['id']}").json()
    assert failed["status"] == "failed"
    assert failed["targets"][0]["last_error"]["code"] == "account_disconnected"
    audited = stack.http.get("/v1/audit", params={"action": "account."}).json()["data"]
    assert [e["target_id"] for e in audited] == [account["id"]]


def test_a_platform_without_revocation_is_said_so_and_bad_ids_are_refused(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(workers=0)
    account = _account(stack, "instagram")
    done = stack.http.delete(f"/v1/accounts/{account['id']}")
    assert done.status_code == 200, done.text
    assert done.json()["platform_revocation"] == "unsupported"
    assert "instagram" in done.json()["revocation_detail"]
    assert stack.http.get(f"/v1/accounts/{account['id']}").json()["status"] == "disabled"
    # A post to it now is refused up front (the account is not active).
    refused = stack.http.post("/v1/posts", json={"text": "x", "targets": ["instagram"]})
    assert refused.status_code in (409, 422), refused.text
    assert stack.http.delete("/v1/accounts/acc_nobody").status_code == 404
