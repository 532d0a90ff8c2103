"""render_clip(): small synthetic sources rendered for real, then read back with PyAV, our
own probe, an independent ebur128 measurement and every platform's validation."""

from __future__ import annotations

import array
import io
import itertools
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import av.error
import av.filter
import pytest
from PIL import Image, ImageChops, ImageStat

from crosspost.domain.enums import MediaKind, Platform
from crosspost.domain.transcripts import Segment, Transcript, Word
from crosspost.media.probe import moov_before_mdat, probe
from crosspost.media.samples import make_audio, make_corrupt, make_image, make_video
from crosspost.media.validate import MediaInfo, validate
from crosspost.platforms.registry import client_for
from crosspost.studio.caption_art import CaptionPainter
from crosspost.studio.captions import CaptionCue, CaptionPage, caption_cues, wrap
from crosspost.studio.framing import output_size
from crosspost.studio.render import render_clip
from crosspost.studio.render_spec import (
    BrandKit,
    CaptionStyle,
    RenderError,
    RenderResult,
    RenderSpec,
    Watermark,
)

PLATFORMS = (Platform.YOUTUBE, Platform.INSTAGRAM, Platform.TIKTOK, Platform.X, Platform.LINKEDIN)
WORDS = ["every", "render", "should", "pass", "each", "platform", "check"]
YELLOW = "#FFD400"


def _transcript() -> Transcript:
    words = tuple(Word(0.3 + i * 0.4, 0.3 + i * 0.4 + 0.3, w) for i, w in enumerate(WORDS))
    return Transcript((Segment(0.3, 3.6, " ".join(WORDS), words),))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a 4 s 320x180 source with a tone, and a logo."""
    folder = tmp_path_factory.mktemp("render")
    make_video(folder / "source.mp4", seconds=4.0, width=320, height=180)
    make_image(folder / "logo.png", 96, 96)
    return folder


def _write(
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    pix_fmt: str = "yuv420p",
    steps_ms: tuple[int, ...] = (33,),
    seconds: float = 3.5,
    color: tuple[int, int, int] | None = None,
    tags: tuple[int, int, int] | None = None,
) -> Path:
    """A video-only H.264 file; frame gaps cycle through `steps_ms` (variable frame rate);
    `tags` are the colour primaries, transfer and matrix it declares (ISO 23091-2 codes)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if tags is not None:
            context = video.codec_context
            context.color_primaries, context.color_trc, context.colorspace = tags
        video.codec_context.time_base = Fraction(1, 1000)
        at, index = 0, 0
        while at < seconds * 1000:
            shade = color or (40 + (index * 3) % 200, 90, 160)
            picture = Image.new("RGB", (width, height), shade)
            frame = av.VideoFrame.from_image(picture).reformat(format=pix_fmt)
            frame.pts, frame.time_base = at, Fraction(1, 1000)
            out.mux(video.encode(frame))
            at += steps_ms[index % len(steps_ms)]
            index += 1
        out.mux(video.encode(None))
    return path


def _loudness(path: Path) -> tuple[float, float]:
    """Integrated LUFS and true peak dBTP of a file's sound, by FFmpeg's ebur128 filter."""
    graph = av.filter.Graph()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        source = graph.add_abuffer(template=stream)
        meter = graph.add("ebur128", "peak=true:metadata=1")
        sink = graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        graph.configure()
        found: dict[str, float] = {"I": -99.0, "peak": 0.0}
        for frame in [*container.decode(stream), None]:
            source.push(frame)
            while True:
                try:
                    out = sink.pull()
                except (BlockingIOError, av.error.EOFError):
                    break
                found["I"] = float(out.metadata.get("lavfi.r128.I", found["I"]))
                peak = float(out.metadata.get("lavfi.r128.true_peak", 0.0))
                found["peak"] = max(found["peak"], peak)
    return found["I"], 20 * math.log10(max(found["peak"], 1e-9))


def _frame_at(path: Path, seconds: float) -> Image.Image:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds - 1e-3:
                return frame.to_image()
    raise AssertionError(f"no frame at {seconds} s in {path.name}")


def _assert_platform_ready(path: Path, result: RenderResult) -> None:
    """H.264 High 8-bit / AAC-LC MP4, faststart, and clean for each platform's limits."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and video.codec_context.profile == "High"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert audio.codec_context.name == "aac" and audio.codec_context.profile == "LC"
        assert (video.codec_context.width, video.codec_context.height) == (
            result.width,
            result.height,
        )
        assert video.average_rate == 30
    assert moov_before_mdat(path) is True
    info = MediaInfo.from_probe(probe(path), path.stat().st_size)
    for platform in PLATFORMS:
        limits = client_for(platform).limits_for(MediaKind.VIDEO)
        assert validate(limits, info, "a clip", destination=platform.value) == [], platform
    assert result.size_bytes == path.stat().st_size
    poster = Image.open(io.BytesIO(result.poster_jpeg))
    assert poster.format == "JPEG" and poster.size == (result.width, result.height)


@pytest.mark.parametrize(
    ("aspect", "reframe", "size"),
    [
        ("9:16", "center", (360, 640)),
        ("1:1", "blur", (640, 640)),
        ("16:9", "center", (640, 360)),
        ("4:5", "fit", (640, 800)),
    ],
)
def test_each_aspect_is_platform_ready_and_levelled(
    media: Path, tmp_path: Path, aspect: str, reframe: str, size: tuple[int, int]
) -> None:
    """Every aspect: its size, codecs, faststart, length, -14 LUFS and every platform's OK."""
    out = tmp_path / "clip.mp4"
    spec = RenderSpec(
        0.4,
        3.9,
        aspect=aspect,  # type: ignore[arg-type]
        reframe=reframe,  # type: ignore[arg-type]
        transcript=_transcript(),
        brand=BrandKit(logo=Watermark(media / "logo.png")),
    )
    calls: list[tuple[int, int]] = []
    result = render_clip(media / "source.mp4", out, spec, progress=lambda *c: calls.append(c))
    assert (result.width, result.height) == size
    assert result.frames == 105 and result.duration_seconds == pytest.approx(3.5, abs=0.05)
    assert calls[-1] == (105, 105) and calls == sorted(calls)
    _assert_platform_ready(out, result)
    integrated, peak = _loudness(out)
    assert integrated == pytest.approx(-14.0, abs=1.0) and peak <= -1.0
    assert result.integrated_lufs == pytest.approx(integrated, abs=0.3)


def test_captions_and_logo_change_pixels_only_where_they_are(media: Path, tmp_path: Path) -> None:
    """Against a bare render: the logo's corner and the caption band change, the rest not."""
    base = RenderSpec(0.0, 3.5, captions=None)
    plain = tmp_path / "plain.mp4"
    dressed = tmp_path / "dressed.mp4"
    render_clip(media / "source.mp4", plain, base)
    logo = Watermark(media / "logo.png", corner="top-left", opacity=1.0)
    spec = RenderSpec(
        0.0,
        3.5,
        transcript=_transcript(),
        captions=CaptionStyle(highlight_color=YELLOW),
        brand=BrandKit(logo=logo),
    )
    render_clip(media / "source.mp4", dressed, spec)
    when = 0.3 + 2 * 0.4 + 0.1  # the third word ("render" is the second) is being said
    difference = ImageChops.difference(_frame_at(plain, when), _frame_at(dressed, when))

    def mean(box: tuple[int, int, int, int]) -> float:
        return sum(ImageStat.Stat(difference.crop(box)).mean) / 3

    assert mean((14, 14, 74, 74)) > 40  # the logo: 0.18 x 360 wide, 0.04 x 360 in
    assert mean((0, 380, 360, 540)) > 5  # the caption block, centred at 72 % of 640
    assert mean((200, 80, 360, 300)) < 3  # picture far from both
    red, green, blue = _frame_at(dressed, when).crop((0, 380, 360, 540)).split()
    yellow = ImageChops.multiply(
        ImageChops.multiply(
            red.point(lambda v: 255 * (v > 200)), green.point(lambda v: 255 * (v > 160))
        ),
        blue.point(lambda v: 255 * (v < 90)),
    )
    assert yellow.histogram()[255] > 50  # the spoken word is highlighted


def test_sources_with_rotation_odd_size_10_bit_and_variable_rate(
    media: Path, tmp_path: Path
) -> None:
    """Each awkward source renders to a clean 8-bit High-profile clip of the asked size."""
    rotated = make_video(tmp_path / "rotated.mp4", seconds=3.5, width=320, height=180, rotation=90)
    sources = {
        "rotated": rotated,
        "odd": _write(tmp_path / "odd.mp4", width=321, height=181, pix_fmt="yuv444p"),
        "ten_bit": _write(tmp_path / "ten.mp4", pix_fmt="yuv420p10le"),
        "variable_rate": _write(tmp_path / "vfr.mp4", steps_ms=(20, 50, 41)),
    }
    for name, source in sources.items():
        out = tmp_path / f"{name}.mp4"
        result = render_clip(source, out, RenderSpec(0.0, 3.2))
        assert (result.width, result.height) == (360, 640), name
        assert result.frames == 96 and result.duration_seconds == pytest.approx(3.2, abs=0.05)
        _assert_platform_ready(out, result)
    # Rotated 90 degrees counter-clockwise, the gradient's dark left edge is at the bottom.
    upright = _frame_at(tmp_path / "rotated.mp4", 1.0).convert("L")
    top = ImageStat.Stat(upright.crop((0, 0, 360, 160))).mean[0]
    bottom = ImageStat.Stat(upright.crop((0, 480, 360, 640))).mean[0]
    assert top > bottom + 60


def test_hlg_colours_are_converted_to_bt709_and_hdr10_is_refused(tmp_path: Path) -> None:
    """A phone's HDR (10-bit, BT.2020, HLG) renders as 8-bit BT.709 with its colours
    converted, not read as if they were BT.709; HDR10 (PQ) is refused saying what to send."""
    shade = (60, 170, 60)
    hlg = _write(tmp_path / "hlg.mp4", pix_fmt="yuv420p10le", color=shade, tags=(9, 18, 9))
    untagged = _write(tmp_path / "sdr.mp4", pix_fmt="yuv420p10le", color=shade)
    seen = {}
    for name, source in (("hlg", hlg), ("sdr", untagged)):
        out = tmp_path / f"{name}-out.mp4"
        result = render_clip(source, out, RenderSpec(0.0, 3.2, captions=None))
        _assert_platform_ready(out, result)
        seen[name] = _frame_at(out, 1.0).convert("RGB").getpixel((180, 320))
    red, green, _ = seen["hlg"]
    plain_red, plain_green, _ = seen["sdr"]
    # BT.2020's green is far more saturated than BT.709's: shown in BT.709 it is greener.
    assert green > plain_green + 10 and red < plain_red, seen
    pq = _write(tmp_path / "pq.mp4", pix_fmt="yuv420p10le", tags=(9, 16, 9))
    with pytest.raises(RenderError) as raised:
        render_clip(pq, tmp_path / "pq-out.mp4", RenderSpec(0.0, 1.0))
    assert raised.value.code == "hdr_not_supported"
    assert "export it as SDR (BT.709) or HLG" in raised.value.detail


def test_no_audio_gets_a_silent_track_and_peaks_are_limited(tmp_path: Path) -> None:
    """A silent source still has AAC sound; a quiet source with loud clicks is levelled to
    -14 LUFS with its peaks held under -1 dBTP."""
    silent = make_video(tmp_path / "silent.mp4", seconds=3.5, audio=False)
    result = render_clip(silent, tmp_path / "silent_out.mp4", RenderSpec(0.0, 3.2))
    _assert_platform_ready(tmp_path / "silent_out.mp4", result)
    assert result.integrated_lufs is None
    clicky = _clicky(tmp_path / "clicky.mp4")
    out = tmp_path / "clicky_out.mp4"
    result = render_clip(clicky, out, RenderSpec(0.0, 3.5))
    integrated, peak = _loudness(out)
    assert integrated == pytest.approx(-14.0, abs=1.0) and peak <= -1.0


def _clicky(path: Path) -> Path:
    """A video whose sound is a -40 dBFS tone with a full-scale click every quarter second."""
    _write(path.with_name("picture.mp4"), seconds=3.6)
    rate = 48000
    with av.open(str(path.with_name("picture.mp4"))) as picture, av.open(str(path), "w") as out:
        source = picture.streams.video[0]
        video = out.add_stream_from_template(source)
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for packet in picture.demux(source):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
        for start in range(0, int(3.6 * rate), 1024):
            samples = [
                0.95
                if (start + k) % (rate // 4) < 12
                else 0.01 * math.sin(2 * math.pi * 440 * (start + k) / rate)
                for k in range(1024)
            ]
            frame = av.AudioFrame(format="flt", layout="mono", samples=1024)
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            frame.planes[0].update(array.array("f", samples).tobytes())
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def test_max_duration_trims_the_clip_between_intro_and_outro(media: Path, tmp_path: Path) -> None:
    """Intro + clip + outro fit max_duration by trimming the clip; bumpers sit on brand bars."""
    intro = _write(tmp_path / "intro.mp4", seconds=1.0, color=(0, 0, 255))
    outro = _write(tmp_path / "outro.mp4", seconds=1.0, color=(0, 255, 0))
    brand = BrandKit(intro=intro, outro=outro, background_color="#FF0000")
    out = tmp_path / "branded.mp4"
    spec = RenderSpec(0.0, 4.0, max_duration=4.0, brand=brand, poster_at=0.5)
    result = render_clip(media / "source.mp4", out, spec)
    assert result.frames == 120 and result.duration_seconds == pytest.approx(4.0, abs=0.05)
    _assert_platform_ready(out, result)
    first, last = _frame_at(out, 0.5), _frame_at(out, 3.5)
    assert first.getpixel((180, 20)) == pytest.approx((255, 0, 0), abs=24)  # bar above
    assert first.getpixel((180, 320)) == pytest.approx((0, 0, 255), abs=24)  # the intro
    assert last.getpixel((180, 320)) == pytest.approx((0, 255, 0), abs=24)  # the outro
    poster = Image.open(io.BytesIO(result.poster_jpeg)).convert("RGB")
    assert poster.getpixel((180, 20)) != pytest.approx((255, 0, 0), abs=24)  # the clip's


@pytest.mark.parametrize(
    ("make", "spec", "code"),
    [
        (lambda d: make_video(d / "v.mp4", seconds=2.0), RenderSpec(5.0, 8.0), "start_past_end"),
        (lambda d: make_audio(d / "a.m4a"), RenderSpec(0.0, 1.0), "no_video_stream"),
        (lambda d: make_corrupt(d / "c.mp4"), RenderSpec(0.0, 1.0), "source_unreadable"),
        (
            lambda d: make_video(d / "v.mp4", seconds=2.0),
            RenderSpec(0.0, 1.0, brand=BrandKit(intro=Path("/nonexistent/intro.mp4"))),
            "bumper_unreadable",
        ),
        (
            lambda d: make_video(d / "v.mp4", seconds=2.0),
            RenderSpec(0.0, 1.0, brand=BrandKit(logo=Watermark(Path(__file__)))),
            "logo_unreadable",
        ),
    ],
)
def test_unusable_input_is_refused_with_a_code(
    tmp_path: Path, make: Callable[[Path], Path], spec: RenderSpec, code: str
) -> None:
    """Each unusable input names itself by a stable code; no output file is left behind."""
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderError) as raised:
        render_clip(make(tmp_path), out, spec)
    assert raised.value.code == code and raised.value.detail
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_bad_specs_are_refused_with_what_to_change() -> None:
    """Impossible numbers and colours raise invalid_spec naming the field."""
    for make in (
        lambda: RenderSpec(3.0, 2.0),
        lambda: RenderSpec(0.0, 1.0, fps=120),
        lambda: BrandKit(background_color="red"),
        lambda: CaptionStyle(max_chars_per_line=2),
    ):
        with pytest.raises(RenderError) as raised:
            make()
        assert raised.value.code == "invalid_spec"


def test_output_size_never_enlarges_more_than_twice_nor_goes_below_360() -> None:
    """1080p fills 1080x1920 when cropped; a small source gives a smaller, >= 360 output."""
    assert output_size("9:16", "center", 1920, 1080) == (1080, 1920)
    assert output_size("9:16", "center", 1280, 720) == (810, 1440)
    assert output_size("16:9", "blur", 3840, 2160) == (1920, 1080)
    assert output_size("1:1", "center", 160, 90) == (360, 360)


def test_caption_pages_follow_word_timings_and_highlight_each_word() -> None:
    """Pages hold at most the style's lines; with word timings each word gets its own cue."""
    assert wrap(["aaaa", "bbb", "cc", "dddddddddddd"], 8) == [
        ("aaaa", "bbb"),
        ("cc",),
        ("dddddddddddd",),
    ]
    style = CaptionStyle(max_chars_per_line=12, max_lines=1)
    cues = caption_cues(_transcript(), 1.0, 3.0, style)
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert cues[0].start == 0.0 and cues[-1].end <= 2.0
    assert {c.highlight for c in cues} >= {0, 1}
    assert all(len(c.page.lines) == 1 for c in cues)
    untimed = Transcript((Segment(0.0, 4.0, "one two three four five six seven eight"),))
    plain = caption_cues(untimed, 0.0, 4.0, CaptionStyle(max_chars_per_line=10, max_lines=1))
    assert plain[0].page.lines == (("one", "two"),)
    assert plain[-1].end == pytest.approx(4.0) and all(c.highlight is None for c in plain)


def test_caption_painter_shrinks_long_lines_to_the_frame() -> None:
    """A line too wide at the style's size is drawn smaller, inside the frame."""
    page = CaptionPage(0.0, 1.0, (("W" * 30,),))
    painter = CaptionPainter(CaptionStyle(font_size=0.1), 360, 640)
    picture, x, y = painter.draw(CaptionCue(0.0, 1.0, page))
    assert x >= 0 and picture.width <= 360 and 0 <= y <= 640 - picture.height
