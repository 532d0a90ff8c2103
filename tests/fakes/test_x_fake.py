"""The X fake over real HTTP: upload rules (both forms), posts, timeline, tokens, rate headers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.fakes import FakeConfig, serve_in_thread
from crosspost.fakes.base import Faults
from crosspost.fakes.x import XFake
from crosspost.fakes.x_timeline import Cursor, PageTokens

from .conftest import START, ManualClock, bearer

MB = 1024 * 1024
INIT = "/x/2/media/upload/initialize"
UPLOAD = "/x/2/media/upload"
TWEETS = "/x/2/tweets"
TOKEN = "/x/2/oauth2/token"


class XSandbox:
    """An httpx client on the X fake plus its clock."""

    def __init__(self, http: httpx.Client, clock: ManualClock) -> None:
        self.http = http
        self.clock = clock

    def account(self, handle: str = "alice") -> dict[str, Any]:
        """Consent an account."""
        response = self.http.post("/x/_fake/accounts", json={"handle": handle})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        body: dict[str, Any] = self.http.get("/x/_fake/state").json()
        return body


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[str, ManualClock]]:
    clock = ManualClock()
    fake = XFake(FakeConfig(clock=clock, faults=Faults(processing_seconds=5.0)))
    server = serve_in_thread(Starlette(routes=[Mount("/x", app=fake.asgi())]))
    yield server.url, clock
    server.stop()


@pytest.fixture
def x(_server: tuple[str, ManualClock]) -> Iterator[XSandbox]:
    """The X fake, reset before the test."""
    url, clock = _server
    clock.now = START
    with httpx.Client(base_url=url, timeout=30.0) as http:
        http.post("/x/_fake/reset").raise_for_status()
        yield XSandbox(http, clock)


def _init(x: XSandbox, acct: dict[str, Any], total: int, kind: str = "video/mp4") -> str:
    category = "tweet_video" if kind.startswith("video") else "tweet_image"
    body = {"media_type": kind, "total_bytes": total, "media_category": category}
    response = x.http.post(INIT, json=body, headers=bearer(acct))
    assert response.status_code == 200, response.text
    media_id: str = response.json()["data"]["id"]
    return media_id


def _append(
    x: XSandbox, acct: dict[str, Any], media_id: str, index: int, data: bytes
) -> httpx.Response:
    return x.http.post(
        f"{UPLOAD}/{media_id}/append",
        data={"segment_index": str(index)},
        files={"media": ("blob", data, "application/octet-stream")},
        headers=bearer(acct),
    )


def _finalize(x: XSandbox, acct: dict[str, Any], media_id: str) -> httpx.Response:
    return x.http.post(f"{UPLOAD}/{media_id}/finalize", headers=bearer(acct))


def test_auth_scheme_and_token_are_checked(x: XSandbox) -> None:
    """No header, a Basic header or an unknown token all get X's 401 problem."""
    body = {"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_video"}
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
        response = x.http.post(INIT, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["title"] == "Unauthorized"


def test_initialize_checks_fields(x: XSandbox) -> None:
    """Missing total_bytes, a wrong category, a too-large image and a form body are refused."""
    acct = x.account()
    bad = [
        {"media_type": "video/mp4", "media_category": "tweet_video"},
        {"media_type": "video/mp4", "total_bytes": 5, "media_category": "tweet_image"},
        {"media_type": "image/png", "total_bytes": 6 * MB, "media_category": "tweet_image"},
    ]
    for body in bad:
        response = x.http.post(INIT, json=body, headers=bearer(acct))
        assert response.status_code == 400
        assert response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    response = x.http.post(INIT, data={"media_type": "video/mp4"}, headers=bearer(acct))
    assert response.status_code == 400


def test_chunked_upload_processing_and_post(x: XSandbox) -> None:
    """Segments re-sent replace earlier copies; processing goes pending → succeeded."""
    acct = x.account()
    data = bytes(range(256)) * 100
    media_id = _init(x, acct, len(data))
    assert _append(x, acct, media_id, 0, b"\0" * 12_800).status_code == 200
    assert _append(x, acct, media_id, 0, data[:12_800]).status_code == 200  # replaces
    assert _append(x, acct, media_id, 1, data[12_800:]).status_code == 200
    final = _finalize(x, acct, media_id).json()["data"]
    assert final["processing_info"] == {
        "state": "pending",
        "check_after_secs": 5,
        "progress_percent": 0,
    }
    early = x.http.post(TWEETS, json={"media": {"media_ids": [media_id]}}, headers=bearer(acct))
    assert early.status_code == 400 and "media IDs are invalid" in early.text
    x.clock.advance(2)
    status = x.http.get(
        UPLOAD, params={"command": "STATUS", "media_id": media_id}, headers=bearer(acct)
    )
    info = status.json()["data"]["processing_info"]
    assert (info["state"], info["check_after_secs"]) == ("in_progress", 3)
    x.clock.advance(3)
    tweet = x.http.post(
        TWEETS, json={"text": "hi", "media": {"media_ids": [media_id]}}, headers=bearer(acct)
    )
    assert tweet.status_code == 201, tweet.text
    [post] = x.state()["posts"]
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_finalize_refuses_gaps_and_wrong_totals(x: XSandbox) -> None:
    """Missing segments or a size other than total_bytes fail FINALIZE with a 400."""
    acct = x.account()
    media_id = _init(x, acct, 30)
    _append(x, acct, media_id, 1, b"a" * 10)
    assert "without gaps" in _finalize(x, acct, media_id).text
    _append(x, acct, media_id, 0, b"a" * 10)
    assert "do not add up" in _finalize(x, acct, media_id).text
    assert _append(x, acct, media_id, 2, b"a" * 11).status_code == 400  # exceeds total_bytes
    assert _append(x, acct, media_id, 1000, b"a").status_code == 400  # index 0..999


def test_oversized_segment_is_refused(x: XSandbox) -> None:
    """A segment over the 8 MB server maximum gets a 400."""
    acct = x.account()
    media_id = _init(x, acct, 9 * MB)
    response = _append(x, acct, media_id, 0, b"\0" * (8 * MB + 1))
    assert response.status_code == 400


def test_legacy_command_form(x: XSandbox) -> None:
    """POST /2/media/upload with command=INIT/APPEND/FINALIZE, then STATUS, still works."""
    acct = x.account()
    init = x.http.post(
        UPLOAD,
        data={"command": "INIT", "media_type": "image/jpeg", "total_bytes": "4"},
        headers=bearer(acct),
    )
    media_id = init.json()["data"]["id"]
    assert init.json()["data"]["media_key"] == f"3_{media_id}"
    append = x.http.post(
        UPLOAD,
        data={"command": "APPEND", "media_id": media_id, "segment_index": "0"},
        files={"media": ("blob", b"abcd", "application/octet-stream")},
        headers=bearer(acct),
    )
    assert append.status_code == 204 and append.content == b""
    final = x.http.post(
        UPLOAD, data={"command": "FINALIZE", "media_id": media_id}, headers=bearer(acct)
    )
    assert "processing_info" not in final.json()["data"]  # images are ready at once


def test_rate_limit_headers_and_duplicates(x: XSandbox) -> None:
    """Every answer carries x-rate-limit-*; POST /2/tweets the 24 h headers; duplicates 403."""
    acct = x.account()
    first = x.http.post(TWEETS, json={"text": "hello"}, headers=bearer(acct))
    assert first.status_code == 201
    assert first.headers["x-rate-limit-limit"] == "200"
    assert first.headers["x-rate-limit-remaining"] == "199"
    assert first.headers["x-rate-limit-reset"] == str(int(START) + 900)
    assert first.headers["x-user-limit-24hour-remaining"] == "99"
    again = x.http.post(TWEETS, json={"text": "hello"}, headers=bearer(acct))
    assert again.status_code == 403
    assert again.json()["detail"] == "You are not allowed to create a Tweet with duplicate content."
    long = x.http.post(TWEETS, json={"text": "字" * 141}, headers=bearer(acct))
    assert long.status_code == 403 and len(x.state()["posts"]) == 1


def test_timeline_lookup(x: XSandbox) -> None:
    """Recent posts newest first, with attachments, filtered by start_time; max_results 5..100."""
    acct = x.account()
    x.http.post(TWEETS, json={"text": "old"}, headers=bearer(acct))
    x.clock.advance(600)
    x.http.post(TWEETS, json={"text": "new"}, headers=bearer(acct))
    path = f"/x/2/users/{acct['external_id']}/tweets"
    since = "2027-01-15T09:05:00Z"  # START is 09:00 UTC
    body = x.http.get(
        path, params={"max_results": 5, "start_time": since}, headers=bearer(acct)
    ).json()
    assert [t["text"] for t in body["data"]] == ["new"] and body["meta"]["result_count"] == 1
    assert x.http.get(path, params={"max_results": 2}, headers=bearer(acct)).status_code == 400


INVALID = "https://api.twitter.com/2/problems/invalid-request"
DAY_OF_POSTS = 900.0  # one post every 15 minutes stays under the 100-a-day posting cap


def _busy_account(x: XSandbox, handle: str = "busy") -> dict[str, Any]:
    """An account whose token outlives the weeks of posting these tests go through."""
    response = x.http.post(
        "/x/_fake/accounts", json={"handle": handle, "access_ttl_seconds": 10**8}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _post_many(x: XSandbox, acct: dict[str, Any], count: int, prefix: str = "post") -> list[str]:
    """Post `count` texts, one every 15 minutes of the fake's clock; their ids, oldest first."""
    ids = []
    for n in range(count):
        response = x.http.post(TWEETS, json={"text": f"{prefix} {n}"}, headers=bearer(acct))
        assert response.status_code == 201, response.text
        ids.append(response.json()["data"]["id"])
        x.clock.advance(DAY_OF_POSTS)
    return ids


def _timeline(x: XSandbox, acct: dict[str, Any], **params: Any) -> httpx.Response:
    return x.http.get(
        f"/x/2/users/{acct['external_id']}/tweets", params=params, headers=bearer(acct)
    )


def _page(x: XSandbox, acct: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = _timeline(x, acct, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(page: dict[str, Any]) -> list[str]:
    return [t["id"] for t in page.get("data", [])]


def test_timeline_pages_with_next_and_previous_tokens(x: XSandbox) -> None:
    """Ten a page by default; meta carries result_count, newest_id, oldest_id and opaque
    tokens (no next_token on the last page, no previous_token on the first); a post made
    between two requests neither repeats nor skips a post of the pages already under way."""
    acct = _busy_account(x)
    ids = _post_many(x, acct, 12)
    newest_first = ids[::-1]
    default = _page(x, acct)
    assert _ids(default) == newest_first[:10] and default["meta"]["result_count"] == 10
    first = _page(x, acct, max_results=5)
    assert _ids(first) == newest_first[:5]
    assert first["meta"]["newest_id"] == ids[-1] and first["meta"]["oldest_id"] == ids[-5]
    assert "previous_token" not in first["meta"] and first["meta"]["next_token"]
    _post_many(x, acct, 1, prefix="late")  # lands on top; the pages below do not move
    second = _page(x, acct, max_results=5, pagination_token=first["meta"]["next_token"])
    assert _ids(second) == newest_first[5:10]
    third = _page(x, acct, max_results=5, pagination_token=second["meta"]["next_token"])
    assert _ids(third) == newest_first[10:] and third["meta"]["result_count"] == 2
    assert "next_token" not in third["meta"]
    back = _page(x, acct, max_results=5, pagination_token=third["meta"]["previous_token"])
    assert _ids(back) == newest_first[5:10]
    top = _page(x, acct, max_results=5, pagination_token=second["meta"]["previous_token"])
    assert _ids(top) == newest_first[:5]
    assert top["meta"]["previous_token"]  # the late post is newer still


def test_timeline_reads_only_the_3200_most_recent_posts(x: XSandbox) -> None:
    """Paging a busy account ends after its 3,200 most recent posts (800 when replies are
    excluded), and an until_id below that horizon finds nothing."""
    acct = _busy_account(x)
    ids = _post_many(x, acct, 3205)
    seen: list[str] = []
    params: dict[str, Any] = {"max_results": 100}
    for _ in range(40):
        page = _page(x, acct, **params)
        seen += _ids(page)
        if "next_token" not in page["meta"]:
            break
        params["pagination_token"] = page["meta"]["next_token"]
    assert seen == ids[:4:-1]  # newest first, down to the 3,200th most recent
    assert _page(x, acct, until_id=ids[5])["meta"] == {"result_count": 0}
    assert _ids(_page(x, acct, until_id=ids[6], max_results=5)) == [ids[5]]
    replies_out = {"max_results": 100, "exclude": "replies"}
    pages = 0
    while True:
        pages += 1
        page = _page(x, acct, **replies_out)
        if "next_token" not in page["meta"]:
            break
        replies_out["pagination_token"] = page["meta"]["next_token"]
    assert pages == 8 and page["meta"]["oldest_id"] == ids[-800]


def test_timeline_id_and_time_bounds(x: XSandbox) -> None:
    """since_id and until_id are exclusive and win over start_time and end_time, which are
    inclusive to the second (a fraction is dropped); every bound also applies while paging."""
    acct = _busy_account(x)
    ids = _post_many(x, acct, 8)  # START, START+15 min, ...
    assert _ids(_page(x, acct, since_id=ids[5])) == [ids[7], ids[6]]
    assert _ids(_page(x, acct, until_id=ids[2])) == [ids[1], ids[0]]
    assert _ids(_page(x, acct, since_id=ids[1], until_id=ids[4])) == [ids[3], ids[2]]
    # START is 2027-01-15T09:00:00Z: posts 2..4 fall at 09:30, 09:45 and 10:00.
    window = {"start_time": "2027-01-15T09:30:00Z", "end_time": "2027-01-15T10:00:00.999Z"}
    assert _ids(_page(x, acct, **window)) == [ids[4], ids[3], ids[2]]
    offset = {"start_time": "2027-01-15T10:30:00+01:00"}  # 09:30 UTC
    assert _ids(_page(x, acct, **offset))[-1] == ids[2]
    assert _ids(_page(x, acct, since_id=ids[6], start_time="2027-01-15T09:00:00Z")) == [ids[7]]
    assert _ids(_page(x, acct, until_id=ids[1], end_time="2027-01-15T11:00:00Z")) == [ids[0]]
    first = _page(x, acct, max_results=5, **window)
    assert "next_token" not in first["meta"]
    paged = _page(x, acct, max_results=5, since_id=ids[0])
    rest = _page(
        x, acct, max_results=5, since_id=ids[0], pagination_token=paged["meta"]["next_token"]
    )
    assert _ids(paged) + _ids(rest) == ids[:0:-1]


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({"max_results": 4}, "max_results", "value [4] is not between 5 and 100"),
        ({"max_results": 101}, "max_results", "value [101] is not between 5 and 100"),
        ({"max_results": "ten"}, "max_results", "value [ten] is not between 5 and 100"),
        ({"pagination_token": "not-a-token"}, "pagination_token", "[not-a-token] is not valid"),
        ({"pagination_token": ""}, "pagination_token", "value [] is not valid"),
        ({"since_id": "12a"}, "since_id", "[12a] does not match ^[0-9]{1,19}$"),
        ({"until_id": "1" * 20}, "until_id", "does not match ^[0-9]{1,19}$"),
        ({"since_id": "9", "until_id": "9"}, "since_id", "must be less than the `until_id`"),
        ({"start_time": "2027-01-15"}, "start_time", "is not a valid RFC 3339 date-time"),
        ({"end_time": "2027-01-15T09:00:00"}, "end_time", "is not a valid RFC 3339 date-time"),
        ({"start_time": "2027-13-01T00:00:00Z"}, "start_time", "not a valid RFC 3339"),
        ({"start_time": "2010-11-05T23:59:59Z"}, "start_time", "is before 2010-11-06T00:00:00Z"),
        ({"end_time": "2010-11-06T00:00:00Z"}, "end_time", "is before 2010-11-06T00:00:01Z"),
        (
            {"start_time": "2027-01-15T10:00:00Z", "end_time": "2027-01-15T10:00:00Z"},
            "start_time",
            "must be before the `end_time`",
        ),
        ({"exclude": "quotes"}, "exclude", "value [quotes] is not one of [replies,retweets]"),
    ],
)
def test_timeline_refuses_bad_parameters_in_x_envelope(
    x: XSandbox, params: dict[str, Any], name: str, message: str
) -> None:
    """Each out-of-range or malformed parameter is X's 400 invalid-request problem, naming the
    parameter with the value sent."""
    acct = x.account()
    response = _timeline(x, acct, **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == INVALID and body["title"] == "Invalid Request"
    [error] = body["errors"]
    assert message in error["message"] and name in error["parameters"], error


def test_a_page_token_is_bound_to_its_timeline(x: XSandbox) -> None:
    """A token from one user's timeline, or one altered by a character, is not valid."""
    alice, bob = _busy_account(x, "alice"), _busy_account(x, "bob")
    _post_many(x, alice, 6)
    _post_many(x, bob, 6, prefix="bob")
    token = _page(x, alice, max_results=5)["meta"]["next_token"]
    assert _timeline(x, bob, max_results=5, pagination_token=token).status_code == 400
    altered = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert _timeline(x, alice, max_results=5, pagination_token=altered).status_code == 400
    assert _timeline(x, alice, max_results=5, pagination_token=token).status_code == 200


def test_token_endpoint(x: XSandbox) -> None:
    """Confidential clients need Basic auth; refresh tokens rotate; dead ones are refused."""
    acct = x.account()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": acct["refresh_token"],
        "client_id": "sandbox-client",
    }
    missing = x.http.post(TOKEN, data=form)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"
    auth = ("sandbox-client", "sandbox-secret")
    ok = x.http.post(TOKEN, data=form, auth=auth)
    assert ok.status_code == 200 and ok.json()["expires_in"] == 7200
    assert ok.json()["refresh_token"] != acct["refresh_token"]
    dead = x.http.post(TOKEN, data=form, auth=auth)
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_request"


def test_injected_faults(x: XSandbox) -> None:
    """failure_rate → 503 problem; rate_limit_rate → 429 with a reset retry_after_seconds away."""
    acct = x.account()
    x.http.post("/x/_fake/faults", json={"failure_rate": 1.0}).raise_for_status()
    assert x.http.post(TWEETS, json={"text": "a"}, headers=bearer(acct)).status_code == 503
    x.http.post(
        "/x/_fake/faults",
        json={"failure_rate": 0.0, "rate_limit_rate": 1.0, "retry_after_seconds": 30},
    ).raise_for_status()
    limited = x.http.post(TWEETS, json={"text": "a"}, headers=bearer(acct))
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-reset"] == str(int(START) + 30)


def test_a_page_token_altered_in_its_unused_bits_is_refused() -> None:
    """Unpadded base32 ends in a character whose low bits carry nothing: flipping them must
    not give another spelling of a valid token."""
    tokens = PageTokens()
    for boundary in range(40):
        token = tokens.issue("u1", Cursor(older=True, boundary=boundary))
        assert tokens.read("u1", token) == Cursor(older=True, boundary=boundary)
        for other in "abcdefghijklmnopqrstuvwxyz234567":
            if other != token[-1]:
                assert tokens.read("u1", token[:-1] + other) is None, (token, other)


def test_a_post_is_looked_up_and_deleted_by_its_author_only(x: XSandbox) -> None:
    """GET /2/tweets/:id finds a post; DELETE answers {"data":{"deleted":true}} to its
    author only (401 without a token, 403 for another user), after which the lookup says
    not found, the timeline misses it, and a second delete is 404; a malformed id is 400."""
    author, other = x.account("alice"), x.account("bob")
    made = x.http.post(TWEETS, json={"text": "soon gone"}, headers=bearer(author))
    tweet_id = made.json()["data"]["id"]
    path = f"{TWEETS}/{tweet_id}"
    found = x.http.get(path, params={"tweet.fields": "created_at"}, headers=bearer(other))
    assert found.json()["data"]["id"] == tweet_id and found.json()["data"]["created_at"]
    assert x.http.delete(path).status_code == 401
    denied = x.http.delete(path, headers=bearer(other))
    assert (denied.status_code, denied.json()["title"]) == (403, "Forbidden")
    done = x.http.delete(path, headers=bearer(author))
    assert done.status_code == 200 and done.json() == {"data": {"deleted": True}}
    assert int(done.headers["x-rate-limit-limit"]) == 50
    assert x.state()["posts"] == []
    missing = x.http.get(path, headers=bearer(author)).json()
    assert "data" not in missing
    assert missing["errors"][0]["type"].endswith("/resource-not-found")
    timeline = x.http.get(
        f"/x/2/users/{author['external_id']}/tweets", headers=bearer(author)
    ).json()
    assert "data" not in timeline
    again = x.http.delete(path, headers=bearer(author))
    assert again.status_code == 404 and again.json()["resource_id"] == tweet_id
    assert x.http.delete(f"{TWEETS}/abc", headers=bearer(author)).status_code == 400


def test_public_metrics_grow_with_the_posts_age(x: XSandbox) -> None:
    long_lived = {"handle": "alice", "access_ttl_seconds": 86400}
    author = x.http.post("/x/_fake/accounts", json=long_lived).json()
    tweet_id = x.http.post(TWEETS, json={"text": "count me"}, headers=bearer(author)).json()[
        "data"
    ]["id"]

    def metrics() -> dict[str, int]:
        found = x.http.get(f"{TWEETS}/{tweet_id}", params={"tweet.fields": "public_metrics"},
                           headers=bearer(author)).json()  # fmt: skip
        counts: dict[str, int] = found["data"]["public_metrics"]
        return counts

    x.clock.advance(3600)
    early = metrics()
    x.clock.advance(5 * 3600)
    late = metrics()
    assert set(early) == {"retweet_count", "reply_count", "like_count", "quote_count",
                          "bookmark_count", "impression_count"}  # fmt: skip
    assert 0 < early["impression_count"] < late["impression_count"]
    plain = x.http.get(f"{TWEETS}/{tweet_id}", headers=bearer(author)).json()["data"]
    assert "public_metrics" not in plain
