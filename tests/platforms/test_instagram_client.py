"""The Instagram client against the Instagram fake over loopback, and its pure rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route

from crosspost.clock import FrozenClock
from crosspost.domain.enums import ErrorKind, MediaKind, TargetStatus
from crosspost.fakes import FakeConfig, serve_in_thread
from crosspost.fakes.instagram import InstagramFake
from crosspost.fakes.instagram_rules import InstagramLimits
from crosspost.platforms.base import AppCredentials, Credentials, MediaFile, PublishRequest
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import new_http_client
from crosspost.platforms.instagram import InstagramClient
from crosspost.platforms.instagram_rules import LIMITS, classify, quota_wait
from crosspost.platforms.oauth import pkce_pair

from .conftest import MIB, Sandbox, drive, make_media, make_request

IG = "instagram"
POLL = 60.0
Start = Callable[..., Sandbox]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start an Instagram fake (FakeConfig keywords, optional limits); stopped after the test."""
    servers = []
    clients = []

    def run(*, limits: InstagramLimits | None = None, **config: Any) -> Sandbox:
        clock = FrozenClock(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
        fake = InstagramFake(
            FakeConfig.of(clock=lambda: clock.now().timestamp(), **config), limits=limits
        )
        server = serve_in_thread(Starlette(routes=[Mount(f"/{IG}", app=fake.asgi())]))
        servers.append(server)
        http = new_http_client(timeout=10.0)
        clients.append(http)
        return Sandbox(server.url, clock, http)

    yield run
    for http in clients:
        http.close()
    for server in servers:
        server.stop()


@pytest.fixture
def file_host(tmp_path: Path) -> Iterator[str]:
    """A tiny public file host the fake fetches video_url / image_url from."""

    async def serve(request: Request) -> Response:
        return FileResponse(tmp_path / request.path_params["name"])

    server = serve_in_thread(Starlette(routes=[Route("/media/{name}", serve)]))
    yield server.url
    server.stop()


def client_for(sandbox: Sandbox) -> InstagramClient:
    """A client on the fake, polling once a minute as Meta advises."""
    return InstagramClient(sandbox.http, sandbox.base(IG), poll_seconds=POLL, clock=sandbox.clock)


def app_for(sandbox: Sandbox) -> AppCredentials:
    """The sandbox app; the token URL is the fake's refresh_access_token."""
    return AppCredentials(
        "sandbox-client", "sandbox-secret", f"{sandbox.base(IG)}/refresh_access_token"
    )


def setup(
    sandbox: Sandbox, media: MediaFile | None, **kw: Any
) -> tuple[PublishRequest, Credentials]:
    """A consented account and a request for it."""
    external_id, creds = sandbox.account(IG, "reeler")
    return make_request(media, external_id=external_id, handle="reeler", **kw), creds


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Published media in the fake."""
    found: list[dict[str, Any]] = sandbox.state(IG)["posts"]
    return found


def test_happy_path_resumable(start: Start, tmp_path: Path) -> None:
    """Resumable container, one rupload POST, polls, quota, publish, permalink."""
    sandbox = start(processing_seconds=90.0)
    media = make_media(tmp_path, 3 * MIB + 7)
    request, creds = setup(sandbox, media, text="My reel #one")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)

    [post] = posts(sandbox)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert run.result.external_id == post["id"]
    assert run.result.external_url == post["permalink"]
    assert post["permalink"].startswith("https://www.instagram.com/reel/")
    assert (post["sha256"], post["size"], post["caption"]) == (
        media.sha256,
        media.size,
        "My reel #one",
    )
    assert run.phases[:3] == ["<new>", "upload", "poll"]
    assert run.phases[-3:] == ["quota", "publish", "permalink"]
    assert run.commit_steps == 1
    assert run.waits and set(run.waits) == {POLL}
    assert run.event_names()[:2] == ["upload_started", "upload_complete"]
    assert sandbox.state(IG)["calls"]["rupload"] == 1


def test_video_url_is_fetched_by_meta(start: Start, tmp_path: Path, file_host: str) -> None:
    """Asked for, the container carries video_url; the fake downloads and hashes it."""
    sandbox = start()
    media = make_media(tmp_path, 2 * MIB)
    request, creds = setup(sandbox, media)
    url = f"{file_host}/media/{media.filename}"
    request = replace(
        request, media_url=url, options={**request.options, "instagram_source": "url"}
    )
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.result is not None and run.result.external_id == post["id"]
    assert post["sha256"] == media.sha256
    assert "rupload" not in sandbox.state(IG)["calls"]
    assert sandbox.state(IG)["containers"][0]["source"] == "video_url"


def test_image_needs_media_url(start: Start, tmp_path: Path, file_host: str) -> None:
    """An image without media_url is refused up front; with one it publishes as a feed post."""
    sandbox = start()
    video = make_media(tmp_path, 50_000, name="photo.jpg", content_type="image/jpeg")
    image = replace(video, kind=MediaKind.IMAGE)
    request, creds = setup(sandbox, image)
    client = client_for(sandbox)
    with pytest.raises(PlatformError) as info:
        client.step(request, {}, creds)
    assert (info.value.kind, info.value.code) == (ErrorKind.PERMANENT, "media_url_required")
    assert client.limits_for(MediaKind.IMAGE).max_bytes == 8 * MIB

    request = replace(request, media_url=f"{file_host}/media/photo.jpg")
    run = drive(client, request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert post["media_type"] == "IMAGE" and post["sha256"] == image.sha256
    assert run.result is not None and "/p/" in str(run.result.external_url)


def test_resume_after_reset_mid_upload(start: Start, tmp_path: Path) -> None:
    """A connection reset mid-body: the client reads bytes_transferred and sends the rest."""
    sandbox = start(reset_mid_chunk_rate=1.0)
    media = make_media(tmp_path, 4 * MIB)
    request, creds = setup(sandbox, media)

    def heal(error: PlatformError) -> None:
        sandbox.faults(IG, reset_mid_chunk_rate=0.0)

    run = drive(client_for(sandbox), request, creds, sandbox.clock, on_error=heal)
    assert [e.kind for e in run.errors] == [ErrorKind.TRANSIENT]
    [post] = posts(sandbox)
    assert (post["sha256"], post["size"]) == (media.sha256, media.size)
    resumed = dict(run.events)["upload_complete"]["resumed_at"]
    assert 0 < resumed < media.size  # the second POST started where the first one stopped
    assert sandbox.state(IG)["calls"]["rupload"] == 2


def test_expired_token_cannot_be_refreshed(start: Start, tmp_path: Path) -> None:
    """An expired long-lived token is dead (190/463); refresh says invalid_grant: reconnect."""
    sandbox = start()
    media = make_media(tmp_path, MIB)
    request, creds = setup(sandbox, media)
    client = client_for(sandbox)
    first = client.step(request, {}, creds)
    sandbox.faults(IG, expire_tokens=True)
    with pytest.raises(PlatformError) as info:
        drive(client, request, creds, sandbox.clock, app=app_for(sandbox), session=first.session)
    assert (info.value.kind, info.value.code) == (ErrorKind.AUTH, "invalid_grant")
    assert sandbox.state(IG)["calls"]["refresh_access_token"] == 1


def test_refresh_mid_upload_then_continue(start: Start, tmp_path: Path) -> None:
    """After 24 h the token is refreshed mid-upload and the upload continues with the new one."""
    sandbox = start(reset_mid_chunk_rate=1.0)
    media = make_media(tmp_path, 2 * MIB)
    request, creds = setup(sandbox, media)
    client = client_for(sandbox)
    session = client.step(request, {}, creds).session
    with pytest.raises(PlatformError):
        client.step(request, session, creds)  # interrupted mid-body
    sandbox.faults(IG, reset_mid_chunk_rate=0.0)

    with pytest.raises(PlatformError) as info:
        client.refresh(creds, app_for(sandbox))  # less than 24 h old
    assert info.value.kind is ErrorKind.PERMANENT

    sandbox.clock.advance(25 * 3600)
    fresh = client.refresh(creds, app_for(sandbox))
    assert fresh.access_token != creds.access_token
    assert fresh.refresh_token == creds.refresh_token
    assert fresh.expires_at == sandbox.clock.now() + timedelta(days=60)
    run = drive(client, request, fresh, sandbox.clock, session=session)
    [post] = posts(sandbox)
    assert post["sha256"] == media.sha256 and run.result is not None


def test_auth_error_is_classified(start: Start, tmp_path: Path) -> None:
    """An unknown token answers 190: AUTH, with the raw Graph error kept."""
    sandbox = start()
    request, _ = setup(sandbox, make_media(tmp_path, MIB))
    with pytest.raises(PlatformError) as info:
        client_for(sandbox).step(request, {}, Credentials("IGAAnot-a-token"))
    assert (info.value.kind, info.value.code) == (ErrorKind.AUTH, "190")
    assert info.value.raw["error"]["type"] == "OAuthException"


def test_throttle_retry_after_from_usage_header(start: Start, tmp_path: Path) -> None:
    """Code 4 with X-Business-Use-Case-Usage: rate_limited, waiting the header's estimate."""
    sandbox = start(rate_limit_rate=1.0, retry_after_seconds=180)
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    with pytest.raises(PlatformError) as info:
        client_for(sandbox).step(request, {}, creds)
    assert (info.value.kind, info.value.code) == (ErrorKind.RATE_LIMITED, "4")
    assert info.value.retry_after == 180.0


def test_server_error_is_transient(start: Start, tmp_path: Path) -> None:
    """A 500 with code 2 is transient."""
    sandbox = start(failure_rate=1.0)
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    with pytest.raises(PlatformError) as info:
        client_for(sandbox).step(request, {}, creds)
    assert (info.value.kind, info.value.code, info.value.http_status) == (
        ErrorKind.TRANSIENT,
        "2",
        500,
    )


def test_permanent_error_keeps_raw_code(start: Start, tmp_path: Path) -> None:
    """A non-ASCII video_url is refused with (#100): permanent, code and body kept."""
    sandbox = start()
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    request = replace(
        request, media_url="https://cdn.example/vidéo.mp4", options={"instagram_source": "url"}
    )
    with pytest.raises(PlatformError) as info:
        client_for(sandbox).step(request, {}, creds)
    assert (info.value.kind, info.value.code) == (ErrorKind.PERMANENT, "100")
    assert "US-ASCII" in info.value.raw["error"]["message"]


def test_caption_rules_checked_before_any_call(start: Start, tmp_path: Path) -> None:
    """31 hashtags never reach Meta."""
    sandbox = start()
    tags = " ".join(f"#t{i}" for i in range(31))
    request, creds = setup(sandbox, make_media(tmp_path, MIB), text=tags)
    with pytest.raises(PlatformError) as info:
        client_for(sandbox).step(request, {}, creds)
    assert info.value.code == "caption_invalid"
    assert "media.create" not in sandbox.state(IG)["calls"]


def test_quota_used_up_waits_for_window(start: Start, tmp_path: Path) -> None:
    """With the quota used, the quota phase raises QUOTA until the oldest post leaves 24 h."""
    sandbox = start(limits=InstagramLimits(quota_total=1))
    media = make_media(tmp_path, MIB)
    request, creds = setup(sandbox, media)
    client = client_for(sandbox)
    drive(client, request, creds, sandbox.clock)
    sandbox.clock.advance(3600)
    with pytest.raises(PlatformError) as info:
        drive(client, replace(request, text="second"), creds, sandbox.clock)
    assert info.value.kind is ErrorKind.QUOTA
    assert info.value.retry_after is not None
    assert 23 * 3600 - 600 < info.value.retry_after <= 23 * 3600
    assert len(posts(sandbox)) == 1


def test_quota_fault_and_publish_error(start: Start, tmp_path: Path) -> None:
    """quota_exhausted is read from content_publishing_limit; 9/2207042 itself is QUOTA."""
    sandbox = start(quota_exhausted=True)
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    with pytest.raises(PlatformError) as info:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    assert info.value.kind is ErrorKind.QUOTA
    body = {
        "error": {
            "message": "limit",
            "type": "OAuthException",
            "code": 9,
            "error_subcode": 2207042,
            "fbtrace_id": "x",
        }
    }
    error = classify(httpx.Response(400, json=body))
    assert (error.kind, error.code) == (ErrorKind.QUOTA, "9/2207042")


def test_dropped_publish_answer_is_reconciled(start: Start, tmp_path: Path) -> None:
    """media_publish creates the post but the answer is lost: reconcile finds it, one post."""
    sandbox = start(drop_response_after_commit=1)
    media = make_media(tmp_path, MIB)
    request, creds = setup(sandbox, media)
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.reconciles == 1 and run.commit_steps == 1
    assert run.result is not None and run.result.external_id == post["id"]
    assert run.result.external_url == post["permalink"]
    assert sandbox.state(IG)["calls"]["media_publish"] == 1


def test_reconcile_before_publish_reached_meta(start: Start, tmp_path: Path) -> None:
    """commit_attempted but the container is still FINISHED: publish once, safely."""
    sandbox = start()
    media = make_media(tmp_path, MIB)
    request, creds = setup(sandbox, media)
    client = client_for(sandbox)
    run = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("phase") == "publish")
    session = {**run.session, "commit_attempted": True}
    result = client.reconcile(request, session, creds)
    assert result.session["phase"] == "quota" and "commit_attempted" not in result.session
    done = drive(client, request, creds, sandbox.clock, session=result.session)
    assert done.result is not None and len(posts(sandbox)) == 1


def test_processing_error_is_permanent(start: Start, tmp_path: Path) -> None:
    """A container that ends in ERROR (bad format) fails permanently, nothing published."""
    sandbox = start(processing_fail_rate=1.0)
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    with pytest.raises(PlatformError) as info:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    assert (info.value.kind, info.value.code) == (ErrorKind.PERMANENT, "container_error/2207026")
    assert posts(sandbox) == []


def test_limits_are_the_documented_reels_limits() -> None:
    """Reels: MP4/MOV, H.264/HEVC, AAC, 3 s-15 min, 300 MB, width 1920, 0.01-10, 23-60 fps."""
    assert LIMITS.containers == frozenset({"mp4", "mov"})
    assert LIMITS.video_codecs == frozenset({"h264", "hevc"})
    assert LIMITS.audio_codecs == frozenset({"aac"})
    assert (LIMITS.min_duration_seconds, LIMITS.max_duration_seconds) == (3.0, 900.0)
    assert LIMITS.max_bytes == 300 * MIB and LIMITS.max_width == 1920
    assert (LIMITS.min_aspect, LIMITS.max_aspect) == (0.01, 10.0)
    assert (LIMITS.min_fps, LIMITS.max_fps) == (23.0, 60.0)
    assert (LIMITS.caption_max_chars, LIMITS.max_hashtags) == (2200, 30)


@pytest.mark.parametrize(
    ("code", "subcode", "status", "kind"),
    [
        (190, 463, 400, ErrorKind.AUTH),
        (102, None, 400, ErrorKind.AUTH),
        (4, None, 400, ErrorKind.RATE_LIMITED),
        (17, None, 400, ErrorKind.RATE_LIMITED),
        (32, None, 400, ErrorKind.RATE_LIMITED),
        (613, None, 400, ErrorKind.RATE_LIMITED),
        (9, 2207042, 400, ErrorKind.QUOTA),
        (1, None, 500, ErrorKind.TRANSIENT),
        (2, None, 503, ErrorKind.TRANSIENT),
        (-1, 2207032, 400, ErrorKind.TRANSIENT),
        (9007, 2207027, 400, ErrorKind.TRANSIENT),
        (10, None, 400, ErrorKind.PERMANENT),
        (200, None, 403, ErrorKind.PERMANENT),
        (25, 2207050, 400, ErrorKind.PERMANENT),
        (352, 2207026, 400, ErrorKind.PERMANENT),
        (9004, 2207052, 400, ErrorKind.PERMANENT),
    ],
)
def test_classification_table(code: int, subcode: int | None, status: int, kind: ErrorKind) -> None:
    """PLATFORM_PROTOCOLS.md §2's error table."""
    error: dict[str, Any] = {"message": "m", "type": "OAuthException", "code": code}
    if subcode:
        error["error_subcode"] = subcode
    result = classify(httpx.Response(status, json={"error": error}))
    assert result.kind is kind
    assert result.code == (f"{code}/{subcode}" if subcode else str(code))


def test_quota_wait_rule() -> None:
    """The slot frees when the oldest post keeping the count at the quota turns 24 h old."""
    now = datetime(2026, 3, 10, tzinfo=UTC)
    times = [now - timedelta(hours=h) for h in (1, 5, 30)]
    assert quota_wait(times, 2, now) == 19 * 3600
    assert quota_wait(times, 3, now) == 3600.0  # fewer than the quota in the window: fallback


def test_publish_too_early_goes_back_to_polling(start: Start, tmp_path: Path) -> None:
    """9007/2207027 on media_publish is a definite "not yet": poll again, nothing published."""
    sandbox = start(processing_seconds=600.0)
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    client = client_for(sandbox)
    run = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("phase") == "poll")
    early = client.step(request, {**run.session, "phase": "publish"}, creds)
    assert early.session["phase"] == "poll" and early.wait_seconds == POLL
    assert posts(sandbox) == []


def test_failed_download_is_permanent(start: Start, tmp_path: Path, file_host: str) -> None:
    """A video_url Meta cannot fetch ends the container in ERROR (2207052): permanent."""
    sandbox = start()
    request, creds = setup(sandbox, make_media(tmp_path, MIB))
    request = replace(
        request, media_url=f"{file_host}/media/missing.mp4", options={"instagram_source": "url"}
    )
    with pytest.raises(PlatformError) as info:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    assert (info.value.kind, info.value.code) == (ErrorKind.PERMANENT, "container_error/2207052")


def _consent_code(sandbox: Sandbox, redirect: str, challenge: str) -> str:
    """Click Allow on the fake's Business Login page; the code it redirects back with."""
    page = sandbox.http.get(
        f"{sandbox.base(IG)}/oauth/authorize",
        params={
            "client_id": "sandbox-client",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": ",".join(InstagramClient.oauth_scopes),
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "consent": "allow",
            "handle": "brand",
        },
    )
    assert page.status_code == 302
    return str(httpx.URL(page.headers["location"]).params["code"])


def test_business_login_trades_the_code_for_a_long_lived_token(start: Start) -> None:
    """Code → one-hour token → 60-day token in one go; /me names the account; the code
    and the short-lived token each work once, and a wrong app secret is refused."""
    sandbox = start()
    client = client_for(sandbox)
    app = replace(app_for(sandbox), code_url=f"{sandbox.base(IG)}/oauth/access_token")
    redirect = "https://crosspost.example/v1/oauth/callback"
    verifier, challenge = pkce_pair()
    code = _consent_code(sandbox, redirect, challenge)

    creds = client.exchange_code(app, code=code, verifier=verifier, redirect_uri=redirect)
    assert creds.expires_at == sandbox.clock.now() + timedelta(days=60)
    assert creds.scopes == list(InstagramClient.oauth_scopes)
    external_id, handle = client.whoami(creds)
    assert handle == "brand"
    consented = sandbox.http.get(f"{sandbox.base(IG)}/_fake/accounts").json()
    assert [a["external_id"] for a in consented] == [external_id]
    calls = sandbox.state(IG)["calls"]
    assert (calls["oauth.access_token"], calls["access_token"]) == (1, 1)

    with pytest.raises(PlatformError) as reused:
        client.exchange_code(app, code=code, verifier=verifier, redirect_uri=redirect)
    assert reused.value.code == "code_exchange_failed" and "expired" in reused.value.message
    wrong = replace(app, client_secret="not-the-secret")
    fresh = _consent_code(sandbox, redirect, challenge)
    with pytest.raises(PlatformError) as refused:
        client.exchange_code(wrong, code=fresh, verifier=verifier, redirect_uri=redirect)
    assert "Invalid platform app" in refused.value.message


def test_reconcile_pages_back_past_a_busy_accounts_reels(start: Start, tmp_path: Path) -> None:
    """media_publish publishes ours but its answer is lost, and 205 Reels follow before the
    reconcile runs (more than the four pages of 50 it used to read): it pages back to the
    container's creation, finds ours and publishes nothing again."""
    sandbox = start(limits=InstagramLimits(quota_total=1000), processing_seconds=0.0)
    media = make_media(tmp_path, 1000)
    request, creds = setup(sandbox, media, text="ours")
    client = client_for(sandbox)
    ready = drive(client, request, creds, sandbox.clock, until=client.is_commit).session
    sandbox.faults(IG, drop_response_after_commit=1)
    attempt = {**ready, "commit_attempted": True}
    with pytest.raises(PlatformError):
        client.step(request, attempt, creds)  # Meta publishes it; the answer is lost
    for i in range(205):
        sandbox.clock.advance(1)
        later = make_request(media, external_id=request.account_external_id, text=f"later {i}")
        drive(client, later, creds, sandbox.clock)
    result = client.reconcile(request, attempt, creds)
    assert result.status is TargetStatus.PUBLISHED
    ours = [p for p in posts(sandbox) if p["caption"] == "ours"]
    assert len(ours) == 1 and result.external_id == ours[0]["id"]
    assert len(posts(sandbox)) == 206
