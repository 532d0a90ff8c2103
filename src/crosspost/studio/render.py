"""Render a clip: `[start, end)` of a source video as an MP4 every platform takes.

H.264 High (8-bit yuv420p, whatever the source's depth) and AAC-LC 48 kHz stereo, `moov`
first (faststart), a constant `spec.fps`; reframed to the aspect, captions and logo drawn
on, the brand's intro and outro around it, and the sound levelled to -14 LUFS with true
peaks at or below -1 dBTP. A source with no sound gets a silent AAC track, because some
platforms refuse a video without one.

Passes: the sound is measured, levelled and encoded first (it is small: about 1 MB a
minute); the picture is then decoded, reframed, drawn on and encoded frame by frame, with
the sound's packets interleaved by time. Memory stays flat with the clip's length.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any

import av
from av.packet import Packet
from PIL import Image

from crosspost.studio.audio import RATE, AudioPart, timeline
from crosspost.studio.caption_art import CaptionPainter
from crosspost.studio.captions import CaptionCue, CueTrack, caption_cues
from crosspost.studio.frames import VideoSource, cfr_frames, inspect
from crosspost.studio.framing import FrameShape, Reframer, displayed_size, output_size
from crosspost.studio.loudness import levelled, measure, plan
from crosspost.studio.overlay import Overlay, composite, prepare
from crosspost.studio.render_spec import Reframe, RenderError, RenderResult, RenderSpec, Watermark

Progress = Callable[[int, int], None]

# veryfast: the speed/size balance that renders 1080x1920 faster than real time on two
# cores (bench/render.py); CRF 21 looks clean on phones. A 2 s keyframe interval is what the
# platforms' own transcoders and seeking like; the VBV cap keeps busy scenes in bounds.
X264_OPTIONS = {"preset": "veryfast", "crf": "21", "profile": "high"}
_MAX_RATE_1080 = 8_000_000  # bits/s at 1080x1920, scaled with the pixel count
AUDIO_BIT_RATE = 128_000
POSTER_QUALITY = 85
_EPSILON = 1e-6


@dataclass(frozen=True)
class _Part:
    """A stretch of the output: `frames` frames of `source` from `start` (source seconds)."""

    source: VideoSource
    start: float
    frames: int
    reframe: Reframe
    dressed: bool  # captions and logo are drawn on it


def render_clip(
    source: Path, out: Path, spec: RenderSpec, *, progress: Progress | None = None
) -> RenderResult:
    """Render `spec` of `source` to `out` (MP4); `progress(frames_done, frames_total)` is called
    about twice a second of video and at the end. Raises RenderError when it cannot."""
    main = inspect(source)
    shown_w, shown_h = displayed_size(main.width, main.height, main.rotation)
    width, height = output_size(spec.aspect, spec.reframe, shown_w, shown_h)
    parts = _plan(main, spec)
    total = sum(part.frames for part in parts)
    logo = _logo(spec.brand.logo, width, height) if spec.brand.logo is not None else None
    clip = next(part for part in parts if part.dressed)
    cues: list[CaptionCue] = []
    painter = None
    if spec.transcript is not None and spec.captions is not None:
        clip_end = clip.start + clip.frames / spec.fps
        cues = caption_cues(spec.transcript, clip.start, clip_end, spec.captions)
        painter = CaptionPainter(spec.captions, width, height)

    partial = out.with_name(out.name + ".part")
    try:
        with av.open(str(partial), "w", format="mp4", options={"movflags": "faststart"}) as mp4:
            video = _video_stream(mp4, spec.fps, width, height)
            audio = mp4.add_stream("aac", rate=RATE)
            audio.layout = "stereo"
            audio.bit_rate = AUDIO_BIT_RATE
            sound = _encoded_sound(parts, spec.fps, audio)
            muxer = _Interleaver(mp4, sound)
            done = 0
            for part in parts:
                reframer = Reframer(
                    FrameShape(
                        part.source.width,
                        part.source.height,
                        part.source.pix_fmt,
                        part.source.rotation,
                        width,
                        height,
                        part.source.wide_gamut,
                    ),
                    part.reframe,
                    spec.brand.background_color,
                    Fraction(1, spec.fps),
                )
                dress = _Dresser(cues, painter, logo) if part.dressed else None
                first = done
                pending = cfr_frames(part.source, part.start, part.frames, spec.fps)
                stamped = (_stamped(f, i) for i, f in enumerate(pending, first))
                for frame in chain(stamped, [None]):
                    for shaped in reframer.frames(frame):
                        if dress is not None:
                            composite(shaped, dress.at((done - first) / spec.fps))
                        for packet in video.encode(shaped):
                            muxer.mux(packet)
                        done += 1
                        if progress is not None and (done % max(spec.fps // 2, 1) == 0):
                            progress(done, total)
                if done - first != part.frames:
                    raise RenderError(
                        f"{part.source.path.name} is damaged: only {done - first} of "
                        f"{part.frames} frames could be decoded; upload it again or re-export it",
                        code="source_unreadable",
                    )
            for packet in video.encode(None):
                muxer.mux(packet)
            muxer.finish()
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(total, total)
    intro_seconds = sum(p.frames for p in parts[: parts.index(clip)]) / spec.fps
    poster_at = clip.frames / spec.fps / 2 if spec.poster_at is None else spec.poster_at
    poster_at = intro_seconds + min(poster_at, (clip.frames - 1) / spec.fps)
    return _result(out, width, height, total, poster_at)


def _stamped(frame: av.VideoFrame, index: int) -> av.VideoFrame:
    frame.pts = index
    return frame


def _plan(main: VideoSource, spec: RenderSpec) -> list[_Part]:
    """The output's parts with their frame counts, the clip trimmed to fit `max_duration`."""
    if main.duration and spec.start >= main.duration:
        raise RenderError(
            f"start is {spec.start:.2f} s but the source is {main.duration:.2f} s long: "
            "pick a start inside it",
            code="start_past_end",
        )
    intro = _bumper(spec.brand.intro, "the intro", spec.fps)
    outro = _bumper(spec.brand.outro, "the outro", spec.fps)
    bumpers = [part for part in (intro, outro) if part is not None]
    end = min(spec.end, main.duration) if main.duration else spec.end
    seconds = end - spec.start
    if spec.max_duration is not None:
        around = sum(part.frames for part in bumpers) / spec.fps
        if around >= spec.max_duration:
            raise RenderError(
                f"the intro and outro alone last {around:.2f} s, max_duration is "
                f"{spec.max_duration:.2f} s: raise max_duration or drop the intro or outro",
                code="clip_too_short",
            )
        seconds = min(seconds, spec.max_duration - around)
    frames = int(seconds * spec.fps + _EPSILON)
    if frames < 1:
        raise RenderError(
            f"the clip lasts {seconds:.3f} s, less than one frame: widen [start, end)",
            code="clip_too_short",
        )
    clip = _Part(main, spec.start, frames, spec.reframe, dressed=True)
    return [part for part in (intro, clip, outro) if part is not None]


def _bumper(path: Path | None, what: str, fps: int) -> _Part | None:
    """An intro or outro, whole, fitted on the brand's bars."""
    if path is None:
        return None
    bumper = inspect(path, what=what, code="bumper_unreadable")
    frames = int(bumper.duration * fps + _EPSILON)
    if frames < 1:
        raise RenderError(
            f"{what} {path.name} has no length: re-export it", code="bumper_unreadable"
        )
    return _Part(bumper, 0.0, frames, "fit", dressed=False)


def _video_stream(
    mp4: av.container.OutputContainer, fps: int, width: int, height: int
) -> av.video.stream.VideoStream:
    scale = width * height / (1080 * 1920)
    max_rate = max(round(_MAX_RATE_1080 * scale), 1_000_000)
    options = {
        **X264_OPTIONS,
        "g": str(2 * fps),
        "maxrate": str(max_rate),
        "bufsize": str(2 * max_rate),
    }
    video = mp4.add_stream("libx264", rate=fps, options=options)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.time_base = Fraction(1, fps)
    return video


def _encoded_sound(
    parts: list[_Part], fps: int, audio: av.audio.stream.AudioStream
) -> list[Packet[Any]]:
    """Measure the whole output's sound, then level and encode it (decoded two or more times)."""
    pieces = [AudioPart(p.source.path, p.start, p.frames / fps) for p in parts]
    levelling = plan(lambda: timeline(pieces))
    packets: list[Packet[Any]] = []
    for frame in levelled(timeline(pieces), levelling):
        packets.extend(audio.encode(frame))
    packets.extend(audio.encode(None))
    return packets


class _Interleaver:
    """Mux video packets as they come, with the sound's packets slotted in by time."""

    def __init__(self, mp4: av.container.OutputContainer, sound: list[Packet[Any]]) -> None:
        self._mp4 = mp4
        self._sound = sound
        self._next = 0

    def mux(self, packet: Packet[Any]) -> None:
        """Mux `packet` after every sound packet that plays before it."""
        at = float(packet.dts * packet.time_base) if packet.dts is not None else 0.0
        while self._next < len(self._sound):
            sound = self._sound[self._next]
            if sound.pts is not None and float(sound.pts * sound.time_base) > at:
                break
            self._mp4.mux(sound)
            self._next += 1
        self._mp4.mux(packet)

    def finish(self) -> None:
        """Mux the sound left after the last picture."""
        for sound in self._sound[self._next :]:
            self._mp4.mux(sound)
        self._next = len(self._sound)


class _Dresser:
    """The overlays of each moment of the clip: the caption showing, then the logo."""

    def __init__(
        self, cues: list[CaptionCue], painter: CaptionPainter | None, logo: Overlay | None
    ) -> None:
        self._track = CueTrack(cues)
        self._painter = painter
        self._logo = logo
        self._cue: CaptionCue | None = None
        self._caption: Overlay | None = None

    def at(self, time: float) -> list[Overlay]:
        """Overlays for `time` seconds into the clip; a caption is drawn once per change."""
        cue = self._track.at(time + _EPSILON)
        if cue is not self._cue:
            self._cue = cue
            self._caption = None
            if cue is not None and self._painter is not None:
                picture, x, y = self._painter.draw(cue)
                self._caption = prepare(picture, x, y)
        return [o for o in (self._caption, self._logo) if o is not None]


def _logo(mark: Watermark, width: int, height: int) -> Overlay:
    try:
        with Image.open(mark.path) as image:
            picture = image.convert("RGBA")
    except (OSError, Image.DecompressionBombError, ValueError):
        raise RenderError(
            f"the logo {mark.path.name} could not be read as an image: upload a PNG or JPEG",
            code="logo_unreadable",
        ) from None
    logo_w = max(2, round(mark.scale * width))
    logo_h = max(2, round(picture.height * logo_w / picture.width))
    picture = picture.resize((logo_w, logo_h), Image.Resampling.LANCZOS)
    if mark.opacity < 1:
        alpha = picture.getchannel("A").point(lambda a: round(a * mark.opacity))
        picture.putalpha(alpha)
    margin = round(mark.margin * min(width, height))
    x = margin if mark.corner.endswith("left") else width - margin - logo_w
    y = margin if mark.corner.startswith("top") else height - margin - logo_h
    return prepare(picture, x, y)


def _result(out: Path, width: int, height: int, frames: int, poster_at: float) -> RenderResult:
    """Read back what was written: its duration, loudness and a poster frame."""
    with av.open(str(out)) as mp4:
        duration = (mp4.duration or 0) / av.time_base
        loudness = measure(mp4.decode(audio=0))
    with av.open(str(out)) as mp4:
        stream = mp4.streams.video[0]
        mp4.seek(round(poster_at / (stream.time_base or Fraction(1, av.time_base))), stream=stream)
        chosen = None
        for frame in mp4.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time + _EPSILON >= poster_at:
                break
        image = chosen.to_image() if chosen is not None else None  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    if image is not None:
        image.save(buffer, "JPEG", quality=POSTER_QUALITY)
    return RenderResult(
        duration_seconds=duration,
        width=width,
        height=height,
        frames=frames,
        size_bytes=out.stat().st_size,
        poster_jpeg=buffer.getvalue(),
        integrated_lufs=loudness.integrated,
        true_peak_dbtp=loudness.true_peak,
    )
