"""One decoding pass over a source, reduced to per-second signals: loudness, motion, cuts.

Audio goes through FFmpeg's `ebur128` filter (EBU R128 short-term loudness, in C); video
through `picture` (sampled frames, compared pairwise). Only per-second aggregates are
kept, so a 4-hour source costs a few hundred KiB.

Decoding all of a 1080p30 H.264 video runs at about 10x real time on two cores, too slow
for the 20x the studio needs: a video whose pixel rate exceeds `FULL_DECODE_PIXEL_RATE`
has only the start of each group of pictures decoded, a share of each group sized so the
decoding costs about what a full decode of that pixel rate would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import av
import av.container
import av.error
import av.filter
import av.stream
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from crosspost.errors import InvalidInput
from crosspost.studio.picture import GopBudget, PictureAnalyser

T = TypeVar("T", int, float)

FULL_DECODE_PIXEL_RATE = 12_000_000  # luma pixels per second, about 640x360 at 50 fps
SILENCE_LUFS = -70.0  # R128's absolute gate: anything quieter counts as silence
# A source where more than this share of packets fails to decode is refused.
_MAX_ERROR_SHARE = 0.5
# ebur128's short-term window is 3 s; a reading describes the moment 1.5 s before it ends.
_SHORT_TERM = 3.0
_READING = 0.1  # ebur128 reports every 100 ms


class HighlightError(InvalidInput):
    """Highlight detection cannot use this source or these parameters; `code` says why."""

    code = "highlight_failed"
    title = "Highlight detection failed"


@dataclass(frozen=True)
class Signals:
    """Per-second aggregates of a source; a signal is None when the source lacks its stream.

    `loudness[i]` is the loudest short-term loudness (LUFS) centred in second i; `motion[i]`
    the mean change between consecutive samples (0-1), None where no pair was decoded;
    `cuts[i]` the number of cuts found in second i.
    """

    duration: float
    loudness: tuple[float, ...] | None
    motion: tuple[float | None, ...] | None
    cuts: tuple[int, ...] | None


@dataclass
class _Seconds:
    """Grows per-second cells on demand."""

    loudness: list[float] = field(default_factory=list)
    motion_sum: list[float] = field(default_factory=list)
    motion_count: list[int] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)

    def add_cut(self, t: float) -> None:
        index = _grow(self.cuts, t, 0)
        self.cuts[index] += 1

    def add_motion(self, t: float, change: float) -> None:
        index = _grow(self.motion_sum, t, 0.0)
        _grow(self.motion_count, t, 0)
        self.motion_sum[index] += change
        self.motion_count[index] += 1

    def add_loudness(self, t: float, lufs: float) -> None:
        index = _grow(self.loudness, t, SILENCE_LUFS)
        self.loudness[index] = max(self.loudness[index], lufs)


def _grow(cells: list[T], t: float, empty: T) -> int:
    """The index of second `t` in `cells`, extended with `empty` up to it."""
    index = max(int(t), 0)
    if len(cells) <= index:
        cells.extend([empty] * (index + 1 - len(cells)))
    return index


class _Loudness:
    """Feeds audio frames through ebur128 and keeps the loudest reading per second."""

    def __init__(self, stream: AudioStream, seconds: _Seconds) -> None:
        self.seconds = seconds
        self.graph = av.filter.Graph()
        source = self.graph.add_abuffer(template=stream)
        meter = self.graph.add("ebur128", "metadata=1")
        sink = self.graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        self.graph.configure()
        self.heard = 0.0  # seconds of audio read, for frames without a timestamp

    def push(self, frame: av.AudioFrame | None, start: float) -> None:
        if frame is not None:
            self.heard += frame.samples / max(frame.sample_rate, 1)
        self.graph.push(frame)
        while True:
            try:
                reading = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            if isinstance(reading, av.AudioFrame):
                self._keep(reading, start)

    def _keep(self, reading: av.AudioFrame, start: float) -> None:
        end = (reading.time - start if reading.time is not None else self.heard) + _READING
        # Before 3 s of audio the short-term value is not yet defined; the momentary one is.
        key = "lavfi.r128.S" if end >= _SHORT_TERM else "lavfi.r128.M"
        value = max(float(reading.metadata.get(key, SILENCE_LUFS)), SILENCE_LUFS)
        centre = max(end - min(end, _SHORT_TERM) / 2, 0.0)
        self.seconds.add_loudness(centre, value)


ProgressCallback = Callable[[float, float], None]


def read_signals(
    path: Path,
    progress: ProgressCallback | None = None,
    *,
    pixel_budget: int = FULL_DECODE_PIXEL_RATE,
) -> Signals:
    """Decode `path` once and return its per-second signals; raises HighlightError.

    `pixel_budget` is the pixel rate (luma pixels per second) decoded in full.
    """
    try:
        container = av.open(str(path), metadata_errors="replace")
    except FileNotFoundError:
        raise HighlightError(
            "the source file is missing; upload it again", code="source_missing"
        ) from None
    except av.error.FFmpegError as exc:
        raise HighlightError(
            "the source is not a readable audio or video file; upload an mp4, mov, webm, "
            "mkv, m4a, mp3, wav or similar file",
            code="unreadable",
            reason=str(exc.strerror or type(exc).__name__),
        ) from None
    with container:
        return _Pass(container, progress, pixel_budget).run()


class _Pass:
    """The single demux-and-decode pass over a container."""

    def __init__(
        self,
        container: av.container.InputContainer,
        progress: ProgressCallback | None,
        pixel_budget: int,
    ) -> None:
        self.container = container
        self.progress = progress
        self.pixel_budget = pixel_budget
        self.video = next(
            (
                s
                for s in container.streams.video
                if s.codec_context is not None
                and not s.disposition & av.stream.Disposition.attached_pic
            ),
            None,
        )
        self.audio = next((s for s in container.streams.audio if s.codec_context), None)
        if self.video is None and self.audio is None:
            raise HighlightError(
                "the source has no audio or video stream FFmpeg can decode; upload a video "
                "or audio file",
                code="no_streams",
            )
        start = container.start_time
        self.start = start / av.time_base if start is not None else 0.0
        self.total = container.duration / av.time_base if container.duration else 0.0
        self.seconds = _Seconds()
        self.packets = self.errors = 0
        self.end = 0.0
        self.decoded = {"audio": 0, "video": 0}
        self.loudness: _Loudness | None = None
        self.analyser: PictureAnalyser | None = None

    def run(self) -> Signals:
        """Read every packet, decode what is needed, and reduce it to per-second signals."""
        self.loudness = self._meter(self.audio)
        cells = self.seconds
        self.analyser = PictureAnalyser(cells.add_cut, cells.add_motion) if self.video else None
        budget = GopBudget(self._share(self.video)) if self.video else None
        step = max(self.total / 100, 1.0)
        reported = 0.0
        t = 0.0
        for packet, t in self._packets():
            if self.progress is not None and t - reported >= step:
                reported = t
                self.progress(min(t, self.total or t), self.total or t)
            is_audio = self.audio is not None and packet.stream.index == self.audio.index
            if is_audio or (budget is not None and budget.wants(packet, t)):
                self._frames(self._decode(packet), t)
        # Threaded decoders hold the last frames back until they are flushed.
        for stream in (self.video, self.audio):
            if stream is not None:
                self._frames(self._decode(None, stream), t)
        if self.loudness is not None:
            self.loudness.push(None, self.start)
        self._check()
        duration = max(self.end, self.total if self.end == 0 else 0.0)
        if self.progress is not None:
            self.progress(duration, duration)
        return self._signals(duration)

    def _frames(self, frames: list[av.AudioFrame | av.VideoFrame], t: float) -> None:
        """Hand decoded frames to their analysis; `t` is their packet's time."""
        for frame in frames:
            # A still image's frame has no timestamp: its packet's time stands for it.
            time = frame.time
            shown = time if time is not None and math.isfinite(time) else t + self.start
            if isinstance(frame, av.AudioFrame) and self.loudness is not None:
                self.decoded["audio"] += 1
                self.loudness.push(frame, self.start)
                self._reach(shown, frame.samples / max(frame.sample_rate, 1))
            elif isinstance(frame, av.VideoFrame) and self.analyser is not None:
                self.decoded["video"] += 1
                self.analyser.frame(frame, shown - self.start)
                base = frame.time_base
                self._reach(shown, float(frame.duration * base) if frame.duration and base else 0)

    def _meter(self, stream: AudioStream | None) -> _Loudness | None:
        if stream is None:
            return None
        try:
            return _Loudness(stream, self.seconds)
        except (ValueError, av.error.FFmpegError):
            # An audio layout the filter graph cannot take (e.g. no sample rate in the
            # headers): the picture and transcript still count, loudness does not.
            self.audio = None
            return None

    def _share(self, stream: VideoStream | None) -> float:
        if stream is None:
            return 1.0
        context = stream.codec_context
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        pixels = max(context.width * context.height, 1) * rate
        if pixels <= self.pixel_budget:
            return 1.0
        # Frames nothing references (B-frames, mostly) never feed another's decoding.
        context.skip_frame = "NONREF"
        return self.pixel_budget / pixels

    def _packets(self) -> Iterator[tuple[av.Packet[Any], float]]:
        streams = [s for s in (self.video, self.audio) if s is not None]
        for stream in streams:
            stream.codec_context.thread_type = "AUTO"
        demuxed = self.container.demux(streams)
        bases: dict[int, float] = {}
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                return
            except av.error.FFmpegError:
                # A damaged stretch the demuxer cannot resync past ends the readable part.
                self.errors += 1
                return
            if packet.size == 0 and packet.dts is None:
                continue  # the flush packet; decoders are drained below
            self.packets += 1
            stamp = packet.dts if packet.dts is not None else packet.pts
            # Float seconds per tick, once per stream: Fraction arithmetic per packet shows
            # in the profile of a long source.
            base = bases.get(packet.stream_index)
            if base is None:
                base = bases[packet.stream_index] = float(packet.time_base or 0)
            t = stamp * base - self.start if stamp is not None and base else self.end
            yield packet, t

    def _decode(
        self, packet: av.Packet[Any] | None, stream: AudioStream | VideoStream | None = None
    ) -> list[av.AudioFrame | av.VideoFrame]:
        """The frames `packet` gives (or, with None, what `stream`'s decoder still holds)."""
        try:
            frames: list[Any]
            if packet is not None:
                frames = packet.decode()
            else:
                frames = stream.decode(None) if stream is not None else []
            return [f for f in frames if isinstance(f, av.AudioFrame | av.VideoFrame)]
        except av.error.FFmpegError:
            self.errors += 1
            return []

    def _reach(self, time: float | None, length: float) -> None:
        if time is not None:
            self.end = max(self.end, time - self.start + length)

    def _check(self) -> None:
        if not any(self.decoded.values()) or self.errors > _MAX_ERROR_SHARE * max(self.packets, 1):
            raise HighlightError(
                "the source's audio and video could not be decoded (the file is damaged or "
                "uses a codec FFmpeg cannot read); export it again, e.g. as H.264/AAC mp4",
                code="undecodable",
                packets=self.packets,
                errors=self.errors,
            )

    def _signals(self, duration: float) -> Signals:
        cells = max(math.ceil(duration), 1)

        def sized(values: list[float] | list[int], empty: float) -> list[float]:
            return [float(v) for v in values[:cells]] + [empty] * (cells - len(values))

        loudness = motion = cuts = None
        if self.decoded["audio"]:
            # The last readings centre 1.5 s before the end: the tail keeps their level.
            heard = self.seconds.loudness or [SILENCE_LUFS]
            loudness = tuple(sized(heard, heard[-1]))
        if self.decoded["video"]:
            sums = sized(self.seconds.motion_sum, 0.0)
            counts = sized(self.seconds.motion_count, 0.0)
            motion = tuple(s / c if c else None for s, c in zip(sums, counts, strict=True))
            cuts = tuple(int(c) for c in sized(self.seconds.cuts, 0.0))
        return Signals(round(duration, 3), loudness, motion, cuts)
