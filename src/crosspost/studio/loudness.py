"""Loudness to the platforms' target: measure (EBU R 128, FFmpeg's ebur128 filter), then one
constant gain to -14 LUFS integrated, with a true-peak limiter only when that gain would
push peaks above -1 dBTP.

The gain is linear (the mix is untouched) unless the limiter must act; it works at 192 kHz,
so the peaks it holds down are the true (inter-sample) peaks ebur128 measures at 4x.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import chain

import av
import av.error
import av.filter

TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
# The limiter holds a little lower than the ceiling: resampling back to 48 kHz and AAC
# coding each add a fraction of a dB to the peaks.
_LIMIT_DBTP = -2.0
_LIMIT_ABOVE_DBTP = -1.6  # expected peaks above this after the gain bring the limiter in
_GATE_LUFS = -70.0  # ebur128's absolute gate: quieter is silence, nothing to level
# A limiter that acts often (a quiet track with loud transients) takes loudness away; the
# gain is raised by what was lost and the result measured again, a bounded number of times.
_TOLERANCE_LU = 0.5
_CORRECTIONS = 3


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS) and true peak (dBTP); None for silence."""

    integrated: float | None
    true_peak: float | None


@dataclass(frozen=True)
class _Chain:
    """A configured audio filter graph with its ends (the graph must outlive its ends)."""

    graph: av.filter.Graph
    source: av.filter.FilterContext
    sink: av.filter.FilterContext

    def feed(self, frame: av.AudioFrame | None) -> Iterator[av.AudioFrame]:
        """Push `frame` (None: the end) and yield every frame ready at the other end."""
        self.source.push(frame)
        while True:
            try:
                out = self.sink.pull()
            except (BlockingIOError, av.error.EOFError):
                return
            if isinstance(out, av.AudioFrame):
                yield out


def _graph(first: av.AudioFrame, steps: list[tuple[str, str]]) -> _Chain:
    graph = av.filter.Graph()
    source = graph.add_abuffer(
        sample_rate=first.sample_rate,
        format=first.format.name,
        layout=first.layout.name,
        time_base=first.time_base,
    )
    node = source
    for name, args in steps:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    return _Chain(graph, source, sink)


def measure(frames: Iterable[av.AudioFrame]) -> Loudness:
    """The integrated loudness and true peak of the frames' sound (any format)."""
    stream = iter(frames)
    first = next(stream, None)
    if first is None:
        return Loudness(None, None)
    meter = _graph(first, [("ebur128", "peak=true:metadata=1")])
    integrated: float | None = None
    peak = 0.0
    for frame in chain([first], stream, [None]):
        for out in meter.feed(frame):
            meta = out.metadata
            if "lavfi.r128.I" in meta:
                integrated = float(meta["lavfi.r128.I"])
            peak = max(peak, float(meta.get("lavfi.r128.true_peak", 0.0)))
    if integrated is not None and integrated <= _GATE_LUFS:
        integrated = None
    true_peak = 20 * math.log10(peak) if peak > 0 else None
    return Loudness(integrated, true_peak)


@dataclass(frozen=True)
class Levelling:
    """What to do to the sound: a gain in dB, and whether peaks need the limiter."""

    gain_db: float
    limit: bool

    @classmethod
    def to_target(cls, measured: Loudness) -> Levelling:
        """The gain that brings `measured` to TARGET_LUFS, limited when its peaks need it."""
        if measured.integrated is None:
            return cls(0.0, limit=False)
        gain = TARGET_LUFS - measured.integrated
        # ebur128 reports peaks to 3 decimals of linear amplitude; round up, never down.
        peak = (measured.true_peak if measured.true_peak is not None else -120.0) + 0.05
        return cls(gain, limit=peak + gain > _LIMIT_ABOVE_DBTP)

    def steps(self, rate: int) -> list[tuple[str, str]]:
        """The filter chain that applies it, ending in the AAC encoder's planar float."""
        steps = [("volume", f"volume={self.gain_db:.3f}dB:precision=float")]
        if self.limit:
            ceiling = 10 ** (_LIMIT_DBTP / 20)
            steps += [
                ("aresample", f"{rate * 4}"),
                ("alimiter", f"limit={ceiling:.4f}:level=disabled:latency=1:release=80"),
                ("aresample", f"{rate}"),
            ]
        steps.append(("aformat", f"sample_fmts=fltp:sample_rates={rate}:channel_layouts=stereo"))
        return steps


def plan(sound: Callable[[], Iterable[av.AudioFrame]]) -> Levelling:
    """The levelling that brings the sound `sound()` yields (afresh on each call) to target."""
    levelling = Levelling.to_target(measure(sound()))
    for _ in range(_CORRECTIONS if levelling.limit else 0):
        got = measure(levelled(sound(), levelling)).integrated
        if got is None or abs(got - TARGET_LUFS) <= _TOLERANCE_LU:
            break
        levelling = replace(levelling, gain_db=levelling.gain_db + TARGET_LUFS - got)
    return levelling


def levelled(frames: Iterable[av.AudioFrame], levelling: Levelling) -> Iterator[av.AudioFrame]:
    """The frames with the levelling applied, restamped on one clock from 0."""
    stream = iter(frames)
    first = next(stream, None)
    if first is None:
        return
    rate = first.sample_rate
    levels = _graph(first, levelling.steps(rate))
    position = 0
    for frame in chain([first], stream, [None]):
        for out in levels.feed(frame):
            # The limiter's latency compensation shifts timestamps; count samples instead.
            out.pts = position
            out.time_base = Fraction(1, rate)
            position += out.samples
            yield out
