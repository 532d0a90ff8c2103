"""Single-flight token refresh: many jobs on one expired account cause one refresh call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from crosspost.domain.enums import Mode, Platform
from crosspost.engine.clients import build_client
from crosspost.engine.tokens import CredentialsChanged, refresh_account
from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig, Faults
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.store import accounts, ledger
from crosspost.vault import credentials as vault_creds
from tests.e2e.conftest import Stack

POSTS = 100


@pytest.fixture(scope="module")
def fakes() -> Iterator[RunningServer]:
    """Fakes without rate limits: a hundred posts in a few seconds is the point here."""
    config = FakeConfig(faults=Faults(processing_seconds=0.05)).without_rate_limits()
    server = serve_in_thread(create_sandbox_app(config))
    yield server
    server.stop()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """Eight worker threads racing for the same account, pacing off (limits are lifted)."""
    return make_stack(workers=8, pacing=False)


def test_a_hundred_jobs_on_an_expired_account_refresh_it_once(stack: Stack) -> None:
    """Every job finds the token expired; exactly one calls the token endpoint, the others
    wait for its result, and all hundred posts publish with the new token."""
    with stack.svc.db.write() as conn:
        account = next(
            a
            for a in accounts.find_accounts(conn, stack.tenant_id, mode="test")
            if a["platform"] == "x"
        )
        past = stack.svc.clock.now() - timedelta(minutes=1)
        accounts.update_account(conn, account["id"], token_expires_at=past)
    stack.fake("x", "faults", json={"expire_tokens": True})  # the old access token is dead
    ids = [
        stack.http.post("/v1/posts", json={"text": f"post {i}", "targets": ["x"]}).json()["id"]
        for i in range(POSTS)
    ]
    for post_id in ids:
        post = stack.wait_post(post_id, lambda p: p["status"] == "published", timeout=60)
        assert post["status"] == "published"
    assert stack.fake("x", "state")["calls"]["oauth2.token"] == 1
    with stack.svc.db.read() as conn:
        refreshed = [
            e
            for e in ledger.list_account_events(conn, stack.tenant_id, account["id"])
            if e["event_type"] == "token_refreshed"
        ]
        row = accounts.get_account_by_id(conn, account["id"])
    assert len(refreshed) == 1
    assert row is not None and row["refresh_locked_by"] is None


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_refresh_never_brings_back_credentials_removed_meanwhile(
    make_stack: Callable[..., Stack], when: str
) -> None:
    """Credentials removed after a refresher read them — before its token call or while it
    waits on it — stay removed: the refresh raises CredentialsChanged, stores nothing, and
    leaves no lease behind."""
    stack = make_stack(workers=0)
    with stack.svc.db.read() as conn:
        account = next(
            a
            for a in accounts.find_accounts(conn, stack.tenant_id, mode="test")
            if a["platform"] == "x"
        )
    creds = vault_creds.unseal(stack.svc.keyring, account)
    assert creds is not None
    client = build_client(stack.svc, Platform.X, Mode.TEST)

    def remove() -> None:
        with stack.svc.db.write() as conn:
            accounts.update_account(conn, account["id"], credentials=None)

    if when == "before":
        remove()
    else:
        real_refresh = client.refresh

        def refresh_while_removed(*args: Any, **kwargs: Any) -> Any:
            fresh = real_refresh(*args, **kwargs)  # the platform's real answer
            remove()  # the owner disconnects while the answer travels back
            return fresh

        client.refresh = refresh_while_removed  # type: ignore[method-assign]
    with pytest.raises(CredentialsChanged):
        refresh_account(stack.svc, account, client, creds)
    with stack.svc.db.read() as conn:
        row = accounts.get_account_by_id(conn, account["id"])
    assert row is not None
    assert row["credentials"] is None and row["refresh_locked_by"] is None
