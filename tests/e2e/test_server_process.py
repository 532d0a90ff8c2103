"""The README's flow against a real `crosspost serve --sandbox` process, driven by the CLI."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.served import Servers, clean_env, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def server(serve: Servers, tmp_path: Path, database_url: str) -> dict[str, str]:
    """`crosspost serve --sandbox` in its own process, on free ports and a fresh home; its
    environment with the API's URL."""
    env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"), CROSSPOST_DATABASE_URL=database_url)
    served = serve(env, tmp_path)
    return {**served.env, "CROSSPOST_API_URL": served.url}


def test_readme_flow(server: dict[str, str], tmp_path: Path) -> None:
    """The quick start's commands: keys create → sample video → publish (checked, uploaded,
    followed) → a publish two hours from now with a title and privacy → posts list →
    status → ledger, all through the CLI."""
    created = run_cli(server, "keys", "create", "--name", "demo", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"cp_test_[0-9A-Za-z]{49}", key), created.stdout
    env = {**server, "CROSSPOST_API_KEY": key}
    sample = run_cli(env, "sample", "video", "clip.mp4", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr
    published = run_cli(env, "publish", "clip.mp4", "--caption", "first #clip",
                        "--to", "youtube", "--to", "tiktok", cwd=tmp_path)  # fmt: skip
    assert published.returncode == 0, published.stderr + published.stdout
    post_id = re.search(r"post (post_\w+)", published.stdout)
    assert post_id, published.stdout
    assert published.stdout.count("published") >= 3, published.stdout  # post + 2 targets
    scheduled = run_cli(env, "publish", "clip.mp4", "--caption", "later", "--to", "youtube",
                        "--at", "+2h", "--title", "Later", "--privacy", "unlisted",
                        "--json", cwd=tmp_path)  # fmt: skip
    assert scheduled.returncode == 0, scheduled.stderr
    later = json.loads(scheduled.stdout)
    assert later["status"] == "scheduled"
    assert later["overrides"] == {"youtube": {"title": "Later", "privacy_status": "unlisted"}}
    listed = run_cli(env, "posts", "list", "-q", cwd=tmp_path)
    assert listed.stdout.split() == [later["id"], post_id.group(1)]
    status = run_cli(env, "status", post_id.group(1), cwd=tmp_path)
    assert status.returncode == 0 and "published" in status.stdout
    ledger = run_cli(env, "ledger", post_id.group(1), cwd=tmp_path)
    assert ledger.returncode == 0 and "publish_successful" in ledger.stdout
    missing = run_cli(env, "status", "post_nope", cwd=tmp_path)
    assert missing.returncode == 1 and "not_found" in missing.stderr
    docs = httpx.get(f"{server['CROSSPOST_API_URL']}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(f"{server['CROSSPOST_API_URL']}/openapi.json", timeout=30).json()
    assert "/v1/posts" in spec["paths"] and "/v1/media" in spec["paths"]
    metrics = httpx.get(f"{server['CROSSPOST_API_URL']}/metrics").text
    assert "crosspost_http_requests_total" in metrics and "crosspost_jobs" in metrics


# The README flow runs the served process on both databases; these two test the commands.
@pytest.mark.one_database
def test_cli_manages_keys_and_oauth_clients(server: dict[str, str], tmp_path: Path) -> None:
    """keys create/roll/revoke and oauth-clients create/list/revoke against the live server;
    the printed secrets work over HTTP until revoked; a refused command says why."""
    api = server["CROSSPOST_API_URL"]
    made = run_cli(server, "keys", "create", "--name", "ops", "--role", "admin", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    auth = {"Authorization": f"Bearer {key}"}
    key_id = next(k["id"] for k in httpx.get(f"{api}/v1/keys", headers=auth).json()["data"]
                  if k["name"] == "ops")  # fmt: skip
    rolled = run_cli(server, "keys", "roll", key_id, "--overlap-hours", "0", cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    new_key = rolled.stdout.strip()
    # Overlap 0: the old key ends now (this process's cache may keep it for 2 s at most).
    assert httpx.get(f"{api}/v1/posts", headers={"Authorization": f"Bearer {new_key}"}).is_success
    bad = run_cli(server, "keys", "create", "--name", "x", "--tier", "gold", cwd=tmp_path)
    assert bad.returncode == 1 and "unknown_tier" in bad.stderr
    client = run_cli(
        server, "oauth-clients", "create", "--name", "partner", "--scope", "posts:read",
        "--mode", "test", cwd=tmp_path,
    )  # fmt: skip
    assert client.returncode == 0, client.stderr
    client_id, secret = client.stdout.split()
    token = httpx.post(
        f"{api}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(f"{api}/v1/posts", headers=bearer).status_code == 200
    listed = run_cli(server, "oauth-clients", "list", cwd=tmp_path)
    assert client_id in listed.stdout and "partner" in listed.stdout
    assert run_cli(server, "oauth-clients", "revoke", client_id, cwd=tmp_path).returncode == 0
    deadline = time.monotonic() + 10
    while httpx.get(f"{api}/v1/posts", headers=bearer).status_code != 401:
        assert time.monotonic() < deadline, "revoked client's token still accepted"
        time.sleep(0.2)
    revoked = run_cli(server, "keys", "revoke", key_id, cwd=tmp_path)
    assert revoked.returncode == 0 and key_id in revoked.stdout
    usage = run_cli(server, "usage", cwd=tmp_path)
    assert usage.returncode == 0 and "api_calls" in usage.stdout, usage.stderr
    bad_period = run_cli(server, "usage", "--period", "2026-13", cwd=tmp_path)
    assert bad_period.returncode == 2 and "YYYY-MM" in bad_period.stderr


@pytest.mark.one_database
def test_cli_manages_webhooks_and_the_server_delivers(
    server: dict[str, str], tmp_path: Path
) -> None:
    """webhooks add/list/test/rotate/disable/enable through the CLI; the served process's
    dispatcher delivers the test event, signed with the printed secret."""
    from standardwebhooks.webhooks import Webhook
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from crosspost.fakes.server import serve_in_thread

    got: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: Request) -> Response:
        got.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    receiver = serve_in_thread(Starlette(routes=[Route("/in", hook, methods=["POST"])]))
    key = run_cli(server, "keys", "create", "--name", "hooks", cwd=tmp_path).stdout.strip()
    env = {**server, "CROSSPOST_API_KEY": key}
    try:
        added = run_cli(env, "webhooks", "add", f"{receiver.url}/in", "--event", "webhook.test",
                     "--header", "Authorization: Bearer rcv-token", "--concurrency", "2",
                     cwd=tmp_path)  # fmt: skip
        assert added.returncode == 0, added.stderr
        endpoint_id, secret = added.stdout.split()
        assert secret.startswith("whsec_")
        assert endpoint_id in run_cli(env, "webhooks", "list", cwd=tmp_path).stdout
        tested = run_cli(env, "webhooks", "test", endpoint_id, cwd=tmp_path)
        assert tested.returncode == 0 and "queued test event msg_" in tested.stdout
        deadline = time.monotonic() + 20
        while not got:
            assert time.monotonic() < deadline, "the test event never arrived"
            time.sleep(0.1)
        event = Webhook(secret).verify(*got[0])
        assert got[0][1]["authorization"] == "Bearer rcv-token"
        assert event["type"] == "webhook.test"
        assert event["data"]["endpoint_id"] == endpoint_id
        rotated = run_cli(env, "webhooks", "rotate", endpoint_id, cwd=tmp_path)
        assert rotated.returncode == 0 and rotated.stdout.strip().startswith("whsec_")
        assert run_cli(env, "webhooks", "disable", endpoint_id, cwd=tmp_path).returncode == 0
        refused = run_cli(env, "webhooks", "test", endpoint_id, cwd=tmp_path)
        assert refused.returncode == 1 and "webhook_disabled" in refused.stderr
        assert run_cli(env, "webhooks", "enable", endpoint_id, cwd=tmp_path).returncode == 0
        no_colon = run_cli(env, "webhooks", "add", f"{receiver.url}/in", "--header", "X-Bare",
                        cwd=tmp_path)  # fmt: skip
        assert no_colon.returncode == 2 and "Name: value" in no_colon.stderr
        bad = run_cli(env, "webhooks", "add", "ftp://nowhere", cwd=tmp_path)
        assert bad.returncode == 1 and "invalid_webhook_url" in bad.stderr
    finally:
        receiver.stop()
