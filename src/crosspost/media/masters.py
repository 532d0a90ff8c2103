"""Audio masters and release artwork checked against what music distributors require.

`inspect_*` reads a file once (audio decoded frame by frame, so a three-hour master is never
held whole); `check_*` raises InvalidInput for the first rule broken, before anything is sent.
"""

from __future__ import annotations

import array
import hashlib
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.error
from PIL import Image, UnidentifiedImageError

from crosspost.errors import InvalidInput

LOSSLESS_MESSAGE = (
    "distributors take lossless masters: export WAV or FLAC, 16 or 24-bit, 44.1 kHz or higher"
)
UNREADABLE_AUDIO_MESSAGE = "upload the master as a WAV or FLAC file; this one could not be decoded"
UNREADABLE_ARTWORK_MESSAGE = "upload the artwork as a JPEG or PNG image; this one could not be read"

_LOSSLESS_CONTAINERS = frozenset({"wav", "flac"})
# Linear PCM by sample type and width (pcm_s16le, pcm_s24le, pcm_f32le, pcm_u8...); A-law and
# mu-law are PCM by name only: 8-bit companded, so they count as lossy.
_LINEAR_PCM = re.compile(r"pcm_[suf](\d+)(?:le|be)?")
# Decoded sample formats: array typecode, the value of silence, and whether they are floats.
_SAMPLE_TYPES: dict[str, tuple[str, int, bool]] = {
    "u8": ("B", 128, False),
    "s16": ("h", 0, False),
    "s32": ("i", 0, False),
    "s64": ("q", 0, False),
    "flt": ("f", 0, True),
    "dbl": ("d", 0, True),
}
_FLOAT_CLIP = 0.99999
_ARTWORK_FORMATS = ("JPEG", "PNG")
# Sizes are written with the multiplication sign, as stores write them; it is an escape
# because ruff takes the literal sign for a confusable "x".
_BY = "\u00d7"


@dataclass(frozen=True)
class AudioMaster:
    """What an audio master holds: format, length, level, and the file's own digest.

    `bit_depth` is None when the codec has none (lossy). `peak_dbfs` is -inf for digital
    silence; `clipped_samples` counts samples (each channel's) at or within 1 LSB of full scale.
    """

    codec: str
    container: str
    sample_rate: int
    bit_depth: int | None
    channels: int
    duration_seconds: float
    peak_dbfs: float
    clipped_samples: int
    clipped_ratio: float
    md5: str
    size_bytes: int


@dataclass(frozen=True)
class MasterRules:
    """What a distributor accepts; the defaults are what Spotify and Apple Music ask for."""

    bit_depths: tuple[int, ...] = (16, 24)
    min_sample_rate: int = 44100
    channels: tuple[int, ...] = (1, 2)
    max_clipped_ratio: float = 0.0001  # 0.01 % of samples
    min_seconds: float = 1.0
    max_seconds: float = 3 * 3600.0


@dataclass(frozen=True)
class Artwork:
    """What a release's cover image is: format ("JPEG", "PNG"...), size in pixels, Pillow mode."""

    format: str
    width: int
    height: int
    mode: str
    has_alpha: bool
    size_bytes: int
    md5: str


def _md5(path: Path) -> str:
    with path.open("rb") as fh:
        # Not for security: distributors ask for each file's MD5 to verify the delivery.
        return hashlib.file_digest(fh, "md5").hexdigest()


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    # str(exc) embeds the server-side file path, which must not reach API clients.
    return str(exc.strerror or type(exc).__name__)


def _unreadable_audio(reason: str) -> InvalidInput:
    return InvalidInput(UNREADABLE_AUDIO_MESSAGE, code="unreadable_audio", reason=reason)


def inspect_audio_master(path: Path) -> AudioMaster:
    """Read an audio master; raises InvalidInput `unreadable_audio` if it cannot be decoded.

    Every frame is decoded, so duration, peak and clipping come from the samples themselves,
    not from headers (a cut file still announces its full length).
    """
    md5 = _md5(path)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise _unreadable_audio(_ffmpeg_reason(exc)) from exc
    try:
        with container:
            return _read_master(container, md5, path.stat().st_size)
    except av.error.FFmpegError as exc:
        raise _unreadable_audio(_ffmpeg_reason(exc)) from exc


def _read_master(container: av.container.InputContainer, md5: str, size: int) -> AudioMaster:
    streams = [s for s in container.streams.audio if s.codec_context is not None]
    if not streams:
        raise _unreadable_audio("no audio stream")
    stream = streams[0]
    context = stream.codec_context
    codec = context.codec.canonical_name
    bit_depth = _bit_depth(codec, context.extradata)
    level = _Level(bit_depth)
    for frame in container.decode(stream):
        level.add(frame)
    if level.frames == 0 or not context.sample_rate:
        raise _unreadable_audio("no audio samples could be decoded")
    return AudioMaster(
        codec=codec,
        container=container.format.name.split(",", maxsplit=1)[0],
        sample_rate=context.sample_rate,
        bit_depth=bit_depth,
        channels=level.channels,
        duration_seconds=level.frames / context.sample_rate,
        peak_dbfs=20 * math.log10(level.peak) if level.peak > 0 else -math.inf,
        clipped_samples=level.clipped,
        clipped_ratio=level.clipped / (level.frames * level.channels),
        md5=md5,
        size_bytes=size,
    )


def _bit_depth(codec: str, extradata: bytes | None) -> int | None:
    """The depth the file declares: from the PCM codec's name, or FLAC's STREAMINFO."""
    pcm = _LINEAR_PCM.fullmatch(codec)
    if pcm is not None:
        return int(pcm.group(1))
    if codec == "flac" and extradata is not None and len(extradata) >= 34:
        # STREAMINFO bytes 12-13: 1 bit of (bits per sample - 1) then its 4 low bits.
        return ((extradata[12] & 0x01) << 4 | extradata[13] >> 4) + 1
    return None


class _Level:
    """Peak and clipped-sample count, gathered one decoded frame at a time."""

    def __init__(self, bit_depth: int | None) -> None:
        self.bit_depth = bit_depth
        self.frames = 0  # samples per channel
        self.channels = 0
        self.peak = 0.0  # relative to full scale
        self.clipped = 0

    def add(self, frame: av.AudioFrame) -> None:
        """Take one decoded frame's samples into the totals."""
        if frame.samples == 0:
            return
        name = frame.format.name.removesuffix("p")
        if name not in _SAMPLE_TYPES:
            raise _unreadable_audio(f"unsupported sample format {frame.format.name}")
        typecode, silence, is_float = _SAMPLE_TYPES[name]
        channels = frame.layout.nb_channels
        self.channels = channels
        self.frames += frame.samples
        per_plane = frame.samples * (1 if frame.format.is_planar else channels)
        width = frame.format.bytes * 8
        if is_float:
            full_scale, high, low = 1.0, _FLOAT_CLIP, -_FLOAT_CLIP
        else:
            full_scale, high, low = _clip_bounds(width, self.bit_depth, silence)
        for plane in frame.planes:
            # Planes are padded past their samples; the padding is not audio.
            samples = array.array(typecode)
            samples.frombytes(memoryview(plane)[: per_plane * frame.format.bytes])
            top, bottom = max(samples), min(samples)
            self.peak = max(
                self.peak, (top - silence) / full_scale, (silence - bottom) / full_scale
            )
            if top >= high or bottom <= low:
                # Rare in a good master, so only frames that reach the bounds are counted.
                self.clipped += sum(map(high.__le__, samples)) + sum(map(low.__ge__, samples))


def _clip_bounds(width: int, bit_depth: int | None, silence: int) -> tuple[float, int, int]:
    """Full scale, and the raw values at or past which a sample clips, for integer samples.

    Decoders widen 24-bit audio into 32-bit samples shifted left, so 1 LSB of the file is
    `2 ** (width - depth)` decoded units; clipping is being within 1 LSB of either end.
    """
    depth = bit_depth if bit_depth is not None and bit_depth <= width else width
    lsb = 1 << (width - depth)
    top_code = (1 << (width - 1)) - lsb  # the largest positive value at the file's depth
    bottom_code = -(1 << (width - 1))
    return float(1 << (width - 1)), silence + top_code - lsb, silence + bottom_code + lsb


def check_audio_master(master: AudioMaster, rules: MasterRules = MasterRules()) -> None:
    """Raise InvalidInput for the first of `rules` the master breaks; return if it passes."""
    if master.container not in _LOSSLESS_CONTAINERS or not _is_lossless(master.codec):
        raise InvalidInput(
            f"{LOSSLESS_MESSAGE}; this one is {master.codec} in {master.container}",
            code="lossy_master",
        )
    if master.bit_depth not in rules.bit_depths:
        depth = f"is {master.bit_depth}-bit" if master.bit_depth else "has no readable bit depth"
        raise InvalidInput(
            f"the master {depth}; distributors take {_either(rules.bit_depths)}-bit masters: "
            f"export it again at {max(rules.bit_depths)}-bit",
            code="master_bit_depth",
        )
    if master.sample_rate < rules.min_sample_rate:
        raise InvalidInput(
            f"the master's sample rate is {_khz(master.sample_rate)}; distributors need "
            f"{_khz(rules.min_sample_rate)} or higher: export it again from the session at "
            f"{_khz(rules.min_sample_rate)} or more (resampling this file adds nothing)",
            code="master_sample_rate",
        )
    if master.clipped_ratio > rules.max_clipped_ratio:
        raise InvalidInput(
            f"the master clips: {_samples(master.clipped_samples)} ({master.clipped_ratio:.3%}) "
            "at full scale; distributors refuse masters where more than "
            f"{rules.max_clipped_ratio:.2%} of samples clip: "
            "lower the level or use a true-peak limiter, and export again",
            code="master_clipping",
        )
    if master.duration_seconds < rules.min_seconds:
        raise InvalidInput(
            f"the master lasts {_clock(master.duration_seconds)}; a track must last at least "
            f"{_clock(rules.min_seconds)}: check the export range",
            code="master_too_short",
        )
    if master.duration_seconds > rules.max_seconds:
        raise InvalidInput(
            f"the master lasts {_clock(master.duration_seconds)}; a track can last at most "
            f"{_clock(rules.max_seconds)}: split it into tracks",
            code="master_too_long",
        )
    if master.channels not in rules.channels:
        raise InvalidInput(
            f"the master has {master.channels} channels; distributors take "
            f"{_either(rules.channels)}: mix it down to stereo (or mono)",
            code="master_channels",
        )


def _is_lossless(codec: str) -> bool:
    return codec == "flac" or _LINEAR_PCM.fullmatch(codec) is not None


def _either(values: tuple[int, ...]) -> str:
    return " or ".join(str(value) for value in values)


def _samples(count: int) -> str:
    return f"{count} sample{'' if count == 1 else 's'}"


def _khz(rate: int) -> str:
    return f"{rate / 1000:g} kHz"


def _clock(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def inspect_artwork(path: Path) -> Artwork:
    """Read an artwork image with Pillow; raises InvalidInput `unreadable_artwork` for a file
    that is not a whole image, `artwork_too_large` for a decompression bomb."""
    md5 = _md5(path)
    try:
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are refused here,
        # so the limit does not depend on the process's warning filters.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # Decoding proves the data is whole: a cut JPEG's header still reads fine.
                image.load()
                return Artwork(
                    format=image.format or "unknown",
                    width=image.width,
                    height=image.height,
                    mode=image.mode,
                    has_alpha=image.has_transparency_data,
                    size_bytes=path.stat().st_size,
                    md5=md5,
                )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(
            f"the artwork has more than {Image.MAX_IMAGE_PIXELS:,} pixels, too many to open "
            f"safely; export it at 3000{_BY}3000 pixels, which every store takes",
            code="artwork_too_large",
        ) from exc
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, EOFError, SyntaxError, ValueError) as exc:
        # Pillow reports broken data as OSError or EOFError, some broken headers as SyntaxError.
        raise InvalidInput(
            UNREADABLE_ARTWORK_MESSAGE, code="unreadable_artwork", reason=type(exc).__name__
        ) from exc


def check_artwork(art: Artwork, *, min_pixels: int = 3000) -> None:
    """Raise InvalidInput for the first store rule the artwork breaks; return if it passes."""
    size = f"{art.width}{_BY}{art.height}"
    if art.format not in _ARTWORK_FORMATS:
        raise InvalidInput(
            f"the artwork is {art.format}; stores take JPEG or PNG: export it as a JPEG",
            code="artwork_format",
        )
    if art.width != art.height:
        raise InvalidInput(
            f"the artwork must be square; this one is {size}: crop it to a square",
            code="artwork_not_square",
        )
    if art.width < min_pixels:
        raise InvalidInput(
            f"the artwork must be {min_pixels}{_BY}{min_pixels} pixels at least; this one is "
            f"{size}: export it from the original at full size (upscaling shows)",
            code="artwork_too_small",
        )
    if art.has_alpha:
        raise InvalidInput(
            "the artwork has transparency, which stores refuse: flatten it onto a background "
            "and export without an alpha channel (or as a JPEG)",
            code="artwork_transparency",
        )
    if art.mode != "RGB":
        raise InvalidInput(
            f"the artwork's color mode is {art.mode}; stores take RGB: convert it to RGB "
            "(sRGB) and export again",
            code="artwork_color_mode",
        )
