"""The SoundCloud client against the SoundCloud fake over loopback, and its pure rules."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crosspost.clock import FrozenClock
from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.fakes import FakeConfig, RunningServer, serve_in_thread
from crosspost.fakes.soundcloud import SoundCloudFake, SoundCloudLimits
from crosspost.media.samples import make_image
from crosspost.platforms.base import AppCredentials, Credentials, MediaFile
from crosspost.platforms.errors import OutcomeUnknown, PlatformError, UnsupportedPostType
from crosspost.platforms.http import new_http_client
from crosspost.platforms.soundcloud import RECONCILE_PAGES, TOKEN_URL, SoundCloudClient
from crosspost.platforms.soundcloud_rules import (
    classify,
    has_machine_tag,
    tag_list,
    title_for,
)

from .conftest import CLIENT_ID, CLIENT_SECRET, MIB, Sandbox, drive, make_media, make_request

P = "soundcloud"
START = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
PROCESSING = 20.0


@dataclass
class _ClockBox:
    """The fake reads the time through this box so a module-wide server follows each test."""

    clock: FrozenClock

    def epoch(self) -> float:
        return self.clock.now().timestamp()


def _serve(box: _ClockBox, limits: SoundCloudLimits | None = None, **faults: Any) -> RunningServer:
    faults.setdefault("processing_seconds", PROCESSING)
    fake = SoundCloudFake(FakeConfig.of(clock=box.epoch, **faults), limits=limits)
    return serve_in_thread(Starlette(routes=[Mount(f"/{P}", app=fake.asgi())]))


@pytest.fixture(scope="module")
def _shared() -> Iterator[tuple[RunningServer, _ClockBox]]:
    box = _ClockBox(FrozenClock(START))
    server = _serve(box)
    yield server, box
    server.stop()


@pytest.fixture
def sandbox(_shared: tuple[RunningServer, _ClockBox]) -> Iterator[Sandbox]:
    """The shared fake, reset, with a fresh clock."""
    server, box = _shared
    box.clock = FrozenClock(START)
    http = new_http_client(timeout=10.0)
    http.post(f"{server.url}/{P}/_fake/reset").raise_for_status()
    yield Sandbox(server.url, box.clock, http)
    http.close()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """A fake of its own, with SoundCloudLimits overrides."""
    started: list[tuple[RunningServer, httpx.Client]] = []

    def make(limits: SoundCloudLimits | None = None, **faults: Any) -> Sandbox:
        box = _ClockBox(FrozenClock(START))
        server = _serve(box, limits, **faults)
        http = new_http_client(timeout=10.0)
        started.append((server, http))
        return Sandbox(server.url, box.clock, http)

    yield make
    for server, http in started:
        http.close()
        server.stop()


def client_for(sandbox: Sandbox) -> SoundCloudClient:
    """A client on the fake, polling every 10 s."""
    return SoundCloudClient(sandbox.http, sandbox.base(P), poll_seconds=10.0, clock=sandbox.clock)


MP3_FRAME = b"\xff\xfb\x90\x64"  # an MPEG-1 Layer III frame header: 128 kbit/s, 44.1 kHz


def app_for(sandbox: Sandbox) -> AppCredentials:
    """The sandbox OAuth app, with the fake's token path."""
    return AppCredentials(CLIENT_ID, CLIENT_SECRET, f"{sandbox.base(P)}/oauth/token")


def audio(
    folder: Path,
    size: int,
    name: str = "song.mp3",
    ctype: str = "audio/mpeg",
    *,
    head: bytes = MP3_FRAME,
) -> MediaFile:
    """`size` bytes posing as audio: `head`, then pseudo-random bytes (the fake sniffs the
    format from the first bytes, as SoundCloud does; it decodes no codec)."""
    data = (head + random.Random(size).randbytes(size))[:size]
    path = folder / name
    path.write_bytes(data)
    return MediaFile(
        source=path,
        size=size,
        content_type=ctype,
        kind=MediaKind.AUDIO,
        filename=name,
        sha256=hashlib.sha256(data).hexdigest(),
        duration_seconds=180.0,
    )


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every track the fake holds."""
    found: list[dict[str, Any]] = sandbox.state(P)["posts"]
    return found


def setup(
    sandbox: Sandbox, tmp_path: Path, size: int = 300_000, **options: Any
) -> tuple[SoundCloudClient, Any, Credentials]:
    """A client, a request for a new account and its credentials."""
    external_id, creds = sandbox.account(P, "beatmaker")
    media = audio(tmp_path, size)
    text = options.pop("text", "Night drive\nRecorded live in one take.")
    request = make_request(media, external_id=external_id, handle="beatmaker", text=text, **options)
    return client_for(sandbox), request, creds


# -- pure rules ----------------------------------------------------------------------------


def test_limits_and_identity() -> None:
    """Audio only, SoundCloud's formats, 4 GB, 24 h, 100-character titles."""
    limits = SoundCloudClient.limits_for(MediaKind.AUDIO)
    assert SoundCloudClient.platform is Platform.SOUNDCLOUD
    assert Platform.SOUNDCLOUD.value == "soundcloud"
    assert limits.kinds == frozenset({MediaKind.AUDIO})
    assert limits.containers is not None
    assert {"mp3", "wav", "flac", "ogg", "aiff", "m4a", "aac"} <= limits.containers
    assert "webm" not in limits.containers
    assert limits.max_bytes == 4 * 1024**3
    assert limits.max_duration_seconds == 86400.0
    assert limits.title_max_chars == 100
    assert SoundCloudClient.commit_phases == frozenset({"upload"})
    assert TOKEN_URL == "https://secure.soundcloud.com/oauth/token"


def test_title_and_tags(tmp_path: Path) -> None:
    """Title from the option or first line (≤100 chars); multi-word tags quoted; machine tag."""
    media = audio(tmp_path, 10)
    assert title_for(make_request(media, text="\n  Hello  \nworld"), media) == "Hello"
    assert title_for(make_request(media, text="x" * 150), media) == "x" * 100
    assert title_for(make_request(media, text="", title="Named"), media) == "Named"
    assert title_for(make_request(media, text=""), media) == "song.mp3"
    tags = tag_list(make_request(media, tags=["lofi", "late night", "#chill"]))
    assert tags == 'lofi "late night" chill crosspost:target=tgt_test'
    assert has_machine_tag(tags, "tgt_test")
    assert not has_machine_tag(tags, "tgt_tes")


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def test_classify() -> None:
    """401 auth, 429 rate-limited or quota by window, 5xx transient, the rest permanent."""
    now = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    meta = {"rate_limit": {"name": "plays", "time_window": "PT24H"}}
    day = {"errors": [{"meta": {**meta, "reset_time": "2026/03/11 00:00:00 +0000"}}]}
    quota = classify(_response(429, day), now=now)
    assert (quota.kind, quota.code, quota.retry_after) == (
        ErrorKind.QUOTA,
        "rate_limited:plays",
        4 * 3600.0,
    )
    short = classify(_response(429, {"code": 429}, {"Retry-After": "9"}), now=now)
    assert (short.kind, short.retry_after) == (ErrorKind.RATE_LIMITED, 9.0)
    assert classify(_response(401, {"code": 401, "message": ""}), now=now).kind is ErrorKind.AUTH
    assert classify(httpx.Response(401), now=now).kind is ErrorKind.AUTH  # empty 401 body
    assert classify(_response(503, {}), now=now).kind is ErrorKind.TRANSIENT
    bad = classify(_response(422, {"code": 422, "errors": [{"error_message": "x"}]}), now=now)
    assert (bad.kind, bad.code, bad.raw["errors"]) == (
        ErrorKind.PERMANENT,
        "http_422",
        [{"error_message": "x"}],
    )
    grant = classify(_response(400, {"message": "invalid_grant"}), now=now)
    assert (grant.kind, grant.code) == (ErrorKind.PERMANENT, "invalid_grant")


# -- against the fake ------------------------------------------------------------------------


def test_happy_path(sandbox: Sandbox, tmp_path: Path) -> None:
    """/me, one multipart POST /tracks, polls until finished: one track with the file's bytes."""
    client, request, creds = setup(sandbox, tmp_path, 1 * MIB + 7, tags=["late night"])
    run = drive(client, request, creds, sandbox.clock)

    [post] = posts(sandbox)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    assert (post["sha256"], post["size"]) == (request.media.sha256, request.media.size)
    assert (post["title"], post["caption"]) == ("Night drive", request.text)
    assert post["tag_list"] == '"late night" crosspost:target=tgt_test'
    assert (post["sharing"], post["content_type"], post["status"]) == (
        "public",
        "audio/mpeg",
        "finished",
    )
    assert run.result.external_id == post["id"]
    assert run.result.external_url == f"https://soundcloud.com/beatmaker/{post['permalink']}"
    assert run.phases[:3] == ["<new>", "upload", "status"]
    assert run.commit_steps == 1
    assert run.waits and min(run.waits) >= 10.0
    assert run.event_names()[:2] == ["upload_complete", "processing"]
    seen = sandbox.state(P)["requests"]
    assert {r["scheme"] for r in seen} == {"OAuth"}
    assert {r["accept"] for r in seen} == {"application/json; charset=utf-8"}


def test_track_options_are_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    """Sharing, genre, license, flags and release date land in the track's fields."""
    client, request, creds = setup(
        sandbox,
        tmp_path,
        title="Custom title",
        sharing="private",
        genre="Ambient",
        license="cc-by",
        downloadable=False,
        release_date="2026-03-01",
    )
    run = drive(client, request, creds, sandbox.clock)
    [post] = posts(sandbox)
    fields = post["fields"]
    assert (post["title"], post["sharing"], fields["genre"]) == (
        "Custom title",
        "private",
        "Ambient",
    )
    assert (fields["license"], fields["downloadable"], fields["release_date"]) == (
        "cc-by",
        "false",
        "2026-03-01",
    )
    assert run.result is not None and run.result.external_url is not None
    assert f"/beatmaker/{post['permalink']}/s-" in run.result.external_url  # secret link


def test_bad_options_refused_before_any_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    """An unknown sharing value fails permanently at the first step, naming the option and
    its values; nothing is uploaded."""
    client, request, creds = setup(sandbox, tmp_path, sharing="friends")
    with pytest.raises(PlatformError) as caught:
        drive(client, request, creds, sandbox.clock)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "invalid_override")
    assert "overrides.soundcloud.sharing" in caught.value.message
    assert "'public' or 'private'" in caught.value.message
    assert sandbox.state(P)["calls"].get("tracks.create") is None


def test_video_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    """A video file is not a SoundCloud track."""
    external_id, creds = sandbox.account(P)
    request = make_request(make_media(tmp_path, 1000), external_id=external_id)
    with pytest.raises(UnsupportedPostType):
        client_for(sandbox).step(request, {}, creds)


class _CountingFile:
    """A file wrapper that remembers the largest single read and the bytes read."""

    def __init__(self, inner: BinaryIO, stats: dict[str, int]) -> None:
        self._inner = inner
        self._stats = stats

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._stats["max_read"] = max(self._stats["max_read"], len(data))
        self._stats["total"] += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


@dataclass(frozen=True)
class _CountingMedia(MediaFile):
    stats: dict[str, int] | None = None

    def open(self) -> BinaryIO:
        assert self.stats is not None
        assert isinstance(self.source, Path)
        return _CountingFile(self.source.open("rb"), self.stats)  # type: ignore[return-value]


def test_upload_streams_from_disk(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 20 MiB upload is read in small pieces and never held whole in memory."""
    size = 20 * MIB
    base = audio(tmp_path, size)
    stats = {"max_read": 0, "total": 0}
    media = _CountingMedia(**{**base.__dict__, "stats": stats})
    external_id, creds = sandbox.account(P)
    request = make_request(media, external_id=external_id)
    client = client_for(sandbox)
    session = client.step(request, {}, creds).session
    tracemalloc.start()
    try:
        result = client.step(request, {**session, "commit_attempted": True}, creds)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is TargetStatus.PROCESSING
    assert stats["total"] == size and stats["max_read"] <= 256 * 1024
    assert peak < 6 * MIB, f"peak {peak / MIB:.1f} MiB while uploading 20 MiB"
    [post] = posts(sandbox)
    assert (post["size"], post["sha256"]) == (size, base.sha256)


def test_dropped_commit_answer_is_reconciled(sandbox: Sandbox, tmp_path: Path) -> None:
    """The track is created but its 201 is lost: reconcile finds it; exactly one track."""
    client, request, creds = setup(sandbox, tmp_path)
    sandbox.faults(P, drop_response_after_commit=1)
    run = drive(client, request, creds, sandbox.clock)
    [post] = posts(sandbox)
    assert run.reconciles == 1 and run.commit_steps == 1
    assert run.errors[0].kind is ErrorKind.TRANSIENT
    assert run.result is not None and run.result.external_id == post["id"]
    assert ("reconciled", {"track_urn": post["urn"], "found": True}) in run.events
    assert sandbox.state(P)["calls"]["me.tracks"] == 1


def test_reset_mid_upload_reuploads_once(sandbox: Sandbox, tmp_path: Path) -> None:
    """The connection drops mid-body: nothing was created, so reconcile allows one re-upload."""
    client, request, creds = setup(sandbox, tmp_path, 2 * MIB)
    sandbox.faults(P, reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults(P, reset_mid_chunk_rate=0.0)

    run = drive(client, request, creds, sandbox.clock, on_error=heal)
    [post] = posts(sandbox)
    assert post["sha256"] == request.media.sha256
    assert run.reconciles == 1 and run.commit_steps == 2
    assert ("reconciled", {"found": False}) in run.events


def test_reconcile_ignores_another_targets_same_title(sandbox: Sandbox, tmp_path: Path) -> None:
    """A same-titled track without our machine tag is not ours: we upload, making two."""
    client, request, creds = setup(sandbox, tmp_path)
    other = make_request(request.media, external_id=request.account_external_id, text=request.text)
    object.__setattr__(other, "target_id", "tgt_other")
    drive(client, other, creds, sandbox.clock)
    sandbox.faults(P, reset_mid_chunk_rate=1.0)

    def heal(error: PlatformError) -> None:
        sandbox.faults(P, reset_mid_chunk_rate=0.0)

    run = drive(client, request, creds, sandbox.clock, on_error=heal)
    tracks = posts(sandbox)
    assert len(tracks) == 2 and {t["title"] for t in tracks} == {"Night drive"}
    mine = [t for t in tracks if has_machine_tag(t["tag_list"], "tgt_test")]
    assert run.result is not None and run.result.external_id == mine[0]["id"]


def test_reconcile_walks_pages(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    """With one track per page, reconcile follows `next_href` past newer tracks."""
    sandbox = make_sandbox(SoundCloudLimits(page_max=1))
    client, request, creds = setup(sandbox, tmp_path)
    sandbox.faults(P, drop_response_after_commit=1)
    first = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("phase") == "status")
    assert first.reconciles == 1
    for n in range(2):  # newer tracks push ours down the list
        later = make_request(request.media, external_id=request.account_external_id)
        object.__setattr__(later, "target_id", f"tgt_later{n}")
        sandbox.clock.advance(60)
        drive(client, later, creds, sandbox.clock)
    again = client.reconcile(request, {**first.session, "track_urn": None}, creds)
    assert again.session["track_urn"] == first.session["track_urn"]
    assert sandbox.state(P)["calls"]["me.tracks"] == 1 + 3


def test_token_expiry_mid_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    """The token dies between /me and the upload: refresh (rotating), then the upload works."""
    client, request, creds = setup(sandbox, tmp_path)
    run = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("phase") == "upload")
    sandbox.faults(P, expire_tokens=True)
    run = drive(client, request, creds, sandbox.clock, app=app_for(sandbox), session=run.session)
    assert run.refreshes == 1 and run.errors[0].kind is ErrorKind.AUTH
    assert run.creds is not None and run.creds.refresh_token != creds.refresh_token
    assert len(posts(sandbox)) == 1
    # Refresh tokens are single-use: the old one is now dead.
    with pytest.raises(PlatformError) as caught:
        client.refresh(creds, app_for(sandbox))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")


def test_refresh_with_a_wrong_secret_is_permanent(sandbox: Sandbox, tmp_path: Path) -> None:
    """A wrong client secret is the app's fault: permanent, not a reconnect."""
    client, _, creds = setup(sandbox, tmp_path)
    app = AppCredentials(CLIENT_ID, "wrong", f"{sandbox.base(P)}/oauth/token")
    with pytest.raises(PlatformError) as caught:
        client.refresh(creds, app)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "invalid_client")


def test_refresh_keeps_scopes_and_expiry(sandbox: Sandbox, tmp_path: Path) -> None:
    """The new access token works and expires about an hour later."""
    client, request, creds = setup(sandbox, tmp_path)
    fresh = client.refresh(creds, app_for(sandbox))
    assert fresh.expires_at is not None
    assert (fresh.expires_at - sandbox.clock.now()).total_seconds() == 3600
    assert client.step(request, {}, fresh).session["phase"] == "upload"


def _first_error(sandbox: Sandbox, tmp_path: Path, **faults: Any) -> PlatformError:
    client, request, creds = setup(sandbox, tmp_path)
    session = client.step(request, {}, creds).session
    sandbox.faults(P, **faults)
    with pytest.raises(PlatformError) as caught:
        client.step(request, {**session, "commit_attempted": True}, creds)
    return caught.value


def test_server_error_is_transient(sandbox: Sandbox, tmp_path: Path) -> None:
    """An injected 500 is transient and keeps SoundCloud's error body."""
    error = _first_error(sandbox, tmp_path, failure_rate=1.0)
    assert (error.kind, error.http_status) == (ErrorKind.TRANSIENT, 500)
    assert error.raw["code"] == 500 and "link" in error.raw


def test_rate_limit_uses_retry_after(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 429 with Retry-After: 7 waits seven seconds."""
    error = _first_error(sandbox, tmp_path, rate_limit_rate=1.0, retry_after_seconds=7)
    assert (error.kind, error.retry_after, error.http_status) == (ErrorKind.RATE_LIMITED, 7.0, 429)


def test_upload_quota_waits_for_the_reset(sandbox: Sandbox, tmp_path: Path) -> None:
    """An exhausted 24 h upload bucket is quota, waiting until its reset_time (UTC midnight)."""
    error = _first_error(sandbox, tmp_path, quota_exhausted=True)
    assert (error.kind, error.code) == (ErrorKind.QUOTA, "rate_limited:uploads")
    assert error.retry_after == 4 * 3600.0  # 20:00 UTC → midnight
    assert posts(sandbox) == []


def test_non_audio_bytes_are_permanent(sandbox: Sandbox, tmp_path: Path) -> None:
    """The fake's 422 for a part whose bytes are not audio is permanent, raw errors kept."""
    external_id, creds = sandbox.account(P)
    media = audio(tmp_path, 5000, name="song.xyz", ctype="audio/x-unknown", head=b"")
    request = make_request(media, external_id=external_id)
    with pytest.raises(PlatformError) as caught:
        drive(client_for(sandbox), request, creds, sandbox.clock)
    error = caught.value
    assert (error.kind, error.http_status, error.code) == (ErrorKind.PERMANENT, 422, "http_422")
    assert "not audio" in error.raw["errors"][0]["error_message"]


def test_too_large_is_permanent(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    """Over the size limit: 413, permanent, nothing created."""
    sandbox = make_sandbox(SoundCloudLimits(max_upload_bytes=1000))
    client, request, creds = setup(sandbox, tmp_path, 5000)
    with pytest.raises(PlatformError) as caught:
        drive(client, request, creds, sandbox.clock)
    assert (caught.value.kind, caught.value.http_status) == (ErrorKind.PERMANENT, 413)
    assert posts(sandbox) == []


def test_revoked_token_needs_reauth(sandbox: Sandbox, tmp_path: Path) -> None:
    """A 401 that a refresh cannot fix surfaces as auth after one refresh."""
    client, request, _ = setup(sandbox, tmp_path)
    dead = Credentials(access_token="2-fake-unknown", refresh_token="rf-fake-unknown")
    with pytest.raises(PlatformError) as caught:
        drive(client, request, dead, sandbox.clock, app=app_for(sandbox))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, "invalid_grant")


def test_processing_failure_is_permanent(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """A track whose state ends `failed` fails the target with the track as raw."""
    sandbox = make_sandbox(processing_fail_rate=1.0)
    client, request, creds = setup(sandbox, tmp_path)
    with pytest.raises(PlatformError) as caught:
        drive(client, request, creds, sandbox.clock)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "processing_failed")
    assert caught.value.raw["state"] == "failed"
    assert len(posts(sandbox)) == 1


def test_artwork_is_sent_with_the_track(sandbox: Sandbox, tmp_path: Path) -> None:
    """A cover image travels as `track[artwork_data]` in the same streamed upload."""
    client, request, creds = setup(sandbox, tmp_path, 256 * 1024)
    folder = tmp_path / "cover"
    folder.mkdir()
    data = make_image(folder / "cover.png").read_bytes()  # the fake judges artwork by its bytes
    cover = MediaFile(
        source=folder / "cover.png",
        size=len(data),
        content_type="image/png",
        kind=MediaKind.IMAGE,
        filename="cover.png",
        sha256=hashlib.sha256(data).hexdigest(),
    )
    run = drive(client, replace(request, thumbnail=cover), creds, sandbox.clock)
    assert run.result is not None and run.result.status is TargetStatus.PUBLISHED
    [post] = posts(sandbox)
    assert post["artwork_size"] == len(data)


def test_a_search_that_runs_out_of_pages_proves_nothing(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """More tracks landed after ours than reconcile's pages reach: it answers "unknown" (look
    again later), never "absent", which would upload the track a second time."""
    sandbox = make_sandbox(SoundCloudLimits(page_max=1))
    client, request, creds = setup(sandbox, tmp_path)
    sandbox.faults(P, drop_response_after_commit=1)
    first = drive(client, request, creds, sandbox.clock, until=lambda s: s.get("phase") == "status")
    for n in range(RECONCILE_PAGES + 1):  # newer tracks push ours past the last page read
        later = make_request(request.media, external_id=request.account_external_id)
        object.__setattr__(later, "target_id", f"tgt_later{n}")
        sandbox.clock.advance(60)
        drive(client, later, creds, sandbox.clock)
    lost = {k: v for k, v in first.session.items() if k != "track_urn"}
    with pytest.raises(OutcomeUnknown):
        client.reconcile(request, {**lost, "phase": "upload", "commit_attempted": True}, creds)
    assert len(posts(sandbox)) == RECONCILE_PAGES + 2
