"""The render's sound before it is levelled: each part's audio (intro, clip, outro) decoded,
cut to the part's exact length, as 48 kHz stereo float frames on one continuous clock.

A part without audio, or whose audio starts late or ends early, is filled with silence, so
sound and picture stay in step across the joins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

RATE = 48000
LAYOUT = "stereo"
FORMAT = "flt"  # packed float: one bytes buffer per frame, and gain above 0 dBFS survives
_SAMPLE_BYTES = 8  # two channels of 4-byte floats
_CHUNK = 4096


@dataclass(frozen=True)
class AudioPart:
    """`duration` seconds of `path`'s sound from `start` (seconds of the source)."""

    path: Path
    start: float
    duration: float

    @property
    def samples(self) -> int:
        """The part's length in samples at RATE."""
        return round(self.duration * RATE)


def _silence(samples: int) -> Iterator[bytes]:
    while samples > 0:
        count = min(samples, _CHUNK)
        yield bytes(count * _SAMPLE_BYTES)
        samples -= count


def _decoded(part: AudioPart) -> Iterator[bytes]:
    """The part's sound from its start on (unbounded; silence first if it starts late)."""
    with av.open(str(part.path)) as container:
        streams = [s for s in container.streams.audio if s.codec_context is not None]
        if not streams:
            return
        stream = streams[0]
        offset = (container.start_time or 0) / av.time_base
        if part.start > 0 and stream.time_base is not None:
            container.seek(round((part.start + offset) / stream.time_base), stream=stream)
        resampler = av.AudioResampler(format=FORMAT, layout=LAYOUT, rate=RATE)
        skip: int | None = None
        for frame in _frames(container, stream):
            if skip is None:
                begins = frame.time - offset if frame.time is not None else part.start
                lead = round((begins - part.start) * RATE)
                yield from _silence(lead)
                skip = max(-lead, 0) * _SAMPLE_BYTES
            for out in resampler.resample(frame):
                data = bytes(out.planes[0])[: out.samples * _SAMPLE_BYTES]
                cut = min(skip, len(data))
                skip -= cut
                if cut < len(data):
                    yield data[cut:]
        for out in resampler.resample(None):
            yield bytes(out.planes[0])[: out.samples * _SAMPLE_BYTES]


def _frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> Iterator[av.AudioFrame]:
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue  # one damaged packet is a click of silence, not a failed render


def part_pcm(part: AudioPart) -> Iterator[bytes]:
    """Exactly `part.samples` samples of packed float stereo, in pieces."""
    wanted = part.samples * _SAMPLE_BYTES
    for data in _decoded(part):
        if wanted <= 0:
            return
        piece = data[:wanted]
        wanted -= len(piece)
        yield piece
    yield from _silence(wanted // _SAMPLE_BYTES)


def timeline(parts: Iterable[AudioPart]) -> Iterator[av.AudioFrame]:
    """The parts one after the other as frames with continuous timestamps from 0."""
    position = 0
    for part in parts:
        for data in part_pcm(part):
            samples = len(data) // _SAMPLE_BYTES
            if not samples:
                continue
            frame = av.AudioFrame(format=FORMAT, layout=LAYOUT, samples=samples)
            frame.sample_rate = RATE
            frame.pts = position
            frame.time_base = Fraction(1, RATE)
            frame.planes[0].update(data)
            position += samples
            yield frame
