"""Taking published posts down over real HTTP, against the fakes' delete endpoints: the post
is gone from the fake, the target `deleted` with its ledger and webhook events; platforms
without deletion, targets not published, unknown ids, a post already gone at the platform,
racing deletes, a dead grant and a failing platform are each answered as they should be."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from crosspost.cli import app
from crosspost.flags.manage import kill_flag
from crosspost.identity.audit import Actor
from crosspost.media.samples import make_audio
from crosspost.platforms.linkedin_rules import LINKEDIN_VERSION
from crosspost.store import accounts, posts, remote_deletes
from crosspost.store.tables import webhook_events
from crosspost.vault import credentials as vault_creds
from crosspost.webhooks.catalogue import validate_payload
from tests.e2e.conftest import Stack, expect_problem

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _media_for(stack: Stack, platform: str, tmp: Path) -> str | None:
    """The media a platform's post needs (None: a text post)."""
    if platform in ("youtube", "tiktok", "instagram"):
        # Long and large enough for LinkedIn too (3 s, 75 kB), posted alongside in one test.
        return str(stack.upload_video(tmp, seconds=4.0, width=720, height=1280)["id"])
    if platform == "soundcloud":
        path = make_audio(tmp / "track.mp3", seconds=2.0)
        made = stack.http.post(
            "/v1/media",
            content=path.read_bytes(),
            headers={"Content-Type": "audio/mpeg", "X-Filename": "track.mp3"},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])
    return None


def _published(
    stack: Stack, tmp: Path, *platforms: str, text: str = "up and down"
) -> dict[str, Any]:
    """A post published to `platforms` (one medium for all), as the API shows it."""
    media = _media_for(stack, platforms[0], tmp)
    body: dict[str, Any] = {"text": text, "targets": list(platforms)}
    if media:
        body["media_id"] = media
    made = stack.http.post("/v1/posts", json=body)
    assert made.status_code == 201, made.text
    post = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    return post


def _fake_ids(stack: Stack, platform: str) -> set[str]:
    return {str(p["id"]) for p in stack.fake(platform, "state")["posts"]}


def _bearer(stack: Stack, platform: str) -> dict[str, str]:
    """The Authorization header of the stack's sandbox account on `platform`."""
    with stack.svc.db.read() as conn:
        [row] = accounts.find_accounts(conn, stack.tenant_id, platform=platform, mode="test")
    creds = vault_creds.unseal(stack.svc.keyring, row)
    assert creds is not None
    scheme = "OAuth" if platform == "soundcloud" else "Bearer"
    return {"Authorization": f"{scheme} {creds.access_token}"}


def _events(stack: Stack, post_id: str) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events)
            .where(webhook_events.c.post_id == post_id)
            .order_by(webhook_events.c.id)
        ).all()
    return [json.loads(row.payload) for row in rows]


def _ledger(stack: Stack, post_id: str) -> list[str]:
    return [e["event_type"] for e in stack.http.get(f"/v1/posts/{post_id}/ledger").json()]


# What the fake answers a read of a deleted post with, per platform.
_READS: dict[str, Callable[[str], tuple[str, str, dict[str, Any]]]] = {
    "youtube": lambda i: ("GET", "/youtube/youtube/v3/videos", {"part": "status", "id": i}),
    "x": lambda i: ("GET", f"/x/2/tweets/{i}", {}),
    "linkedin": lambda i: ("GET", f"/linkedin/rest/posts/{i.replace(':', '%3A')}", {}),
    "soundcloud": lambda i: ("GET", f"/soundcloud/tracks/{i}", {}),
}


def _read_finds(stack: Stack, platform: str, external_id: str) -> bool:
    """Whether the fake's own read endpoint still finds the post."""
    method, path, params = _READS[platform](external_id)
    headers = _bearer(stack, platform)
    if platform == "linkedin":
        headers |= {"LinkedIn-Version": LINKEDIN_VERSION, "X-Restli-Protocol-Version": "2.0.0"}
    answer = httpx.request(method, f"{stack.fakes_url}{path}", params=params, headers=headers)
    if answer.status_code == 404:
        return False
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return bool(body.get("items") if platform == "youtube" else body.get("data", body.get("id")))


@pytest.mark.parametrize("platform", ["youtube", "x", "linkedin", "soundcloud"])
def test_a_published_post_is_deleted_on_its_platform(
    make_stack: Callable[..., Stack], tmp_path: Path, platform: str
) -> None:
    stack = make_stack()
    post = _published(stack, tmp_path, platform)
    [target] = post["targets"]
    external_id = target["external_id"]
    assert external_id in _fake_ids(stack, platform)
    assert _read_finds(stack, platform, external_id)

    done = stack.http.delete(f"/v1/posts/{post['id']}/targets/{target['id']}/remote")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["outcome"] == "deleted" and answer["target"]["status"] == "deleted", answer
    # Gone from the fake's state and from its own read endpoint.
    assert external_id not in _fake_ids(stack, platform)
    assert not _read_finds(stack, platform, external_id)
    after = stack.http.get(f"/v1/posts/{post['id']}").json()
    assert after["status"] == "deleted" and after["targets"][0]["status"] == "deleted"
    # The target keeps naming what was removed.
    assert after["targets"][0]["external_id"] == external_id
    ledger = _ledger(stack, post["id"])
    assert ledger[-3:] == ["remote_delete_started", "remote_deleted", "post_deleted"], ledger
    events = _events(stack, post["id"])
    types = [e["type"] for e in events]
    assert types[-2:] == ["target.deleted", "post.deleted"], types
    for event in events[-2:]:
        validate_payload(event)
    assert events[-2]["data"]["target"]["external_id"] == external_id
    audited = stack.http.get("/v1/audit", params={"action": "post."}).json()["data"]
    assert [e["target_id"] for e in audited] == [target["id"]]
    # Deleting again is refused: it is no longer published.
    again = stack.http.delete(f"/v1/posts/{post['id']}/targets/{target['id']}/remote")
    expect_problem(again, 409, "already_deleted")
    listed = stack.http.get("/v1/posts", params={"status": "deleted"}).json()["data"]
    assert [p["id"] for p in listed] == [post["id"]]


@pytest.mark.parametrize("platform", ["instagram", "tiktok"])
def test_a_platform_without_deletion_answers_unsupported_operation(
    make_stack: Callable[..., Stack], tmp_path: Path, platform: str
) -> None:
    stack = make_stack()
    post = _published(stack, tmp_path, platform)
    [target] = post["targets"]
    calls_before = stack.fake(platform, "state")["calls"]
    refused = stack.http.delete(f"/v1/posts/{post['id']}/targets/{target['id']}/remote")
    problem = expect_problem(refused, 422, "unsupported_operation")
    assert platform in problem["detail"].lower() and "app" in problem["detail"], problem
    assert stack.fake(platform, "state")["calls"] == calls_before  # nothing was asked of it
    whole = stack.http.delete(f"/v1/posts/{post['id']}/remote")
    assert whole.status_code == 200, whole.text
    [result] = whole.json()["targets"]
    assert (result["outcome"], result["code"]) == ("not_deleted", "unsupported_operation")
    assert stack.http.get(f"/v1/posts/{post['id']}").json()["status"] == "published"
    assert "remote_delete_started" not in _ledger(stack, post["id"])


def test_the_whole_post_is_taken_down_where_it_can_be(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """X and LinkedIn deleted, Instagram left up (and said why): the post stays published
    for what remains; a failed target is reported as not published."""
    stack = make_stack()
    post = _published(stack, tmp_path, "instagram", "x", "linkedin", text="everywhere")
    done = stack.http.delete(f"/v1/posts/{post['id']}/remote")
    assert done.status_code == 200, done.text
    outcomes = {t["platform"]: (t["outcome"], t["code"]) for t in done.json()["targets"]}
    assert outcomes == {
        "x": ("deleted", None),
        "linkedin": ("deleted", None),
        "instagram": ("not_deleted", "unsupported_operation"),
    }
    assert done.json()["post"]["status"] == "published"
    assert not _fake_ids(stack, "x") and not _fake_ids(stack, "linkedin")
    assert len(_fake_ids(stack, "instagram")) == 1


def test_targets_not_published_and_unknown_ids_are_refused(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(workers=0)
    later = {"text": "later", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
    first = stack.http.post("/v1/posts", json=later).json()
    second = stack.http.post("/v1/posts", json={**later, "text": "other"}).json()
    target_id = first["targets"][0]["id"]
    refused = stack.http.delete(f"/v1/posts/{first['id']}/targets/{target_id}/remote")
    problem = expect_problem(refused, 409, "not_published")
    assert "scheduled" in problem["detail"] and "cancel" in problem["detail"]
    expect_problem(stack.http.delete(f"/v1/posts/{first['id']}/remote"), 409, "not_published")
    for path in (
        f"/v1/posts/{first['id']}/targets/tgt_nope/remote",
        f"/v1/posts/{second['id']}/targets/{target_id}/remote",
        f"/v1/posts/pst_nope/targets/{target_id}/remote",
        "/v1/posts/pst_nope/remote",
    ):
        expect_problem(stack.http.delete(path), 404)
    # Cancelled: still not something to take down.
    stack.http.post(f"/v1/posts/{first['id']}/cancel")
    expect_problem(stack.http.delete(f"/v1/posts/{first['id']}/remote"), 409, "already_deleted")


def test_a_post_already_gone_at_the_platform_still_ends_deleted(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A request that died after its platform call left a claim: the next delete is told
    one is under way until the claim runs out, then calls again, and the platform's 404
    counts as deleted."""
    stack = make_stack()
    post = _published(stack, tmp_path, "x")
    [target] = post["targets"]
    path = f"/v1/posts/{post['id']}/targets/{target['id']}/remote"
    now = stack.svc.clock.now()
    with stack.svc.db.write() as conn:  # the dead request's claim …
        assert remote_deletes.claim(conn, target["id"], now=now, until=now + timedelta(hours=1))
    gone = httpx.delete(  # … and its call, which landed
        f"{stack.fakes_url}/x/2/tweets/{target['external_id']}", headers=_bearer(stack, "x")
    )
    assert gone.json() == {"data": {"deleted": True}}
    busy = stack.http.delete(path)
    expect_problem(busy, 409, "delete_in_progress")
    assert 0 < int(busy.headers["Retry-After"]) <= 300
    with stack.svc.db.write() as conn:  # the claim runs out
        later = now + timedelta(hours=2)
        assert remote_deletes.claim(conn, target["id"], now=later, until=now - timedelta(seconds=1))
    done = stack.http.delete(path)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "already_gone"
    assert done.json()["target"]["status"] == "deleted"
    with stack.svc.db.read() as conn:
        row = posts.get_target(conn, target["id"])
    assert row is not None and row["next_attempt_at"] is None
    deleted = [
        e for e in stack.http.get(f"/v1/posts/{post['id']}/ledger").json()
        if e["event_type"] == "remote_deleted"
    ]  # fmt: skip
    assert [e["data"]["already_gone"] for e in deleted] == [True]


def test_two_racing_deletes_make_one_platform_call(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    post = _published(stack, tmp_path, "x")
    [target] = post["targets"]
    path = f"/v1/posts/{post['id']}/targets/{target['id']}/remote"
    stack.fake("x", "faults", json={"latency_ms": 400})  # both are in flight at once
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def delete() -> None:
        with httpx.Client(base_url=stack.api_url, timeout=30,
                          headers={"Authorization": f"Bearer {stack.key}"}) as http:  # fmt: skip
            start.wait()
            answers.append(http.delete(path))

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["code"] in ("delete_in_progress", "already_deleted")
    assert stack.fake("x", "state")["calls"]["tweets.delete"] == 1
    assert _ledger(stack, post["id"]).count("remote_deleted") == 1


def test_an_expired_token_is_refreshed_and_a_dead_grant_needs_reauth(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    first = _published(stack, tmp_path, "youtube")
    second = _published(stack, tmp_path, "youtube")
    stack.fake("youtube", "faults", json={"expire_tokens": True})
    done = stack.http.delete(f"/v1/posts/{first['id']}/remote")
    assert done.status_code == 200, done.text
    assert done.json()["targets"][0]["outcome"] == "deleted"
    # The user revokes our access at Google: the refresh is refused, the account parked.
    with stack.svc.db.read() as conn:
        [row] = accounts.find_accounts(conn, stack.tenant_id, platform="youtube", mode="test")
    creds = vault_creds.unseal(stack.svc.keyring, row)
    assert creds is not None and creds.refresh_token
    revoked = httpx.post(f"{stack.fakes_url}/youtube/revoke", data={"token": creds.refresh_token})
    assert revoked.status_code == 200, revoked.text
    [target] = second["targets"]
    refused = stack.http.delete(f"/v1/posts/{second['id']}/targets/{target['id']}/remote")
    expect_problem(refused, 409, "account_needs_reauth")
    account = stack.http.get(f"/v1/accounts/{row['id']}").json()
    assert account["status"] == "needs_reauth", account
    assert stack.http.get(f"/v1/posts/{second['id']}").json()["status"] == "published"
    assert _ledger(stack, second["id"])[-1] == "remote_delete_failed"


def test_a_failing_platform_is_explained_and_the_delete_can_be_retried(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    post = _published(stack, tmp_path, "soundcloud")
    [target] = post["targets"]
    path = f"/v1/posts/{post['id']}/targets/{target['id']}/remote"
    stack.fake("soundcloud", "faults", json={"failure_rate": 1.0})
    failed = expect_problem(stack.http.delete(path), 502, "platform_unavailable")
    assert failed["platform_error"]["kind"] == "transient", failed
    assert "try again" in failed["detail"]
    stack.fake("soundcloud", "faults", json={"rate_limit_rate": 1.0, "failure_rate": 0.0})
    busy = stack.http.delete(path)
    expect_problem(busy, 503, "platform_rate_limited")
    assert int(busy.headers["Retry-After"]) >= 1
    assert stack.http.get(f"/v1/posts/{post['id']}").json()["status"] == "published"
    httpx.delete(f"{stack.fakes_url}/soundcloud/_fake/faults").raise_for_status()
    done = stack.http.delete(path)
    assert done.status_code == 200, done.text
    assert not _fake_ids(stack, "soundcloud")
    ledger = _ledger(stack, post["id"])
    assert ledger.count("remote_delete_failed") == 2 and ledger.count("remote_deleted") == 1


def test_another_users_post_is_refused_by_every_fake(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """The fakes check ownership: another account's token cannot delete our post."""
    stack = make_stack()
    post = _published(stack, tmp_path, "x")
    tweet_id = post["targets"][0]["external_id"]
    other = stack.fake("x", "accounts", json={"handle": "mallory"})
    refused = httpx.delete(
        f"{stack.fakes_url}/x/2/tweets/{tweet_id}",
        headers={"Authorization": f"Bearer {other['access_token']}"},
    )
    assert refused.status_code == 403, refused.text
    assert tweet_id in _fake_ids(stack, "x")


def test_the_capability_can_be_switched_off(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    kill_flag(stack.svc.db, "posts.remote_delete", actor=Actor.cli(), now=stack.svc.clock.now())
    deadline = time.monotonic() + 30
    answer = stack.http.delete("/v1/posts/pst_x/remote")
    while answer.json().get("code") != "feature_disabled" and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = stack.http.delete("/v1/posts/pst_x/remote")
    expect_problem(answer, 404, "feature_disabled")


def test_the_cli_deletes_a_post_or_one_target(
    make_stack: Callable[..., Stack], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crosspost posts delete POST_ID [--target TARGET_ID]`: 0 when everything published
    is down, 1 (saying why) when something stays up."""
    stack = make_stack()
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)

    def cli(*args: str) -> Result:
        return CliRunner().invoke(app, ["posts", "delete", *args], env={"COLUMNS": "200"})

    only_x = _published(stack, tmp_path, "x", text="cli one")
    done = cli(only_x["id"])
    assert done.exit_code == 0, done.output
    assert only_x["targets"][0]["id"] in done.stdout and "deleted" in done.stdout
    both = _published(stack, tmp_path, "instagram", "x", text="cli two")
    x_target = next(t for t in both["targets"] if t["platform"] == "x")
    one = cli(both["id"], "--target", x_target["id"], "--json")
    assert one.exit_code == 0, one.output
    [result] = json.loads(one.stdout)["targets"]
    assert (result["target_id"], result["outcome"]) == (x_target["id"], "deleted")
    rest = cli(both["id"])
    assert rest.exit_code == 1, rest.output
    assert "still up" in rest.stderr and "Instagram" in rest.stdout
    again = cli(both["id"], "--target", x_target["id"])
    assert again.exit_code == 1 and "already_deleted" in again.stderr, again.output
