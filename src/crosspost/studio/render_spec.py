"""What a clip render is asked for (`RenderSpec`), what it gives back (`RenderResult`), and
how it refuses (`RenderError`, with a stable code and a message saying what to change)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crosspost.domain.transcripts import Transcript
from crosspost.errors import InvalidInput

Aspect = Literal["9:16", "1:1", "16:9", "4:5"]
# center: crop the middle of the picture to the aspect; blur: the whole picture fitted over
# a blurred, zoomed copy of itself; fit: the whole picture on bars of the brand colour.
Reframe = Literal["center", "blur", "fit"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
CaptionPosition = Literal["bottom", "middle", "top"]

# The size each aspect is rendered at when the source has the pixels for it (see framing).
CANONICAL_SIZES: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
    "4:5": (1080, 1350),
}
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


class RenderError(InvalidInput):
    """A render that cannot be made as asked; `code` is stable, the message says what to do.

    Codes: invalid_spec, source_unreadable, no_video_stream, hdr_not_supported,
    start_past_end, clip_too_short, bumper_unreadable, logo_unreadable.
    """


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise RenderError(message, code="invalid_spec")


def _check_color(name: str, value: str) -> None:
    _check(bool(_HEX_COLOR.fullmatch(value)), f"{name} is {value!r}: give a colour as #RRGGBB")


def rgb(color: str) -> tuple[int, int, int]:
    """#RRGGBB as an (r, g, b) tuple."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@dataclass(frozen=True)
class CaptionStyle:
    """How burned-in captions look; sizes are fractions so every aspect and size matches.

    `font_size` is a fraction of the output's shorter side (a line that would still be too
    wide is drawn smaller); `outline_width` a fraction of the font size. `highlight_color`
    paints the word being said when the transcript has word timings (None: never).
    """

    font_size: float = 0.065
    color: str = "#FFFFFF"
    outline_color: str = "#000000"
    outline_width: float = 0.1
    position: CaptionPosition = "bottom"
    max_chars_per_line: int = 24
    max_lines: int = 2
    highlight_color: str | None = "#FFD400"

    def __post_init__(self) -> None:
        _check(0.01 <= self.font_size <= 0.25, "captions.font_size must be 0.01 to 0.25")
        _check(0 <= self.outline_width <= 0.5, "captions.outline_width must be 0 to 0.5")
        _check(self.max_chars_per_line >= 8, "captions.max_chars_per_line must be at least 8")
        _check(1 <= self.max_lines <= 4, "captions.max_lines must be 1 to 4")
        _check(self.position in ("bottom", "middle", "top"), "captions.position: bottom/middle/top")
        _check_color("captions.color", self.color)
        _check_color("captions.outline_color", self.outline_color)
        if self.highlight_color is not None:
            _check_color("captions.highlight_color", self.highlight_color)


@dataclass(frozen=True)
class Watermark:
    """A logo image (PNG with or without alpha, JPEG...) laid over the clip in a corner.

    `scale` is its width as a fraction of the output width; `margin` a fraction of the
    output's shorter side.
    """

    path: Path
    corner: Corner = "top-right"
    scale: float = 0.18
    opacity: float = 0.85
    margin: float = 0.04

    def __post_init__(self) -> None:
        _check(0.02 <= self.scale <= 0.5, "logo.scale must be 0.02 to 0.5 of the width")
        _check(0 < self.opacity <= 1, "logo.opacity must be above 0 and at most 1")
        _check(0 <= self.margin <= 0.2, "logo.margin must be 0 to 0.2")
        _check(
            self.corner in ("top-left", "top-right", "bottom-left", "bottom-right"),
            "logo.corner must be top-left, top-right, bottom-left or bottom-right",
        )


@dataclass(frozen=True)
class BrandKit:
    """A brand's look: logo watermark, intro and outro clips, and the colour of bars.

    Intro and outro are shown whole, fitted on bars of `background_color`, without the
    captions or the logo (they carry their own branding).
    """

    logo: Watermark | None = None
    intro: Path | None = None
    outro: Path | None = None
    background_color: str = "#000000"

    def __post_init__(self) -> None:
        _check_color("brand.background_color", self.background_color)


@dataclass(frozen=True)
class RenderSpec:
    """One render of `[start, end)` (seconds of the source) as an MP4 for social platforms.

    An `end` past the source's end means its end.
    `max_duration` caps the whole output (intro + clip + outro) by trimming the clip's end.
    `poster_at` is the poster frame's time in seconds into the clip (default: its middle).
    """

    start: float
    end: float
    aspect: Aspect = "9:16"
    reframe: Reframe = "center"
    transcript: Transcript | None = None
    captions: CaptionStyle | None = field(default_factory=CaptionStyle)
    brand: BrandKit = field(default_factory=BrandKit)
    max_duration: float | None = None
    fps: int = 30
    poster_at: float | None = None

    def __post_init__(self) -> None:
        _check(self.start >= 0, f"start is {self.start} s: it must be 0 or more")
        _check(self.end > self.start, f"end ({self.end} s) must be after start ({self.start} s)")
        _check(self.aspect in CANONICAL_SIZES, "aspect must be 9:16, 1:1, 16:9 or 4:5")
        _check(self.reframe in ("center", "blur", "fit"), "reframe must be center, blur or fit")
        _check(24 <= self.fps <= 60, f"fps is {self.fps}: platforms take 24 to 60")
        if self.max_duration is not None:
            _check(self.max_duration > 0, "max_duration must be above 0 seconds")
        if self.poster_at is not None:
            _check(self.poster_at >= 0, "poster_at must be 0 or more seconds into the clip")


@dataclass(frozen=True)
class RenderResult:
    """What was written: its measured duration, size and loudness, and a JPEG poster."""

    duration_seconds: float
    width: int
    height: int
    frames: int
    size_bytes: int
    poster_jpeg: bytes = field(repr=False)
    integrated_lufs: float | None
    true_peak_dbtp: float | None
