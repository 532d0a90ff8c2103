"""probe() proves a file is whole: cut-off video, audio and images are `media_truncated`."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from crosspost.errors import InvalidInput
from crosspost.media.layout import iso_boxes
from crosspost.media.probe import probe
from crosspost.media.samples import make_audio, make_image, make_video

MAKERS: dict[str, Callable[[Path], Path]] = {
    "faststart.mp4": lambda p: make_video(p, seconds=2.0, faststart=True),
    "moov-last.mp4": lambda p: make_video(p, seconds=2.0, faststart=False),
    "clip.mov": lambda p: make_video(p, seconds=2.0),
    "clip.webm": lambda p: make_video(p, seconds=2.0, codec="vp8"),
    "clip.mkv": lambda p: make_video(p, seconds=2.0),
    "tone.mp3": lambda p: make_audio(p, seconds=2.0),
    "faststart.m4a": lambda p: make_audio(p, seconds=2.0),
    "moov-last.m4a": lambda p: make_audio(p, seconds=2.0, faststart=False),
    "tone.aac": lambda p: make_audio(p, seconds=2.0),
    "tone.wav": lambda p: make_audio(p, seconds=2.0),
    "tone.flac": lambda p: make_audio(p, seconds=2.0),
    "tone.ogg": lambda p: make_audio(p, seconds=2.0),
    "picture.jpg": lambda p: make_image(p, width=640, height=360),
    "picture.png": lambda p: make_image(p, width=640, height=360),
    "picture.webp": lambda p: make_image(p, width=640, height=360),
    "picture.gif": lambda p: make_image(p, width=640, height=360),
}
# Where to cut: a fraction of the file kept, or a number of bytes dropped from its end.
CUTS: dict[str, Callable[[int], int]] = {
    "10%": lambda n: n // 10,
    "50%": lambda n: n // 2,
    "90%": lambda n: n * 9 // 10,
    "-4 bytes": lambda n: n - 4,
    "-1 byte": lambda n: n - 1,
}
# Appended bytes a player ignores (no sync word, no box or page header in them).
JUNK = b"trailing bytes that are not media. " * 60


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], bytes]:
    """The bytes of each sample file, generated once for the module."""
    folder = tmp_path_factory.mktemp("whole")
    made: dict[str, bytes] = {}

    def get(name: str) -> bytes:
        if name not in made:
            made[name] = MAKERS[name](folder / name).read_bytes()
        return made[name]

    return get


def _box_offset(data: bytes, kind: bytes) -> int:
    return next(at for found, at, _ in iso_boxes(io.BytesIO(data), len(data)) if found == kind)


def _refusal(path: Path, content: bytes) -> InvalidInput:
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        probe(path)
    return caught.value


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("name", MAKERS)
def test_cut_files_are_refused_as_truncated(
    whole: Callable[[str], bytes], tmp_path: Path, name: str, cut: str
) -> None:
    """Every sample cut at 10/50/90 % or short of its last bytes is `media_truncated`, and
    the detail says what is missing: the bytes expected against those present, or the last
    readable timestamp."""
    data = whole(name)
    kept = CUTS[cut](len(data))
    error = _refusal(tmp_path / name, data[:kept])
    assert error.code == "media_truncated", (error.code, error.detail)
    assert error.status == 422
    assert error.detail.startswith("the file is cut short: ")
    assert "upload the complete file" in error.detail
    if "expected_bytes" in error.extra:
        assert error.extra["actual_bytes"] == kept
        assert error.extra["expected_bytes"] > kept
        assert f"{error.extra['expected_bytes']}" in error.detail
    else:
        assert "last_timestamp_seconds" in error.extra or "actual_bytes" in error.extra, error
    assert str(tmp_path) not in error.detail + repr(error.extra)


@pytest.mark.parametrize("name", MAKERS)
def test_whole_files_and_appended_bytes_are_accepted(
    whole: Callable[[str], bytes], tmp_path: Path, name: str
) -> None:
    """The whole sample probes, and so does it with junk appended after its end (players
    ignore bytes after the structure ends, and refusing them would refuse real files)."""
    path = tmp_path / name
    path.write_bytes(whole(name))
    expected = probe(path)
    path.write_bytes(whole(name) + JUNK)
    assert probe(path).kind is expected.kind


def test_faststart_mp4_cut_in_half_names_the_bytes(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """The reported case: half of a faststart mp4 (once probed as a whole 2.0 s video) is
    refused, naming the `mdat` box's end against the file's size."""
    data = whole("faststart.mp4")
    error = _refusal(tmp_path / "half.mp4", data[: len(data) // 2])
    assert error.extra == {"expected_bytes": len(data), "actual_bytes": len(data) // 2}
    assert f"its `mdat` box ends at byte {len(data)}" in error.detail


def test_cut_inside_a_trailing_moov(whole: Callable[[str], bytes], tmp_path: Path) -> None:
    """With `moov` at the end, a cut inside the moov itself is named as such."""
    data = whole("moov-last.mp4")
    moov = _box_offset(data, b"moov")
    error = _refusal(tmp_path / "cut.mp4", data[: moov + 100])
    assert "its `moov` box ends" in error.detail
    assert error.extra["expected_bytes"] == len(data)


def test_sample_tables_must_end_inside_the_file(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """An `mdat` that says "to the end of the file" (size 0) gives no size to check: the
    sample tables (chunk offsets + sample sizes) still say where the media must end."""
    data = whole("faststart.mp4")
    mdat = _box_offset(data, b"mdat")
    open_ended = data[:mdat] + struct.pack(">I", 0) + data[mdat + 4 :]
    path = tmp_path / "open.mp4"
    path.write_bytes(open_ended)
    assert probe(path).duration_seconds == pytest.approx(2.0)
    error = _refusal(path, open_ended[: len(open_ended) - 1])
    assert "its sample tables (stco/co64 and stsz) end" in error.detail
    assert error.extra == {"expected_bytes": len(data), "actual_bytes": len(data) - 1}


def test_flac_cut_between_frames_is_short_of_its_declared_length(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """A FLAC cut exactly between frames decodes cleanly, but STREAMINFO's sample count says
    how long it must be: the refusal gives the last readable timestamp."""
    path = tmp_path / "tone.flac"
    path.write_bytes(whole("tone.flac"))
    with av.open(str(path)) as container:
        last_frame = [packet.pos for packet in container.demux() if packet.size][-1]
    error = _refusal(path, whole("tone.flac")[:last_frame])
    assert error.extra["declared_duration_seconds"] == pytest.approx(2.0)
    assert error.extra["last_timestamp_seconds"] < 2.0
    assert "its header declares 2.000 s but its data ends at" in error.detail


def test_flac_frame_cut_midway_gives_the_last_readable_timestamp(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """A FLAC frame cut in the middle does not decode; the refusal says where reading stops."""
    data = whole("tone.flac")
    error = _refusal(tmp_path / "tone.flac", data[: len(data) * 9 // 10])
    assert 1.0 < error.extra["last_timestamp_seconds"] < 2.0
    assert "can be read" in error.detail


def test_mp3_cut_between_frames_is_short_of_its_xing_count(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """An mp3 cut exactly between frames is refused by its Xing/Info header's byte count."""
    data = whole("tone.mp3")
    parser = av.CodecContext.create("mp3", "r")
    frames = parser.parse(data) + parser.parse(None)
    last_frame = len(data) - frames[-1].size
    error = _refusal(tmp_path / "tone.mp3", data[:last_frame])
    assert "its Xing/VBRI header declares" in error.detail
    assert error.extra["actual_bytes"] == last_frame


def test_open_ended_recordings_are_not_refused(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """Live writers leave sizes unknown (a WAV `data` size of 0xFFFFFFFF, a Matroska
    segment of unknown size); such files are whole and must not be called cut."""
    wav = whole("tone.wav")
    at = wav.find(b"data")
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(wav[: at + 4] + struct.pack("<I", 0xFFFFFFFF) + wav[at + 8 :])
    assert probe(streamed).duration_seconds == pytest.approx(2.0, abs=0.05)

    webm = whole("clip.webm")
    at = webm.find(bytes.fromhex("18538067")) + 4
    assert webm[at] == 0x01  # an 8-byte size, as FFmpeg writes it
    live = tmp_path / "live.webm"
    live.write_bytes(webm[:at] + bytes.fromhex("01ffffffffffffff") + webm[at + 8 :])
    assert probe(live).duration_seconds == pytest.approx(2.0, abs=0.05)


def test_png_without_its_end_chunk_is_truncated(
    whole: Callable[[str], bytes], tmp_path: Path
) -> None:
    """A PNG whose image data is whole but whose IEND chunk is gone (FFmpeg decodes it) is
    still a cut file."""
    data = whole("picture.png")
    assert data.endswith(b"IEND\xaeB`\x82")
    error = _refusal(tmp_path / "picture.png", data[:-12])
    assert "before its IEND chunk" in error.detail
