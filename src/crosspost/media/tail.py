"""The end of a media file, read through FFmpeg: proof that its last packets are there.

Probing decodes the first frame, but a cut file loses its end. For MP4/MOV every sample's
offset and size (`stco`/`co64` + `stsz`) is already in memory once the file is open, so the
furthest sample must lie inside the file. For every format the last seconds are then demuxed
(seeking there first, so the cost does not grow with the file); FLAC's are also decoded,
the one way a frame cut in the middle shows there (other formats' frames carry their size,
which `layout` checks; decoding them would also trip on harmless bytes appended after).
"""

from __future__ import annotations

import contextlib

import av
import av.container
import av.error

from crosspost.media.layout import short_by, truncated

_ISO_BMFF = "mov,mp4,m4a,3gp,3g2,mj2"
_TAIL_SECONDS = 3.0
# FLAC's STREAMINFO states the exact sample count, so the data must reach it; elsewhere a
# stated duration is a muxer's estimate or is covered by a size in `layout`.
_FLAC = "flac"


def check_tail(container: av.container.InputContainer, size: int) -> None:
    """Raise `media_truncated` unless the file's samples all lie within its `size` bytes and
    its last packets demux (and, for audio, decode)."""
    if container.format.name == _ISO_BMFF:
        _check_sample_tables(container, size)
    _check_last_packets(container)


def _check_sample_tables(container: av.container.InputContainer, size: int) -> None:
    furthest = max(
        (entry.pos + entry.size for stream in container.streams for entry in stream.index_entries),
        default=0,
    )
    if furthest > size:
        raise short_by("its sample tables (stco/co64 and stsz) end", furthest, size)


def _seek_to_tail(container: av.container.InputContainer) -> None:
    if not container.duration:
        return  # nothing says where the end is: read on from the first frame
    start = container.start_time or 0
    target = start + container.duration - int(_TAIL_SECONDS * av.time_base)
    with contextlib.suppress(av.error.FFmpegError):  # not seekable: reading on still ends there
        container.seek(max(target, start))


def _check_last_packets(container: av.container.InputContainer) -> None:
    _seek_to_tail(container)
    decode = container.format.name == _FLAC
    warmed: set[int] = set()  # audio streams that decoded a frame since the seek
    ends: dict[int, int] = {}  # per stream: the furthest packet end, in its time base
    last = 0.0  # seconds: the furthest point read so far, for the refusal
    try:
        for packet in container.demux():
            # Empty packets flush each decoder at the end. A short read (`is_corrupt`) is no
            # sign of a cut: streamed WAV and raw formats end that way when whole.
            if packet.size == 0:
                continue
            index = packet.stream_index
            if decode:
                try:
                    if packet.decode():
                        warmed.add(index)
                except av.error.FFmpegError:
                    # Right after a seek the decoder may lack context; after that, an
                    # undecodable frame at the end of the file is a cut one.
                    if index in warmed:
                        raise
            timestamp = packet.pts if packet.pts is not None else packet.dts
            if timestamp is not None and packet.time_base is not None:
                end = timestamp + (packet.duration or 0)
                ends[index] = max(ends.get(index, end), end)
                last = max(last, float(end * packet.time_base))
    except av.error.FFmpegError as exc:
        raise truncated(
            f"nothing after {last:.3f} s can be read (FFmpeg: {exc.strerror or 'invalid data'})",
            last_timestamp_seconds=round(last, 3),
        ) from exc
    if container.format.name == _FLAC:
        _check_declared_length(container, ends)


def _check_declared_length(container: av.container.InputContainer, ends: dict[int, int]) -> None:
    for stream in container.streams:
        if not stream.duration or stream.time_base is None or stream.index not in ends:
            continue
        declared = (stream.start_time or 0) + stream.duration
        if ends[stream.index] < declared:
            reached = float(ends[stream.index] * stream.time_base)
            stated = float(declared * stream.time_base)
            raise truncated(
                f"its header declares {stated:.3f} s but its data ends at {reached:.3f} s",
                last_timestamp_seconds=round(reached, 3),
                declared_duration_seconds=round(stated, 3),
            )
