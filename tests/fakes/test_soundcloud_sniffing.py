"""SoundCloud's fake judges an upload by its bytes: every listed format passes whatever the
part's Content-Type says (octet-stream, none), and only what is not audio is refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from crosspost.fakes.sniff import HEAD_BYTES, audio_format, id3v2_size, image_format
from crosspost.media.samples import make_audio, make_image, make_video

from .conftest import Sandbox

# name → (codec, sample rate); the container follows the suffix.
_ENCODED = {
    "song.mp3": ("mp3", 48000),
    "song.mp2": ("mp2", 48000),
    "song.aac": ("aac", 48000),  # ADTS
    "song.m4a": ("aac", 48000),
    "song.wav": ("pcm_s16le", 48000),
    "song.aiff": ("pcm_s16be", 48000),
    "song.flac": ("flac", 48000),
    "song.ogg": ("opus", 48000),
}
FORMATS = {
    "song.mp3": "mp3",
    "song.mp2": "mp2",
    "song.aac": "aac",
    "song.m4a": "m4a",
    "song.wav": "wav",
    "song.aiff": "aiff",
    "song.flac": "flac",
    "song.ogg": "ogg",
    "song.amr": "amr",
    "song.wma": "wma",
}


def _make_wma(path: Path) -> Path:
    """Half a second of silence as WMA (wmav2 in ASF); make_audio sets no bit rate for it."""
    with av.open(str(path), mode="w", format="asf") as out:
        stream = out.add_stream("wmav2", rate=44100)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout, stream.bit_rate = "mono", 32000
        for index in range(11):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=2048)
            frame.sample_rate, frame.pts = 44100, index * 2048
            frame.time_base = Fraction(1, 44100)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _make_amr(path: Path) -> Path:
    """Half a second of AMR-NB in its storage format (RFC 4867 §5), framed by hand.

    PyAV's wheels no longer carry an AMR encoder (18.1.1 dropped libopencore_amrnb), so the
    25 frames of 12.2 kbit/s (header 0x3C, 31 bytes of speech bits each) are written here and
    PyAV's own AMR decoder proves them a real half second at 8 kHz.
    """
    path.write_bytes(b"#!AMR\n" + (b"\x3c" + bytes(31)) * 25)
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        assert (container.streams.audio[0].rate, samples) == (8000, 4000)
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One real file per format SoundCloud lists, written by real encoders."""
    folder = tmp_path_factory.mktemp("audio")
    files = {
        name: make_audio(folder / name, seconds=0.5, codec=codec, sample_rate=rate)
        for name, (codec, rate) in _ENCODED.items()
    }
    files["song.wma"] = _make_wma(folder / "song.wma")
    files["song.amr"] = _make_amr(folder / "song.amr")
    return {name: path.read_bytes() for name, path in files.items()}


@pytest.fixture(scope="module")
def not_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Files that are not audio, some in audio's own containers (MP4 video, WMV, Ogg Theora)."""
    folder = tmp_path_factory.mktemp("other")
    ogg_theora = b"OggS\x00\x02" + bytes(20) + b"\x01\x2a" + b"\x80theora" + bytes(40)
    return {
        "video.mp4": make_video(folder / "video.mp4", seconds=0.5).read_bytes(),
        "video.wmv": make_video(
            folder / "video.wmv", seconds=0.5, codec="wmv2", container="asf", audio=False
        ).read_bytes(),
        "image.png": make_image(folder / "image.png").read_bytes(),
        "theora.ogg": ogg_theora,
        "tag-only.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x05" + bytes(5),
        "text.mp3": b"this is not a song\n" * 20,
    }


def _sniff(data: bytes) -> str | None:
    head = data[:HEAD_BYTES]
    offset = id3v2_size(head)
    return audio_format(data[offset : offset + HEAD_BYTES] if offset else head)


def test_every_listed_format_is_recognised(samples: dict[str, bytes]) -> None:
    """AIFF, WAVE, FLAC, OGG, MP2, MP3 (ID3-tagged), AAC (ADTS), M4A, AMR and WMA are audio."""
    assert {name: _sniff(data) for name, data in samples.items()} == FORMATS


def test_what_is_not_audio_is_not(not_audio: dict[str, bytes]) -> None:
    """Video in MP4 or ASF, Theora in Ogg, an image, a bare ID3 tag and text are not audio."""
    assert {name: _sniff(data) for name, data in not_audio.items()} == dict.fromkeys(not_audio)


def _upload(sandbox: Sandbox, token: str, part: tuple[Any, ...]) -> httpx.Response:
    return sandbox.http.post(
        "/soundcloud/tracks",
        data={"track[title]": "Sniffed"},
        files={"track[asset_data]": part},
        headers={"Authorization": f"OAuth {token}"},
    )


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    """A SoundCloud access token on the shared sandbox."""
    value: str = sandbox.account("soundcloud")["access_token"]
    return value


def test_audio_sent_as_octet_stream_is_accepted(
    sandbox: Sandbox, token: str, samples: dict[str, bytes]
) -> None:
    """Every format, as ``curl -F`` sends it (application/octet-stream), makes a track."""
    for name, data in samples.items():
        response = _upload(sandbox, token, (name, data, "application/octet-stream"))
        assert response.status_code == 201, (name, response.text)
        assert response.json()["original_format"] == FORMATS[name]


def test_audio_sent_without_content_type_is_accepted(
    sandbox: Sandbox, token: str, samples: dict[str, bytes]
) -> None:
    """A file part with no Content-Type header at all (written by hand: httpx always adds one)."""
    boundary = "sniff-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="track[title]"\r\n\r\nSniffed\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="track[asset_data]"; filename="song.flac"\r\n\r\n'
    )
    body = head.encode() + samples["song.flac"] + f"\r\n--{boundary}--\r\n".encode()
    response = sandbox.http.post(
        "/soundcloud/tracks",
        content=body,
        headers={
            "Authorization": f"OAuth {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 201, response.text
    [post] = sandbox.state("soundcloud")["posts"]
    assert (post["content_type"], post["fields"]["title"]) == ("", "Sniffed")
    assert response.json()["original_format"] == "flac"


def test_non_audio_is_refused_whatever_it_claims(
    sandbox: Sandbox, token: str, not_audio: dict[str, bytes]
) -> None:
    """A video labelled audio/mpeg is SoundCloud's 422 error JSON; nothing is created."""
    response = _upload(sandbox, token, ("song.mp3", not_audio["video.mp4"], "audio/mpeg"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422 and body["link"]
    assert "not audio" in body["errors"][0]["error_message"]
    assert sandbox.state("soundcloud")["posts"] == []


def test_images_are_judged_by_their_bytes(tmp_path: Path, samples: dict[str, bytes]) -> None:
    """Artwork: JPEG, PNG and GIF by signature; audio or text is no image."""
    png = make_image(tmp_path / "cover.png").read_bytes()
    jpeg = make_image(tmp_path / "cover.jpg").read_bytes()
    assert (image_format(png), image_format(jpeg), image_format(b"GIF89a" + bytes(8))) == (
        "png",
        "jpeg",
        "gif",
    )
    assert image_format(samples["song.mp3"]) is None and image_format(b"png!") is None
