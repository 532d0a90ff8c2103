"""A stored media file shorter than recorded at upload is never sent as if it were whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.media.samples import make_audio
from crosspost.platforms.base import MediaFile
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.soundcloud import SoundCloudClient
from crosspost.platforms.youtube import YouTubeClient

from .conftest import Sandbox, drive, make_media, make_request


def test_upload_of_a_stored_file_cut_short_fails_permanently(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """If the stored file lost its end after upload, the client stops with a permanent
    `media_truncated` naming the byte where it ends (not endless transient retries of a
    short body), and the platform holds no video."""
    media = make_media(tmp_path, 600 * 1024)
    assert isinstance(media.source, Path)
    with media.source.open("r+b") as fh:
        fh.truncate(400 * 1024)
    external_id, creds = sandbox.account("youtube")
    client = YouTubeClient(sandbox.http, sandbox.base("youtube"), chunk_bytes=256 * 1024)
    with pytest.raises(PlatformError) as caught:
        drive(client, make_request(media, external_id=external_id), creds, sandbox.clock)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "media_truncated")
    assert f"ends at byte {400 * 1024}, short of the {600 * 1024} bytes" in caught.value.message
    assert str(tmp_path) not in caught.value.message
    assert sandbox.state("youtube")["posts"] == []


def test_whole_ranges_stream_unchanged(tmp_path: Path) -> None:
    """Reading within the recorded size yields exactly the file's bytes."""
    media = make_media(tmp_path, 3000)
    assert isinstance(media.source, Path)
    assert b"".join(media.iter_range(1000, 2000, piece=512)) == media.source.read_bytes()[1000:]


def test_soundcloud_does_not_send_a_stored_file_cut_short(sandbox: Sandbox, tmp_path: Path) -> None:
    """SoundCloud's one-request upload sizes the body from the file itself, so a cut stored
    file would become a cut track: it is refused before anything is sent."""
    whole = make_audio(tmp_path / "song.mp3", seconds=1.0)
    recorded = whole.stat().st_size
    media = MediaFile(
        source=whole,
        size=recorded,
        content_type="audio/mpeg",
        kind=MediaKind.AUDIO,
        filename="song.mp3",
        sha256=hashlib.sha256(whole.read_bytes()).hexdigest(),
        duration_seconds=1.0,
    )
    with whole.open("r+b") as fh:
        fh.truncate(recorded // 2)
    external_id, creds = sandbox.account("soundcloud")
    client = SoundCloudClient(sandbox.http, sandbox.base("soundcloud"), clock=sandbox.clock)
    with pytest.raises(PlatformError) as caught:
        drive(client, make_request(media, external_id=external_id), creds, sandbox.clock)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "media_truncated")
    assert f"ends at byte {recorded // 2}, short of the {recorded} bytes" in caught.value.message
    assert sandbox.state("soundcloud")["posts"] == []
