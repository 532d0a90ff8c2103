"""The first comment (`overrides.<platform>.first_comment`) over real HTTP against the fakes:
posted once under the published post, its failure explained on the target and never
failing it, refused up front where the platform takes none or the text is too long."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from crosspost.platforms.linkedin_rules import LINKEDIN_VERSION
from crosspost.store import accounts
from crosspost.vault import credentials as vault_creds
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _wait_comment(stack: Stack, post_id: str, target_id: str) -> dict[str, Any]:
    """The target once its first comment is posted or failed (within a deadline)."""
    deadline = time.monotonic() + 30
    target: dict[str, Any] = {}
    while time.monotonic() < deadline:
        target = stack.http.get(f"/v1/posts/{post_id}/targets/{target_id}").json()
        comment = target.get("first_comment") or {}
        if comment.get("status") in ("posted", "failed"):
            return target
        time.sleep(0.05)
    raise AssertionError(f"the first comment did not settle: {target}")


def test_a_reply_on_x_is_posted_once_under_the_post(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    body = {
        "text": "launch",
        "targets": ["x"],
        "overrides": {"x": {"first_comment": "details: https://example.com/launch"}},
    }
    made = stack.http.post("/v1/posts", json=body)
    assert made.status_code == 201, made.text
    post = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    [target] = post["targets"]
    settled = _wait_comment(stack, post["id"], target["id"])
    comment = settled["first_comment"]
    assert comment["status"] == "posted" and comment["attempts"] == 1, comment
    state = stack.fake("x", "state")
    assert [(r["id"], r["in_reply_to"]) for r in state["replies"]] == [
        (comment["id"], target["external_id"])
    ]
    assert [p["text"] for p in state["posts"]] == ["launch"]
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post['id']}/ledger").json()]
    assert events.count("first_comment_posted") == 1


def test_a_failed_comment_is_explained_and_the_post_stays_published(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    # X refuses a reply whose text the account already posted (its duplicate rule).
    first = stack.http.post("/v1/posts", json={"text": "same words", "targets": ["x"]}).json()
    stack.wait_post(first["id"], lambda p: p["status"] in FINAL)
    body = {
        "text": "another post",
        "targets": ["x"],
        "overrides": {"x": {"first_comment": "same words"}},
    }
    post = stack.http.post("/v1/posts", json=body).json()
    done = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    settled = _wait_comment(stack, post["id"], done["targets"][0]["id"])
    assert settled["status"] == "published"
    comment = settled["first_comment"]
    assert comment["status"] == "failed", comment
    assert comment["error"]["code"] and comment["error"]["message"], comment
    assert stack.fake("x", "state")["replies"] == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"tiktok": {"first_comment": "hi"}}, "unknown_override"),
        ({"x": {"first_comment": "x" * 281}}, "invalid_override"),
        ({"x": {"first_comment": "   "}}, "invalid_override"),
        ({"linkedin": {"first_comment": "y" * 1251}}, "invalid_override"),
    ],
)
def test_first_comments_the_platform_cannot_take_are_refused(
    make_stack: Callable[..., Stack], overrides: dict[str, Any], code: str
) -> None:
    stack = make_stack(workers=0)
    targets = sorted(overrides)
    body = {"text": "t", "targets": targets, "overrides": overrides}
    answer = stack.http.post("/v1/posts", json=body)
    assert (answer.status_code, answer.json()["code"]) == (422, code), answer.text
    assert "first_comment" in answer.text


def test_a_reply_whose_answer_was_lost_is_found_not_posted_again(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(commit_settle_seconds=0.5)
    # The answers to the next two posts X makes are lost: the post's, then the reply's.
    stack.fake("x", "faults", json={"drop_response_after_commit": 2})
    body = {"text": "lossy", "targets": ["x"], "overrides": {"x": {"first_comment": "reply"}}}
    post = stack.http.post("/v1/posts", json=body).json()
    done = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    [target] = done["targets"]
    settled = _wait_comment(stack, post["id"], target["id"])
    assert settled["first_comment"]["status"] == "posted", settled
    assert stack.fake("x", "faults")["drop_response_after_commit"] == 0
    replies = stack.fake("x", "state")["replies"]
    assert [r["in_reply_to"] for r in replies] == [target["external_id"]], replies
    assert settled["first_comment"]["id"] == replies[0]["id"]
    events = stack.http.get(f"/v1/posts/{post['id']}/ledger").json()
    posted = [e for e in events if e["event_type"] == "first_comment_posted"]
    assert [e["data"]["adopted"] for e in posted] == [True], events


def test_a_youtube_comment_thread_is_started_under_the_video(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    video = stack.upload_video(tmp_path, seconds=1.0)
    overrides = {"youtube": {"first_comment": "Chapters: 0:00 intro"}}
    body = {
        "media_id": video["id"],
        "text": "a video",
        "targets": ["youtube"],
        "overrides": overrides,
    }
    post = stack.http.post("/v1/posts", json=body).json()
    [target] = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)["targets"]
    assert target["status"] == "published", target
    comment = _wait_comment(stack, post["id"], target["id"])["first_comment"]
    assert comment["status"] == "posted", comment
    [held] = stack.fake("youtube", "state")["comments"]
    assert (held["id"], held["video_id"], held["text"]) == (
        comment["id"],
        target["external_id"],
        "Chapters: 0:00 intro",
    )

    # A video made for kids has its comments off: explained, and the video stays up.
    kids = {"youtube": {"first_comment": "hi", "made_for_kids": True}}
    other = stack.http.post("/v1/posts", json={**body, "overrides": kids}).json()
    [target] = stack.wait_post(other["id"], lambda p: p["status"] in FINAL)["targets"]
    assert target["status"] == "published", target
    refused = _wait_comment(stack, other["id"], target["id"])["first_comment"]
    assert refused["status"] == "failed", refused
    assert "disabled comments" in refused["error"]["message"], refused


def test_a_linkedin_comment_is_made_by_the_posts_author(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    body = {
        "text": "hiring",
        "targets": ["linkedin"],
        "overrides": {"linkedin": {"first_comment": "Apply at example.com/jobs"}},
    }
    post = stack.http.post("/v1/posts", json=body).json()
    [target] = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)["targets"]
    assert target["status"] == "published", target
    comment = _wait_comment(stack, post["id"], target["id"])["first_comment"]
    assert comment["status"] == "posted", comment
    [held] = stack.fake("linkedin", "state")["comments"]
    assert (held["id"], held["post"], held["text"]) == (
        comment["id"],
        target["external_id"],
        "Apply at example.com/jobs",
    )
    assert held["actor"].startswith("urn:li:person:")


def test_an_instagram_comment_lands_on_the_published_media(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    video = stack.upload_video(tmp_path, seconds=3.0, width=720, height=1280)
    body = {
        "media_id": video["id"],
        "text": "reel",
        "targets": ["instagram"],
        "overrides": {"instagram": {"first_comment": "#behindthescenes"}},
    }
    post = stack.http.post("/v1/posts", json=body).json()
    [target] = stack.wait_post(post["id"], lambda p: p["status"] in FINAL, timeout=60)["targets"]
    assert target["status"] == "published", target
    comment = _wait_comment(stack, post["id"], target["id"])["first_comment"]
    assert comment["status"] == "posted", comment
    [held] = stack.fake("instagram", "state")["comments"]
    assert (held["id"], held["media_id"], held["text"]) == (
        comment["id"],
        target["external_id"],
        "#behindthescenes",
    )


def _bearer(stack: Stack, platform: str) -> dict[str, str]:
    listed = stack.http.get("/v1/accounts").json()
    account = next(a for a in listed if a["platform"] == platform)
    with stack.svc.db.read() as conn:
        row = accounts.get_account(conn, stack.tenant_id, account["id"])
    creds = vault_creds.unseal(stack.svc.keyring, row or {})
    assert creds is not None
    return {"Authorization": f"Bearer {creds.access_token}"}


def test_the_fakes_refuse_bad_comments_as_the_platforms_do(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    base = stack.fakes_url
    youtube = _bearer(stack, "youtube")
    thread = {
        "snippet": {
            "channelId": "UC",
            "videoId": "AAAAAAAAAAA",
            "topLevelComment": {"snippet": {"textOriginal": "hi"}},
        }
    }
    url = f"{base}/youtube/youtube/v3/commentThreads?part=snippet"
    missing = httpx.post(url, json=thread, headers=youtube, timeout=30)
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["errors"][0]["reason"] == "videoNotFound"
    thread["snippet"]["topLevelComment"] = {"snippet": {"textOriginal": " "}}
    empty = httpx.post(url, json=thread, headers=youtube, timeout=30)
    assert empty.json()["error"]["errors"][0]["reason"] == "commentTextRequired", empty.text
    anonymous = httpx.post(url, json=thread, timeout=30)
    assert anonymous.status_code == 401, anonymous.text

    linkedin = {
        **_bearer(stack, "linkedin"),
        "LinkedIn-Version": LINKEDIN_VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    urn = quote("urn:li:share:1", safe="")
    path = f"{base}/linkedin/rest/socialActions/{urn}/comments"
    body = {
        "actor": "urn:li:person:someone-else",
        "object": "urn:li:share:1",
        "message": {"text": "hi"},
    }
    other = httpx.post(path, json=body, headers=linkedin, timeout=30)
    assert (other.status_code, other.json()["code"]) == (403, "ACCESS_DENIED"), other.text
    unescaped = httpx.post(
        f"{base}/linkedin/rest/socialActions/urn:li:share:1/comments",
        json=body,
        headers=linkedin,
        timeout=30,
    )
    assert unescaped.status_code == 400, unescaped.text

    instagram = _bearer(stack, "instagram")
    node = httpx.post(
        f"{base}/instagram/v23.0/1789/comments",
        data={"message": "hi"},
        headers=instagram,
        timeout=30,
    )
    assert node.status_code == 400 and node.json()["error"]["code"] == 100, node.text

    x = _bearer(stack, "x")
    reply = {"text": "hi", "reply": {"in_reply_to_tweet_id": "1234567890"}}
    gone = httpx.post(f"{base}/x/2/tweets", json=reply, headers=x, timeout=30)
    assert gone.status_code == 403 and "deleted or not visible" in gone.text, gone.text
