"""The TikTok client against the TikTok fake over loopback, and its pure chunking rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from crosspost.domain.enums import ErrorKind, TargetStatus
from crosspost.fakes import serve_in_thread
from crosspost.fakes.tiktok_rules import check_file_upload
from crosspost.platforms.errors import OutcomeUnknown, PlatformError, UnsupportedPostType
from crosspost.platforms.tiktok import TikTokClient
from crosspost.platforms.tiktok_rules import caption, choose_privacy, plan_chunks

from .conftest import MIB, Sandbox, SandboxFactory, drive, make_media, make_request

MB5 = 5 * MIB


def client_for(sandbox: Sandbox, *, chunk: int = MB5) -> TikTokClient:
    """A TikTok client on the sandbox with 5 MB chunks, TikTok's smallest."""
    return TikTokClient(
        sandbox.http, sandbox.base("tiktok"), chunk_bytes=chunk, clock=sandbox.clock
    )


def posts(sandbox: Sandbox) -> list[dict[str, object]]:
    """Publishes whose bytes all arrived."""
    found: list[dict[str, object]] = sandbox.state("tiktok")["posts"]
    return found


# -- plan_chunks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "preferred", "plan"),
    [
        (int(4.9 * MIB), 8 * MIB, (int(4.9 * MIB), 1)),  # under 5 MB: whole, chunk = size
        (int(4.9 * MIB), MIB, (int(4.9 * MIB), 1)),
        (MB5, MB5, (MB5, 1)),
        (MB5 + 1, MB5, (MB5, 1)),  # the last chunk absorbs the remainder
        (12 * MIB, MB5, (MB5, 2)),
        (64 * MIB, 64 * MIB, (64 * MIB, 1)),
        (64 * MIB, 8 * MIB, (8 * MIB, 8)),
        (64 * MIB + 1, 64 * MIB, (32 * MIB, 2)),  # over 64 MB is always several chunks
        (200 * MIB, 8 * MIB, (8 * MIB, 25)),
        (200 * MIB, 64 * MIB, (64 * MIB, 3)),
        (200 * MIB, 100 * MIB, (64 * MIB, 3)),  # preferred sizes are clamped to 5..64 MB
        (1010 * MB5, MB5, (5_295_309, 999)),  # the 1000-chunk cap grows the chunk
    ],
)
def test_plan_chunks(size: int, preferred: int, plan: tuple[int, int]) -> None:
    """Edge cases of TikTok's chunk rules, each also accepted by the fake's reading of them."""
    assert plan_chunks(size, preferred) == plan
    chunk, count = plan
    if size <= 4 * 1024 * MIB:
        info = {"video_size": size, "chunk_size": chunk, "total_chunk_count": count}
        assert check_file_upload(info) is None
    assert size - (count - 1) * chunk <= 128 * MIB
    assert size <= 64 * MIB or count >= 2


def test_plan_chunks_agrees_with_the_fake_everywhere() -> None:
    """Across sizes from 1 byte to 4 GB and several preferences, every plan is valid."""
    for size in [1, MB5 - 1, MB5, 37 * MIB, 64 * MIB - 1, 127 * MIB, 129 * MIB, 4096 * MIB]:
        for preferred in [1, MB5, 10 * MIB, 64 * MIB, 512 * MIB]:
            chunk, count = plan_chunks(size, preferred)
            info = {"video_size": size, "chunk_size": chunk, "total_chunk_count": count}
            assert check_file_upload(info) is None, (size, preferred, chunk, count)


def test_plan_chunks_refuses_impossible_sizes() -> None:
    """Empty files and files needing over 1000 chunks of 64 MB have no valid plan."""
    with pytest.raises(ValueError, match="empty"):
        plan_chunks(0, MB5)
    with pytest.raises(ValueError, match="1000"):
        plan_chunks(1001 * 64 * MIB, 64 * MIB)


def test_caption_and_privacy_rules() -> None:
    """Captions are cut at 2200 UTF-16 units without splitting an emoji; privacy defaults."""
    assert caption("a" * 2199 + "😀") == "a" * 2199  # the emoji needs two units
    assert caption("a" * 2198 + "😀") == "a" * 2198 + "😀"
    assert choose_privacy(None, ["SELF_ONLY", "PUBLIC_TO_EVERYONE"]) == "PUBLIC_TO_EVERYONE"
    assert choose_privacy(None, ["SELF_ONLY"]) == "SELF_ONLY"
    with pytest.raises(PlatformError, match="FOLLOWER_OF_CREATOR"):
        choose_privacy("FOLLOWER_OF_CREATOR", ["SELF_ONLY"])


# -- against the fake ----------------------------------------------------------------------


def test_happy_path_direct_post(sandbox: Sandbox, tmp_path: Path) -> None:
    """creator_info, init, two chunks, status polls: one public post with the file's bytes."""
    media = make_media(tmp_path, 12 * MIB + 3)
    external_id, creds = sandbox.account("tiktok", "dancer")
    request = make_request(media, external_id=external_id, handle="dancer", text="Hi #fyp")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)

    [post] = posts(sandbox)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert run.result.external_id == post["post_id"]
    assert run.result.external_url == f"https://www.tiktok.com/@dancer/video/{post['post_id']}"
    assert (post["sha256"], post["size"], post["mode"]) == (media.sha256, media.size, "direct")
    assert (post["caption"], post["privacy"]) == ("Hi #fyp", "PUBLIC_TO_EVERYONE")
    assert run.phases[:4] == ["<new>", "init", "upload", "upload_final"]
    assert run.commit_steps == 1
    assert run.waits and min(run.waits) >= 2.0  # never faster than TikTok's 30 calls/min
    assert run.event_names()[0] == "upload_started"


def test_small_file_commits_on_its_only_chunk(sandbox: Sandbox, tmp_path: Path) -> None:
    """A file under 5 MB is one chunk, so the first upload step is the commit."""
    media = make_media(tmp_path, 300_000)
    external_id, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id, privacy_level="SELF_ONLY")
    run = drive(client, request, creds, sandbox.clock, until=lambda s: "publish_id" in s)
    assert run.session["phase"] == "upload_final" and client.is_commit(run.session)
    assert run.session["chunk_size"] == media.size
    drive(client, request, creds, sandbox.clock, session=run.session)
    [post] = posts(sandbox)
    assert (post["sha256"], post["privacy"]) == (media.sha256, "SELF_ONLY")


def test_inbox_mode_sends_to_the_inbox(sandbox: Sandbox, tmp_path: Path) -> None:
    """Inbox mode skips the creator check and ends at SEND_TO_USER_INBOX."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    request = make_request(media, external_id=external_id, tiktok_mode="inbox")
    run = drive(client_for(sandbox), request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert post["mode"] == "inbox" and post["status"] == "SEND_TO_USER_INBOX"
    assert run.result is not None and run.result.external_id == post["id"]
    assert run.result.external_url is None
    assert "creator_info.query" not in sandbox.state("tiktok")["calls"]


def test_resends_a_chunk_cut_mid_transfer(sandbox: Sandbox, tmp_path: Path) -> None:
    """An interrupted chunk leaves nothing on TikTok's side; re-sending it completes the post."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults("tiktok", reset_mid_chunk_rate=0.0)

    request = make_request(media, external_id=external_id)
    run = drive(client_for(sandbox), request, creds, sandbox.clock, on_error=heal)
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.TRANSIENT, "network_error")]
    [post] = posts(sandbox)
    assert post["sha256"] == media.sha256


def test_lost_answer_to_the_final_chunk_is_reconciled(sandbox: Sandbox, tmp_path: Path) -> None:
    """The post exists but the 201 was lost: reconcile sees all bytes arrived and just polls."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", drop_response_after_commit=1)
    run = drive(
        client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
    )
    state = sandbox.state("tiktok")
    assert len(state["publishes"]) == 1 and len(state["posts"]) == 1
    assert run.reconciles == 1 and run.phases[run.phases.index("reconcile") + 1] == "status"
    assert state["posts"][0]["sha256"] == media.sha256


def test_reconcile_resumes_at_the_confirmed_chunk(sandbox: Sandbox, tmp_path: Path) -> None:
    """A worker that died before the final chunk arrived resumes at the uploaded offset."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    before = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    reconciled = client.reconcile(request, {**before.session, "commit_attempted": True}, creds)
    assert reconciled.session["phase"] == "upload_final"
    assert (reconciled.session["chunk_index"], reconciled.session["offset"]) == (1, MB5)
    assert "commit_attempted" not in reconciled.session
    drive(client, request, creds, sandbox.clock, session=reconciled.session)
    assert len(sandbox.state("tiktok")["publishes"]) == 1
    assert posts(sandbox)[0]["sha256"] == media.sha256


def test_expired_upload_url_starts_a_fresh_init(sandbox: Sandbox, tmp_path: Path) -> None:
    """An upload URL older than an hour is abandoned for a new init, never reused."""
    media = make_media(tmp_path, 11 * MIB)
    external_id, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(client, request, creds, sandbox.clock, until=client.is_commit)
    old_publish = first.session["publish_id"]
    sandbox.clock.advance(3600)
    run = drive(client, request, creds, sandbox.clock, session=first.session)
    assert run.events[0] == (
        "upload_restarted",
        {"reason": "the upload URL expired", "abandoned_publish_id": old_publish},
    )
    state = sandbox.state("tiktok")
    assert len(state["publishes"]) == 2
    [post] = state["posts"]
    assert post["id"] != old_publish and post["sha256"] == media.sha256


def test_expired_token_refreshes_with_rotation(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 401 access_token_invalid is auth; TikTok's refresh rotates the refresh token."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    sandbox.faults("tiktok", expire_tokens=True)
    run = drive(
        client,
        make_request(media, external_id=external_id),
        creds,
        sandbox.clock,
        app=sandbox.app("tiktok"),
    )
    assert [(e.kind, e.code) for e in run.errors] == [(ErrorKind.AUTH, "access_token_invalid")]
    assert run.creds is not None and run.refreshes == 1
    assert run.creds.refresh_token not in {None, creds.refresh_token}
    assert "video.publish" in run.creds.scopes
    assert len(posts(sandbox)) == 1
    with pytest.raises(PlatformError) as caught:  # the rotated-out token is dead now
        client.refresh(creds, sandbox.app("tiktok"))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")


def test_video_longer_than_the_creator_may_post(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """The creator's max duration is checked before init, with a clear message."""
    sandbox = make_sandbox(tiktok_max_video_post_duration_sec=60)
    media = make_media(tmp_path, 1000, duration=90.0)
    external_id, creds = sandbox.account("tiktok")
    with pytest.raises(PlatformError, match="at most 60 s") as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "duration_check_failed")
    assert "video.init" not in sandbox.state("tiktok")["calls"]


def test_privacy_level_not_offered(sandbox: Sandbox, tmp_path: Path) -> None:
    """A privacy level the creator does not offer is refused before init."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    request = make_request(media, external_id=external_id, privacy_level="FOLLOWER_OF_CREATOR")
    with pytest.raises(PlatformError) as caught:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    assert caught.value.code == "privacy_level_option_mismatch"
    assert "video.init" not in sandbox.state("tiktok")["calls"]


@pytest.mark.parametrize(
    ("knobs", "kind", "code", "status"),
    [
        ({"failure_rate": 1.0}, ErrorKind.TRANSIENT, "internal_error", 500),
        ({"rate_limit_rate": 1.0}, ErrorKind.RATE_LIMITED, "rate_limit_exceeded", 429),
        ({"quota_exhausted": True}, ErrorKind.QUOTA, "spam_risk_too_many_posts", 403),
    ],
)
def test_fault_knobs_map_to_error_kinds(
    sandbox: Sandbox,
    tmp_path: Path,
    knobs: dict[str, object],
    kind: ErrorKind,
    code: str,
    status: int,
) -> None:
    """5xx is transient, 429 rate-limited (a minute: TikTok sends no Retry-After), caps quota."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", **knobs)
    with pytest.raises(PlatformError) as caught:
        client_for(sandbox).step(make_request(media, external_id=external_id), {}, creds)
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.raw["error"]["code"] == code
    if kind is ErrorKind.RATE_LIMITED:
        assert error.retry_after == 60.0
    if kind is ErrorKind.QUOTA:
        assert error.retry_after == pytest.approx(4 * 3600)  # until 00:00 UTC on the test clock


def test_failed_processing_is_permanent(sandbox: Sandbox, tmp_path: Path) -> None:
    """A FAILED status with a format reason ends the target with that reason."""
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", processing_fail_rate=1.0)
    with pytest.raises(PlatformError) as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (
        ErrorKind.PERMANENT,
        "file_format_check_failed",
    )


def test_internal_failure_retries_with_a_fresh_post(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """TikTok's own `internal` failure kills the publish_id, so the client inits a new one."""
    sandbox = make_sandbox(tiktok_fail_reason="internal")
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", processing_fail_rate=1.0)
    client = client_for(sandbox)
    request = make_request(media, external_id=external_id)
    first = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("restarts") == 1)
    assert first.session["phase"] == "init" and "publish_id" not in first.session
    sandbox.faults("tiktok", processing_fail_rate=0.0)
    run = drive(client, request, creds, sandbox.clock, session=first.session)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    statuses = sorted(p["status"] for p in sandbox.state("tiktok")["publishes"])
    assert statuses == ["FAILED", "PUBLISH_COMPLETE"]


def test_internal_failures_give_up_eventually(make_sandbox: SandboxFactory, tmp_path: Path) -> None:
    """Repeated `internal` failures end permanently instead of looping."""
    sandbox = make_sandbox(tiktok_fail_reason="internal")
    media = make_media(tmp_path, 1000)
    external_id, creds = sandbox.account("tiktok")
    sandbox.faults("tiktok", processing_fail_rate=1.0)
    with pytest.raises(PlatformError, match="after 3 attempts") as caught:
        drive(
            client_for(sandbox), make_request(media, external_id=external_id), creds, sandbox.clock
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "internal")
    assert len(sandbox.state("tiktok")["publishes"]) == 3


@pytest.fixture
def file_host(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server that serves files from tmp_path, as our signed media URLs do."""

    async def serve(request: Request) -> Response:
        return FileResponse(tmp_path / request.path_params["name"], media_type="video/mp4")

    server = serve_in_thread(Starlette(routes=[Route("/media/{name}", serve)]))
    yield server.url
    server.stop()


def test_pull_from_url(make_sandbox: SandboxFactory, tmp_path: Path, file_host: str) -> None:
    """PULL_FROM_URL: the init itself is the commit, then TikTok downloads and publishes."""
    sandbox = make_sandbox(tiktok_verified_url_prefixes=(f"{file_host}/media/",))
    media = make_media(tmp_path, 2 * MIB)
    external_id, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    base = make_request(media, external_id=external_id, tiktok_source="pull")
    request = replace(base, media_url=f"{file_host}/media/{media.filename}")
    run = drive(client, request, creds, sandbox.clock)
    assert run.phases[:3] == ["<new>", "init_pull", "status"]
    assert run.commit_steps == 1
    [post] = posts(sandbox)
    assert (post["source"], post["sha256"]) == ("PULL_FROM_URL", media.sha256)


def test_inbox_pull_starts_in_its_commit_phase(sandbox: Sandbox, tmp_path: Path) -> None:
    """An inbox pull has no creator check, so its first step only enters the commit phase."""
    media = make_media(tmp_path, 1000)
    _, creds = sandbox.account("tiktok")
    client = client_for(sandbox)
    base = make_request(media, tiktok_mode="inbox", tiktok_source="pull")
    request = replace(base, media_url="https://cdn.example/clip.mp4")
    first = client.step(request, {}, creds)
    assert first.session == {"phase": "init_pull"} and client.is_commit(first.session)
    assert sandbox.state("tiktok")["calls"] == {}


def test_lost_pull_init_is_outcome_unknown(sandbox: Sandbox, tmp_path: Path) -> None:
    """Without a publish_id nobody can tell whether a pull post exists: stay unconfirmed."""
    media = make_media(tmp_path, 1000)
    _, creds = sandbox.account("tiktok")
    session = {"phase": "init_pull", "commit_attempted": True, "privacy_level": "SELF_ONLY"}
    with pytest.raises(OutcomeUnknown):
        client_for(sandbox).reconcile(make_request(media, tiktok_source="pull"), session, creds)


def test_text_only_post_is_unsupported(sandbox: Sandbox) -> None:
    """TikTok posts need a video."""
    _, creds = sandbox.account("tiktok")
    with pytest.raises(UnsupportedPostType):
        client_for(sandbox).step(make_request(None), {}, creds)
