"""probe() and sniff_content_type() over real files generated with PyAV."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from crosspost.domain.enums import MediaKind
from crosspost.errors import InvalidInput
from crosspost.media.probe import moov_before_mdat, probe, sniff_content_type
from crosspost.media.samples import (
    encoder_for,
    make_audio,
    make_corrupt,
    make_image,
    make_video,
)


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def test_vertical_mp4_video_is_fully_described(tmp_path: Path) -> None:
    """A 2 s 360x640 H.264/AAC mp4 reports every field the validators need."""
    result = probe(make_video(tmp_path / "short.mp4", seconds=2.0, fps=30))
    assert result.kind is MediaKind.VIDEO
    assert result.container == "mp4"
    assert result.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert result.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert (result.width, result.height, result.rotation) == (360, 640, 0)
    assert (result.video_codec, result.audio_codec) == ("h264", "aac")
    assert result.frame_rate == pytest.approx(30.0)
    assert (result.audio_sample_rate, result.audio_channels) == (48000, 1)
    assert result.bit_rate is not None
    assert result.bit_rate > 0
    assert result.faststart is True


def test_faststart_detects_moov_after_mdat(tmp_path: Path) -> None:
    """Without movflags=faststart the moov box trails the media data and probe says so."""
    slow = make_video(tmp_path / "slow.mp4", seconds=0.5, faststart=False, audio=False)
    fast = make_video(tmp_path / "fast.mp4", seconds=0.5, faststart=True, audio=False)
    assert probe(slow).faststart is False
    assert probe(fast).faststart is True


def test_moov_walk_handles_largesize_and_foreign_files(tmp_path: Path) -> None:
    """64-bit box sizes are followed; files that are not ISO BMFF answer None."""
    large_free = struct.pack(">I4sQ", 1, b"free", 16 + 100) + bytes(100)
    path = tmp_path / "boxes.mp4"
    path.write_bytes(_box(b"ftyp", b"isom\0\0\0\0") + large_free + _box(b"moov") + _box(b"mdat"))
    assert moov_before_mdat(path) is True
    path.write_bytes(_box(b"ftyp", b"isom\0\0\0\0") + large_free + _box(b"mdat") + _box(b"moov"))
    assert moov_before_mdat(path) is False
    path.write_bytes(b"\x00\x00\x00\x04junk")  # a box smaller than its own header
    assert moov_before_mdat(path) is None
    path.write_bytes(_box(b"ftyp", b"isom\0\0\0\0"))
    assert moov_before_mdat(path) is None
    assert probe(make_video(tmp_path / "v.webm", seconds=0.5, codec="vp9")).faststart is None


def test_display_rotation_swaps_width_and_height(tmp_path: Path) -> None:
    """A phone clip stored 640x360 with a 90-degree rotation is reported as 360x640."""
    path = make_video(tmp_path / "phone.mp4", width=640, height=360, rotation=90, seconds=0.5)
    result = probe(path)
    assert (result.width, result.height, result.rotation) == (360, 640, 90)


@pytest.mark.parametrize(
    ("name", "codec", "container", "codecs"),
    [
        ("clip.webm", "vp9", "webm", ("vp9", "opus")),
        ("clip.mov", "h264", "mov", ("h264", "aac")),
        ("clip.mkv", "hevc", "mkv", ("hevc", "aac")),
    ],
)
def test_other_video_containers(
    tmp_path: Path, name: str, codec: str, container: str, codecs: tuple[str, str]
) -> None:
    """webm, mov and mkv are told apart (PyAV names mov/mp4 and mkv/webm alike)."""
    result = probe(make_video(tmp_path / name, codec=codec, seconds=1.0, fps=24))
    assert result.kind is MediaKind.VIDEO
    assert result.container == container
    assert (result.video_codec, result.audio_codec) == codecs
    assert result.frame_rate == pytest.approx(24.0)


@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [
        ("tone.mp3", "mp3", "mp3"),
        ("tone.m4a", "m4a", "aac"),
        ("tone.wav", "wav", "pcm_s16le"),
        ("tone.flac", "flac", "flac"),
        ("tone.ogg", "ogg", "opus"),
    ],
)
def test_audio_files(tmp_path: Path, name: str, container: str, codec: str) -> None:
    """Each audio sample probes as audio with its codec, rate and duration, and no picture."""
    result = probe(make_audio(tmp_path / name, seconds=1.5, sample_rate=48000))
    assert result.kind is MediaKind.AUDIO
    assert result.container == container
    assert result.audio_codec == codec
    assert result.audio_sample_rate == 48000
    assert result.duration_seconds == pytest.approx(1.5, abs=0.05)
    assert (result.width, result.height, result.video_codec, result.frame_rate) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("name", "container"), [("p.png", "png"), ("p.jpg", "jpeg"), ("p.webp", "webp")]
)
def test_images(tmp_path: Path, name: str, container: str) -> None:
    """png, jpeg and webp probe as images with their size and no duration."""
    result = probe(make_image(tmp_path / name, width=321, height=200))
    assert result.kind is MediaKind.IMAGE
    assert result.container == container
    assert (result.width, result.height) == (321, 200)
    assert (result.duration_seconds, result.frame_rate, result.video_codec) == (None, None, None)


def test_corrupt_mp4_is_unreadable_with_guidance(tmp_path: Path) -> None:
    """Bytes that look like an mp4 but hold no media raise media_unreadable saying what to do."""
    with pytest.raises(InvalidInput) as caught:
        probe(make_corrupt(tmp_path / "bad.mp4"))
    assert caught.value.code == "media_unreadable"
    assert caught.value.status == 422
    assert "upload a video (mp4/mov/webm)" in caught.value.detail
    assert "could not be decoded" in caught.value.detail


@pytest.mark.parametrize("content", [b"", b"hello world, not a video\n" * 10])
def test_non_media_bytes_are_unreadable(tmp_path: Path, content: bytes) -> None:
    """An empty file or plain text is refused with media_unreadable, not an FFmpeg error."""
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        probe(path)
    assert caught.value.code == "media_unreadable"
    # The FFmpeg reason is kept for operators, but never with our server-side path in it.
    assert caught.value.extra["reason"]
    assert str(tmp_path) not in repr(caught.value.extra)


def test_missing_file_is_not_blamed_on_the_user(tmp_path: Path) -> None:
    """A missing file is our bug (FileNotFoundError), not an unreadable upload."""
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "absent.mp4")


@pytest.mark.parametrize(
    ("maker", "declared", "expected"),
    [
        (lambda p: make_video(p / "a.mp4", seconds=0.2), None, "video/mp4"),
        (lambda p: make_video(p / "a.mp4", seconds=0.2), "application/octet-stream", "video/mp4"),
        (lambda p: make_video(p / "a.mov", seconds=0.2), "video/quicktime", "video/quicktime"),
        (lambda p: make_video(p / "a.webm", seconds=0.2, codec="vp8"), None, "video/webm"),
        (lambda p: make_audio(p / "a.mp3"), "audio/mp3", "audio/mp3"),
        (lambda p: make_audio(p / "a.m4a"), "AUDIO/X-M4A; charset=binary", "audio/x-m4a"),
        (lambda p: make_audio(p / "a.wav"), "image/png", "audio/wav"),
        (lambda p: make_audio(p / "a.flac"), None, "audio/flac"),
        (lambda p: make_audio(p / "a.ogg"), None, "audio/ogg"),
        (lambda p: make_image(p / "a.png"), "image/jpeg", "image/png"),
        (lambda p: make_image(p / "a.jpg"), None, "image/jpeg"),
        (lambda p: make_image(p / "a.webp"), None, "image/webp"),
    ],
)
def test_sniff_content_type_trusts_bytes_over_claims(
    tmp_path: Path, maker: Callable[[Path], Path], declared: str | None, expected: str
) -> None:
    """The bytes decide the type; a declared alias of the same format is kept as sent."""
    assert sniff_content_type(maker(tmp_path), declared) == expected


def test_sniff_unknown_bytes_falls_back_to_declared(tmp_path: Path) -> None:
    """When the bytes are not recognised, the declared type (or octet-stream) is returned."""
    path = tmp_path / "blob"
    path.write_bytes(b"\x00\x01\x02 no magic here")
    assert sniff_content_type(path, "Text/Plain") == "text/plain"
    assert sniff_content_type(path, None) == "application/octet-stream"


def test_h264_encoder_is_available() -> None:
    """The PyAV build encodes H.264 (libx264, or libopenh264 as a fallback)."""
    assert encoder_for("h264") in {"libx264", "libopenh264", "h264"}
    with pytest.raises(RuntimeError, match="no encoder"):
        encoder_for("no-such-codec")


def test_video_stream_without_a_decoder_is_unreadable(tmp_path: Path) -> None:
    """An mp4 whose video codec FFmpeg cannot decode (unknown sample entry) is refused with
    media_unreadable, not a crash (it used to raise AttributeError: a 500)."""
    data = make_video(tmp_path / "v.mp4", seconds=0.5).read_bytes()
    at = data.find(b"avc1", data.find(b"stsd"))  # the sample entry naming the codec
    assert at > 0
    path = tmp_path / "unknown.mp4"
    path.write_bytes(data[:at] + b"zzzz" + data[at + 4 :])
    with pytest.raises(InvalidInput) as caught:
        probe(path)
    assert caught.value.code == "media_unreadable"
    assert caught.value.extra["reason"] == "no decoder for its video stream's codec"
