"""The X client against the X fake over loopback, and its pure rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.clock import FrozenClock
from crosspost.domain.enums import ErrorKind, MediaKind, TargetStatus
from crosspost.fakes import FakeConfig, serve_in_thread
from crosspost.fakes.x import XFake, XLimits
from crosspost.platforms.base import AppCredentials, Credentials
from crosspost.platforms.errors import AlreadyExists, PlatformError
from crosspost.platforms.http import new_http_client
from crosspost.platforms.x import XClient
from crosspost.platforms.x_rules import (
    IMAGE_LIMITS,
    TEXT_LIMITS,
    VIDEO_LIMITS,
    plan_segments,
    weighted_length,
)

from .conftest import CLIENT_ID, CLIENT_SECRET, MIB, Sandbox, drive, make_media, make_request

MB5 = 5 * MIB
XSandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def make_x() -> Iterator[XSandboxFactory]:
    """Start an X fake (FakeConfig keywords, optional XLimits) with a shared FrozenClock."""
    started: list[tuple[Any, Any]] = []

    def start(limits: XLimits | None = None, **config: Any) -> Sandbox:
        clock = FrozenClock(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
        config.setdefault("processing_seconds", 5.0)
        fake = XFake(FakeConfig.of(clock=lambda: clock.now().timestamp(), **config), limits=limits)
        server = serve_in_thread(Starlette(routes=[Mount("/x", app=fake.asgi())]))
        http = new_http_client(timeout=10.0)
        started.append((server, http))
        return Sandbox(server.url, clock, http)

    yield start
    for server, http in started:
        http.close()
        server.stop()


@pytest.fixture
def sandbox(make_x: XSandboxFactory) -> Sandbox:
    """An X fake with the default configuration."""
    return make_x()


def app(sandbox: Sandbox) -> AppCredentials:
    """The sandbox's confidential OAuth client."""
    return AppCredentials(CLIENT_ID, CLIENT_SECRET, f"{sandbox.base('x')}/2/oauth2/token")


def client_for(sandbox: Sandbox, chunk: int = MB5) -> XClient:
    """An X client on the fake."""
    return XClient(sandbox.http, sandbox.base("x"), chunk_bytes=chunk, clock=sandbox.clock)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The fake's posts."""
    found: list[dict[str, Any]] = sandbox.state("x")["posts"]
    return found


# -- rules ---------------------------------------------------------------------------------


def test_weighted_length_and_limits() -> None:
    """URLs weigh 23, CJK 2; limits follow the reference per post type."""
    assert weighted_length("hello") == 5
    assert weighted_length("see https://example.com/a/very/long/path?x=1 now") == 4 + 23 + 4
    assert weighted_length("日本語") == 6
    assert weighted_length("é—") == 2  # Latin-1 and general punctuation weigh 1
    assert VIDEO_LIMITS.max_duration_seconds == 1200 and VIDEO_LIMITS.max_bytes == 8 * 1024**3
    assert VIDEO_LIMITS.audio_codecs == frozenset({"aac"}) and VIDEO_LIMITS.max_fps == 60
    assert IMAGE_LIMITS.max_bytes == 5 * MIB and TEXT_LIMITS.text_only
    client = XClient(new_http_client(), "http://unused")
    assert client.limits_for(None) is TEXT_LIMITS


def test_plan_segments() -> None:
    """Segments are at most 5 MB, growing toward 8 MB only to stay within 1000 appends."""
    assert plan_segments(100, MB5) == MB5
    assert plan_segments(100 * MIB, 64 * MIB) == MB5
    assert plan_segments(100 * MIB, MIB) == MIB
    assert plan_segments(6000 * MIB, MB5) == -(-6000 * MIB // 1000)
    with pytest.raises(ValueError, match="8 MB"):
        plan_segments(8001 * MIB, MB5)


# -- against the fake ----------------------------------------------------------------------


def test_happy_path_video(sandbox: Sandbox, tmp_path: Path) -> None:
    """initialize, three appends, finalize, one status poll after check_after_secs, post."""
    media = make_media(tmp_path, 12 * MIB + 3)
    external_id, creds = sandbox.account("x", "poster")
    request = make_request(media, external_id=external_id, handle="poster", text="New clip")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)

    [post] = posts(sandbox)
    [upload] = sandbox.state("x")["media"]
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert run.result.external_id == post["id"]
    assert run.result.external_url == f"https://x.com/poster/status/{post['id']}"
    assert (post["sha256"], post["size"]) == (media.sha256, media.size)
    assert post["media_ids"] == [upload["id"]] and upload["segments"] == [0, 1, 2]
    assert run.phases == ["<new>", "append", "append", "append", "finalize", "status", "tweet"]
    assert run.waits == [5.0]  # exactly the fake's check_after_secs
    assert run.commit_steps == 1
    assert run.event_names()[0] == "upload_started"


def test_image_post_has_no_processing(sandbox: Sandbox, tmp_path: Path) -> None:
    """An image is one APPEND with tweet_image and is usable right after FINALIZE."""
    base = make_media(tmp_path, 300_000, name="p.png", content_type="image/png")
    media = replace(base, kind=MediaKind.IMAGE, duration_seconds=None)
    external_id, creds = sandbox.account("x")
    run = drive(
        client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
    )
    [upload] = sandbox.state("x")["media"]
    assert (upload["media_category"], upload["media_type"]) == ("tweet_image", "image/png")
    assert run.waits == [] and posts(sandbox)[0]["sha256"] == media.sha256


def test_text_only_post(sandbox: Sandbox) -> None:
    """A text post persists the commit phase first, then makes one call."""
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    request = make_request(None, external_id=external_id, text="Just words")
    first = client.step(request, {}, creds)
    assert client.is_commit(first.session) and sandbox.state("x")["calls"] == {}
    drive(client, request, creds, sandbox.clock, session=first.session)
    assert [p["text"] for p in posts(sandbox)] == ["Just words"]


def test_overweight_text_is_refused_before_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    """141 CJK characters weigh 282: refused before any call, with how much to cut."""
    _, creds = sandbox.account("x")
    request = make_request(make_media(tmp_path, 1000), text="字" * 141)
    with pytest.raises(PlatformError, match="by at least 2") as caught:
        client_for(sandbox).step(request, {}, creds)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "text_too_long")
    assert sandbox.state("x")["calls"] == {}


def test_resends_a_segment_cut_mid_transfer(sandbox: Sandbox, tmp_path: Path) -> None:
    """A reset mid-APPEND is transient; the same segment_index is re-sent and replaces it."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("x")
    sandbox.faults("x", reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults("x", reset_mid_chunk_rate=0.0)

    request = make_request(media, external_id=external_id)
    run = drive(client_for(sandbox), request, creds, sandbox.clock, on_error=heal)
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.TRANSIENT, "network_error")]
    assert posts(sandbox)[0]["sha256"] == media.sha256
    assert sandbox.state("x")["calls"]["media.append"] == 4  # 3 segments + 1 re-send


def test_killed_worker_resumes_from_the_saved_segment(sandbox: Sandbox, tmp_path: Path) -> None:
    """A new worker continues with the saved media id and next segment_index."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("x")
    request = make_request(media, external_id=external_id)
    first = drive(
        client_for(sandbox),
        request,
        creds,
        sandbox.clock,
        until=lambda s: s.get("segment_index") == 2,
    )
    drive(client_for(sandbox), request, creds, sandbox.clock, session=first.session)
    state = sandbox.state("x")
    assert len(state["media"]) == 1 and state["calls"]["media.initialize"] == 1
    assert state["calls"]["media.append"] == 3 and state["posts"][0]["sha256"] == media.sha256


def test_expired_token_mid_upload_refreshes_and_rotates(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 401 mid-upload refreshes (Basic auth) and continues; the old refresh token dies."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(
        client, request, creds, sandbox.clock, until=lambda s: s.get("segment_index") == 1
    )
    sandbox.faults("x", expire_tokens=True)
    run = drive(client, request, creds, sandbox.clock, app=app(sandbox), session=first.session)
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.AUTH, "unauthorized")]
    assert run.creds is not None and run.creds.refresh_token not in {None, creds.refresh_token}
    assert "media.write" in run.creds.scopes
    assert posts(sandbox)[0]["sha256"] == media.sha256 and len(sandbox.state("x")["media"]) == 1
    with pytest.raises(PlatformError) as caught:
        client.refresh(creds, app(sandbox))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")


@pytest.mark.parametrize(
    ("knobs", "kind", "code", "status", "retry"),
    [
        ({"failure_rate": 1.0}, ErrorKind.TRANSIENT, "service_unavailable", 503, None),
        (
            {"rate_limit_rate": 1.0, "retry_after_seconds": 7},
            ErrorKind.RATE_LIMITED,
            "too_many_requests",
            429,
            7.0,
        ),
        ({"quota_exhausted": True}, ErrorKind.QUOTA, "too_many_requests", 429, 86400.0),
    ],
)
def test_fault_knobs_map_to_error_kinds(
    sandbox: Sandbox,
    knobs: dict[str, Any],
    kind: ErrorKind,
    code: str,
    status: int,
    retry: float | None,
) -> None:
    """5xx transient; 429 waits until x-rate-limit-reset; the 24 h cap is a quota."""
    external_id, creds = sandbox.account("x")
    sandbox.faults("x", **knobs)
    request = make_request(None, external_id=external_id)
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).step(request, {"phase": "tweet"}, creds)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.retry_after == retry and error.raw["status"] == status
    assert posts(sandbox) == []


def test_real_window_429_uses_the_reset_header(make_x: XSandboxFactory) -> None:
    """With one post per 15 min, the second waits until the window's x-rate-limit-reset."""
    sandbox = make_x(limits=XLimits(tweets_per_15min=1))
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    client.step(make_request(None, external_id=external_id, text="one"), {"phase": "tweet"}, creds)
    sandbox.clock.advance(100)
    with pytest.raises(PlatformError) as caught:
        client.step(
            make_request(None, external_id=external_id, text="two"), {"phase": "tweet"}, creds
        )
    assert caught.value.kind is ErrorKind.RATE_LIMITED and caught.value.retry_after == 800.0


def test_bad_token_is_auth_and_duplicate_is_permanent(sandbox: Sandbox) -> None:
    """401 → auth; X's 403 duplicate-content keeps its raw detail and is permanent."""
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    request = make_request(None, external_id=external_id, text="same words")
    with pytest.raises(PlatformError) as caught:
        client.step(request, {"phase": "tweet"}, Credentials("xat.nope"))
    assert (caught.value.kind, caught.value.http_status) == (ErrorKind.AUTH, 401)
    client.step(request, {"phase": "tweet"}, creds)
    with pytest.raises(PlatformError) as caught:
        client.step(request, {"phase": "tweet"}, creds)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (
        ErrorKind.PERMANENT,
        "duplicate_content",
        403,
    )
    assert error.raw["detail"] == "You are not allowed to create a Tweet with duplicate content."


def test_failed_processing_is_permanent(sandbox: Sandbox, tmp_path: Path) -> None:
    """processing_info.state == failed ends the target with X's error name and message."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("x")
    sandbox.faults("x", processing_fail_rate=1.0)
    with pytest.raises(PlatformError, match="UnsupportedMedia") as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "InvalidMedia")
    assert posts(sandbox) == []


@pytest.mark.parametrize("with_media", [True, False])
def test_lost_post_answer_is_reconciled(sandbox: Sandbox, tmp_path: Path, with_media: bool) -> None:
    """The post exists but its 201 was lost: reconcile finds it (media id / text), no repost."""
    media = make_media(tmp_path, 1000) if with_media else None
    external_id, creds = sandbox.account("x", "rec")
    sandbox.faults("x", drop_response_after_commit=1)
    request = make_request(media, external_id=external_id, handle="rec", text="Hello there")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.reconciles == 1 and run.result is not None
    assert run.result.external_id == post["id"]
    assert sandbox.state("x")["calls"]["tweets.create"] == 1
    if with_media:
        assert post["text"].startswith("Hello there https://t.co/")  # X appends the media link


def test_reconcile_reposts_when_nothing_was_created(sandbox: Sandbox) -> None:
    """A commit that never reached X is found missing, and the next step posts once."""
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    request = make_request(None, external_id=external_id, text="never sent")
    session = {**client.step(request, {}, creds).session, "commit_attempted": True}
    result = client.reconcile(request, session, creds)
    assert result.session["phase"] == "tweet" and "commit_attempted" not in result.session
    drive(client, request, creds, sandbox.clock, session=result.session)
    assert len(posts(sandbox)) == 1


def test_expired_media_restarts_the_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    """A media id past expires_after_secs is abandoned for a fresh initialize."""
    media = make_media(tmp_path, 6 * MIB)
    external_id, creds = sandbox.account("x")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(
        client, request, creds, sandbox.clock, until=lambda s: s.get("segment_index") == 1
    )
    sandbox.clock.advance(86400)
    fresh = sandbox.account("x")[1]  # the old token expired meanwhile
    run = drive(client, request, fresh, sandbox.clock, session=first.session)
    assert run.event_names()[0] == "upload_restarted"
    assert len(sandbox.state("x")["media"]) == 2 and posts(sandbox)[0]["sha256"] == media.sha256


def test_duplicate_refusal_names_its_post_through_find_existing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """X's duplicate-content 403 is an AlreadyExists; find_existing finds the post carrying our
    text even when its media is an earlier upload than the session's (a restarted upload)."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("x", "dup")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id, handle="dup", text="Twice #clip")
    first = drive(client, request, creds, sandbox.clock)
    assert first.result is not None
    again = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    with pytest.raises(AlreadyExists) as caught:
        client.step(request, again.session, creds)
    assert caught.value.code == "duplicate_content" and caught.value.definite_refusal
    since = sandbox.clock.now()
    found = client.find_existing(request, again.session, creds, refusal=caught.value, since=since)
    assert found is not None and found.status is TargetStatus.PUBLISHED
    assert found.external_id == first.result.external_id
    assert found.session["media_id"] == again.session["media_id"]  # not the tweet's media
    other = make_request(media, external_id=external_id, handle="dup", text="Someone else")
    missing = client.find_existing(other, again.session, creds, refusal=caught.value, since=since)
    assert missing is None


BURIED_UNDER = 150  # more than one page of 100: only next_token reaches the post


def busy_account(sandbox: Sandbox, handle: str) -> tuple[str, Credentials]:
    """An account whose token outlives the days of posting that bury a post."""
    response = sandbox.http.post(
        f"{sandbox.base('x')}/_fake/accounts",
        json={"handle": handle, "access_ttl_seconds": 10**8},
    )
    response.raise_for_status()
    account = response.json()
    creds = Credentials(
        access_token=account["access_token"], refresh_token=account["refresh_token"]
    )
    return account["external_id"], creds


def bury(sandbox: Sandbox, creds: Credentials, count: int = BURIED_UNDER) -> None:
    """The same user posts `count` times from another app, every 15 minutes (under X's daily
    cap), so the post before them is no longer on the timeline's first page."""
    for n in range(count):
        response = sandbox.http.post(
            f"{sandbox.base('x')}/2/tweets",
            json={"text": f"elsewhere {n}"},
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        assert response.status_code == 201, response.text
        sandbox.clock.advance(900)


@pytest.mark.parametrize("with_media", [True, False])
def test_reconcile_pages_to_a_post_behind_many_newer_ones(
    sandbox: Sandbox, tmp_path: Path, with_media: bool
) -> None:
    """The post's 201 is lost and the user then posts 150 times elsewhere: reconcile follows
    meta.next_token past the first page, names the post and posts nothing again."""
    media = make_media(tmp_path, 1000) if with_media else None
    external_id, creds = busy_account(sandbox, "busy")
    sandbox.faults("x", drop_response_after_commit=1)
    request = make_request(media, external_id=external_id, handle="busy", text="Buried deep")
    run = drive(
        client_for(sandbox), request, creds, sandbox.clock, on_error=lambda _: bury(sandbox, creds)
    )
    ours = next(p for p in posts(sandbox) if p["caption"].startswith("Buried deep"))
    assert run.reconciles == 1 and run.result is not None
    assert run.result.external_id == ours["id"]
    assert sandbox.state("x")["calls"]["tweets.create"] == 1 + BURIED_UNDER
    assert sandbox.state("x")["calls"]["users.tweets"] >= 2  # a page past the first


def test_find_existing_pages_to_a_post_behind_many_newer_ones(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """X refuses a retry as duplicate content after the user posted 150 times since ours:
    find_existing reaches the post on a later page and names it."""
    media = make_media(tmp_path, 1000)
    external_id, creds = busy_account(sandbox, "busy")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id, handle="busy", text="Twice, deep")
    since = sandbox.clock.now()
    first = drive(client, request, creds, sandbox.clock)
    assert first.result is not None
    bury(sandbox, creds)
    again = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    with pytest.raises(AlreadyExists) as caught:
        client.step(request, again.session, creds)
    found = client.find_existing(request, again.session, creds, refusal=caught.value, since=since)
    assert found is not None and found.external_id == first.result.external_id
