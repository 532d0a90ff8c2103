"""Synthetic sources with known moments, for highlight detection's tests and benchmark.

A source is scripted: hard colour cuts at given times, a bright square that moves during
given intervals, a quiet tone that turns loud during given intervals. Frames and samples
are built from raw bytes (no numpy) and encoded with PyAV, video and audio interleaved as
a real recording is. Encoding favours speed (libx264 ultrafast).
"""

from __future__ import annotations

import array
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.container
import av.video.stream

from crosspost.media.samples import encoder_for

Interval = tuple[float, float]

_TONE_PERIOD = 100  # samples per cycle: a whole number keeps the tone seamless
_AUDIO_CHUNK = 1000  # ten periods, so every chunk starts at phase 0
_QUIET = 700  # about -33 dBFS
_LOUD = 16000  # about -6 dBFS: some 27 LU above the quiet tone
_GRAIN_PATTERNS = 4
# Frame durations (in half frame periods) cycled through for a variable frame rate; they
# average one frame period, so the nominal rate still holds on average.
_VARIABLE_TICKS = (1, 3, 2, 1, 3, 2, 2, 2)


@dataclass(frozen=True)
class Script:
    """What happens when: cut times, motion intervals and loud intervals, in seconds."""

    seconds: float
    cuts: tuple[float, ...] = ()
    motion: tuple[Interval, ...] = ()
    loud: tuple[Interval, ...] = ()

    def scene_at(self, t: float) -> int:
        """The index of the scene showing at `t` (one scene per stretch between cuts)."""
        return sum(1 for cut in self.cuts if cut <= t)

    def is_loud(self, t: float) -> bool:
        """Whether the tone is loud at `t`."""
        return any(start <= t < end for start, end in self.loud)

    def moved_for(self, t: float) -> float:
        """How many seconds the square has been moving by `t`."""
        return sum(max(0.0, min(t, end) - start) for start, end in self.motion)


def _tone(amplitude: int) -> bytes:
    period = array.array(
        "h",
        (int(amplitude * math.sin(2 * math.pi * k / _TONE_PERIOD)) for k in range(_TONE_PERIOD)),
    ).tobytes()
    return period * (_AUDIO_CHUNK // _TONE_PERIOD)


class _Picture:
    """Builds the frames of a script: a textured colour per scene, a square, optional pan."""

    def __init__(self, script: Script, width: int, height: int, pan: bool, grain: int) -> None:
        self.script, self.width, self.height, self.pan = script, width, height, pan
        self.grain = grain
        template = av.VideoFrame(width, height, "yuv420p")
        self.luma_line = template.planes[0].line_size
        self.chroma_sizes = (template.planes[1].buffer_size, template.planes[2].buffer_size)
        self.textures: dict[tuple[int, int], bytes] = {}
        self.square = max(height // 4, 2)

    def _texture(self, scene: int, index: int) -> bytes:
        # Twice the height, so a vertical pan can wrap around without a seam in the data.
        base = 40 + (scene * 67) % 150
        if self.grain:
            # Grain that changes every frame (cycling through a few patterns) leaves the
            # encoder residuals to code, as a camera's noise does.
            key = (scene, index % _GRAIN_PATTERNS)
            if key not in self.textures:
                spread = 2 * self.grain + 1
                table = bytes(base - self.grain + value % spread for value in range(256))
                noise = random.Random(f"{key}").randbytes(2 * self.height * self.luma_line)
                self.textures[key] = noise.translate(table)
            return self.textures[key]
        if (scene, 0) not in self.textures:
            block = max(self.width // 24, 2)
            rows = []
            for by in range(0, 2 * self.height, block):
                row = bytearray(self.luma_line)
                for x in range(self.width):
                    row[x] = base + ((x // block * 37 + by // block * 91 + scene * 13) % 7) * 6
                rows.append(bytes(row) * min(block, 2 * self.height - by))
            self.textures[scene, 0] = b"".join(rows)
        return self.textures[scene, 0]

    def frame(self, index: int, t: float) -> av.VideoFrame:
        """The frame shown at `t` (the `index`th frame)."""
        scene = self.script.scene_at(t)
        shift = (index * max(self.height // 270, 1)) % self.height if self.pan else 0
        start = shift * self.luma_line
        luma = bytearray(self._texture(scene, index)[start : start + self.luma_line * self.height])
        if self.script.motion:
            # A triangle wave keeps the square inside the frame: half a width per second.
            travel = self.width - self.square
            step = int(self.script.moved_for(t) * self.width / 2) % max(2 * travel, 1)
            left = step if step <= travel else 2 * travel - step
            top = (self.height - self.square) // 2
            for y in range(top, top + self.square):
                at = y * self.luma_line + left
                luma[at : at + self.square] = b"\xeb" * self.square
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(bytes([64 + (scene * 53) % 128]) * self.chroma_sizes[0])
        frame.planes[2].update(bytes([64 + (scene * 97) % 128]) * self.chroma_sizes[1])
        return frame


class _Sound:
    """Encodes the script's tone in chunks, up to a given time, so it interleaves with video."""

    def __init__(
        self,
        out: av.container.OutputContainer,
        stream: av.audio.stream.AudioStream,
        script: Script,
        rate: int,
    ) -> None:
        self.out, self.stream, self.script, self.rate = out, stream, script, rate
        self.quiet, self.loud = _tone(_QUIET), _tone(_LOUD)
        self.sent = 0
        self.total = round(script.seconds * rate)

    def until(self, t: float) -> None:
        """Encode every chunk that starts before `t`."""
        while self.sent < self.total and self.sent < t * self.rate:
            count = min(_AUDIO_CHUNK, self.total - self.sent)
            pcm = self.loud if self.script.is_loud(self.sent / self.rate) else self.quiet
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.sample_rate = self.rate
            frame.pts = self.sent
            frame.time_base = Fraction(1, self.rate)
            frame.planes[0].update(pcm[: count * 2])
            self.out.mux(self.stream.encode(frame))
            self.sent += count

    def finish(self) -> None:
        """Encode the rest and flush the encoder."""
        self.until(self.script.seconds + 1)
        self.out.mux(self.stream.encode(None))


def make_highlight_source(
    path: Path | str,
    *,
    seconds: float,
    cuts: Sequence[float] = (),
    motion: Sequence[Interval] = (),
    loud: Sequence[Interval] = (),
    width: int = 160,
    height: int = 90,
    fps: int = 15,
    video: bool = True,
    audio: bool = True,
    sample_rate: int = 16000,
    pan: bool = False,
    grain: int = 0,
    bit_rate: int | None = None,
    keyframe_interval: int | None = None,
    variable_rate: bool = False,
    rotation: int = 0,
) -> Path:
    """Write a scripted source (H.264 and/or AAC, container from the suffix); return its path.

    `pan` scrolls the background (as a handheld camera would); `grain` adds noise of that
    amplitude, so that with `bit_rate` the video costs what a camera's would to decode;
    `variable_rate` varies the frame durations around 1/fps; `rotation` stores a display
    rotation.
    """
    path = Path(path)
    script = Script(seconds, tuple(cuts), tuple(motion), tuple(loud))
    fmt = {".mkv": "matroska", ".m4a": "ipod"}.get(path.suffix.lower())
    with av.open(str(path), mode="w", format=fmt) as out:
        picture: av.video.stream.VideoStream | None = None
        if video:
            options = {"preset": "ultrafast"}
            if keyframe_interval:
                options["g"] = str(keyframe_interval)
            added = out.add_stream(encoder_for("h264"), rate=fps, options=options)
            if not isinstance(added, av.video.stream.VideoStream):
                raise TypeError("the h264 encoder is not a video encoder")
            # 4:2:0 needs even sizes; an odd-sized source is stored 4:4:4 (PyAV converts).
            odd = width % 2 or height % 2
            added.width, added.height = width, height
            added.pix_fmt = "yuv444p" if odd else "yuv420p"
            # Half-period ticks let variable frame durations be exact.
            added.codec_context.time_base = Fraction(1, 2 * fps)
            if rotation:
                added.set_display_rotation(rotation)
            if bit_rate:
                added.bit_rate = bit_rate
            picture = added
        sound: _Sound | None = None
        if audio:
            # The default AAC coder spends seconds per minute of tone; "fast" does not.
            stream = out.add_stream(
                encoder_for("aac"), rate=sample_rate, options={"aac_coder": "fast"}
            )
            if not isinstance(stream, av.audio.stream.AudioStream):
                raise TypeError("the aac encoder is not an audio encoder")
            stream.layout = "mono"
            sound = _Sound(out, stream, script, sample_rate)
        if picture is not None:
            painter = _Picture(script, width, height, pan, grain)
            _encode_video(out, picture, painter, variable_rate=variable_rate, sound=sound)
        if sound is not None:
            sound.finish()
    return path


def _encode_video(
    out: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    painter: _Picture,
    *,
    variable_rate: bool,
    sound: _Sound | None,
) -> None:
    fps = int(stream.codec_context.time_base.denominator // 2)
    script = painter.script
    tick = 0  # in half frame periods
    index = 0
    while tick < 2 * fps * script.seconds:
        t = tick / (2 * fps)
        frame = painter.frame(index, t)
        frame.pts = tick
        frame.time_base = Fraction(1, 2 * fps)
        out.mux(stream.encode(frame))
        tick += _VARIABLE_TICKS[index % len(_VARIABLE_TICKS)] if variable_rate else 2
        index += 1
        if sound is not None:
            sound.until(tick / (2 * fps))
    out.mux(stream.encode(None))
