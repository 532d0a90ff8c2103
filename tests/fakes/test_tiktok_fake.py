"""The TikTok fake over real HTTP: creator info, init rules, uploads, status, tokens, faults."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crosspost.fakes import RunningServer, serve_in_thread

from .conftest import Sandbox, bearer

MB = 1024 * 1024
INIT = "/tiktok/v2/post/publish/video/init/"
INBOX_INIT = "/tiktok/v2/post/publish/inbox/video/init/"
STATUS = "/tiktok/v2/post/publish/status/fetch/"
CREATOR = "/tiktok/v2/post/publish/creator_info/query/"
TOKEN = "/tiktok/v2/oauth/token/"
POST_INFO = {"title": "Hello #fyp", "privacy_level": "SELF_ONLY"}


def _source(size: int, chunk: int, count: int | None = None) -> dict[str, Any]:
    return {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": size // chunk if count is None else count,
    }


def _init(
    sandbox: Sandbox,
    account: dict[str, Any],
    source_info: dict[str, Any],
    post_info: dict[str, Any] | None = None,
    *,
    url: str = INIT,
) -> httpx.Response:
    body: dict[str, Any] = {"source_info": source_info}
    if url == INIT:
        body["post_info"] = POST_INFO if post_info is None else post_info
    return sandbox.http.post(url, json=body, headers=bearer(account))


def _put(sandbox: Sandbox, upload_url: str, data: bytes, first: int, total: int) -> httpx.Response:
    headers = {
        "Content-Type": "video/mp4",
        "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
    }
    return sandbox.http.put(upload_url, content=data, headers=headers)


def _upload(sandbox: Sandbox, upload_url: str, data: bytes, chunk: int) -> list[int]:
    """Send ``data`` in TikTok's chunks (the last one takes the remainder); return statuses."""
    count = max(1, len(data) // chunk)
    statuses = []
    for index in range(count):
        end = len(data) if index == count - 1 else (index + 1) * chunk
        piece = data[index * chunk : end]
        statuses.append(_put(sandbox, upload_url, piece, index * chunk, len(data)).status_code)
    return statuses


def _status(sandbox: Sandbox, account: dict[str, Any], publish_id: str) -> dict[str, Any]:
    response = sandbox.http.post(STATUS, json={"publish_id": publish_id}, headers=bearer(account))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == "ok"
    data: dict[str, Any] = body["data"]
    return data


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["log_id"]


SECRET = "sandbox-secret"


def _refresh(sandbox: Sandbox, refresh_token: str, secret: str = SECRET) -> httpx.Response:
    form = {
        "client_key": "sandbox-client",
        "client_secret": secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    return sandbox.http.post(TOKEN, data=form)


def test_creator_info_returns_the_configured_options(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """creator_info/query answers with the creator's names, options and limits."""
    sandbox = make_sandbox(tiktok_privacy_level_options=("SELF_ONLY",), tiktok_duet_disabled=True)
    account = sandbox.account("tiktok", "creator")
    body = sandbox.http.post(CREATOR, headers=bearer(account)).json()
    assert body["error"]["code"] == "ok"
    data = body["data"]
    assert (data["creator_username"], data["creator_nickname"]) == ("creator", "creator")
    assert data["privacy_level_options"] == ["SELF_ONLY"]
    assert data["max_video_post_duration_sec"] == 600
    assert (data["duet_disabled"], data["comment_disabled"], data["stitch_disabled"]) == (
        True,
        False,
        False,
    )


def test_direct_post_in_chunks_is_published_after_processing(sandbox: Sandbox) -> None:
    """init → 206 for the first chunk, 201 for the last → PROCESSING_UPLOAD → PUBLISH_COMPLETE."""
    account = sandbox.account("tiktok")
    data = random.Random(1).randbytes(12 * MB + 321)
    init = _init(sandbox, account, _source(len(data), 5 * MB))
    assert init.status_code == 200 and init.json()["error"]["code"] == "ok"
    publish_id = init.json()["data"]["publish_id"]
    upload_url = init.json()["data"]["upload_url"]
    assert upload_url.startswith(f"{sandbox.server.url}/tiktok/video/?upload_id=")
    assert _status(sandbox, account, publish_id)["status"] == "PROCESSING_UPLOAD"
    assert _upload(sandbox, upload_url, data, 5 * MB) == [206, 201]
    processing = _status(sandbox, account, publish_id)
    assert processing["status"] == "PROCESSING_UPLOAD"
    assert processing["uploaded_bytes"] == len(data)
    sandbox.clock.advance(5)
    done = _status(sandbox, account, publish_id)
    assert done["status"] == "PUBLISH_COMPLETE"
    assert len(done["publicaly_available_post_id"]) == 1
    [post] = sandbox.state("tiktok")["posts"]
    assert post["id"] == publish_id and post["caption"] == POST_INFO["title"]
    assert (post["size"], post["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert post["privacy"] == "SELF_ONLY" and post["status"] == "PUBLISH_COMPLETE"


def test_inbox_upload_ends_in_the_users_inbox(sandbox: Sandbox) -> None:
    """The inbox variant takes only source_info, and a small file goes as one chunk."""
    account = sandbox.account("tiktok")
    data = random.Random(2).randbytes(MB)
    init = _init(sandbox, account, _source(len(data), len(data)), url=INBOX_INIT)
    assert init.status_code == 200, init.text
    assert _upload(sandbox, init.json()["data"]["upload_url"], data, len(data)) == [201]
    sandbox.clock.advance(5)
    status = _status(sandbox, account, init.json()["data"]["publish_id"])
    assert status["status"] == "SEND_TO_USER_INBOX"
    assert sandbox.state("tiktok")["posts"][0]["mode"] == "inbox"


@pytest.mark.parametrize(
    "source_info",
    [
        _source(MB, MB // 2, 2),  # under 5 MB: one chunk of the whole size
        _source(MB, MB, 2),
        _source(12 * MB, 4 * MB),  # chunk below 5 MB
        _source(100 * MB, 100 * MB, 1),  # over 64 MB must be chunked
        _source(12 * MB, 5 * MB, 3),  # count is floor(size / chunk)
        _source(12 * MB, 13 * MB, 1),  # chunk larger than the file
        _source(5 * 1024 * MB, 64 * MB),  # over 4 GB
        {"source": "FILE_UPLOAD", "video_size": "12", "chunk_size": 12, "total_chunk_count": 1},
        {"source": "CARRIER_PIGEON"},
    ],
)
def test_chunk_rules_are_enforced_at_init(sandbox: Sandbox, source_info: dict[str, Any]) -> None:
    """Every FILE_UPLOAD chunking rule of the media transfer guide answers invalid_params."""
    account = sandbox.account("tiktok")
    _error(_init(sandbox, account, source_info), 400, "invalid_params")
    assert sandbox.state("tiktok")["publishes"] == []


def test_post_info_rules(sandbox: Sandbox) -> None:
    """privacy_level must be offered; the title is at most 2200 UTF-16 units."""
    account = sandbox.account("tiktok")
    source = _source(MB, MB)
    mismatch = {"privacy_level": "FRIENDS_ONLY", "title": "x"}
    _error(_init(sandbox, account, source, mismatch), 403, "privacy_level_option_mismatch")
    emoji_title = {"privacy_level": "SELF_ONLY", "title": "😀" * 1100 + "x"}  # 2201 units
    _error(_init(sandbox, account, source, emoji_title), 400, "invalid_params")
    fits = {"privacy_level": "SELF_ONLY", "title": "😀" * 1100}
    assert _init(sandbox, account, source, fits).status_code == 200
    _error(_init(sandbox, account, source, {"title": "no privacy"}), 400, "invalid_params")


def test_upload_put_rules(sandbox: Sandbox) -> None:
    """Content-Type, Content-Range, order and sizes are checked; a bad PUT stores nothing."""
    account = sandbox.account("tiktok")
    data = random.Random(3).randbytes(10 * MB + 7)
    url = _init(sandbox, account, _source(len(data), 5 * MB)).json()["data"]["upload_url"]
    first, second = data[: 5 * MB], data[5 * MB :]
    wrong_type = {
        "Content-Type": "text/plain",
        "Content-Range": f"bytes 0-{5 * MB - 1}/{len(data)}",
    }
    _error(sandbox.http.put(url, content=first, headers=wrong_type), 400, "invalid_file_upload")
    no_range = {"Content-Type": "video/mp4"}
    _error(sandbox.http.put(url, content=first, headers=no_range), 400, "invalid_file_upload")
    _error(_put(sandbox, url, second, 5 * MB, len(data)), 400, "invalid_file_upload")  # order
    _error(_put(sandbox, url, first[:-1], 0, len(data)), 400, "invalid_file_upload")  # size
    _error(_put(sandbox, url, first, 0, len(data) + 1), 400, "invalid_file_upload")  # total
    publish_id = sandbox.state("tiktok")["publishes"][0]["id"]
    assert _status(sandbox, account, publish_id)["uploaded_bytes"] == 0
    assert _put(sandbox, url, first, 0, len(data)).status_code == 206
    assert _put(sandbox, url, first, 0, len(data)).status_code == 206  # a re-send is harmless
    assert _put(sandbox, url, second, 5 * MB, len(data)).status_code == 201
    assert sandbox.state("tiktok")["posts"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    _error(sandbox.http.put(url + "x", content=b"x"), 404, "invalid_params")


def test_upload_url_expires_after_an_hour(sandbox: Sandbox) -> None:
    """The upload URL stops working after an hour."""
    account = sandbox.account("tiktok", access_ttl_seconds=7200)
    url = _init(sandbox, account, _source(10, 10)).json()["data"]["upload_url"]
    sandbox.clock.advance(3600)
    _error(_put(sandbox, url, b"0123456789", 0, 10), 403, "invalid_file_upload")


def test_reset_mid_chunk_stores_nothing_of_that_chunk(sandbox: Sandbox) -> None:
    """A cut chunk is lost whole; re-sending it completes the upload intact."""
    account = sandbox.account("tiktok")
    data = random.Random(4).randbytes(2 * MB)
    init = _init(sandbox, account, _source(len(data), len(data))).json()["data"]
    sandbox.faults("tiktok", reset_mid_chunk_rate=1.0)
    with pytest.raises(httpx.TransportError):
        _put(sandbox, init["upload_url"], data, 0, len(data))
    sandbox.faults("tiktok", reset_mid_chunk_rate=0.0)
    assert _status(sandbox, account, init["publish_id"])["uploaded_bytes"] == 0
    assert _put(sandbox, init["upload_url"], data, 0, len(data)).status_code == 201
    assert sandbox.state("tiktok")["posts"][0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_dropped_final_response_still_publishes_once(sandbox: Sandbox) -> None:
    """The final chunk commits and the connection drops; a re-send gets 201, one post."""
    account = sandbox.account("tiktok")
    data = random.Random(5).randbytes(MB)
    init = _init(sandbox, account, _source(len(data), len(data))).json()["data"]
    sandbox.faults("tiktok", drop_response_after_commit=1)
    with pytest.raises(httpx.TransportError):
        _put(sandbox, init["upload_url"], data, 0, len(data))
    assert len(sandbox.state("tiktok")["posts"]) == 1
    assert _put(sandbox, init["upload_url"], data, 0, len(data)).status_code == 201
    sandbox.clock.advance(5)
    assert _status(sandbox, account, init["publish_id"])["status"] == "PUBLISH_COMPLETE"
    assert len(sandbox.state("tiktok")["posts"]) == 1


def test_processing_failure_reports_a_fail_reason(sandbox: Sandbox) -> None:
    """processing_fail_rate makes the publish FAILED with a fail_reason."""
    account = sandbox.account("tiktok")
    sandbox.faults("tiktok", processing_fail_rate=1.0, processing_seconds=0)
    init = _init(sandbox, account, _source(3, 3)).json()["data"]
    _put(sandbox, init["upload_url"], b"abc", 0, 3)
    status = _status(sandbox, account, init["publish_id"])
    assert status["status"] == "FAILED"
    assert status["fail_reason"] == "file_format_check_failed"


@pytest.fixture
def media_server() -> Iterator[RunningServer]:
    """A small server that hosts a video (and a 404) for PULL_FROM_URL."""
    payload = random.Random(6).randbytes(3 * MB + 11)

    async def video(request: Request) -> Response:
        return Response(payload, media_type="video/mp4")

    app = Starlette(routes=[Route("/media/clip.mp4", video)])
    app.state.payload = payload
    with serve_in_thread(app) as server:
        yield server


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_pull_from_url_downloads_verified_urls_only(
    make_sandbox: Callable[..., Sandbox], media_server: RunningServer
) -> None:
    """Unverified prefixes get url_ownership_unverified; verified ones are downloaded whole."""
    sandbox = make_sandbox(tiktok_verified_url_prefixes=(f"{media_server.url}/media/",))
    account = sandbox.account("tiktok")
    outside = {"source": "PULL_FROM_URL", "video_url": "https://elsewhere.example/clip.mp4"}
    _error(_init(sandbox, account, outside), 403, "url_ownership_unverified")
    source = {"source": "PULL_FROM_URL", "video_url": f"{media_server.url}/media/clip.mp4"}
    init = _init(sandbox, account, source)
    assert init.status_code == 200 and "upload_url" not in init.json()["data"]
    _wait_for(lambda: bool(sandbox.state("tiktok")["posts"]))
    status = _status(sandbox, account, init.json()["data"]["publish_id"])
    assert status["status"] == "PROCESSING_DOWNLOAD"
    sandbox.clock.advance(5)
    assert _status(sandbox, account, init.json()["data"]["publish_id"])["status"] == (
        "PUBLISH_COMPLETE"
    )
    [post] = sandbox.state("tiktok")["posts"]
    payload = random.Random(6).randbytes(3 * MB + 11)
    assert (post["size"], post["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    missing = {"source": "PULL_FROM_URL", "video_url": f"{media_server.url}/media/nope.mp4"}
    failed_id = _init(sandbox, account, missing).json()["data"]["publish_id"]
    _wait_for(lambda: _status(sandbox, account, failed_id)["status"] == "FAILED")
    assert _status(sandbox, account, failed_id)["fail_reason"] == "video_pull_failed"


def test_init_is_limited_to_six_a_minute_per_token(sandbox: Sandbox) -> None:
    """The seventh init within a minute is 429 rate_limit_exceeded; the window slides."""
    account = sandbox.account("tiktok")
    for _ in range(6):
        assert _init(sandbox, account, _source(10, 10)).status_code == 200
    _error(_init(sandbox, account, _source(10, 10)), 429, "rate_limit_exceeded")
    other = sandbox.account("tiktok", "bob")
    assert _init(sandbox, other, _source(10, 10)).status_code == 200
    sandbox.clock.advance(60)
    assert _init(sandbox, account, _source(10, 10)).status_code == 200


def test_status_and_creator_info_limits(make_sandbox: Callable[..., Sandbox]) -> None:
    """status/fetch and creator_info/query have their own per-token limits (configurable)."""
    sandbox = make_sandbox(tiktok_status_per_minute=2, tiktok_creator_info_per_minute=1)
    account = sandbox.account("tiktok")
    publish_id = _init(sandbox, account, _source(10, 10)).json()["data"]["publish_id"]
    for _ in range(2):
        _status(sandbox, account, publish_id)
    limited = sandbox.http.post(STATUS, json={"publish_id": publish_id}, headers=bearer(account))
    _error(limited, 429, "rate_limit_exceeded")
    assert sandbox.http.post(CREATOR, headers=bearer(account)).status_code == 200
    _error(sandbox.http.post(CREATOR, headers=bearer(account)), 429, "rate_limit_exceeded")


def test_refresh_rotates_the_refresh_token(sandbox: Sandbox) -> None:
    """A refresh returns a new refresh token; the old one is then invalid_grant."""
    account = sandbox.account("tiktok")
    unknown = sandbox.http.post(CREATOR, headers={"Authorization": "Bearer nope"})
    _error(unknown, 401, "access_token_invalid")
    wrong = _refresh(sandbox, account["refresh_token"], secret="nope")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    first = _refresh(sandbox, account["refresh_token"])
    body = first.json()
    assert first.status_code == 200 and body["open_id"] == account["external_id"]
    assert body["refresh_token"] != account["refresh_token"] and body["expires_in"] == 86400
    old = _refresh(sandbox, account["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert old.json()["log_id"]
    assert _refresh(sandbox, body["refresh_token"]).status_code == 200


def test_expired_access_token_then_refresh(sandbox: Sandbox) -> None:
    """An expired token gets access_token_invalid; the refreshed one works."""
    account = sandbox.account("tiktok", access_ttl_seconds=30)
    sandbox.clock.advance(30)
    _error(sandbox.http.post(CREATOR, headers=bearer(account)), 401, "access_token_invalid")
    fresh = _refresh(sandbox, account["refresh_token"]).json()
    assert sandbox.http.post(CREATOR, headers=bearer(fresh)).status_code == 200


def test_quota_and_injected_faults_use_tiktoks_codes(sandbox: Sandbox) -> None:
    """quota_exhausted → 403 spam_risk_too_many_posts; 5xx → internal_error; 429 injected."""
    account = sandbox.account("tiktok")
    sandbox.faults("tiktok", quota_exhausted=True)
    _error(_init(sandbox, account, _source(10, 10)), 403, "spam_risk_too_many_posts")
    sandbox.faults("tiktok", quota_exhausted=False, failure_rate=1.0)
    _error(_init(sandbox, account, _source(10, 10)), 500, "internal_error")
    sandbox.faults("tiktok", failure_rate=0.0, rate_limit_rate=1.0)
    _error(sandbox.http.post(CREATOR, headers=bearer(account)), 429, "rate_limit_exceeded")
    calls = sandbox.state("tiktok")["calls"]
    assert calls["video.init"] == 2 and calls["creator_info.query"] == 1


def test_status_of_another_users_publish_is_not_found(sandbox: Sandbox) -> None:
    """A publish_id belongs to the token's user; anyone else gets invalid_params."""
    alice, bob = sandbox.account("tiktok", "alice"), sandbox.account("tiktok", "bob")
    publish_id = _init(sandbox, alice, _source(10, 10)).json()["data"]["publish_id"]
    response = sandbox.http.post(STATUS, json={"publish_id": publish_id}, headers=bearer(bob))
    _error(response, 400, "invalid_params")


def test_video_query_lists_the_users_own_videos_with_growing_counts(sandbox: Sandbox) -> None:
    """POST /v2/video/query/: `fields` required and known, 1 to 20 ids; another user's
    video is simply absent; counts grow with time."""
    account, other = sandbox.account("tiktok"), sandbox.account("tiktok", "bob")
    data = random.Random(2).randbytes(2 * MB)
    init = _init(sandbox, account, _source(len(data), len(data))).json()["data"]
    _upload(sandbox, init["upload_url"], data, len(data))
    sandbox.clock.advance(5)
    [video_id] = _status(sandbox, account, init["publish_id"])["publicaly_available_post_id"]
    query = "/tiktok/v2/video/query/"
    fields = {"fields": "id,view_count,like_count,comment_count,share_count"}
    body = {"filters": {"video_ids": [str(video_id)]}}

    def video(who: dict[str, Any]) -> list[dict[str, Any]]:
        answer = sandbox.http.post(query, params=fields, json=body, headers=bearer(who))
        assert answer.status_code == 200 and answer.json()["error"]["code"] == "ok", answer.text
        videos: list[dict[str, Any]] = answer.json()["data"]["videos"]
        return videos

    sandbox.clock.advance(3600)
    [early] = video(account)
    sandbox.clock.advance(3600 * 5)
    [late] = video(account)
    assert early["id"] == str(video_id) and set(early) == {"id", *fields["fields"].split(",")[1:]}
    assert 0 < early["view_count"] < late["view_count"]
    assert video(other) == []
    for params, payload in (
        ({}, body),
        ({"fields": "id,plays"}, body),
        (fields, {"filters": {"video_ids": []}}),
        (fields, {"filters": {"video_ids": [str(n) for n in range(21)]}}),
    ):
        refused = sandbox.http.post(query, params=params, json=payload, headers=bearer(account))
        _error(refused, 400, "invalid_params")
    _error(sandbox.http.post(query, params=fields, json=body), 401, "access_token_invalid")
