"""Connecting a pipeline's Twitch channel by OAuth (Twitch's authorization code flow)
against the Twitch fake: the consent, the sealed tokens a run downloads with, their refresh,
a refusal, the disconnection, and a live pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import sqlalchemy as sa

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.store.tables_pipeline import pipelines as pipeline_table
from tests.e2e.conftest import _LOCAL, Stack, wait_until
from tests.e2e.pipelines import clip_range, make_pipeline, run

CONNECT_TTL = 14_400  # the Twitch fake's user tokens live four hours


def _consent(stack: Stack, http: httpx.Client, pipeline_id: str, login: str, **change: str) -> str:
    """Start connecting and click the fake's consent button as `login` (with the query's
    `change`s); the callback URL Twitch sends the user back to."""
    link = http.post(f"/v1/pipelines/{pipeline_id}/twitch/connect", json={})
    assert link.status_code == 201, link.text
    url = link.json()["authorize_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code" and query["state"]
    assert set(query["scope"].split()) == {"channel:manage:clips", "editor:manage:clips"}
    assert "code_challenge" not in query  # Twitch's code flow has no PKCE
    query.update({"consent": "allow", "login": login, **change})
    back = _LOCAL.get(f"{url.split('?')[0]}?{urlencode(query)}")
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(f"{stack.api_url}/v1/oauth/callback?")
    return location


def _sealed(stack: Stack, pipeline_id: str) -> dict[str, Any]:
    """The pipeline's Twitch tokens, unsealed (what a run downloads with)."""
    with stack.svc.db.read() as conn:
        row = conn.execute(
            sa.select(pipeline_table).where(pipeline_table.c.id == pipeline_id)
        ).one()
    assert row.twitch_credentials is not None
    plain = stack.svc.keyring.decrypt(
        row.twitch_credentials, tenant_id=row.tenant_id, table="pipelines", row_id=pipeline_id
    )
    return dict(json.loads(plain))


def _download_callers(stack: Stack) -> set[str]:
    requests = stack.fake("twitch", "state")["requests"]
    return {r["caller"] for r in requests if r["path"] == "/helix/clips/downloads"}


def test_an_editor_connects_the_channel_and_runs_download_as_them(stack: Stack) -> None:
    """Consent → callback → the pipeline shows who connected; its tokens are sealed, never
    shown; the run's downloads are made as that user (an editor here, not the sandbox's
    streamer), and nobody signs in for the pipeline any more."""
    pipeline = make_pipeline(stack)
    assert pipeline["twitch_owner"] is None
    broadcaster = stack.fake("twitch", "state")["broadcasters"][0]["id"]
    stack.fake(
        "twitch",
        "accounts",
        json={"login": "clip_editor", "scopes": ["user:read:email"], "editor_of": [broadcaster]},
    )
    done = httpx.get(_consent(stack, stack.http, pipeline["id"], "clip_editor"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["pipeline_id"] == pipeline["id"] and body["status"] == "connected"
    assert body["twitch_login"] == "clip_editor"
    shown = stack.http.get(f"/v1/pipelines/{pipeline['id']}").json()
    owner = shown["twitch_owner"]
    assert (owner["login"], owner["role"], owner["user_id"]) == (
        "clip_editor",
        "editor",
        body["twitch_user_id"],
    )
    assert "editor:manage:clips" in owner["scopes"]
    tokens = _sealed(stack, pipeline["id"])
    assert tokens["access_token"] not in json.dumps(shown)
    issued = stack.fake("twitch", "state")["tokens_issued"]["user"]
    job = run(stack, pipeline, clip_range())
    assert job["result"]["statuses"].get("ready_for_content", 0) >= 3, job
    assert _download_callers(stack) == {"user:clip_editor"}
    # No consent stood in by the sandbox, no refresh: the stored token served the run.
    assert stack.fake("twitch", "state")["tokens_issued"]["user"] == issued
    again = httpx.get(_consent(stack, stack.http, pipeline["id"], "clip_editor")).json()
    assert again["status"] == "reconnected"


def test_a_token_near_its_expiry_is_refreshed_once_and_kept(
    make_stack: Callable[..., Stack],
) -> None:
    """A run after the token's lifetime refreshes it first, stores what Twitch returned
    (Twitch rotates the refresh token) and downloads with it."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    pipeline = make_pipeline(stack)
    assert httpx.get(_consent(stack, stack.http, pipeline["id"], "sandbox_streamer")).is_success
    first = _sealed(stack, pipeline["id"])
    issued = stack.fake("twitch", "state")["tokens_issued"]["user"]
    clock.advance(CONNECT_TTL)
    job = run(stack, pipeline, clip_range())
    assert job["result"]["statuses"].get("ready_for_content", 0) >= 3, job
    second = _sealed(stack, pipeline["id"])
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert datetime.fromisoformat(second["expires_at"]) > clock.now()
    assert stack.fake("twitch", "state")["tokens_issued"]["user"] == issued + 1
    assert _download_callers(stack) == {"user:sandbox_streamer"}


def test_a_revoked_connection_fails_the_items_saying_to_reconnect(
    make_stack: Callable[..., Stack],
) -> None:
    """When Twitch no longer takes the refresh token, each item fails with
    `twitch_not_connected` and the way to fix it, and the run still ends."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    pipeline = make_pipeline(stack)
    assert httpx.get(_consent(stack, stack.http, pipeline["id"], "sandbox_streamer")).is_success
    tokens = _sealed(stack, pipeline["id"])
    revoked = _LOCAL.post(
        f"{stack.fakes_url}/twitch/oauth2/revoke",
        data={
            "client_id": stack.svc.settings.sandbox_twitch_client_id,
            "token": tokens["access_token"],
        },
    )
    assert revoked.status_code == 200, revoked.text
    clock.advance(CONNECT_TTL)
    job = run(stack, pipeline, clip_range())
    assert job["result"]["failed"], job
    for failure in job["result"]["failed"]:
        assert failure["code"] == "twitch_not_connected", failure
        assert f"/v1/pipelines/{pipeline['id']}/twitch/connect" in failure["message"]


def test_refusals_say_why(stack: Stack) -> None:
    """A denied consent, a consent without the download scopes, a replayed callback, an
    unknown pipeline, a disconnection of nothing: each a problem with its code."""
    pipeline = make_pipeline(stack)
    denied = httpx.get(_consent(stack, stack.http, pipeline["id"], "x", consent="deny"))
    assert (denied.status_code, denied.json()["code"]) == (422, "oauth_denied")
    narrow = _consent(stack, stack.http, pipeline["id"], "sandbox_streamer", scope="clips:edit")
    refused = httpx.get(narrow)
    assert (refused.status_code, refused.json()["code"]) == (422, "twitch_scope_missing")
    replay = httpx.get(narrow)
    assert replay.json()["code"] == "oauth_state_invalid"
    assert stack.http.get(f"/v1/pipelines/{pipeline['id']}").json()["twitch_owner"] is None
    missing = stack.http.post("/v1/pipelines/pln_nope/twitch/connect", json={})
    assert (missing.status_code, missing.json()["code"]) == (404, "pipeline_not_found")
    extra = stack.http.post(f"/v1/pipelines/{pipeline['id']}/twitch/connect", json={"x": 1})
    assert extra.status_code == 422
    relative = stack.http.post(
        f"/v1/pipelines/{pipeline['id']}/twitch/connect", json={"return_to": "/done"}
    )
    assert relative.status_code == 422
    nothing = stack.http.delete(f"/v1/pipelines/{pipeline['id']}/twitch/connection")
    assert (nothing.status_code, nothing.json()["code"]) == (404, "twitch_not_connected")
    other = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.other_tenant_key()}"}
    )
    with other:
        theirs = other.post(f"/v1/pipelines/{pipeline['id']}/twitch/connect", json={})
    assert theirs.status_code == 404


def test_disconnecting_revokes_the_token_and_return_to_redirects(stack: Stack) -> None:
    """With `return_to`, the user lands back on the customer's page with the pipeline id;
    a disconnection revokes the token at Twitch and forgets it."""
    pipeline = make_pipeline(stack)
    link = stack.http.post(
        f"/v1/pipelines/{pipeline['id']}/twitch/connect",
        json={"return_to": "https://app.example/twitch?step=2"},
    ).json()["authorize_url"]
    callback = _LOCAL.get(f"{link}&consent=allow&login=sandbox_streamer").headers["location"]
    landed = httpx.get(callback)
    assert landed.status_code == 303
    target = urlsplit(landed.headers["location"])
    assert (target.netloc, target.path) == ("app.example", "/twitch")
    assert parse_qs(target.query)["pipeline_id"] == [pipeline["id"]]
    token = _sealed(stack, pipeline["id"])["access_token"]
    gone = stack.http.delete(f"/v1/pipelines/{pipeline['id']}/twitch/connection")
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"pipeline_id": pipeline["id"], "revoked": True}
    assert stack.http.get(f"/v1/pipelines/{pipeline['id']}").json()["twitch_owner"] is None
    check = _LOCAL.get(
        f"{stack.fakes_url}/twitch/oauth2/validate", headers={"Authorization": f"OAuth {token}"}
    )
    assert check.status_code == 401


def test_a_live_pipeline_runs_only_once_its_channel_is_connected(
    make_stack: Callable[..., Stack], fakes: Any
) -> None:
    """With live keys nobody stands in for the channel's owner: a run before the
    connection is refused naming the fix; after it, the clips are downloaded as the owner."""
    base = fakes.url
    settings = {
        "twitch_client_id": "crosspostsandboxclient00000001",
        "twitch_client_secret": "crosspostsandboxsecret00000001",
        "twitch_auth_base": f"{base}/twitch",
        "twitch_api_base": f"{base}/twitch",
        "transcription_base_url": f"{base}/openai/v1",
        "transcription_api_key": "sk-sandbox-transcription",
        "github_api_base": f"{base}/github",
    }
    stack = make_stack(**settings)
    assert stack.svc.settings.twitch(test_mode=False)[2] == settings["twitch_client_id"]
    _, key = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="live", mode=Mode.LIVE, role=KeyRole.OWNER
    )
    live = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"})
    with live:
        made = live.post(
            "/v1/pipelines",
            json={
                "name": "Live streams",
                "twitch_login": "sandbox_streamer",
                "repositories": ["sandbox-dev/crosspost-demo"],
                "github_token": stack.svc.settings.sandbox_github_token,
            },
        )
        assert made.status_code == 201, made.text
        pipeline = made.json()
        assert pipeline["mode"] == "live"
        early = live.post(f"/v1/pipelines/{pipeline['id']}/runs", json=clip_range())
        assert (early.status_code, early.json()["code"]) == (422, "twitch_not_connected")
        assert httpx.get(_consent(stack, live, pipeline["id"], "sandbox_streamer")).is_success
        owner = live.get(f"/v1/pipelines/{pipeline['id']}").json()["twitch_owner"]
        assert (owner["login"], owner["role"]) == ("sandbox_streamer", "owner")
        started = live.post(f"/v1/pipelines/{pipeline['id']}/runs", json=clip_range())
        assert started.status_code == 202, started.text
        job = _wait_job(live, started.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["statuses"].get("ready_for_content", 0) >= 3, job
    assert _download_callers(stack) == {"user:sandbox_streamer"}


def _wait_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job = dict(http.get(f"/v1/jobs/{job_id}").json())
        return job if job["status"] in ("succeeded", "failed") else None

    return dict(wait_until(f"job {job_id} to end", ended, timeout=240))


def test_a_refused_consent_with_return_to_lands_back_with_the_reason(stack: Stack) -> None:
    """The customer's page learns why too: `error` (the stable code) and its description."""
    pipeline = make_pipeline(stack)
    link = stack.http.post(
        f"/v1/pipelines/{pipeline['id']}/twitch/connect",
        json={"return_to": "https://app.example/twitch"},
    ).json()["authorize_url"]
    callback = _LOCAL.get(f"{link}&consent=deny").headers["location"]
    landed = httpx.get(callback)
    assert landed.status_code == 303
    query = parse_qs(urlsplit(landed.headers["location"]).query)
    assert query["error"] == ["oauth_denied"] and "access_denied" in query["error_description"][0]


def test_cli_connect_twitch_waits_for_the_consent_on_loopback(stack: Stack) -> None:
    """`crosspost pipeline connect-twitch` prints Twitch's consent page and, once the user
    allows it, says who was connected (the browser ends on its loopback listener)."""
    pipeline = make_pipeline(stack)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosspost", "pipeline", "connect-twitch", pipeline["id"],
         "--no-browser", "--timeout", "60", "--api-url", stack.api_url, "--key", stack.key],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = next(line.strip() for line in proc.stdout if line.startswith("http"))
        page = _LOCAL.get(f"{url}&consent=allow&login=sandbox_streamer", follow_redirects=True)
        assert page.status_code == 200 and "connected" in page.text
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"connected Twitch user sandbox_streamer to pipeline {pipeline['id']}" in out
    owner = stack.http.get(f"/v1/pipelines/{pipeline['id']}").json()["twitch_owner"]
    assert owner["login"] == "sandbox_streamer"
