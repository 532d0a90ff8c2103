"""The YouTube client against the YouTube fake, over real HTTP on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crosspost.domain.enums import ErrorKind, TargetStatus
from crosspost.platforms.base import MediaFile
from crosspost.platforms.errors import PlatformError, UnsupportedPostType
from crosspost.platforms.youtube import YouTubeClient
from crosspost.platforms.youtube_rules import derive_title, video_url

from .conftest import MIB, Sandbox, SandboxFactory, drive, make_media, make_request

UNIT = 256 * 1024


def client_for(sandbox: Sandbox, *, chunk: int = 2 * UNIT) -> YouTubeClient:
    """A YouTube client on the sandbox with small chunks, so every test sends several."""
    return YouTubeClient(
        sandbox.http, sandbox.base("youtube"), chunk_bytes=chunk, clock=sandbox.clock
    )


def only_post(sandbox: Sandbox) -> dict[str, object]:
    """The one video the fake holds (fails if there are none or several)."""
    posts = sandbox.state("youtube")["posts"]
    assert len(posts) == 1, posts
    post: dict[str, object] = posts[0]
    return post


def test_happy_path_publishes_a_short(sandbox: Sandbox, tmp_path: Path) -> None:
    """A multi-chunk upload becomes exactly one video with the file's bytes and metadata."""
    media = make_media(tmp_path, 5 * UNIT + 1234)
    external_id, creds = sandbox.account("youtube")
    request = make_request(media, external_id=external_id, tags=["clips", "demo"])
    run = drive(client_for(sandbox), request, creds, sandbox.clock)

    post = only_post(sandbox)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert run.result.external_id == post["id"]
    assert run.result.external_url == f"https://www.youtube.com/shorts/{post['id']}"
    assert (post["sha256"], post["size"]) == (media.sha256, media.size)
    assert (post["title"], post["privacy"]) == ("A clip", "public")
    assert post["description"] == request.text
    # Chunks of 512 KiB: 4 non-final PUTs, then one commit for the last 256 KiB + 1234 bytes.
    assert run.phases.count("upload") == 2
    assert run.commit_steps == 1
    names = run.event_names()
    assert names[0] == "upload_started"
    assert "upload_progress" in names and "upload_complete" in names
    assert names.count("processing") == 1
    assert run.waits and all(w == 15.0 for w in run.waits)


def test_single_chunk_file_commits_on_its_first_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    """When the whole file fits one chunk, the step after `start` is already the commit."""
    media = make_media(tmp_path, 1000, width=1920, height=1080)
    external_id, creds = sandbox.account("youtube")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id, privacy_status="unlisted")
    started = client.step(request, {}, creds)
    assert started.session["phase"] == "upload_final"
    assert client.is_commit(started.session)
    run = drive(client, request, creds, sandbox.clock, session=started.session)
    post = only_post(sandbox)
    assert run.result is not None
    assert run.result.external_url == f"https://www.youtube.com/watch?v={post['id']}"
    assert (post["sha256"], post["privacy"]) == (media.sha256, "unlisted")


def test_resumes_after_a_reset_mid_chunk(sandbox: Sandbox, tmp_path: Path) -> None:
    """A connection cut mid-chunk is transient; the next PUT learns the real offset from Range."""
    media = make_media(tmp_path, 9 * UNIT + 77)
    external_id, creds = sandbox.account("youtube")
    sandbox.faults("youtube", reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults("youtube", reset_mid_chunk_rate=0.0)

    request = make_request(media, external_id=external_id)
    run = drive(client_for(sandbox, chunk=4 * UNIT), request, creds, sandbox.clock, on_error=heal)
    assert [e.code for e in run.errors] == ["network_error"]
    assert run.errors[0].kind is ErrorKind.TRANSIENT
    post = only_post(sandbox)
    assert (post["sha256"], post["size"]) == (media.sha256, media.size)


def test_lost_answer_to_the_final_chunk_is_reconciled(sandbox: Sandbox, tmp_path: Path) -> None:
    """The video is created but its answer dropped: reconcile finds it, nothing is re-sent."""
    media = make_media(tmp_path, 3 * UNIT)
    external_id, creds = sandbox.account("youtube")
    sandbox.faults("youtube", drop_response_after_commit=1)
    run = drive(
        client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
    )
    post = only_post(sandbox)
    assert run.reconciles == 1 and run.commit_steps == 1
    assert run.result is not None and run.result.external_id == post["id"]
    assert post["sha256"] == media.sha256
    assert sandbox.state("youtube")["calls"]["videos.insert"] == 1


def test_commit_never_sent_is_resumed_not_restarted(sandbox: Sandbox, tmp_path: Path) -> None:
    """A worker that died before sending the last chunk resumes at the server's offset."""
    media = make_media(tmp_path, 5 * UNIT)
    external_id, creds = sandbox.account("youtube")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    before = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    died = {**before.session, "commit_attempted": True}
    reconciled = client.reconcile(request, died, creds)
    assert "commit_attempted" not in reconciled.session
    assert reconciled.session["offset"] == 4 * UNIT
    assert reconciled.session["phase"] == "upload_final"
    assert sandbox.state("youtube")["posts"] == []
    drive(client, request, creds, sandbox.clock, session=reconciled.session)
    assert only_post(sandbox)["sha256"] == media.sha256


def test_expired_session_restarts_from_scratch(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """A session URI past its lifetime answers 404; the client opens a new one and succeeds."""
    sandbox = make_sandbox(youtube_session_ttl_seconds=600.0)
    media = make_media(tmp_path, 6 * UNIT)
    external_id, creds = sandbox.account("youtube")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("offset", 0) > 0)
    sandbox.clock.advance(601)
    run = drive(client, request, creds, sandbox.clock, session=first.session)
    assert ("upload_restarted", {"reason": "the upload session expired"}) in run.events
    assert only_post(sandbox)["sha256"] == media.sha256
    assert sandbox.state("youtube")["calls"]["videos.insert"] == 2


def test_expired_token_refreshes_and_keeps_the_refresh_token(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A 401 is auth; Google's refresh returns a new access token and no new refresh token."""
    media = make_media(tmp_path, 3 * UNIT)
    external_id, creds = sandbox.account("youtube")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    sandbox.faults("youtube", expire_tokens=True)
    refreshed_at = sandbox.clock.now()  # the very first call fails, so refresh happens now
    run = drive(client, request, creds, sandbox.clock, app=sandbox.app("youtube"))
    assert [e.kind for e in run.errors] == [ErrorKind.AUTH]
    assert run.errors[0].http_status == 401 and run.refreshes == 1
    assert run.creds is not None
    assert run.creds.access_token != creds.access_token
    assert run.creds.refresh_token == creds.refresh_token
    assert run.creds.expires_at == refreshed_at + timedelta(seconds=3600)
    assert "https://www.googleapis.com/auth/youtube.upload" in run.creds.scopes
    assert only_post(sandbox)["sha256"] == media.sha256


def test_dead_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    """A revoked refresh token means the account must be reconnected."""
    _, creds = sandbox.account("youtube")
    creds.refresh_token = "1//revoked"
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).refresh(creds, sandbox.app("youtube"))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")
    assert caught.value.raw["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("knobs", "kind", "code", "status"),
    [
        ({"failure_rate": 1.0}, ErrorKind.TRANSIENT, "backendError", 503),
        ({"rate_limit_rate": 1.0, "retry_after_seconds": 7}, ErrorKind.RATE_LIMITED, None, 429),
        ({"quota_exhausted": True}, ErrorKind.QUOTA, "quotaExceeded", 403),
    ],
)
def test_fault_knobs_map_to_error_kinds(
    sandbox: Sandbox,
    tmp_path: Path,
    knobs: dict[str, object],
    kind: ErrorKind,
    code: str | None,
    status: int,
) -> None:
    """5xx is transient, 429 rate-limited with Retry-After, quota waits for Pacific midnight."""
    media = make_media(tmp_path, UNIT)
    external_id, creds = sandbox.account("youtube")
    sandbox.faults("youtube", **knobs)
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).step(make_request(media, external_id=external_id), {}, creds)
    error = caught.value
    assert (error.kind, error.http_status) == (kind, status)
    assert code is None or error.code == code
    assert isinstance(error.raw, dict) and "error" in error.raw
    if kind is ErrorKind.RATE_LIMITED:
        assert error.retry_after == 7.0
    if kind is ErrorKind.QUOTA:
        assert error.retry_after == pytest.approx(11 * 3600)  # 13:00 PDT on the test clock


def test_failed_processing_is_permanent_with_the_reason(sandbox: Sandbox, tmp_path: Path) -> None:
    """A video YouTube fails to process ends the target with YouTube's failureReason."""
    media = make_media(tmp_path, UNIT)
    external_id, creds = sandbox.account("youtube")
    sandbox.faults("youtube", processing_fail_rate=1.0)
    with pytest.raises(PlatformError) as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "conversion")
    assert "failed" in caught.value.message


def test_scheduled_upload_is_private_with_publish_at(sandbox: Sandbox, tmp_path: Path) -> None:
    """With youtube_schedule, publish_at becomes status.publishAt on a private video."""
    media = make_media(tmp_path, UNIT)
    external_id, creds = sandbox.account("youtube")
    when = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
    base = make_request(media, external_id=external_id, youtube_schedule=True)
    request = type(base)(**{**base.__dict__, "publish_at": when})
    drive(client_for(sandbox), request, creds, sandbox.clock)
    post = only_post(sandbox)
    assert (post["privacy"], post["publish_at"]) == ("private", "2026-03-12T09:30:00Z")


def test_metadata_is_made_valid(sandbox: Sandbox, tmp_path: Path) -> None:
    """Angle brackets are dropped and an over-long description is cut to 5000 bytes."""
    media = make_media(tmp_path, UNIT)
    external_id, creds = sandbox.account("youtube")
    text = "<b>Big</b> news " + "é" * 40 + "\n" + "ü" * 3000
    drive(
        client_for(sandbox),
        make_request(media, external_id=external_id, text=text),
        creds,
        sandbox.clock,
    )
    post = only_post(sandbox)
    assert post["title"] == "bBig/b news " + "é" * 40
    description = str(post["description"])
    assert len(description.encode()) <= 5000 and "<" not in description


def test_text_only_post_is_unsupported(sandbox: Sandbox) -> None:
    """YouTube's API cannot create community posts."""
    _, creds = sandbox.account("youtube")
    with pytest.raises(UnsupportedPostType, match="community posts"):
        client_for(sandbox).step(make_request(None), {}, creds)
    assert sandbox.state("youtube")["calls"] == {}


def test_chunk_size_is_a_multiple_of_256_kib(sandbox: Sandbox) -> None:
    """Configured chunk sizes round down to whole 256 KiB units, never below one unit."""
    assert client_for(sandbox, chunk=3 * UNIT + 5).chunk_size == 3 * UNIT
    assert client_for(sandbox, chunk=1000).chunk_size == UNIT
    assert client_for(sandbox, chunk=8 * MIB).chunk_size == 8 * MIB


def test_title_and_url_rules(tmp_path: Path) -> None:
    """Titles come from the first non-empty line; Shorts URLs need vertical clips up to 3 min."""
    assert derive_title("\n  \n<Hi> there\nmore", "x.mp4") == "Hi there"
    assert derive_title("", "holiday") == "holiday"
    assert len(derive_title("x" * 300, "f")) == 100
    vertical = make_media(tmp_path, 10, duration=180.0, width=720, height=1280)
    long_one = MediaFile(**{**vertical.__dict__, "duration_seconds": 181.0})
    assert video_url("v1", vertical) == "https://www.youtube.com/shorts/v1"
    assert video_url("v1", long_one) == "https://www.youtube.com/watch?v=v1"


def _thumbnail(tmp_path: Path, size: int = 4096) -> MediaFile:
    """A cover image beside the video (its own folder: make_media names files itself)."""
    folder = tmp_path / "cover"
    folder.mkdir()
    return make_media(
        folder, size, name="cover.png", content_type="image/png", duration=None, width=1280,
        height=720,
    )  # fmt: skip


def test_custom_thumbnail_is_set_once_and_costs_fifty_units(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """After the upload, thumbnails.set sends the cover's bytes once; the quota shows 50 units."""
    video = make_media(tmp_path, 3 * UNIT)
    cover = _thumbnail(tmp_path)
    external_id, creds = sandbox.account("youtube")
    request = replace(make_request(video, external_id=external_id), thumbnail=cover)
    client = client_for(sandbox)
    assert client.budgets(request, {"phase": "processing", "video_id": "v"})[0].cost == 50
    run = drive(client, request, creds, sandbox.clock)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert only_post(sandbox)["thumbnail_sha256"] == cover.sha256
    assert run.event_names().count("thumbnail_set") == 1
    state = sandbox.state("youtube")
    assert state["calls"]["thumbnails.set"] == 1
    assert state["quota"]["units_used"] >= 50


def test_refused_thumbnail_is_explained_but_the_video_still_publishes(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """A channel that may not set custom thumbnails: the video is posted, the refusal logged."""
    sandbox = make_sandbox(youtube_custom_thumbnails=False)
    video = make_media(tmp_path, 3 * UNIT)
    external_id, creds = sandbox.account("youtube")
    request = replace(make_request(video, external_id=external_id), thumbnail=_thumbnail(tmp_path))
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    failed = [data for name, data in run.events if name == "thumbnail_failed"]
    assert failed == [
        {
            "code": "forbidden",
            "message": "The authenticated user doesn't have permissions to upload and set "
            "custom video thumbnails.",
        }
    ]
    assert only_post(sandbox)["thumbnail_sha256"] is None


def test_thumbnails_set_is_strict(sandbox: Sandbox, tmp_path: Path) -> None:
    """The fake refuses what YouTube refuses: unknown video, non-image, empty, too large."""
    external_id, creds = sandbox.account("youtube")
    run = drive(
        client_for(sandbox), make_request(make_media(tmp_path, UNIT), external_id=external_id),
        creds, sandbox.clock,
    )  # fmt: skip
    assert run.result is not None
    url = f"{sandbox.base('youtube')}/upload/youtube/v3/thumbnails/set"
    auth = {"Authorization": f"Bearer {creds.access_token}"}

    def reason(video_id: str, body: bytes, content_type: str) -> tuple[int, str]:
        response = sandbox.http.post(
            url,
            params={"videoId": video_id},
            content=body,
            headers={**auth, "Content-Type": content_type},
        )
        if response.status_code == 200:
            return 200, response.json()["kind"]
        return response.status_code, response.json()["error"]["errors"][0]["reason"]

    video_id = str(run.result.external_id)
    assert reason("nope", b"png", "image/png") == (404, "videoNotFound")
    assert reason(video_id, b"png", "text/plain") == (400, "invalidImage")
    assert reason(video_id, b"", "image/png") == (400, "mediaBodyRequired")
    assert reason(video_id, b"x" * (2 * MIB + 1), "image/jpeg") == (400, "invalidImage")
    assert reason(video_id, b"png", "image/png") == (200, "youtube#thumbnailSetResponse")
