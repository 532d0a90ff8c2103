"""Video analysis: which packets to decode, and what pairs of sampled frames show.

Frames are sampled at up to `SAMPLE_FPS` and each sample shrunk to a tiny picture; the
change between consecutive samples measures motion, a jump in their colour histograms
marks a cut. Decoding every frame of a large video costs more than the analysis is worth,
so `GopBudget` can limit decoding to the start of each group of pictures: the keyframe and
the frames just after it, a share of the group sized to a decoding budget.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from av.video.reformatter import VideoReformatter

SAMPLE_FPS = 4.0
_ANALYSIS_SIZE = (64, 36)
_HISTOGRAM_BINS = 16
# A cut changes the colours (histogram) and the picture (pixels) at once; motion changes
# the pixels, a fade only a little of each at a time.
_CUT_HISTOGRAM = 0.35
_CUT_PIXELS = 0.06
_ASSUMED_GOP_SECONDS = 2.0  # until two keyframes have been seen
# Samples further apart than this did not see continuous motion between them.
_MOTION_GAP = 2.5 / SAMPLE_FPS


@dataclass(frozen=True)
class _Sample:
    time: float
    pixels: bytes
    histogram: tuple[float, ...]


def _histogram(plane: bytes, weight: float) -> list[float]:
    bins = [0.0] * _HISTOGRAM_BINS
    shift = 8 - int(math.log2(_HISTOGRAM_BINS))
    for value in plane:
        bins[value >> shift] += weight
    return bins


class PictureAnalyser:
    """Turns decoded frames into samples, and pairs of samples into cuts or motion."""

    def __init__(
        self, on_cut: Callable[[float], None], on_motion: Callable[[float, float], None]
    ) -> None:
        self.on_cut, self.on_motion = on_cut, on_motion
        # One reformatter keeps its scaling context between samples; building one per
        # frame costs ten times the scaling itself at 1080p.
        self.reformatter = VideoReformatter()
        self.next_sample = 0.0
        self.previous: _Sample | None = None

    def frame(self, frame: av.VideoFrame, t: float) -> None:
        """Take `frame` (shown at `t` seconds) as a sample if one is due."""
        if t < self.next_sample:
            return
        # The next grid point after t, so a variable frame rate samples as evenly.
        self.next_sample = (math.floor(t * SAMPLE_FPS) + 1) / SAMPLE_FPS
        # Tiny yuv420p keeps colour (a cut between equally bright colours still shows) and
        # costs a fraction of an RGB conversion; rotation and odd sizes do not matter here.
        small = self.reformatter.reformat(
            frame,
            width=_ANALYSIS_SIZE[0],
            height=_ANALYSIS_SIZE[1],
            format="yuv420p",
            interpolation="FAST_BILINEAR",
        )
        planes = [_visible(small, i) for i in range(3)]
        histogram = tuple(
            value
            for plane in planes
            for value in _histogram(plane, 1.0 / max(len(plane), 1) / len(planes))
        )
        sample = _Sample(t, b"".join(planes), histogram)
        if self.previous is not None:
            self._compare(self.previous, sample)
        self.previous = sample

    def _compare(self, before: _Sample, after: _Sample) -> None:
        pixels = sum(map(abs, map(operator.sub, before.pixels, after.pixels))) / (
            255 * max(len(after.pixels), 1)
        )
        colours = sum(map(abs, map(operator.sub, before.histogram, after.histogram))) / 2
        if colours >= _CUT_HISTOGRAM and pixels >= _CUT_PIXELS:
            self.on_cut(after.time)
        elif after.time - before.time <= _MOTION_GAP:
            self.on_motion(after.time, pixels)


def _visible(frame: av.VideoFrame, index: int) -> bytes:
    """Plane `index` of a yuv420p frame without its row padding."""
    plane = frame.planes[index]
    width = frame.width if index == 0 else (frame.width + 1) // 2
    height = frame.height if index == 0 else (frame.height + 1) // 2
    data = bytes(plane)
    line = plane.line_size
    if line == width:
        return data[: width * height]
    return b"".join(data[row * line : row * line + width] for row in range(height))


@dataclass
class GopBudget:
    """Decides which video packets to decode: all of them, or each group's first share."""

    share: float
    key_time: float | None = None
    gop: float = _ASSUMED_GOP_SECONDS
    decode_until: float = -math.inf
    next_key: float = 0.0

    def wants(self, packet: av.Packet[Any], t: float) -> bool:
        """Whether to decode `packet`, which is decoded at `t` seconds."""
        if self.share >= 1.0:
            return True
        if packet.is_keyframe:
            if self.key_time is not None and t > self.key_time:
                self.gop = t - self.key_time
            self.key_time = t
            # Intra-only video has a keyframe per frame: decode them at the sampling rate.
            if t < self.next_key:
                self.decode_until = -math.inf
                return False
            self.next_key = t + 1.0 / SAMPLE_FPS
            self.decode_until = t + max(self.share * self.gop, 1.0 / SAMPLE_FPS)
            return True
        return t < self.decode_until
