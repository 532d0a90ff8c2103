"""The output frame: its size for an aspect and source, and the filter graph that turns each
decoded source frame (any size, rotation, bit depth, BT.709 or BT.2020 colours) into an 8-bit
yuv420p BT.709 frame of it.

Size rule: each aspect has a canonical size (1080 on the shorter side, `CANONICAL_SIZES`).
The part of the source that fills the frame may be enlarged at most `MAX_UPSCALE` times
(1080p cropped to 9:16 is 608x1080 shown at 1080x1920: x1.78, what the platforms would do
anyway); a smaller source gives a proportionally smaller output, but never below
`MIN_SHORT_SIDE` on the shorter side (TikTok's minimum). Sides are even (4:2:0 chroma).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import av.filter

from crosspost.studio.render_spec import CANONICAL_SIZES, Aspect, Reframe

MAX_UPSCALE = 2.0
MIN_SHORT_SIDE = 360
# The blurred background is made this many times smaller than the frame, blurred there and
# scaled back up: the same look as blurring at full size for a small fraction of the cost.
_BLUR_SHRINK = 8
_BLUR_SIGMA = 3.0


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_size(aspect: Aspect, reframe: Reframe, width: int, height: int) -> tuple[int, int]:
    """The output's (width, height) for a source displayed at `width` x `height`."""
    canon_w, canon_h = CANONICAL_SIZES[aspect]
    ratio = canon_w / canon_h
    # center: the source pixels the crop keeps; blur and fit: the box the source fits in.
    shown_w = min(width, height * ratio) if reframe == "center" else max(width, height * ratio)
    scale = min(1.0, MAX_UPSCALE * shown_w / canon_w)
    short = min(canon_w, canon_h)
    scale = min(1.0, max(scale, MIN_SHORT_SIDE / short))
    return _even(canon_w * scale), _even(canon_h * scale)


@dataclass(frozen=True)
class FrameShape:
    """What the graph is built for: the coded source frame and the output frame."""

    width: int
    height: int
    pix_fmt: str
    rotation: int  # counter-clockwise degrees, as VideoFrame.rotation reads it
    out_width: int
    out_height: int
    wide_gamut: bool = False  # BT.2020 colours to convert to BT.709


def displayed_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """The size a coded frame is shown at once its rotation is applied."""
    return (height, width) if rotation % 180 == 90 else (width, height)


class Reframer:
    """One filter graph per source: push a decoded frame, get the output-sized frame."""

    def __init__(
        self, shape: FrameShape, reframe: Reframe, background: str, time_base: Fraction
    ) -> None:
        self.shape = shape
        self.graph = av.filter.Graph()
        self._source = self.graph.add_buffer(
            width=shape.width,
            height=shape.height,
            format=av.VideoFormat(shape.pix_fmt),
            time_base=time_base,
        )
        self._sink = self.graph.add("buffersink")
        tail = self._source
        if shape.wide_gamut:
            # HLG is made to be shown as SDR as it is (no tone mapping), but in BT.2020
            # colours, which look washed out read as BT.709: convert them first.
            tail = self._chain(tail, ("colorspace", "all=bt709:iall=bt2020:format=yuv420p"))
        tail = self._rotate(tail)
        shown_w, shown_h = displayed_size(shape.width, shape.height, shape.rotation)
        if reframe == "center":
            tail = self._center(tail, shown_w, shown_h)
        elif reframe == "fit":
            tail = self._fit(tail, shown_w, shown_h, background)
        else:
            tail = self._blur(tail, shown_w, shown_h)
        tail = self._chain(tail, ("format", "pix_fmts=yuv420p"))
        tail.link_to(self._sink)
        self.graph.configure()

    def _chain(
        self, node: av.filter.FilterContext, *steps: tuple[str, str]
    ) -> av.filter.FilterContext:
        for name, args in steps:
            nxt = self.graph.add(name, args)
            node.link_to(nxt)
            node = nxt
        return node

    def _rotate(self, node: av.filter.FilterContext) -> av.filter.FilterContext:
        turn = self.shape.rotation % 360
        if turn == 90:
            return self._chain(node, ("transpose", "dir=cclock"))
        if turn == 270:
            return self._chain(node, ("transpose", "dir=clock"))
        if turn == 180:
            return self._chain(node, ("hflip", ""), ("vflip", ""))
        return node

    def _fit_size(self, shown_w: int, shown_h: int) -> tuple[int, int]:
        out_w, out_h = self.shape.out_width, self.shape.out_height
        scale = min(out_w / shown_w, out_h / shown_h)
        return min(out_w, _even(shown_w * scale)), min(out_h, _even(shown_h * scale))

    def _center(
        self, node: av.filter.FilterContext, shown_w: int, shown_h: int
    ) -> av.filter.FilterContext:
        out_w, out_h = self.shape.out_width, self.shape.out_height
        crop_w = min(shown_w, round(shown_h * out_w / out_h))
        crop_h = min(shown_h, round(shown_w * out_h / out_w))
        return self._chain(
            node,
            (
                "crop",
                f"w={crop_w}:h={crop_h}:x={(shown_w - crop_w) // 2}:y={(shown_h - crop_h) // 2}",
            ),
            ("scale", f"w={out_w}:h={out_h}:flags=bicubic"),
            ("setsar", "1"),
        )

    def _fit(
        self, node: av.filter.FilterContext, shown_w: int, shown_h: int, color: str
    ) -> av.filter.FilterContext:
        out_w, out_h = self.shape.out_width, self.shape.out_height
        fit_w, fit_h = self._fit_size(shown_w, shown_h)
        return self._chain(
            node,
            ("scale", f"w={fit_w}:h={fit_h}:flags=bicubic"),
            (
                "pad",
                f"w={out_w}:h={out_h}:x={(out_w - fit_w) // 2}:y={(out_h - fit_h) // 2}"
                f":color=0x{color[1:]}",
            ),
            ("setsar", "1"),
        )

    def _blur(
        self, node: av.filter.FilterContext, shown_w: int, shown_h: int
    ) -> av.filter.FilterContext:
        out_w, out_h = self.shape.out_width, self.shape.out_height
        fit_w, fit_h = self._fit_size(shown_w, shown_h)
        small_w, small_h = _even(out_w / _BLUR_SHRINK), _even(out_h / _BLUR_SHRINK)
        split = self._chain(node, ("split", "2"))
        background = self.graph.add(
            "scale", f"w={small_w}:h={small_h}:force_original_aspect_ratio=increase"
        )
        split.link_to(background, 0, 0)
        background = self._chain(
            background,
            ("crop", f"w={small_w}:h={small_h}"),
            ("gblur", f"sigma={_BLUR_SIGMA}"),
            ("scale", f"w={out_w}:h={out_h}:flags=bilinear"),
        )
        foreground = self.graph.add("scale", f"w={fit_w}:h={fit_h}:flags=bicubic")
        split.link_to(foreground, 1, 0)
        overlay = self.graph.add("overlay", f"x={(out_w - fit_w) // 2}:y={(out_h - fit_h) // 2}")
        background.link_to(overlay, 0, 0)
        foreground.link_to(overlay, 0, 1)
        return self._chain(overlay, ("setsar", "1"))

    def frames(self, frame: av.VideoFrame | None) -> Iterator[av.VideoFrame]:
        """Push one source frame (None: the end) and yield what the graph gives back."""
        self._source.push(frame)
        while True:
            try:
                out = self._sink.pull()
            except (BlockingIOError, av.error.EOFError):
                return
            if isinstance(out, av.VideoFrame):
                yield out
