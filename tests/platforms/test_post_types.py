"""Every platform and kind of post: accepted, or refused with the platform's own limitation."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosspost.domain.enums import MediaKind, Platform
from crosspost.domain.limits import POST_KINDS
from crosspost.media.validate import MediaInfo, validate
from crosspost.platforms.base import MediaFile
from crosspost.platforms.errors import UnsupportedPostType
from crosspost.platforms.registry import CLIENTS, client_for

OK = None
# (platform, kind of post) -> None when the platform publishes it, else words its refusal
# must contain: the platform's real limitation, not a generic "media required".
EXPECTED: dict[tuple[Platform, MediaKind | None], str | None] = {
    (Platform.YOUTUBE, MediaKind.VIDEO): OK,
    (Platform.YOUTUBE, None): "YouTube's API offers no community posts",
    (Platform.YOUTUBE, MediaKind.IMAGE): "YouTube's API offers no image or community posts",
    (Platform.YOUTUBE, MediaKind.AUDIO): "YouTube's API uploads videos, not audio files",
    (Platform.TIKTOK, MediaKind.VIDEO): OK,
    (Platform.TIKTOK, None): "TikTok has no text-only posts",
    (Platform.TIKTOK, MediaKind.AUDIO): "takes videos, not audio files",
    (Platform.TIKTOK, MediaKind.IMAGE): OK,
    (Platform.INSTAGRAM, MediaKind.VIDEO): OK,
    (Platform.INSTAGRAM, MediaKind.IMAGE): OK,
    (Platform.INSTAGRAM, None): "Instagram has no text-only posts",
    (Platform.INSTAGRAM, MediaKind.AUDIO): "Instagram has no audio posts",
    (Platform.X, None): OK,
    (Platform.X, MediaKind.VIDEO): OK,
    (Platform.X, MediaKind.IMAGE): OK,
    (Platform.X, MediaKind.AUDIO): "X has no audio posts",
    (Platform.LINKEDIN, None): OK,
    (Platform.LINKEDIN, MediaKind.VIDEO): OK,
    (Platform.LINKEDIN, MediaKind.AUDIO): "LinkedIn has no audio posts",
    (Platform.LINKEDIN, MediaKind.IMAGE): OK,
    (Platform.SOUNDCLOUD, MediaKind.AUDIO): OK,
    (Platform.SOUNDCLOUD, None): "SoundCloud publishes audio tracks only",
    (Platform.SOUNDCLOUD, MediaKind.VIDEO): "SoundCloud takes audio tracks, not video",
    (Platform.SOUNDCLOUD, MediaKind.IMAGE): "an image can only be a track's artwork",
}
# Codes that mean "this kind of post" rather than "this particular file".
KIND_CODES = {
    "unsupported_post_type",
    "media_required",
    "media_kind_not_allowed",
    "media_not_allowed",
}


def _info(kind: MediaKind) -> MediaInfo:
    return MediaInfo(kind=kind, size_bytes=1_000_000)


def _file(tmp_path: Path, kind: MediaKind) -> MediaFile:
    path = tmp_path / f"file.{kind.value}"
    path.write_bytes(b"x" * 100_000)
    return MediaFile(path, 100_000, "application/octet-stream", kind, path.name, "0" * 64)


def test_the_table_covers_every_platform_and_kind() -> None:
    """Each client declares every kind of post once, and this table checks each of them."""
    assert set(EXPECTED) == {(p, k) for p in CLIENTS for k in POST_KINDS}
    for client in CLIENTS.values():
        assert set(client.post_types) == set(POST_KINDS), client.platform


@pytest.mark.parametrize(("platform", "kind"), list(EXPECTED))
def test_each_kind_of_post_is_accepted_or_refused_precisely(
    platform: Platform, kind: MediaKind | None, tmp_path: Path
) -> None:
    """Validation before anything is stored and the client itself give the same verdict: an
    accepted kind passes the kind checks; a refused one answers `unsupported_post_type` with
    the platform's reason, from the one declaration both read."""
    client = client_for(platform)
    violations = validate(
        client.limits_for(kind),
        _info(kind) if kind else None,
        "hello",
        destination=platform.value,
    )
    reason = EXPECTED[platform, kind]
    if reason is None:
        assert not [v for v in violations if v.code in KIND_CODES], violations
        client.refuse_unsupported(_file(tmp_path, kind) if kind else None)
        return
    assert [(v.code, v.field) for v in violations] == [("unsupported_post_type", "media")]
    assert reason in violations[0].message
    with pytest.raises(UnsupportedPostType) as caught:
        client.refuse_unsupported(_file(tmp_path, kind) if kind else None)
    assert caught.value.code == "unsupported_post_type"
    assert caught.value.message == violations[0].message
