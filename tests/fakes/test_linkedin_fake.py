"""The LinkedIn fake over real HTTP: headers, video upload rules, posts, finder, tokens, faults."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import FakeConfig, RunningServer, serve_in_thread
from crosspost.fakes.linkedin import LinkedInFake
from crosspost.fakes.linkedin_rules import LinkedInLimits, render_little

from .conftest import START, ManualClock

MB = 1024 * 1024
VIDEOS = "/linkedin/rest/videos"
POSTS = "/linkedin/rest/posts"
TOKEN = "/linkedin/oauth/v2/accessToken"
VERSION = "202610"


@dataclass
class Env:
    """A client on the fake, its clock and the fake itself."""

    http: httpx.Client
    clock: ManualClock
    fake: LinkedInFake

    def account(self, handle: str = "alice") -> dict[str, Any]:
        """Consent a member."""
        response = self.http.post("/linkedin/_fake/accounts", json={"handle": handle})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        body: dict[str, Any] = self.http.get("/linkedin/_fake/state").json()
        return body

    def faults(self, **knobs: Any) -> None:
        """Set fault knobs."""
        self.http.post("/linkedin/_fake/faults", json=knobs).raise_for_status()


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[RunningServer, ManualClock, LinkedInFake]]:
    clock = ManualClock()
    fake = LinkedInFake(FakeConfig.of(clock=clock, processing_seconds=5.0))
    server = serve_in_thread(Starlette(routes=[Mount("/linkedin", app=fake.asgi())]))
    yield server, clock, fake
    server.stop()


@pytest.fixture
def env(_server: tuple[RunningServer, ManualClock, LinkedInFake]) -> Iterator[Env]:
    """The fake, reset, with its clock at START and default limits."""
    server, clock, fake = _server
    clock.now = START
    fake.limits = LinkedInLimits()
    http = httpx.Client(base_url=server.url, timeout=30.0)
    http.post("/linkedin/_fake/reset").raise_for_status()
    yield Env(http, clock, fake)
    http.close()


def rest(account: dict[str, Any], **override: str | None) -> dict[str, str]:
    """The four headers of a /rest/ call; a None override drops that header."""
    headers: dict[str, str | None] = {
        "Authorization": f"Bearer {account['access_token']}",
        "LinkedIn-Version": VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
        "Content-Type": "application/json",
        **override,
    }
    return {k: v for k, v in headers.items() if v is not None}


def me(account: dict[str, Any]) -> str:
    """The member URN of an account."""
    return f"urn:li:person:{account['external_id']}"


def initialize(env: Env, account: dict[str, Any], size: int) -> httpx.Response:
    """POST initializeUpload for `size` bytes."""
    body = {
        "initializeUploadRequest": {
            "owner": me(account),
            "fileSizeBytes": size,
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    return env.http.post(f"{VIDEOS}?action=initializeUpload", json=body, headers=rest(account))


def put_parts(env: Env, value: dict[str, Any], data: bytes) -> list[str]:
    """PUT every instruction's bytes; return the ETags in order."""
    etags = []
    for item in value["uploadInstructions"]:
        piece = data[item["firstByte"] : item["lastByte"] + 1]
        response = env.http.put(
            item["uploadUrl"], content=piece, headers={"Content-Type": "application/octet-stream"}
        )
        assert response.status_code == 200, response.text
        etags.append(response.headers["ETag"])
    return etags


def finalize(
    env: Env, account: dict[str, Any], value: dict[str, Any], etags: list[str]
) -> httpx.Response:
    """POST finalizeUpload with `etags`."""
    body = {
        "finalizeUploadRequest": {
            "video": value["video"],
            "uploadToken": value["uploadToken"],
            "uploadedPartIds": etags,
        }
    }
    return env.http.post(f"{VIDEOS}?action=finalizeUpload", json=body, headers=rest(account))


def video_status(env: Env, account: dict[str, Any], urn: str) -> str:
    """GET the video's status (URN encoded, as Rest.li 2.0 wants)."""
    response = env.http.get(f"{VIDEOS}/{quote(urn, safe='')}", headers=rest(account))
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def post_body(account: dict[str, Any], commentary: str, video: str | None) -> dict[str, Any]:
    """A Posts API body."""
    body: dict[str, Any] = {
        "author": me(account),
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    if video:
        body["content"] = {"media": {"title": "T", "id": video}}
    return body


def uploaded_video(env: Env, account: dict[str, Any], size: int) -> tuple[dict[str, Any], bytes]:
    """A finalized, AVAILABLE video of `size` random bytes."""
    data = random.Random(size).randbytes(size)
    value = initialize(env, account, size).json()["value"]
    assert finalize(env, account, value, put_parts(env, value, data)).status_code == 200
    env.clock.advance(5)
    return value, data


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"Authorization": None}, 401, "EMPTY_ACCESS_TOKEN"),
        ({"Authorization": "OAuth abc"}, 401, "INVALID_ACCESS_TOKEN"),
        ({"LinkedIn-Version": None}, 400, "VERSION_MISSING"),
        ({"LinkedIn-Version": "202401"}, 426, "NONEXISTENT_VERSION"),
        ({"LinkedIn-Version": "2026-10"}, 400, "INVALID_VERSION"),
        ({"X-Restli-Protocol-Version": None}, 400, "ILLEGAL_ARGUMENT"),
    ],
)
def test_rest_headers_are_required(
    env: Env, override: dict[str, str | None], status: int, code: str
) -> None:
    """Every /rest/ call needs Bearer auth, an active LinkedIn-Version and Rest.li 2.0."""
    account = env.account()
    response = env.http.post(
        POSTS, json=post_body(account, "hi", None), headers=rest(account, **override)
    )
    assert response.status_code == status
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert env.state()["posts"] == []


def test_expired_token_is_expired_access_token(env: Env) -> None:
    """After 60 days the access token gets 401 EXPIRED_ACCESS_TOKEN (serviceErrorCode 65602)."""
    account = env.account()
    env.clock.advance(60 * 86400)
    response = env.http.post(POSTS, json=post_body(account, "hi", None), headers=rest(account))
    assert response.status_code == 401
    assert response.json()["serviceErrorCode"] == 65602


# -- video upload --------------------------------------------------------------------------


def test_initialize_splits_into_4_mib_parts_under_the_mount(env: Env) -> None:
    """Parts are 4 MiB except the last; URLs are absolute under the fake's mount."""
    account = env.account()
    value = initialize(env, account, 9 * MB + 5).json()["value"]
    ranges = [(i["firstByte"], i["lastByte"]) for i in value["uploadInstructions"]]
    assert ranges == [(0, 4 * MB - 1), (4 * MB, 8 * MB - 1), (8 * MB, 9 * MB + 4)]
    base = str(env.http.base_url).rstrip("/")
    assert all(i["uploadUrl"].startswith(f"{base}/linkedin/") for i in value["uploadInstructions"])
    assert value["video"].startswith("urn:li:video:") and value["uploadToken"]
    assert value["uploadUrlsExpireAt"] == int((START + 86400) * 1000)
    single = initialize(env, account, 100_000).json()["value"]
    assert len(single["uploadInstructions"]) == 1 and single["uploadToken"] == ""


@pytest.mark.parametrize(("size", "status"), [(75 * 1024 - 1, 400), (500 * MB + 1, 400)])
def test_initialize_enforces_size_limits(env: Env, size: int, status: int) -> None:
    """75 KB to 500 MB."""
    assert initialize(env, env.account(), size).status_code == status


def test_initialize_refuses_a_foreign_owner_and_missing_fields(env: Env) -> None:
    """Owner must be the member (or an administered organization); fields are required."""
    account = env.account()
    body = {"initializeUploadRequest": {"owner": "urn:li:person:other", "fileSizeBytes": 100_000}}
    response = env.http.post(f"{VIDEOS}?action=initializeUpload", json=body, headers=rest(account))
    assert (response.status_code, response.json()["code"]) == (403, "ACCESS_DENIED")
    body = {"initializeUploadRequest": {"owner": me(account)}}
    response = env.http.post(f"{VIDEOS}?action=initializeUpload", json=body, headers=rest(account))
    assert response.status_code == 422 and "/fileSizeBytes" in response.json()["message"]


def test_full_upload_then_processing_then_available(env: Env) -> None:
    """WAITING_UPLOAD → PROCESSING after finalize → AVAILABLE after processing_seconds."""
    account = env.account()
    data = random.Random(1).randbytes(5 * MB)
    value = initialize(env, account, len(data)).json()["value"]
    assert video_status(env, account, value["video"]) == "WAITING_UPLOAD"
    etags = put_parts(env, value, data)
    assert finalize(env, account, value, etags).status_code == 200
    assert video_status(env, account, value["video"]) == "PROCESSING"
    env.clock.advance(5)
    assert video_status(env, account, value["video"]) == "AVAILABLE"
    [video] = env.state()["videos"]
    assert video["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda e: e[:-1], "must list the 2"),
        (lambda e: list(reversed(e)), "(order)"),
        (lambda e: [e[0], "bogus"], "(values)"),
    ],
)
def test_finalize_checks_etag_count_order_and_values(env: Env, mangle: Any, reason: str) -> None:
    """uploadedPartIds must be every part's ETag, in instruction order."""
    account = env.account()
    data = random.Random(2).randbytes(5 * MB)
    value = initialize(env, account, len(data)).json()["value"]
    etags = put_parts(env, value, data)
    response = finalize(env, account, value, mangle(etags))
    assert response.status_code == 400 and reason in response.json()["message"]


def test_finalize_refuses_missing_parts_and_wrong_token(env: Env) -> None:
    """All parts must have arrived; the uploadToken must be echoed back."""
    account = env.account()
    value = initialize(env, account, 5 * MB).json()["value"]
    response = finalize(env, account, value, ["a", "b"])
    assert response.status_code == 400 and "[1, 2]" in response.json()["message"]
    response = finalize(env, account, {**value, "uploadToken": "x"}, ["a", "b"])
    assert response.status_code == 400 and "uploadToken" in response.json()["message"]


def test_part_put_rules(env: Env) -> None:
    """Exact byte count, octet-stream, a valid signature, before the URLs expire."""
    account = env.account()
    value = initialize(env, account, 5 * MB).json()["value"]
    url = value["uploadInstructions"][1]["uploadUrl"]
    octet = {"Content-Type": "application/octet-stream"}
    assert env.http.put(url, content=b"x" * 10, headers=octet).status_code == 400
    exact = b"x" * (MB)
    assert (
        env.http.put(url, content=exact, headers={"Content-Type": "video/mp4"}).status_code == 400
    )
    assert (
        env.http.put(url.split("?")[0] + "?sau=bad", content=exact, headers=octet).status_code
        == 404
    )
    env.clock.advance(86400)
    assert env.http.put(url, content=exact, headers=octet).status_code == 403


def test_a_part_cut_mid_transfer_leaves_nothing(env: Env) -> None:
    """A reset mid-part is a transport error; the part is not stored and may be re-sent."""
    account = env.account()
    value = initialize(env, account, 100_000).json()["value"]
    env.faults(reset_mid_chunk_rate=1.0)
    item = value["uploadInstructions"][0]
    with pytest.raises(httpx.TransportError):
        env.http.put(
            item["uploadUrl"],
            content=b"y" * 100_000,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert env.state()["videos"][0]["received"] == 0
    env.faults(reset_mid_chunk_rate=0.0)
    assert len(put_parts(env, value, b"y" * 100_000)) == 1


def test_unencoded_urn_in_path_is_refused(env: Env) -> None:
    """Rest.li 2.0 wants URNs percent-encoded in the path."""
    account = env.account()
    value = initialize(env, account, 100_000).json()["value"]
    response = env.http.get(f"{VIDEOS}/{value['video']}", headers=rest(account))
    assert response.status_code == 400


def test_processing_failure(env: Env) -> None:
    """processing_fail_rate makes a finalized video PROCESSING_FAILED."""
    account = env.account()
    env.faults(processing_fail_rate=1.0)
    value, _ = uploaded_video(env, account, 100_000)
    assert video_status(env, account, value["video"]) == "PROCESSING_FAILED"


# -- posts ---------------------------------------------------------------------------------


def test_video_post_is_201_with_x_restli_id(env: Env) -> None:
    """The post URN comes in x-restli-id; the state shows the video's bytes."""
    account = env.account()
    value, data = uploaded_video(env, account, 100_000)
    response = env.http.post(
        POSTS, json=post_body(account, "Hello \\(world\\)", value["video"]), headers=rest(account)
    )
    assert response.status_code == 201 and response.content == b""
    urn = response.headers["x-restli-id"]
    [post] = env.state()["posts"]
    assert (post["id"], post["text"], post["truncated"]) == (urn, "Hello (world)", False)
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_post_needs_an_available_owned_video(env: Env) -> None:
    """Posting a video still WAITING_UPLOAD fails; so does someone else's video."""
    alice, bob = env.account("alice"), env.account("bob")
    value = initialize(env, alice, 100_000).json()["value"]
    response = env.http.post(POSTS, json=post_body(alice, "x", value["video"]), headers=rest(alice))
    assert response.status_code == 400 and "WAITING_UPLOAD" in response.json()["message"]
    response = env.http.post(POSTS, json=post_body(bob, "x", value["video"]), headers=rest(bob))
    assert response.status_code == 422


def test_post_validation(env: Env) -> None:
    """Required fields, the author's rights and the 3000-character commentary."""
    account = env.account()
    body = post_body(account, "x", None)
    del body["lifecycleState"]
    response = env.http.post(POSTS, json=body, headers=rest(account))
    assert response.status_code == 422 and "/lifecycleState" in response.json()["message"]
    foreign = {**post_body(account, "x", None), "author": "urn:li:organization:1"}
    response = env.http.post(POSTS, json=foreign, headers=rest(account))
    assert response.status_code == 403
    long = post_body(account, "a" * 3001, None)
    assert env.http.post(POSTS, json=long, headers=rest(account)).status_code == 422


def test_duplicate_text_post_is_refused(env: Env) -> None:
    """LinkedIn refuses a text post identical to an earlier one by the same author."""
    account = env.account()
    body = post_body(account, "Same", None)
    first = env.http.post(POSTS, json=body, headers=rest(account))
    second = env.http.post(POSTS, json=body, headers=rest(account))
    assert second.status_code == 422
    assert first.headers["x-restli-id"] in second.json()["message"]


def test_unescaped_reserved_character_truncates(env: Env) -> None:
    """Like LinkedIn, an unescaped reserved character silently cuts the post."""
    account = env.account()
    response = env.http.post(
        POSTS, json=post_body(account, "Look (here) #tag", None), headers=rest(account)
    )
    assert response.status_code == 201
    [post] = env.state()["posts"]
    assert (post["text"], post["truncated"]) == ("Look ", True)
    assert render_little("a \\#b #tag \\\\") == ("a #b #tag \\", False)


def test_finder_by_author(env: Env) -> None:
    """GET /rest/posts?q=author lists the newest first; the author must be URL-encoded."""
    account = env.account()
    for text in ("one", "two"):
        env.http.post(POSTS, json=post_body(account, text, None), headers=rest(account))
        env.clock.advance(1)
    url = f"{POSTS}?author={quote(me(account), safe='')}&q=author&count=10"
    response = env.http.get(url, headers=rest(account))
    assert response.status_code == 200
    elements = response.json()["elements"]
    assert [e["commentary"] for e in elements] == ["two", "one"]
    assert elements[0]["createdAt"] == int((START + 1) * 1000)
    raw = f"{POSTS}?author={me(account)}&q=author"
    assert env.http.get(raw, headers=rest(account)).status_code == 400


def test_drop_after_commit_creates_the_post(env: Env) -> None:
    """drop_response_after_commit: the post exists but the client sees a transport error."""
    account = env.account()
    env.faults(drop_response_after_commit=1)
    with pytest.raises(httpx.TransportError):
        env.http.post(POSTS, json=post_body(account, "x", None), headers=rest(account))
    assert len(env.state()["posts"]) == 1


@pytest.mark.parametrize(
    ("knobs", "status", "daily"),
    [
        ({"failure_rate": 1.0}, 500, False),
        ({"rate_limit_rate": 1.0}, 429, False),
        ({"quota_exhausted": True}, 429, True),
    ],
)
def test_fault_knobs(env: Env, knobs: dict[str, Any], status: int, daily: bool) -> None:
    """Injected 5xx, 429 and a spent daily quota answer in LinkedIn's error shape."""
    account = env.account()
    env.faults(**knobs)
    response = env.http.post(POSTS, json=post_body(account, "x", None), headers=rest(account))
    assert response.status_code == status and response.json()["status"] == status
    assert ("DAY limit" in response.json()["message"]) is daily
    assert env.state()["posts"] == []


# -- tokens --------------------------------------------------------------------------------


def test_refresh_keeps_the_refresh_token_and_its_expiry(env: Env) -> None:
    """A refresh returns a new access token, the same refresh token, and its remaining life."""
    account = env.account()
    env.clock.advance(1000)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account["refresh_token"],
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    body = env.http.post(TOKEN, data=form).json()
    assert body["refresh_token"] == account["refresh_token"]
    assert body["access_token"] != account["access_token"]
    assert body["expires_in"] == 60 * 86400
    assert body["refresh_token_expires_in"] == 365 * 86400 - 1000
    bad_client = env.http.post(TOKEN, data={**form, "client_secret": "nope"})
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    dead = env.http.post(TOKEN, data={**form, "refresh_token": "AQXnope"})
    assert (dead.status_code, dead.json()["error"]) == (400, "invalid_grant")


def test_a_post_is_read_and_deleted_by_its_encoded_urn(env: Env) -> None:
    """GET and DELETE /rest/posts/{encoded urn}: the URN must be encoded, only the author
    may delete (403 otherwise), a delete is 204 and idempotent, the post is then gone from
    reads and the author finder, and a URN never seen is 404."""
    author, other = env.account("alice"), env.account("bob")
    made = env.http.post(POSTS, json=post_body(author, "bye soon", None), headers=rest(author))
    assert made.status_code == 201, made.text
    urn = made.headers["x-restli-id"]
    one = f"{POSTS}/{quote(urn, safe='')}"
    read = env.http.get(one, headers=rest(author))
    assert (read.status_code, read.json()["id"]) == (200, urn)
    assert env.http.get(f"{POSTS}/{urn}", headers=rest(author)).status_code == 400
    assert env.http.delete(one, headers=rest(author, Authorization=None)).status_code == 401
    unversioned = rest(author, **{"LinkedIn-Version": None})
    assert env.http.delete(one, headers=unversioned).status_code == 400
    denied = env.http.delete(one, headers=rest(other))
    assert (denied.status_code, denied.json()["code"]) == (403, "ACCESS_DENIED")
    for _ in range(2):  # deleting a deleted post answers 204 again
        assert env.http.delete(one, headers=rest(author)).status_code == 204
    assert env.state()["posts"] == []
    gone = env.http.get(one, headers=rest(author))
    assert (gone.status_code, gone.json()["status"]) == (404, 404)
    finder = env.http.get(
        POSTS, params={"q": "author", "author": me(author)}, headers=rest(author)
    ).json()
    assert finder["elements"] == []
    never = f"{POSTS}/{quote('urn:li:share:7000000000000000001', safe='')}"
    assert env.http.delete(never, headers=rest(author)).status_code == 404


def test_member_post_analytics_are_the_authors_and_grow(env: Env) -> None:
    """memberCreatorPostAnalytics?q=entity: the URN encoded inside `(share:…)`, one metric a
    call, TOTAL only; another member's post is 403, a URN never seen 404."""
    author, other = env.account("alice"), env.account("bob")
    made = env.http.post(POSTS, json=post_body(author, "measure me", None), headers=rest(author))
    urn = made.headers["x-restli-id"]
    path = "/linkedin/rest/memberCreatorPostAnalytics"

    def query(metric: str, who: dict[str, Any], entity: str | None = None) -> httpx.Response:
        entity = entity or f"(share:{quote(urn, safe='')})"
        url = f"{path}?q=entity&entity={entity}&queryType={metric}&aggregation=TOTAL"
        return env.http.get(url, headers=rest(who))

    def count(metric: str) -> int:
        answer = query(metric, author)
        assert answer.status_code == 200, answer.text
        [element] = answer.json()["elements"]
        assert list(element["metricType"].values()) == [metric]
        value: int = element["count"]
        return value

    env.clock.advance(3600)
    early = {m: count(m) for m in ("IMPRESSION", "MEMBERS_REACHED", "REACTION", "COMMENT")}
    env.clock.advance(5 * 3600)
    assert 0 < early["IMPRESSION"] < count("IMPRESSION")
    assert early["MEMBERS_REACHED"] < early["IMPRESSION"]
    assert query("IMPRESSION", other).status_code == 403
    assert query("IMPRESSION", author, f"(share:{urn})").status_code == 400  # not encoded
    assert query("CLICKS", author).status_code == 400
    never = f"(share:{quote('urn:li:share:7000000000000000001', safe='')})"
    assert query("IMPRESSION", author, never).status_code == 404
    daily = env.http.get(
        f"{path}?q=entity&entity=(share:{quote(urn, safe='')})&queryType=COMMENT&aggregation=DAILY",
        headers=rest(author),
    )
    assert daily.status_code == 400
