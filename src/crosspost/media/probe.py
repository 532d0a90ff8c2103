"""What a media file holds, found with PyAV: kind, container, duration, size, codecs, rate.

Probing opens the file, reads the stream headers and decodes one frame, so a file whose
headers parse but whose data does not decode is refused here, before any platform sees it;
and it proves the file is whole (`layout`, `tail`): a cut file's headers often survive and
still announce its full duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import av.container
import av.error
import av.stream
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from crosspost.domain.enums import MediaKind
from crosspost.errors import InvalidInput
from crosspost.media.layout import check_layout, ebml_doctype, iso_boxes, magic_type
from crosspost.media.tail import check_tail

UNREADABLE_MESSAGE = (
    "upload a video (mp4/mov/webm), audio (mp3/m4a/wav/flac/ogg) or image (jpeg/png/webp) "
    "file; this one could not be decoded"
)

_ISO_BMFF = "mov,mp4,m4a,3gp,3g2,mj2"
_IMAGE_FORMATS = frozenset({"image2", "gif", "apng"})
_IMAGE_CODECS = {
    "mjpeg": "jpeg",
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "bmp": "bmp",
    "tiff": "tiff",
    "apng": "png",
}
# A decodable stream yields a frame within a few packets (encoder delay); a huge file of
# undecodable packets must not be read to the end just to find that out.
_MAX_PACKETS_FOR_FIRST_FRAME = 500


@dataclass(frozen=True)
class ProbeResult:
    """What probing found; `width`/`height` are as displayed (rotation already applied).

    `container` is a short name: mp4, mov, m4a, 3gp, webm, mkv, mp3, aac, wav, flac, ogg,
    png, jpeg, webp, gif...; `format_name` is PyAV's demuxer name.
    """

    kind: MediaKind
    container: str
    format_name: str
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    frame_rate: float | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    bit_rate: int | None = None
    faststart: bool | None = None  # mp4/mov only: is `moov` before `mdat`?


def _unreadable(reason: str) -> InvalidInput:
    return InvalidInput(UNREADABLE_MESSAGE, code="media_unreadable", reason=reason)


def probe(path: Path) -> ProbeResult:
    """Probe a media file; raises InvalidInput with code `media_truncated` if it is cut short,
    `media_unreadable` if it cannot be used otherwise."""
    # Before FFmpeg: a cut file it cannot even open is still named as cut, with the figures.
    check_layout(path)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise _unreadable(_ffmpeg_reason(exc)) from exc
    try:
        with container:
            result = _probe_container(path, container)
            if result.kind is not MediaKind.IMAGE:
                check_tail(container, path.stat().st_size)
            return result
    except av.error.FFmpegError as exc:
        raise _unreadable(_ffmpeg_reason(exc)) from exc


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    # str(exc) embeds the server-side file path, which must not reach API clients.
    return str(exc.strerror or type(exc).__name__)


def _first_frame(
    container: av.container.InputContainer, stream: VideoStream | AudioStream
) -> av.VideoFrame | av.AudioFrame | None:
    """Decode the stream's first frame, giving up after a bounded number of packets."""
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS_FOR_FIRST_FRAME:
            return None
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame | av.AudioFrame):
                return frame
    return None


def _probe_container(path: Path, container: av.container.InputContainer) -> ProbeResult:
    format_name = container.format.name
    videos = [
        s
        for s in container.streams.video
        if not s.disposition & av.stream.Disposition.attached_pic  # cover art is not video
    ]
    if any(s.codec_context is None for s in videos):
        # FFmpeg has no decoder for this codec; treating the file as its audio alone would
        # publish a picture-less "video".
        raise _unreadable("no decoder for its video stream's codec")
    audios = [s for s in container.streams.audio if s.codec_context is not None]
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    primary = video if video is not None else audio
    if primary is None:
        raise _unreadable("no audio or video stream")

    video_codec = video.codec_context.codec.canonical_name if video is not None else None
    is_image = video is not None and (
        format_name.endswith("_pipe")
        or format_name in _IMAGE_FORMATS
        or (audio is None and video_codec in _IMAGE_CODECS and (video.frames or 0) <= 1)
    )
    kind = MediaKind.IMAGE if is_image else MediaKind.VIDEO if video else MediaKind.AUDIO

    # Decoding one frame proves the data, not just the headers, is usable; it also carries
    # the display rotation that phone videos store separately from the coded size.
    first = _first_frame(container, primary)
    if first is None:
        raise _unreadable("no frame could be decoded")

    width = height = None
    rotation = 0
    frame_rate = None
    if video is not None:
        width, height = video.codec_context.width, video.codec_context.height
        if isinstance(first, av.VideoFrame):
            rotation = int(first.rotation) % 360
        if rotation in (90, 270):
            width, height = height, width
        if not is_image:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            frame_rate = float(rate) if rate else None

    audio_sample_rate = audio_channels = None
    audio_codec = None
    if audio is not None:
        audio_codec = audio.codec_context.codec.canonical_name
        audio_sample_rate = audio.codec_context.sample_rate or None
        audio_channels = audio.codec_context.layout.nb_channels or None

    iso = format_name == _ISO_BMFF
    return ProbeResult(
        kind=kind,
        container=_short_container(path, format_name, video_codec),
        format_name=format_name,
        duration_seconds=None if is_image else _duration(container),
        width=width,
        height=height,
        rotation=rotation,
        video_codec=None if is_image else video_codec,
        audio_codec=audio_codec,
        frame_rate=frame_rate,
        audio_sample_rate=audio_sample_rate,
        audio_channels=audio_channels,
        bit_rate=None if is_image else container.bit_rate or None,
        faststart=moov_before_mdat(path) if iso else None,
    )


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    durations = [
        float(s.duration * s.time_base)
        for s in container.streams
        if s.duration is not None and s.time_base is not None
    ]
    return max(durations) if durations else None


def _short_container(path: Path, format_name: str, video_codec: str | None) -> str:
    if format_name == _ISO_BMFF:
        with path.open("rb") as fh:
            brand = _ftyp_brand(fh)
        if brand == b"qt  ":
            return "mov"
        if brand in (b"M4A ", b"M4B "):
            return "m4a"
        if brand is not None and brand.startswith(b"3g"):
            return "3gp"
        return "mp4"
    if format_name == "matroska,webm":
        with path.open("rb") as fh:
            return "webm" if ebml_doctype(fh.read(64)) == b"webm" else "mkv"
    if format_name == "image2" and video_codec in _IMAGE_CODECS:
        return _IMAGE_CODECS[video_codec]
    return format_name.split(",", maxsplit=1)[0].removesuffix("_pipe")


def _ftyp_brand(fh: BinaryIO) -> bytes | None:
    header = fh.read(12)
    if len(header) == 12 and header[4:8] == b"ftyp":
        return header[8:12]
    return None


def moov_before_mdat(path: Path) -> bool | None:
    """For an ISO BMFF (mp4/mov) file: True if `moov` precedes `mdat` (faststart).

    Walks only the top-level box headers, seeking past bodies, so cost does not grow with
    file size. None when neither box is found or the structure is not ISO BMFF.
    """
    with path.open("rb") as fh:
        for box_type, _, _ in iso_boxes(fh, fh.seek(0, 2)):
            if box_type == b"moov":
                return True
            if box_type == b"mdat":
                return False
    return None


_CONTENT_TYPE_FAMILIES: dict[str, frozenset[str]] = {
    "video/mp4": frozenset({"video/mp4", "audio/mp4", "audio/x-m4a", "audio/m4a", "video/3gpp"}),
    "audio/mp4": frozenset({"audio/mp4", "audio/x-m4a", "audio/m4a", "video/mp4"}),
    "video/quicktime": frozenset({"video/quicktime", "video/mp4"}),
    "video/webm": frozenset({"video/webm", "audio/webm"}),
    "video/x-matroska": frozenset({"video/x-matroska", "audio/x-matroska", "video/webm"}),
    "audio/mpeg": frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg"}),
    "audio/aac": frozenset({"audio/aac", "audio/x-aac", "audio/aacp"}),
    "audio/wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "audio/flac": frozenset({"audio/flac", "audio/x-flac"}),
    "audio/ogg": frozenset({"audio/ogg", "audio/opus", "video/ogg", "application/ogg"}),
    "image/png": frozenset({"image/png", "image/apng"}),
    "image/jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "image/gif": frozenset({"image/gif"}),
    "image/webp": frozenset({"image/webp"}),
    "video/x-msvideo": frozenset({"video/x-msvideo", "video/avi"}),
}


def sniff_content_type(path: Path, declared: str | None) -> str:
    """The file's MIME type from its first bytes; the client's `declared` type is kept when
    it names the same format (e.g. audio/mp4 for an mp4 file) or when the bytes are unknown.
    """
    with path.open("rb") as fh:
        head = fh.read(64)
    normalized = declared.split(";")[0].strip().lower() if declared else None
    sniffed = magic_type(head)
    if sniffed is None:
        return normalized or "application/octet-stream"
    if normalized is not None and normalized in _CONTENT_TYPE_FAMILIES.get(sniffed, ()):
        return normalized
    return sniffed
