"""Platform failures over real HTTP: retried, reconciled, refreshed or explained — never doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _events(stack: Stack, post_id: str) -> list[str]:
    return [e["event_type"] for e in stack.http.get(f"/v1/posts/{post_id}/ledger").json()]


def _post(stack: Stack, media_id: str, *targets: str) -> str:
    response = stack.http.post(
        "/v1/posts", json={"media_id": media_id, "text": "clip", "targets": list(targets)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize("platform", ["youtube", "tiktok"])
def test_lost_response_after_commit_is_reconciled_not_repeated(
    stack: Stack, tmp_path: Path, platform: str
) -> None:
    """The platform commits the post but the answer is lost: we reconcile, and publish once."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake(platform, "faults", json={"drop_response_after_commit": 1})
    post = stack.wait_post(_post(stack, media["id"], platform), lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    assert len(stack.fake(platform, "state")["posts"]) == 1
    events = _events(stack, post["id"])
    assert "publish_unconfirmed" in events and "publish_reconciling" in events, events


def test_server_errors_are_retried(stack: Stack, tmp_path: Path) -> None:
    """5xx answers are transient: retried with backoff until the post goes through once."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"failure_rate": 0.3})
    post = stack.wait_post(
        _post(stack, media["id"], "youtube"), lambda p: p["status"] in FINAL, timeout=60
    )
    assert post["status"] == "published", post
    assert len(stack.fake("youtube", "state")["posts"]) == 1


def test_expired_token_is_refreshed(stack: Stack, tmp_path: Path) -> None:
    """An access token that expired is refreshed once and the upload continues."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"expire_tokens": True})
    post = stack.wait_post(_post(stack, media["id"], "youtube"), lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    from crosspost.store import ledger as ledger_store

    with stack.svc.db.read() as conn:
        account_events = [
            e["event_type"] for e in ledger_store.list_events(conn, stack.tenant_id, post["id"])
        ]
    assert "publish_successful" in account_events


def test_quota_exhausted_waits_with_a_time(stack: Stack, tmp_path: Path) -> None:
    """A quota refusal parks the target as `waiting` with the time of the next attempt."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"quota_exhausted": True})
    post = stack.wait_post(
        _post(stack, media["id"], "youtube"), lambda p: p["targets"][0]["status"] == "waiting"
    )
    target = post["targets"][0]
    assert target["last_error"]["kind"] == "quota"
    assert target["last_error"]["code"] == "quotaExceeded"
    assert target["next_attempt_at"] is not None
    assert stack.fake("youtube", "state")["posts"] == []


def test_processing_failure_is_explained(stack: Stack, tmp_path: Path) -> None:
    """A video the platform fails to process ends `failed` with the platform's reason."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"processing_fail_rate": 1.0})
    post = stack.wait_post(_post(stack, media["id"], "youtube"), lambda p: p["status"] in FINAL)
    assert post["status"] == "failed"
    error = post["targets"][0]["last_error"]
    assert error["kind"] == "permanent" and error["message"]


def test_dead_refresh_token_parks_the_target_as_needs_reauth(stack: Stack, tmp_path: Path) -> None:
    """The platform forgot our tokens: refresh fails with invalid_grant, the target waits
    as `needs_reauth` (not failed) and the account says why."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "reset", json={})  # every token the fake issued is gone
    post = stack.wait_post(
        _post(stack, media["id"], "youtube"),
        lambda p: p["targets"][0]["status"] == "needs_reauth",
    )
    target = post["targets"][0]
    assert target["last_error"]["kind"] == "auth"
    account = stack.http.get(f"/v1/accounts/{target['account_id']}").json()
    assert account["status"] == "needs_reauth"
    assert "invalid_grant" in account["last_error"]
    assert post["status"] == "publishing"  # parked, not failed
    assert stack.fake("youtube", "state")["posts"] == []


def test_reconnecting_the_account_resumes_its_waiting_targets(stack: Stack, tmp_path: Path) -> None:
    """After `needs_reauth`, fresh credentials from the owner resume the parked target."""
    from datetime import timedelta

    from crosspost.engine.tokens import reconnect_account
    from crosspost.platforms.base import Credentials

    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "reset", json={})
    post = stack.wait_post(
        _post(stack, media["id"], "youtube"),
        lambda p: p["targets"][0]["status"] == "needs_reauth",
    )
    target = post["targets"][0]
    account = stack.http.get(f"/v1/accounts/{target['account_id']}").json()
    minted = stack.fake(
        "youtube",
        "accounts",
        json={"handle": account["handle"], "external_id": account["external_id"]},
    )
    creds = Credentials(
        minted["access_token"],
        minted["refresh_token"],
        stack.svc.clock.now() + timedelta(seconds=minted["expires_in"]),
        minted["scopes"],
    )
    assert reconnect_account(stack.svc, account["id"], creds) == [target["id"]]
    post = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    assert stack.http.get(f"/v1/accounts/{account['id']}").json()["status"] == "active"
    assert len(stack.fake("youtube", "state")["posts"]) == 1


def test_sandbox_account_without_credentials_falls_back_to_the_fake(
    stack: Stack, tmp_path: Path
) -> None:
    """Test mode only: a sandbox account with no usable tokens gets fresh ones from the fake,
    and the ledger says so (`publish_provider_fallback`)."""
    from crosspost.store import accounts

    youtube = next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == "youtube")
    with stack.svc.db.write() as conn:
        accounts.update_account(conn, youtube["id"], credentials=None)
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.wait_post(_post(stack, media["id"], "youtube"), lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    events = stack.http.get(f"/v1/posts/{post['id']}/ledger").json()
    fallback = [e for e in events if e["event_type"] == "publish_provider_fallback"]
    assert len(fallback) == 1 and fallback[0]["data"]["reason"] == "no_credentials"


def test_live_account_without_credentials_is_needs_reauth_never_a_fallback(
    stack: Stack,
) -> None:
    """Live mode: no tokens means `needs_reauth` with the reason; nothing is called."""
    import httpx

    from crosspost.domain.enums import Mode
    from crosspost.engine.keys import issue_key
    from crosspost.store import accounts

    _, live_key = issue_key(stack.svc, tenant_id=stack.tenant_id, name="live", mode=Mode.LIVE)
    live = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {live_key}"})
    account = live.post(
        "/v1/accounts",
        json={"platform": "x", "external_id": "77", "handle": "brand", "access_token": "t"},
    ).json()
    assert account["mode"] == "live"
    with stack.svc.db.write() as conn:
        accounts.update_account(conn, account["id"], credentials=None)
    created = live.post("/v1/posts", json={"text": "live words", "targets": [account["id"]]})
    assert created.status_code == 201, created.text
    deadline_post = stack.wait_post(
        created.json()["id"], lambda p: p["targets"][0]["status"] == "needs_reauth"
    )
    assert deadline_post["targets"][0]["status"] == "needs_reauth"
    shown = live.get(f"/v1/accounts/{account['id']}").json()
    assert shown["status"] == "needs_reauth" and "no stored credentials" in shown["last_error"]
    events = live.get(f"/v1/posts/{created.json()['id']}/ledger").json()
    assert not any(e["event_type"] == "publish_provider_fallback" for e in events)
    live.close()
