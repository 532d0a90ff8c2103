"""Generate small, real media files with PyAV, for tests, benchmarks and the demo.

Frames are built from raw bytes (no numpy): a moving bar over a gradient for video, a pure
tone for audio. A 2 s 360x640 H.264 + AAC clip takes well under a second to make.
"""

from __future__ import annotations

import array
import hashlib
import math
import struct
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.video.codeccontext
import av.video.stream
from av.codec.codec import UnknownCodecError

# Encoders to try for each codec, best first; the first one this PyAV build has is used.
_VIDEO_ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("libx264", "libopenh264", "h264"),
    "hevc": ("libx265", "hevc"),
    "vp9": ("libvpx-vp9", "vp9"),
    "vp8": ("libvpx", "vp8"),
    "mpeg4": ("mpeg4",),
    "av1": ("libsvtav1", "libaom-av1"),
}
_AUDIO_ENCODERS: dict[str, tuple[str, ...]] = {
    "aac": ("aac", "libfdk_aac"),
    "mp3": ("libmp3lame", "mp3"),
    "opus": ("libopus", "opus"),
    "vorbis": ("libvorbis", "vorbis"),
    "flac": ("flac",),
    "pcm_s16le": ("pcm_s16le",),
}
# Speed over quality: these files exist to be probed, not watched.
_FAST_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=none"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx": {"deadline": "realtime", "cpu-used": "16"},
    "libsvtav1": {"preset": "12"},
}
_AUDIO_BY_SUFFIX = {
    ".mp3": "mp3",
    ".m4a": "aac",
    ".aac": "aac",
    ".mp4": "aac",
    ".wav": "pcm_s16le",
    ".flac": "flac",
    ".ogg": "opus",
    ".opus": "opus",
    ".webm": "opus",
}
_AUDIO_FOR_CONTAINER = {"webm": "opus", "ogg": "opus"}
_TONE_PERIOD = 100  # samples per cycle: a whole number keeps the tone seamless across frames


def encoder_for(codec: str) -> str:
    """The encoder this PyAV build uses for `codec` (e.g. "libx264" for "h264")."""
    candidates = _VIDEO_ENCODERS.get(codec) or _AUDIO_ENCODERS.get(codec) or (codec,)
    for name in candidates:
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except UnknownCodecError:  # a decoder of that name exists, not an encoder
                continue
            return name
    raise RuntimeError(f"this PyAV build has no encoder for {codec} (tried {candidates})")


def _tone(sample_rate: int, samples: int) -> bytes:
    """`samples` of a mono s16 sine tone at sample_rate / 100 Hz."""
    period = array.array(
        "h", (int(8000 * math.sin(2 * math.pi * k / _TONE_PERIOD)) for k in range(_TONE_PERIOD))
    ).tobytes()
    whole, part = divmod(samples, _TONE_PERIOD)
    return period * whole + period[: part * 2]


def _encode_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: float,
    sample_rate: int,
) -> None:
    total = round(seconds * sample_rate)
    frame_samples = 1000  # 10 tone periods, so every frame starts at phase 0
    pcm = _tone(sample_rate, frame_samples)
    sent = 0
    while sent < total:
        count = min(frame_samples, total - sent)
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.sample_rate = sample_rate
        frame.pts = sent
        frame.time_base = Fraction(1, sample_rate)
        frame.planes[0].update(pcm[: count * 2])
        out.mux(stream.encode(frame))
        sent += count
    out.mux(stream.encode(None))


def _gradient_row(width: int, line_size: int, bar_at: int) -> bytes:
    row = bytearray(line_size)
    for x in range(width):
        row[x] = 16 + (x * 200) // max(width, 1)
    bar = max(width // 12, 2)
    row[bar_at : min(bar_at + bar, width)] = b"\xeb" * (min(bar_at + bar, width) - bar_at)
    return bytes(row)


def _encode_video(
    out: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    *,
    seconds: float,
    width: int,
    height: int,
    fps: int,
) -> None:
    frames = max(round(seconds * fps), 1)
    template = av.VideoFrame(width, height, "yuv420p")
    y_plane, u_plane, v_plane = template.planes
    chroma_u = bytes([90]) * u_plane.buffer_size
    chroma_v = bytes([170]) * v_plane.buffer_size
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        bar_at = (index * 7) % max(width, 1)
        frame.planes[0].update(_gradient_row(width, y_plane.line_size, bar_at) * y_plane.height)
        frame.planes[1].update(chroma_u)
        frame.planes[2].update(chroma_v)
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def make_video(
    path: Path | str,
    *,
    seconds: float = 2.0,
    width: int = 360,
    height: int = 640,
    fps: int = 30,
    codec: str = "h264",
    audio: bool = True,
    audio_codec: str | None = None,
    sample_rate: int = 48000,
    container: str | None = None,
    faststart: bool = True,
    rotation: int = 0,
) -> Path:
    """Write a short video (moving bar, optional tone) and return its path.

    `container` defaults to the path's suffix; `faststart=False` leaves the mp4 `moov` box
    after the media data; `rotation` stores a display rotation (stored size stays as given).
    """
    path = Path(path)
    fmt = container or path.suffix.lstrip(".") or "mp4"
    muxer = {"mkv": "matroska"}.get(fmt, fmt)
    options = {"movflags": "faststart"} if faststart and fmt in {"mp4", "mov"} else {}
    with av.open(str(path), mode="w", format=muxer, options=options) as out:
        encoder = encoder_for(codec)
        video = out.add_stream(encoder, rate=fps, options=_FAST_OPTIONS.get(encoder, {}))
        if not isinstance(video, av.video.stream.VideoStream):
            raise TypeError(f"{encoder} is not a video encoder")
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        sound: av.audio.stream.AudioStream | None = None
        if audio:
            chosen = audio_codec or _AUDIO_FOR_CONTAINER.get(fmt, "aac")
            added = out.add_stream(encoder_for(chosen), rate=sample_rate)
            if not isinstance(added, av.audio.stream.AudioStream):
                raise TypeError(f"{chosen} is not an audio codec")
            added.layout = "mono"
            sound = added
        _encode_video(out, video, seconds=seconds, width=width, height=height, fps=fps)
        if sound is not None:
            _encode_audio(out, sound, seconds, sample_rate)
    return path


def make_audio(
    path: Path | str,
    *,
    seconds: float = 2.0,
    codec: str | None = None,
    sample_rate: int = 48000,
    faststart: bool = True,
) -> Path:
    """Write a mono tone; the codec defaults from the suffix (.mp3, .m4a, .wav, .flac, .ogg).

    `faststart=False` leaves an m4a's `moov` box after the media data.
    """
    path = Path(path)
    chosen = codec or _AUDIO_BY_SUFFIX.get(path.suffix.lower())
    if chosen is None:
        raise ValueError(f"pick a codec for {path.name}: no default for {path.suffix!r}")
    iso = path.suffix.lower() in {".m4a", ".mp4", ".mov"}
    options = {"movflags": "faststart"} if faststart and iso else {}
    with av.open(str(path), mode="w", options=options) as out:
        stream = out.add_stream(encoder_for(chosen), rate=sample_rate)
        if not isinstance(stream, av.audio.stream.AudioStream):
            raise TypeError(f"{chosen} is not an audio codec")
        stream.layout = "mono"
        _encode_audio(out, stream, seconds, sample_rate)
    return path


_IMAGE_ENCODERS = {
    ".png": ("png", "rgb24"),
    ".jpg": ("mjpeg", "yuvj420p"),
    ".jpeg": ("mjpeg", "yuvj420p"),
    ".webp": ("libwebp", "yuv420p"),
    ".gif": ("gif", "rgb8"),
}


def make_image(path: Path | str, width: int = 320, height: int = 240) -> Path:
    """Write a gradient image; the format follows the suffix (.png, .jpg/.jpeg, .webp, .gif)."""
    path = Path(path)
    try:
        encoder, pix_fmt = _IMAGE_ENCODERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"make_image writes .png/.jpg/.webp/.gif, not {path.suffix!r}") from None
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    # Red follows x, green follows y: build one row, then only rewrite its green bytes.
    row = bytearray(plane.line_size)
    row[0 : 3 * width : 3] = bytes((x * 255) // max(width, 1) for x in range(width))
    row[2 : 3 * width : 3] = b"\x80" * width
    rows = bytearray()
    for y in range(height):
        row[1 : 3 * width : 3] = bytes([(y * 255) // max(height, 1)]) * width
        rows += row
    plane.update(bytes(rows))
    context = av.CodecContext.create(encoder, "w")
    if not isinstance(context, av.video.codeccontext.VideoCodecContext):
        raise TypeError(f"{encoder} is not a video encoder")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    context.time_base = Fraction(1, 25)
    converted = frame.reformat(format=pix_fmt)
    converted.pts = 0
    packets = context.encode(converted) + context.encode(None)
    # An image encoder's single packet is the whole file (PNG, JFIF, RIFF/WEBP); GIF's lacks
    # the trailer byte the GIF muxer would add after the last image.
    trailer = b";" if encoder == "gif" else b""
    path.write_bytes(b"".join(bytes(packet) for packet in packets) + trailer)
    return path


def make_corrupt(path: Path | str, size: int = 4096) -> Path:
    """Write bytes that start like an mp4 (`ftyp`, `moov`, `mdat` boxes) but hold no media."""
    path = Path(path)

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    # Deterministic filler: tests must see the same bytes on every run.
    filler = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    data = (
        box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
        + box(b"moov", filler[:256])
        + box(b"mdat", filler[: max(size - 320, 0)])
    )
    path.write_bytes(data)
    return path
