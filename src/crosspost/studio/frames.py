"""A source video read for rendering: what it is (size, rotation, bit depth, length), and its
decoded frames picked onto a constant frame rate.

Each output frame k (time k / fps from the clip's start) shows the last source frame that
starts at or before the middle of the gap to frame k + 1, whatever the source's rate and
however irregular its timestamps (variable frame rate phone video).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import av.stream

from crosspost.studio.render_spec import RenderError

_MAX_PACKETS_FOR_FIRST_FRAME = 500
# Timestamps are rounded to their time base; this keeps a frame that lands exactly on a
# boundary on the same side of it however the division rounds.
_EPSILON = 1e-6


@dataclass(frozen=True)
class VideoSource:
    """A decodable video: coded size and pixel format, rotation, duration and time offset."""

    path: Path
    width: int
    height: int
    pix_fmt: str
    rotation: int
    duration: float
    offset: float  # the container's start time: source time 0 is this timestamp
    wide_gamut: bool = False  # BT.2020 primaries (HLG HDR, most phones): converted to BT.709


# ISO/IEC 23091-2 code points, as FFmpeg tags frames: SMPTE ST 2084 (PQ) transfer and
# BT.2020 primaries.
_PQ = 16
_BT2020 = 9


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for stream in container.streams.video:
        cover_art = stream.disposition & av.stream.Disposition.attached_pic
        if not cover_art and stream.codec_context is not None:
            return stream
    return None


def _open(path: Path, what: str, code: str) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="replace")
    except FileNotFoundError:
        raise RenderError(
            f"{what} {path.name} does not exist: upload it again", code=code
        ) from None
    except av.error.FFmpegError:
        raise RenderError(
            f"{what} {path.name} could not be opened as a video: upload an mp4, mov or webm file",
            code=code,
        ) from None


def inspect(
    path: Path, *, what: str = "the source", code: str = "source_unreadable"
) -> VideoSource:
    """Open `path` and decode its first video frame; RenderError(`code`) when unusable.

    `what` names the file in messages ("the intro"); a file with no video stream raises
    `no_video_stream` for the source and `code` for others.
    """
    with _open(path, what, code) as container:
        stream = _video_stream(container)
        if not container.streams:
            raise RenderError(
                f"{what} {path.name} is damaged or not a video: no stream could be read; "
                "upload it again or re-export it",
                code=code,
            )
        if stream is None:
            raise RenderError(
                f"{what} {path.name} has no video stream: render from a video file",
                code="no_video_stream" if code == "source_unreadable" else code,
            )
        first = None
        try:
            for count, packet in enumerate(container.demux(stream)):
                if count >= _MAX_PACKETS_FOR_FIRST_FRAME or first is not None:
                    break
                first = next(iter(packet.decode()), None)
        except av.error.FFmpegError:
            first = None
        if first is None:
            raise RenderError(
                f"{what} {path.name} is damaged: no picture could be decoded; upload it again "
                "or re-export it",
                code=code,
            )
        if first.color_trc == _PQ:
            raise RenderError(
                f"{what} {path.name} is HDR10 (PQ): renders are SDR, and tone-mapping PQ needs "
                "a filter (zscale) this server's FFmpeg lacks; export it as SDR (BT.709) or "
                "HLG, then render that",
                code="hdr_not_supported",
            )
        offset = (container.start_time or 0) / av.time_base
        if container.duration:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = 0.0
        return VideoSource(
            path=path,
            width=first.width,
            height=first.height,
            pix_fmt=first.format.name,
            rotation=int(first.rotation) % 360,
            duration=duration,
            offset=offset,
            wide_gamut=first.color_primaries == _BT2020,
        )


def cfr_frames(source: VideoSource, start: float, count: int, fps: int) -> Iterator[av.VideoFrame]:
    """`count` frames for times start + k / fps (seconds of the source), k = 0, 1, ...

    Frames repeat where the source has fewer; the last frame holds if the source ends early.
    """
    half = 0.5 / fps
    emitted = 0
    current: av.VideoFrame | None = None
    with av.open(str(source.path), metadata_errors="replace") as container:
        stream = _video_stream(container)
        if stream is None:  # inspect() found one: the file changed under us
            raise RenderError(
                f"{source.path.name} changed during the render: render again",
                code="source_unreadable",
            )
        stream.codec_context.thread_type = "AUTO"  # frame and slice threads
        if start > 0 and stream.time_base is not None:
            container.seek(round((start + source.offset) / stream.time_base), stream=stream)
        for frame in _decoded(container, stream):
            if frame.time is None:
                continue
            at = frame.time - source.offset - start
            while current is not None and emitted < count and at + _EPSILON >= emitted / fps + half:
                yield current
                emitted += 1
            if emitted >= count:
                return
            current = frame
    while current is not None and emitted < count:
        yield current
        emitted += 1


def _decoded(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue  # a damaged packet costs its frames (the last good one holds), not the render
