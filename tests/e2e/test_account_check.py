"""The periodic account check: refresh ahead of expiry, catch dead and wrong tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from crosspost.engine.account_check import check_accounts
from crosspost.store import accounts, ledger
from tests.e2e.conftest import Stack


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """No workers: the test runs the check itself."""
    return make_stack(workers=0)


def _account(stack: Stack, platform: str) -> dict:
    return next(a for a in stack.http.get("/v1/accounts").json() if a["platform"] == platform)


def test_tokens_expiring_within_the_hour_are_refreshed_ahead(stack: Stack) -> None:
    """Ten minutes left: the check refreshes it (once), every account stays active. (Tokens
    that live an hour, like SoundCloud's, are refreshed on every pass too.)"""
    youtube = _account(stack, "youtube")
    soon = stack.svc.clock.now() + timedelta(minutes=10)
    with stack.svc.db.write() as conn:
        accounts.update_account(conn, youtube["id"], token_expires_at=soon)
    report = check_accounts(stack.svc)
    assert report.refreshed >= 1 and report.needs_reauth == 0
    assert report.checked == len(stack.http.get("/v1/accounts").json())
    after = _account(stack, "youtube")
    assert after["status"] == "active" and after["token_expires_at"] > soon.isoformat()
    with stack.svc.db.read() as conn:
        events = [
            e["event_type"]
            for e in ledger.list_account_events(conn, stack.tenant_id, youtube["id"])
        ]
    assert events.count("token_refreshed") == 1


def test_dead_and_misattributed_tokens_become_explained_needs_reauth(stack: Stack) -> None:
    """A platform that forgot every token, and a token that belongs to another user, are
    both caught before any post needs them, with the reason on the account."""
    stack.fake("youtube", "reset", json={})
    other = stack.fake("x", "accounts", json={"handle": "someone_else"})
    wrong = stack.http.post(
        "/v1/accounts",
        json={
            "platform": "x",
            "external_id": "1234",
            "handle": "our_brand",
            "access_token": other["access_token"],
        },
    ).json()
    report = check_accounts(stack.svc)
    assert report.needs_reauth == 2
    youtube = _account(stack, "youtube")
    assert youtube["status"] == "needs_reauth" and "invalid_grant" in youtube["last_error"]
    misattributed = stack.http.get(f"/v1/accounts/{wrong['id']}").json()
    assert misattributed["status"] == "needs_reauth"
    assert f"belongs to x user {other['external_id']}" in misattributed["last_error"]
    assert _account(stack, "tiktok")["status"] == "active"
