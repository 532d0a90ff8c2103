"""The YouTube fake over real HTTP: resumable uploads, strictness, faults, tokens, quota."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from .conftest import Sandbox, bearer

UPLOAD = "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
UNIT = 262_144


def _start(
    sandbox: Sandbox,
    account: dict[str, Any],
    size: int,
    metadata: dict[str, Any] | None = None,
    *,
    url: str = UPLOAD,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = metadata if metadata is not None else {"snippet": {"title": "Clip"}}
    sent = {**bearer(account), "X-Upload-Content-Length": str(size), **(headers or {})}
    return sandbox.http.post(url, json=body, headers=sent)


def _session(sandbox: Sandbox, account: dict[str, Any], size: int, **meta: Any) -> str:
    response = _start(sandbox, account, size, meta or None)
    assert response.status_code == 200, response.text
    location: str = response.headers["location"]
    return location


def _put(sandbox: Sandbox, location: str, data: bytes, first: int, total: int) -> httpx.Response:
    last = first + len(data) - 1
    headers = {"Content-Range": f"bytes {first}-{last}/{total}", "Content-Type": "video/mp4"}
    return sandbox.http.put(location, content=data, headers=headers)


def _status_query(sandbox: Sandbox, location: str, total: int) -> httpx.Response:
    headers = {"Content-Range": f"bytes */{total}", "Content-Length": "0"}
    return sandbox.http.put(location, headers=headers)


def _upload(sandbox: Sandbox, location: str, data: bytes, chunk: int) -> httpx.Response:
    """Send ``data`` in chunks, trusting the Range header; return the final response."""
    offset = 0
    while True:
        response = _put(sandbox, location, data[offset : offset + chunk], offset, len(data))
        if response.status_code != 308:
            return response
        offset = int(response.headers["range"].split("-")[1]) + 1


def _error(response: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["errors"][0]["reason"] == reason
    assert error["message"] and error["status"]
    return error


def _video(sandbox: Sandbox, account: dict[str, Any], video_id: str) -> dict[str, Any]:
    params = {"part": "snippet,status,processingDetails", "id": video_id}
    response = sandbox.http.get(
        "/youtube/youtube/v3/videos", params=params, headers=bearer(account)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert len(items) == 1
    return items[0]


def test_chunked_upload_creates_one_video_that_is_processed_later(sandbox: Sandbox) -> None:
    """Start, two chunks (308 with Range), final chunk (201 resource), then processing."""
    account = sandbox.account("youtube")
    data = random.Random(1).randbytes(3 * UNIT + 1000)
    location = _session(sandbox, account, len(data), snippet={"title": "Hello", "tags": ["a"]})
    assert "upload_id=" in location and location.startswith(sandbox.server.url + "/youtube/")
    first = _put(sandbox, location, data[: 2 * UNIT], 0, len(data))
    assert first.status_code == 308
    assert first.headers["range"] == f"bytes=0-{2 * UNIT - 1}"
    final = _put(sandbox, location, data[2 * UNIT :], 2 * UNIT, len(data))
    assert final.status_code == 201
    video = final.json()
    assert video["kind"] == "youtube#video"
    assert video["snippet"]["title"] == "Hello"
    assert video["status"] == video["status"] | {
        "uploadStatus": "uploaded",
        "privacyStatus": "public",
    }
    [post] = sandbox.state("youtube")["posts"]
    assert post["id"] == video["id"]
    assert post["account_external_id"] == account["external_id"]
    assert (post["size"], post["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    processing = _video(sandbox, account, video["id"])
    assert processing["status"]["uploadStatus"] == "uploaded"
    assert processing["processingDetails"]["processingStatus"] == "processing"
    sandbox.clock.advance(5.0)
    done = _video(sandbox, account, video["id"])
    assert done["status"]["uploadStatus"] == "processed"
    assert done["processingDetails"] == {"processingStatus": "succeeded"}
    assert sandbox.state("youtube")["open_sessions"] == 0


def test_single_request_upload_and_channel_lookup(sandbox: Sandbox) -> None:
    """A PUT without Content-Range carries the whole file; channels.list?mine=true finds us."""
    account = sandbox.account("youtube", "studio")
    location = _session(sandbox, account, 10)
    response = sandbox.http.put(location, content=b"0123456789")
    assert response.status_code == 201
    channels = sandbox.http.get(
        "/youtube/youtube/v3/channels",
        params={"part": "snippet", "mine": "true"},
        headers=bearer(account),
    ).json()
    [channel] = channels["items"]
    assert channel["id"] == account["external_id"]
    assert channel["snippet"]["title"] == "studio"


def test_status_query_reports_progress_and_then_the_final_response(sandbox: Sandbox) -> None:
    """No Range before any byte; Range after a chunk; the original 201 once complete."""
    account = sandbox.account("youtube")
    data = random.Random(2).randbytes(UNIT + 5)
    location = _session(sandbox, account, len(data))
    empty = _status_query(sandbox, location, len(data))
    assert empty.status_code == 308 and "range" not in empty.headers
    _put(sandbox, location, data[:UNIT], 0, len(data))
    partial = _status_query(sandbox, location, len(data))
    assert partial.headers["range"] == f"bytes=0-{UNIT - 1}"
    final = _put(sandbox, location, data[UNIT:], UNIT, len(data))
    again = _status_query(sandbox, location, len(data))
    assert again.status_code == 201 and again.json() == final.json()


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"snippet": {"title": "x" * 101}}, "invalidTitle"),
        ({"snippet": {"title": "a <b> c"}}, "invalidTitle"),
        ({"snippet": {}}, "invalidTitle"),
        ({"snippet": {"title": "ok", "description": "é" * 2501}}, "invalidDescription"),
        (
            {"snippet": {"title": "ok"}, "status": {"privacyStatus": "secret"}},
            "invalidVideoMetadata",
        ),
        (
            {"snippet": {"title": "ok"}, "status": {"publishAt": "2030-01-01T00:00:00Z"}},
            "invalidPublishAt",
        ),
        (
            {
                "snippet": {"title": "ok"},
                "status": {"privacyStatus": "private", "publishAt": "not a time"},
            },
            "invalidPublishAt",
        ),
        ({"snippet": {"title": "ok", "tags": ["t" * 501]}}, "invalidTags"),
    ],
)
def test_invalid_metadata_is_refused(
    sandbox: Sandbox, metadata: dict[str, Any], reason: str
) -> None:
    """Each documented metadata rule answers 400 with its own reason, and opens no session."""
    account = sandbox.account("youtube")
    _error(_start(sandbox, account, 100, metadata), 400, reason)
    assert sandbox.state("youtube")["sessions"] == []


def test_start_needs_the_upload_length(sandbox: Sandbox) -> None:
    """X-Upload-Content-Length is required."""
    account = sandbox.account("youtube")
    response = sandbox.http.post(UPLOAD, json={"snippet": {"title": "x"}}, headers=bearer(account))
    _error(response, 400, "badRequest")


def test_scheduled_private_video_goes_public_on_time(sandbox: Sandbox) -> None:
    """publishAt with private is accepted, echoed in the final response, and applied later."""
    account = sandbox.account("youtube")
    when = datetime.fromtimestamp(sandbox.clock.now + 60, ZoneInfo("Europe/Paris"))
    status = {"privacyStatus": "private", "publishAt": when.isoformat()}
    location = _session(sandbox, account, 4, snippet={"title": "Later"}, status=status)
    final = sandbox.http.put(location, content=b"abcd").json()
    expected = when.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert final["status"]["publishAt"] == expected
    assert final["status"]["privacyStatus"] == "private"
    sandbox.clock.advance(30)
    processed = _video(sandbox, account, final["id"])["status"]
    assert (processed["uploadStatus"], processed["privacyStatus"]) == ("processed", "private")
    sandbox.clock.advance(30)
    published = _video(sandbox, account, final["id"])["status"]
    assert published["privacyStatus"] == "public" and "publishAt" not in published


def test_non_final_chunk_must_be_a_multiple_of_256_kib(sandbox: Sandbox) -> None:
    """A non-final chunk of another size is refused and stores nothing."""
    account = sandbox.account("youtube")
    data = random.Random(3).randbytes(2 * UNIT)
    location = _session(sandbox, account, len(data))
    _error(_put(sandbox, location, data[: UNIT + 1], 0, len(data)), 400, "badRequest")
    assert "range" not in _status_query(sandbox, location, len(data)).headers


def test_misaligned_chunk_stores_nothing_and_reports_the_offset(sandbox: Sandbox) -> None:
    """A chunk whose first byte is not the next expected one gets 308 with the current Range."""
    account = sandbox.account("youtube")
    data = random.Random(4).randbytes(3 * UNIT)
    location = _session(sandbox, account, len(data))
    _put(sandbox, location, data[:UNIT], 0, len(data))
    skipped = _put(sandbox, location, data[2 * UNIT :], 2 * UNIT, len(data))
    assert skipped.status_code == 308
    assert skipped.headers["range"] == f"bytes=0-{UNIT - 1}"
    assert sandbox.state("youtube")["sessions"][0]["received"] == UNIT


def test_content_length_must_match_the_range(sandbox: Sandbox) -> None:
    """A body whose length differs from Content-Range is a 400; a chunked body is a 411."""
    account = sandbox.account("youtube")
    location = _session(sandbox, account, 2 * UNIT)
    headers = {"Content-Range": f"bytes 0-{UNIT}/{2 * UNIT}"}
    response = sandbox.http.put(location, content=b"x" * UNIT, headers=headers)
    _error(response, 400, "badRequest")
    streamed = sandbox.http.put(location, content=iter([b"x" * UNIT]), headers=headers)
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    _error(streamed, 411, "lengthRequired")
    assert "range" not in _status_query(sandbox, location, 2 * UNIT).headers


def test_unknown_session_is_404(sandbox: Sandbox) -> None:
    """A session URI the fake never issued (or that expired) answers 404."""
    response = sandbox.http.put(f"{UPLOAD}&upload_id=nope", content=b"x")
    _error(response, 404, "notFound")


def test_reset_mid_chunk_keeps_whole_units_and_the_upload_resumes(sandbox: Sandbox) -> None:
    """A cut connection keeps a 256 KiB multiple of what was read; resuming completes intact."""
    account = sandbox.account("youtube")
    data = random.Random(5).randbytes(16 * UNIT + 77)
    location = _session(sandbox, account, len(data))
    sandbox.faults("youtube", reset_mid_chunk_rate=1.0)
    with pytest.raises(httpx.TransportError):
        _put(sandbox, location, data[: 16 * UNIT], 0, len(data))
    sandbox.faults("youtube", reset_mid_chunk_rate=0.0)
    status = _status_query(sandbox, location, len(data))
    assert status.status_code == 308
    kept = int(status.headers.get("range", "bytes=0--1").split("-")[1]) + 1
    assert kept % UNIT == 0 and kept < 16 * UNIT
    final = _put(sandbox, location, data[kept:], kept, len(data))
    assert final.status_code == 201
    [post] = sandbox.state("youtube")["posts"]
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_dropped_final_response_commits_once(sandbox: Sandbox) -> None:
    """The final chunk commits, the response is lost; the status query returns the 201."""
    account = sandbox.account("youtube")
    data = random.Random(6).randbytes(UNIT + 9)
    location = _session(sandbox, account, len(data))
    _put(sandbox, location, data[:UNIT], 0, len(data))
    sandbox.faults("youtube", drop_response_after_commit=1)
    with pytest.raises(httpx.TransportError):
        _put(sandbox, location, data[UNIT:], UNIT, len(data))
    [post] = sandbox.state("youtube")["posts"]
    recovered = _status_query(sandbox, location, len(data))
    assert recovered.status_code == 201 and recovered.json()["id"] == post["id"]
    resent = _put(sandbox, location, data[UNIT:], UNIT, len(data))
    assert resent.status_code == 201 and resent.json()["id"] == post["id"]
    assert len(sandbox.state("youtube")["posts"]) == 1
    assert sandbox.http.get("/youtube/_fake/faults").json()["drop_response_after_commit"] == 0


def test_expired_token_is_refused_until_refreshed(sandbox: Sandbox) -> None:
    """Expired → Google's 401; refresh (right client) → a new token that works."""
    account = sandbox.account("youtube", access_ttl_seconds=60)
    params = {"part": "snippet", "mine": "true"}
    url = "/youtube/youtube/v3/channels"
    assert sandbox.http.get(url, params=params, headers=bearer(account)).status_code == 200
    sandbox.clock.advance(60)
    expired = sandbox.http.get(url, params=params, headers=bearer(account))
    _error(expired, 401, "authError")
    assert "invalid_token" in expired.headers["www-authenticate"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account["refresh_token"],
        "client_id": "sandbox-client",
        "client_secret": "wrong",
    }
    assert sandbox.http.post("/youtube/token", data=form).json()["error"] == "invalid_client"
    refreshed = sandbox.http.post("/youtube/token", data=form | {"client_secret": "sandbox-secret"})
    body = refreshed.json()
    assert refreshed.status_code == 200 and "refresh_token" not in body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60
    assert sandbox.http.get(url, params=params, headers=bearer(body)).status_code == 200
    unknown = sandbox.http.post(
        "/youtube/token", data=form | {"client_secret": "sandbox-secret", "refresh_token": "x"}
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_missing_or_malformed_credentials_are_401(sandbox: Sandbox) -> None:
    """No header → reason required; another scheme or an unknown token → authError."""
    sandbox.account("youtube")
    url = "/youtube/youtube/v3/videos?part=status&id=x"
    _error(sandbox.http.get(url), 401, "required")
    _error(sandbox.http.get(url, headers={"Authorization": "Basic abc"}), 401, "authError")
    _error(sandbox.http.get(url, headers={"Authorization": "Bearer nope"}), 401, "authError")


def test_expire_tokens_fault_expires_current_tokens_only(sandbox: Sandbox) -> None:
    """expire_tokens makes every token issued so far expire; a refreshed one works."""
    account = sandbox.account("youtube")
    url = "/youtube/youtube/v3/videos?part=status&id=x"
    sandbox.faults("youtube", expire_tokens=True)
    _error(sandbox.http.get(url, headers=bearer(account)), 401, "authError")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account["refresh_token"],
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    fresh = sandbox.http.post("/youtube/token", data=form).json()
    assert sandbox.http.get(url, headers=bearer(fresh)).status_code == 200


def test_legacy_quota_allows_six_inserts_a_day(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """1600 units per insert from 10,000: the seventh is quotaExceeded until Pacific midnight."""
    sandbox = make_sandbox(quota_model="legacy")
    account = sandbox.account("youtube", access_ttl_seconds=3 * 86400)
    for _ in range(6):
        assert _start(sandbox, account, 10).status_code == 200
    _error(_start(sandbox, account, 10), 403, "quotaExceeded")
    url = "/youtube/youtube/v3/videos?part=status&id=x"
    assert sandbox.http.get(url, headers=bearer(account)).status_code == 200
    pacific = datetime.fromtimestamp(sandbox.clock.now, ZoneInfo("America/Los_Angeles"))
    midnight = (pacific + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    sandbox.clock.advance(midnight.timestamp() - sandbox.clock.now)
    assert _start(sandbox, account, 10).status_code == 200


def test_bucket_quota_limits_insert_calls_separately(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """In the bucket model inserts have their own daily call count; an invalid one counts too."""
    sandbox = make_sandbox(youtube_insert_calls_per_day=2)
    account = sandbox.account("youtube")
    _error(_start(sandbox, account, 10, {"snippet": {"title": "<"}}), 400, "invalidTitle")
    assert _start(sandbox, account, 10).status_code == 200
    _error(_start(sandbox, account, 10), 403, "quotaExceeded")
    quota = sandbox.state("youtube")["quota"]
    assert quota["insert_calls"] == 2 and quota["model"] == "buckets"


def test_quota_exhausted_fault(sandbox: Sandbox) -> None:
    """quota_exhausted answers 403 quotaExceeded on every Data API call."""
    account = sandbox.account("youtube")
    sandbox.faults("youtube", quota_exhausted=True)
    error = _error(_start(sandbox, account, 10), 403, "quotaExceeded")
    assert error["errors"][0]["domain"] == "youtube.quota"


def test_injected_5xx_and_429_use_googles_shapes(sandbox: Sandbox) -> None:
    """failure_rate gives 503 backendError; rate_limit_rate gives 429 with Retry-After."""
    account = sandbox.account("youtube")
    sandbox.faults("youtube", failure_rate=1.0)
    _error(_start(sandbox, account, 10), 503, "backendError")
    sandbox.faults("youtube", failure_rate=0.0, rate_limit_rate=1.0, retry_after_seconds=7)
    limited = _start(sandbox, account, 10)
    _error(limited, 429, "rateLimitExceeded")
    assert limited.headers["retry-after"] == "7"
    assert sandbox.state("youtube")["calls"]["videos.insert"] == 2


def test_processing_failure_fault(sandbox: Sandbox) -> None:
    """processing_fail_rate makes the video end failed with a failureReason."""
    account = sandbox.account("youtube")
    sandbox.faults("youtube", processing_fail_rate=1.0, processing_seconds=0)
    location = _session(sandbox, account, 3)
    video_id = sandbox.http.put(location, content=b"abc").json()["id"]
    video = _video(sandbox, account, video_id)
    assert video["status"]["uploadStatus"] == "failed"
    assert video["status"]["failureReason"] == "conversion"
    assert video["processingDetails"]["processingStatus"] == "failed"


def test_reset_clears_everything(sandbox: Sandbox) -> None:
    """After reset the fake has no posts, no accounts and no calls."""
    account = sandbox.account("youtube")
    sandbox.http.put(_session(sandbox, account, 1), content=b"x")
    assert sandbox.http.post("/youtube/_fake/reset").json() == {"ok": True}
    state = sandbox.state("youtube")
    assert (state["posts"], state["calls"], state["open_sessions"]) == ([], {}, 0)
    _error(_start(sandbox, account, 1), 401, "authError")


def test_forty_mib_in_eight_mib_chunks_keeps_integrity(sandbox: Sandbox) -> None:
    """A 40 MiB file in 8 MiB chunks arrives whole: size and sha256 match."""
    account = sandbox.account("youtube")
    data = random.Random(8).randbytes(40 * 1024 * 1024 + 123)
    location = _session(sandbox, account, len(data))
    final = _upload(sandbox, location, data, 8 * 1024 * 1024)
    assert final.status_code == 201
    [post] = sandbox.state("youtube")["posts"]
    assert (post["size"], post["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


def test_videos_delete_is_for_the_owner_and_the_video_is_gone_after(sandbox: Sandbox) -> None:
    """videos.delete: 401 without a token, 403 forbidden for another channel, 204 for the
    owner (50 units), after which videos.list misses it and a second delete is 404."""
    owner, other = sandbox.account("youtube", "studio"), sandbox.account("youtube", "rival")
    response = sandbox.http.put(_session(sandbox, owner, 10), content=b"0123456789")
    video_id = response.json()["id"]
    path = "/youtube/youtube/v3/videos"
    _error(sandbox.http.delete(path, params={"id": video_id}), 401, "required")
    _error(sandbox.http.delete(path, params={"id": video_id}, headers=bearer(other)), 403,
           "forbidden")  # fmt: skip
    _error(sandbox.http.delete(path, headers=bearer(owner)), 400, "required")
    before = sandbox.state("youtube")["quota"]["units_used"]
    done = sandbox.http.delete(path, params={"id": video_id}, headers=bearer(owner))
    assert done.status_code == 204, done.text
    assert sandbox.state("youtube")["quota"]["units_used"] == before + 50
    assert sandbox.state("youtube")["posts"] == []
    listed = sandbox.http.get(
        path, params={"part": "status", "id": video_id}, headers=bearer(owner)
    ).json()
    assert listed["items"] == []
    again = sandbox.http.delete(path, params={"id": video_id}, headers=bearer(owner))
    _error(again, 404, "videoNotFound")


def test_statistics_grow_with_time_and_are_google_strings(sandbox: Sandbox) -> None:
    """videos.list?part=statistics: string counts (as Google sends them) that grow."""
    account = sandbox.account("youtube", "studio", access_ttl_seconds=86400)
    video_id = sandbox.http.put(_session(sandbox, account, 10), content=b"0123456789").json()["id"]
    params = {"part": "statistics", "id": video_id}

    def statistics() -> dict[str, str]:
        answer = sandbox.http.get("/youtube/youtube/v3/videos", params=params,
                                  headers=bearer(account))  # fmt: skip
        [item] = answer.json()["items"]
        stats: dict[str, str] = item["statistics"]
        return stats

    assert statistics()["viewCount"] == "0"
    sandbox.clock.advance(3600)
    early = statistics()
    sandbox.clock.advance(5 * 3600)
    late = statistics()
    assert set(early) == {"viewCount", "likeCount", "favoriteCount", "commentCount"}
    assert 0 < int(early["viewCount"]) < int(late["viewCount"])
    assert int(early["likeCount"]) <= int(late["likeCount"])
