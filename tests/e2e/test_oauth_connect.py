"""Connecting accounts by OAuth (authorization code + PKCE + state) against the fakes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.conftest import Stack

OAUTH_PLATFORMS = ["youtube", "tiktok", "instagram", "x", "linkedin", "soundcloud"]


def _consent(stack: Stack, platform: str, handle: str, decision: str = "allow") -> str:
    """Start a connection and click the fake's consent button; the callback URL it returns."""
    link = stack.http.post("/v1/accounts/connect", json={"platform": platform})
    assert link.status_code == 201, link.text
    url = link.json()["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    # What the consent page's button does (httpx's params= would replace the query).
    back = httpx.get(f"{url}&{urlencode({'consent': decision, 'handle': handle})}")
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(f"{stack.api_url}/v1/oauth/callback?")
    return location


@pytest.mark.parametrize("platform", OAUTH_PLATFORMS)
def test_connect_by_oauth_stores_the_validated_account(stack: Stack, platform: str) -> None:
    """Consent → callback → the account exists, named by the platform's own identity call;
    connecting the same user again is a reconnection of the same account."""
    done = httpx.get(_consent(stack, platform, f"{platform}_brand"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "connected" and body["platform"] == platform
    account = stack.http.get(f"/v1/accounts/{body['account_id']}").json()
    assert account["status"] == "active" and account["handle"] == f"{platform}_brand"
    assert account["scopes_missing"] == []
    consented = stack.fake(platform, "accounts")
    assert account["external_id"] in {str(a["external_id"]) for a in consented}
    again = httpx.get(_consent(stack, platform, f"{platform}_brand")).json()
    assert again == {**body, "status": "reconnected"}


def test_denied_replayed_and_forged_callbacks_are_refused(stack: Stack) -> None:
    """A denial, a second use of the same callback and an unknown state each say why."""
    denied = httpx.get(_consent(stack, "youtube", "someone", decision="deny"))
    assert (denied.status_code, denied.json()["code"]) == (422, "oauth_denied")
    callback = _consent(stack, "youtube", "someone")
    assert httpx.get(callback).status_code == 200
    replay = httpx.get(callback)
    assert (replay.status_code, replay.json()["code"]) == (422, "oauth_state_invalid")
    forged = httpx.get(f"{stack.api_url}/v1/oauth/callback", params={"state": "x", "code": "y"})
    assert forged.json()["code"] == "oauth_state_invalid"


def test_return_to_redirects_with_the_account(stack: Stack) -> None:
    """With `return_to`, the user lands back on the customer's page with the account id."""
    link = stack.http.post(
        "/v1/accounts/connect",
        json={"platform": "soundcloud", "return_to": "https://app.example/done?x=1"},
    ).json()["authorize_url"]
    callback = httpx.get(f"{link}&consent=allow&handle=dj").headers["location"]
    landed = httpx.get(callback)
    assert landed.status_code == 303
    target = urlsplit(landed.headers["location"])
    assert (target.netloc, target.path) == ("app.example", "/done")
    assert parse_qs(target.query)["account_id"][0].startswith("acc_")


def test_bad_requests_say_what_to_do(stack: Stack) -> None:
    """Malformed connection requests answer 422 with a code."""
    bad = stack.http.post("/v1/accounts/connect", json={"platform": "myspace"})
    assert bad.status_code == 422
    relative = stack.http.post(
        "/v1/accounts/connect", json={"platform": "x", "return_to": "/relative"}
    )
    assert relative.status_code == 422


def test_cli_connect_waits_for_the_consent_on_loopback(stack: Stack) -> None:
    """`crosspost accounts connect` prints the consent page, and after the user allows it,
    reports the account the server stored (the browser ends on its loopback listener)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosspost", "accounts", "connect", "soundcloud",
         "--no-browser", "--timeout", "60", "--api-url", stack.api_url, "--key", stack.key],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = next(line.strip() for line in proc.stdout if line.startswith("http"))
        page = httpx.get(f"{url}&consent=allow&handle=cli_dj", follow_redirects=True)
        assert page.status_code == 200 and "account connected" in page.text
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "connected soundcloud account acc_" in out and "(cli_dj)" in out
