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
