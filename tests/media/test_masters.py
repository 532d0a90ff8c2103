"""Audio masters and release artwork: inspected from real files made here, then checked
against distributors' rules, each refusal asserted by its code."""

from __future__ import annotations

import array
import hashlib
import math
import wave
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from av.audio.stream import AudioStream
from PIL import Image

from crosspost.errors import InvalidInput
from crosspost.media.masters import (
    Artwork,
    AudioMaster,
    MasterRules,
    check_artwork,
    check_audio_master,
    inspect_artwork,
    inspect_audio_master,
)
from crosspost.media.samples import encoder_for, make_audio

_PERIOD = 100  # samples per tone cycle: a whole number keeps the tone seamless


def _tone(width: int, amplitude: float, channels: int) -> list[int]:
    """One cycle of a sine at `amplitude` of full scale, interleaved, as signed integers;
    values past full scale are clamped to +/-(full scale - 1), as a clipping export does."""
    full = 1 << (8 * width - 1)
    values = []
    for k in range(_PERIOD):
        value = round(amplitude * full * math.sin(2 * math.pi * k / _PERIOD))
        values.extend([max(-(full - 1), min(full - 1, value))] * channels)
    return values


def _pcm(width: int, values: Sequence[int]) -> bytes:
    """Signed samples as WAV stores them (8-bit WAV is unsigned)."""
    if width == 1:
        return bytes(value + 128 for value in values)
    if width == 2:
        return array.array("h", values).tobytes()
    return b"".join(value.to_bytes(width, "little", signed=True) for value in values)


def _wav(
    path: Path,
    *,
    seconds: float = 1.0,
    rate: int = 44100,
    channels: int = 2,
    width: int = 2,
    amplitude: float = 0.5,
) -> Path:
    """A sine WAV written with the stdlib `wave` module."""
    frames = round(seconds * rate)
    cycle = _pcm(width, _tone(width, amplitude, channels))
    whole, part = divmod(frames, _PERIOD)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(cycle * whole + cycle[: part * channels * width])
    return path


def _wav_samples(path: Path, width: int, values: Sequence[int], rate: int = 44100) -> Path:
    """A mono WAV holding exactly `values`."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(_pcm(width, values))
    return path


def _encode(path: Path, codec: str, sample_format: str, data: bytes, samples: int) -> Path:
    """A stereo 48 kHz file of one frame of packed `data`, encoded with PyAV."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=48000)
        assert isinstance(stream, AudioStream)
        stream.layout = "stereo"
        stream.format = sample_format
        frame = av.AudioFrame(format=sample_format, layout="stereo", samples=samples)
        frame.sample_rate = 48000
        frame.pts = 0
        frame.time_base = Fraction(1, 48000)
        frame.planes[0].update(data)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _flac24(path: Path, seconds: float = 1.0) -> Path:
    """A 24-bit stereo FLAC: FFmpeg's encoder writes 24 bits from 32-bit samples."""
    samples = round(seconds * 48000)
    cycle = array.array("i", [value << 8 for value in _tone(3, 0.25, 2)]).tobytes()
    return _encode(path, "flac", "s32", cycle * (samples // _PERIOD), samples)


def _master(**changes: Any) -> AudioMaster:
    """A master that passes every default rule, with `changes` applied."""
    good = AudioMaster(
        codec="pcm_s24le",
        container="wav",
        sample_rate=48000,
        bit_depth=24,
        channels=2,
        duration_seconds=200.0,
        peak_dbfs=-1.0,
        clipped_samples=0,
        clipped_ratio=0.0,
        md5="0" * 32,
        size_bytes=1,
    )
    return replace(good, **changes)


def _refusal(master: AudioMaster, rules: MasterRules | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_audio_master(master, rules or MasterRules())
    return caught.value


# Audio: what inspection reads


def test_cd_quality_wav_is_read_and_passes(tmp_path: Path) -> None:
    """A 16-bit 44.1 kHz stereo sine: every field read off the samples, and no rule broken."""
    path = _wav(tmp_path / "master.wav", seconds=1.0)
    master = inspect_audio_master(path)
    assert (master.codec, master.container) == ("pcm_s16le", "wav")
    assert (master.sample_rate, master.bit_depth, master.channels) == (44100, 16, 2)
    assert master.duration_seconds == pytest.approx(1.0)
    assert master.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert (master.clipped_samples, master.clipped_ratio) == (0, 0.0)
    assert master.md5 == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    assert master.size_bytes == path.stat().st_size
    check_audio_master(master)


def test_24_bit_wav_passes(tmp_path: Path) -> None:
    """A 24-bit 48 kHz master is read as 24-bit (FFmpeg decodes it into 32-bit samples)."""
    master = inspect_audio_master(
        _wav(tmp_path / "hd.wav", seconds=1.0, rate=48000, width=3, amplitude=0.25)
    )
    assert (master.codec, master.bit_depth, master.sample_rate) == ("pcm_s24le", 24, 48000)
    assert master.peak_dbfs == pytest.approx(20 * math.log10(0.25), abs=0.01)
    assert master.clipped_samples == 0
    check_audio_master(master)


def test_16_bit_flac_passes(tmp_path: Path) -> None:
    """A FLAC encoded with PyAV: codec and container flac, depth from its STREAMINFO."""
    master = inspect_audio_master(make_audio(tmp_path / "master.flac", seconds=1.5))
    assert (master.codec, master.container, master.bit_depth) == ("flac", "flac", 16)
    assert (master.sample_rate, master.channels) == (48000, 1)
    assert master.duration_seconds == pytest.approx(1.5)
    check_audio_master(master)


def test_24_bit_flac_passes(tmp_path: Path) -> None:
    """A 24-bit FLAC decodes to 32-bit samples but is reported at its declared 24 bits."""
    master = inspect_audio_master(_flac24(tmp_path / "hd.flac"))
    assert (master.codec, master.bit_depth, master.channels) == ("flac", 24, 2)
    assert master.peak_dbfs == pytest.approx(20 * math.log10(0.25), abs=0.01)
    check_audio_master(master)


def test_duration_comes_from_the_samples_not_the_header(tmp_path: Path) -> None:
    """A cut WAV still announces 2 s in its header; only the decoded second is counted."""
    path = _wav(tmp_path / "cut.wav", seconds=2.0, channels=1)
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 44100 * 2])
    assert inspect_audio_master(path).duration_seconds == pytest.approx(1.0)


def test_silence_has_no_peak(tmp_path: Path) -> None:
    """Digital silence peaks at -inf dBFS and clips nowhere."""
    master = inspect_audio_master(_wav(tmp_path / "silent.wav", amplitude=0.0))
    assert master.peak_dbfs == -math.inf
    assert master.clipped_samples == 0


def test_16_bit_clipping_counts_samples_within_one_lsb(tmp_path: Path) -> None:
    """32767, 32766, -32768 and -32767 clip; 32765 and -32766 do not."""
    values = [32767, 32766, -32768, -32767, 32765, -32766, 0, 1000]
    master = inspect_audio_master(_wav_samples(tmp_path / "edges.wav", 2, values))
    assert master.clipped_samples == 4
    assert master.clipped_ratio == pytest.approx(4 / 8)
    assert master.peak_dbfs == 0.0  # -32768 is full scale


def test_24_bit_clipping_is_measured_at_24_bits(tmp_path: Path) -> None:
    """1 LSB is one 24-bit step, not one step of the 32-bit samples FFmpeg decodes into."""
    top, bottom = (1 << 23) - 1, -(1 << 23)
    values = [top, top - 1, top - 2, bottom, bottom + 1, bottom + 2]
    master = inspect_audio_master(_wav_samples(tmp_path / "edges24.wav", 3, values))
    assert master.bit_depth == 24
    assert master.clipped_samples == 4


def test_float_clipping_is_at_0_99999(tmp_path: Path) -> None:
    """A 32-bit float WAV: |sample| >= 0.99999 clips; peaks past 0 dBFS are reported."""
    values = array.array("f", [1.25, -0.999995, 0.99998, -0.5] * 2).tobytes()
    path = _encode(tmp_path / "float.wav", "pcm_f32le", "flt", values, 4)
    master = inspect_audio_master(path)
    assert (master.codec, master.bit_depth) == ("pcm_f32le", 32)
    assert master.clipped_samples == 4
    assert master.peak_dbfs == pytest.approx(20 * math.log10(1.25), abs=1e-4)
    assert _refusal(master).code == "master_bit_depth"


def test_8_bit_clipping_reads_unsigned_samples(tmp_path: Path) -> None:
    """8-bit WAV is unsigned (silence is 128): 0, 1, 254 and 255 clip."""
    values = [-128, -127, -126, 125, 126, 127, 0, 0]  # bytes 0, 1, 2, 253, 254, 255, 128, 128
    master = inspect_audio_master(_wav_samples(tmp_path / "edges8.wav", 1, values))
    assert (master.codec, master.bit_depth) == ("pcm_u8", 8)
    assert master.clipped_samples == 4


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not audio, whatever its name says\n" * 50, b"RIFF\x10\x00\x00\x00WAVEjunk"],
)
def test_unreadable_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """Empty files, text named .wav and a broken RIFF header are `unreadable_audio`."""
    path = tmp_path / "master.wav"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        inspect_audio_master(path)
    assert caught.value.code == "unreadable_audio"
    assert str(tmp_path) not in caught.value.detail + str(caught.value.extra)


def test_file_without_audio_is_refused(tmp_path: Path) -> None:
    """An image decodes, but holds no audio stream."""
    path = tmp_path / "cover.png"
    Image.new("RGB", (16, 16)).save(path)
    with pytest.raises(InvalidInput) as caught:
        inspect_audio_master(path)
    assert caught.value.code == "unreadable_audio"


def test_missing_file_is_not_a_user_error(tmp_path: Path) -> None:
    """A path that does not exist is our bug, not the uploader's: FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        inspect_audio_master(tmp_path / "gone.wav")


# Audio: the rules, on real files


def test_mp3_is_refused_as_lossy(tmp_path: Path) -> None:
    """An MP3 is lossy whatever its rate: `lossy_master`, with what to export instead."""
    try:
        encoder_for("mp3")
    except RuntimeError:
        pytest.skip("this PyAV build has no MP3 encoder")
    master = inspect_audio_master(make_audio(tmp_path / "master.mp3", seconds=1.0))
    assert (master.codec, master.container, master.bit_depth) == ("mp3", "mp3", None)
    error = _refusal(master)
    assert error.code == "lossy_master"
    assert "export WAV or FLAC, 16 or 24-bit, 44.1 kHz or higher" in error.detail
    assert "this one is mp3 in mp3" in error.detail


def test_8_bit_wav_is_refused(tmp_path: Path) -> None:
    """8-bit audio is lossless but too coarse: `master_bit_depth`."""
    master = inspect_audio_master(_wav(tmp_path / "8bit.wav", width=1))
    error = _refusal(master)
    assert error.code == "master_bit_depth"
    assert "the master is 8-bit" in error.detail
    assert "16 or 24-bit" in error.detail


def test_22_khz_wav_is_refused(tmp_path: Path) -> None:
    """22.05 kHz is below the 44.1 kHz floor: `master_sample_rate`."""
    master = inspect_audio_master(_wav(tmp_path / "low.wav", rate=22050))
    error = _refusal(master)
    assert error.code == "master_sample_rate"
    assert "22.05 kHz" in error.detail
    assert "44.1 kHz or higher" in error.detail


def test_clipped_wav_is_refused_with_its_count(tmp_path: Path) -> None:
    """A sine driven 50 % past full scale flattens at +/-32767 on many samples."""
    master = inspect_audio_master(_wav(tmp_path / "loud.wav", amplitude=1.5))
    per_cycle = sum(1 for value in _tone(2, 1.5, 2) if abs(value) >= 32766)
    assert master.clipped_samples == per_cycle * 44100 // _PERIOD
    assert master.clipped_ratio == pytest.approx(master.clipped_samples / (44100 * 2))
    assert master.clipped_ratio > 0.0001
    error = _refusal(master)
    assert error.code == "master_clipping"
    assert f"{master.clipped_samples} samples" in error.detail
    assert "0.01%" in error.detail


def test_half_second_file_is_refused(tmp_path: Path) -> None:
    """0.5 s is under the 1 s minimum: `master_too_short`."""
    master = inspect_audio_master(_wav(tmp_path / "blip.wav", seconds=0.5))
    error = _refusal(master)
    assert error.code == "master_too_short"
    assert "0.5 s" in error.detail


def test_three_channel_file_is_refused(tmp_path: Path) -> None:
    """Three channels is neither mono nor stereo: `master_channels`."""
    master = inspect_audio_master(_wav(tmp_path / "lcr.wav", channels=3))
    assert master.channels == 3
    error = _refusal(master)
    assert error.code == "master_channels"
    assert "3 channels" in error.detail


# Audio: the rules, one by one


@pytest.mark.parametrize(
    ("codec", "container"),
    [
        ("aac", "mov"),
        ("alac", "mov"),  # lossless, but not a WAV or FLAC delivery
        ("pcm_s16le", "aiff"),
        ("pcm_mulaw", "wav"),  # 8-bit companded, PCM by name only
        ("flac", "ogg"),
        ("mp3", "wav"),
    ],
)
def test_anything_but_pcm_wav_or_flac_is_lossy(codec: str, container: str) -> None:
    """Only linear PCM in WAV and FLAC in FLAC count as lossless masters."""
    assert _refusal(_master(codec=codec, container=container)).code == "lossy_master"


@pytest.mark.parametrize("codec", ["pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "flac"])
def test_lossless_codecs_pass_the_first_rule(codec: str) -> None:
    """Linear PCM of any width and FLAC are lossless (depth is the next rule's business)."""
    container = "flac" if codec == "flac" else "wav"
    error = _refusal(_master(codec=codec, container=container, bit_depth=32))
    assert error.code == "master_bit_depth"


@pytest.mark.parametrize("depth", [8, 20, 32, None])
def test_bit_depth_other_than_16_or_24_is_refused(depth: int | None) -> None:
    """8, 20 and 32-bit masters, or a depth that could not be read."""
    assert _refusal(_master(bit_depth=depth)).code == "master_bit_depth"


@pytest.mark.parametrize("rate", [8000, 32000, 44099])
def test_sample_rate_under_44_1_khz_is_refused(rate: int) -> None:
    """One below 44.1 kHz is already too low."""
    assert _refusal(_master(sample_rate=rate)).code == "master_sample_rate"


@pytest.mark.parametrize("rate", [44100, 48000, 96000, 192000])
def test_sample_rates_from_44_1_khz_pass(rate: int) -> None:
    """44.1 kHz and up are taken."""
    check_audio_master(_master(sample_rate=rate))


def test_clipping_up_to_the_limit_passes() -> None:
    """Exactly 0.01 % clipped is allowed; one sample more is refused."""
    total = 200 * 48000 * 2
    check_audio_master(_master(clipped_samples=total // 10000, clipped_ratio=0.0001))
    over = _master(clipped_samples=total // 10000 + 1, clipped_ratio=(total // 10000 + 1) / total)
    error = _refusal(over)
    assert error.code == "master_clipping"
    assert f"{total // 10000 + 1} samples" in error.detail


def test_duration_limits() -> None:
    """1 s and 3 h pass; just under and just over are refused with the length shown."""
    check_audio_master(_master(duration_seconds=1.0))
    check_audio_master(_master(duration_seconds=3 * 3600.0))
    short = _refusal(_master(duration_seconds=0.99))
    assert short.code == "master_too_short"
    long = _refusal(_master(duration_seconds=3 * 3600 + 61))
    assert long.code == "master_too_long"
    assert "3:01:01" in long.detail
    assert "3:00:00" in long.detail


@pytest.mark.parametrize("channels", [0, 3, 6, 8])
def test_channels_other_than_mono_or_stereo_are_refused(channels: int) -> None:
    """Surround and odd layouts are refused; distributors take mono or stereo."""
    assert _refusal(_master(channels=channels)).code == "master_channels"


def test_mono_passes() -> None:
    """Mono is a valid master (old recordings, spoken word)."""
    check_audio_master(_master(channels=1))


def test_first_broken_rule_is_the_one_raised() -> None:
    """An 8-bit, 22 kHz, clipped, short, 6-channel MP3 is refused for being lossy, and each
    fix reveals the next rule in order."""
    broken = _master(
        codec="mp3",
        container="mp3",
        bit_depth=8,
        sample_rate=22050,
        clipped_samples=1000,
        clipped_ratio=0.5,
        duration_seconds=0.5,
        channels=6,
    )
    fixes: list[dict[str, Any]] = [
        {"codec": "pcm_u8", "container": "wav"},
        {"bit_depth": 16},
        {"sample_rate": 44100},
        {"clipped_samples": 0, "clipped_ratio": 0.0},
        {"duration_seconds": 60.0},
        {"channels": 2},
    ]
    codes = []
    for fix in fixes:
        codes.append(_refusal(broken).code)
        broken = replace(broken, **fix)
    check_audio_master(broken)
    assert codes == [
        "lossy_master",
        "master_bit_depth",
        "master_sample_rate",
        "master_clipping",
        "master_too_short",
        "master_channels",
    ]


def test_rules_can_be_tightened() -> None:
    """A distributor with stricter rules passes its own MasterRules."""
    strict = MasterRules(min_seconds=30.0, max_seconds=600.0, min_sample_rate=48000)
    assert _refusal(_master(duration_seconds=29.0), strict).code == "master_too_short"
    assert _refusal(_master(duration_seconds=601.0), strict).code == "master_too_long"
    assert _refusal(_master(sample_rate=44100), strict).code == "master_sample_rate"
    check_audio_master(_master(), strict)


# Artwork


def _image(path: Path, mode: str, size: tuple[int, int], fmt: str, **save: object) -> Path:
    colors = {"RGB": (180, 40, 60), "RGBA": (180, 40, 60, 128), "CMYK": (0, 80, 60, 10)}
    Image.new(mode, size, colors.get(mode, 90)).save(path, fmt, **save)
    return path


def _art_refusal(art: Artwork, **kwargs: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_artwork(art, **kwargs)
    return caught.value


def _art(**changes: Any) -> Artwork:
    good = Artwork("JPEG", 3000, 3000, "RGB", has_alpha=False, size_bytes=1, md5="0" * 32)
    return replace(good, **changes)


def test_3000_square_rgb_jpeg_passes(tmp_path: Path) -> None:
    """The store standard: a 3000x3000 RGB JPEG, its digest and size read off the file."""
    path = _image(tmp_path / "cover.jpg", "RGB", (3000, 3000), "JPEG", quality=90)
    art = inspect_artwork(path)
    assert (art.format, art.width, art.height, art.mode, art.has_alpha) == (
        "JPEG",
        3000,
        3000,
        "RGB",
        False,
    )
    assert art.md5 == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    assert art.size_bytes == path.stat().st_size
    check_artwork(art)


def test_2999_square_is_too_small(tmp_path: Path) -> None:
    """One pixel short: `artwork_too_small`, with both sizes in the message."""
    art = inspect_artwork(_image(tmp_path / "cover.jpg", "RGB", (2999, 2999), "JPEG"))
    error = _art_refusal(art)
    assert error.code == "artwork_too_small"
    assert "3000\u00d73000 pixels at least; this one is 2999\u00d72999" in error.detail


def test_landscape_is_not_square(tmp_path: Path) -> None:
    """3000x2000 is refused for its shape before its size."""
    art = inspect_artwork(_image(tmp_path / "cover.jpg", "RGB", (3000, 2000), "JPEG"))
    error = _art_refusal(art)
    assert error.code == "artwork_not_square"
    assert "3000\u00d72000" in error.detail


def test_rgba_png_is_refused_for_transparency(tmp_path: Path) -> None:
    """A PNG with an alpha channel: `artwork_transparency`."""
    art = inspect_artwork(_image(tmp_path / "cover.png", "RGBA", (3000, 3000), "PNG"))
    assert (art.format, art.mode, art.has_alpha) == ("PNG", "RGBA", True)
    assert _art_refusal(art).code == "artwork_transparency"


def test_palette_png_with_transparent_color_is_refused(tmp_path: Path) -> None:
    """Transparency kept as a palette entry (no alpha channel) is still transparency."""
    path = _image(tmp_path / "cover.png", "P", (40, 40), "PNG", transparency=0)
    art = inspect_artwork(path)
    assert (art.mode, art.has_alpha) == ("P", True)
    assert _art_refusal(art, min_pixels=40).code == "artwork_transparency"


def test_cmyk_jpeg_is_refused_for_color_mode(tmp_path: Path) -> None:
    """A print-ready CMYK JPEG: `artwork_color_mode`, naming the mode."""
    art = inspect_artwork(_image(tmp_path / "cover.jpg", "CMYK", (3000, 3000), "JPEG"))
    assert art.mode == "CMYK"
    error = _art_refusal(art)
    assert error.code == "artwork_color_mode"
    assert "CMYK" in error.detail


def test_grayscale_png_is_refused_for_color_mode(tmp_path: Path) -> None:
    """A grayscale ("L") PNG: `artwork_color_mode`."""
    art = inspect_artwork(_image(tmp_path / "cover.png", "L", (3000, 3000), "PNG"))
    assert (art.mode, art.has_alpha) == ("L", False)
    assert _art_refusal(art).code == "artwork_color_mode"


def test_gif_is_refused_for_format(tmp_path: Path) -> None:
    """Stores take JPEG or PNG only: a GIF is `artwork_format` whatever its size."""
    art = inspect_artwork(_image(tmp_path / "cover.gif", "RGB", (32, 32), "GIF"))
    assert art.format == "GIF"
    assert _art_refusal(art).code == "artwork_format"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"format": "WEBP"}, "artwork_format"),
        ({"format": "TIFF", "width": 10}, "artwork_format"),
        ({"width": 3001}, "artwork_not_square"),
        ({"width": 100, "height": 100}, "artwork_too_small"),
        ({"format": "PNG", "mode": "RGBA", "has_alpha": True}, "artwork_transparency"),
        ({"format": "PNG", "mode": "LA", "has_alpha": True}, "artwork_transparency"),
        ({"format": "PNG", "mode": "P"}, "artwork_color_mode"),
        ({"format": "PNG", "mode": "I;16"}, "artwork_color_mode"),
    ],
)
def test_each_artwork_rule_has_its_code(changes: dict[str, Any], code: str) -> None:
    """Rules apply in order: format, shape, size, transparency, color mode."""
    assert _art_refusal(_art(**changes)).code == code


def test_larger_square_and_custom_minimum_pass() -> None:
    """6000x6000 passes; a lower `min_pixels` admits a smaller image."""
    check_artwork(_art(width=6000, height=6000))
    check_artwork(_art(width=1400, height=1400), min_pixels=1400)
    assert _art_refusal(_art(width=1399, height=1399), min_pixels=1400).code == (
        "artwork_too_small"
    )


def test_text_renamed_png_is_unreadable(tmp_path: Path) -> None:
    """A text file with an image's name: `unreadable_artwork`."""
    path = tmp_path / "cover.png"
    path.write_text("not an image at all\n" * 20)
    with pytest.raises(InvalidInput) as caught:
        inspect_artwork(path)
    assert caught.value.code == "unreadable_artwork"


def test_cut_jpeg_is_unreadable(tmp_path: Path) -> None:
    """A JPEG cut mid-data: its header still reads, but decoding proves it is not whole."""
    path = tmp_path / "cover.jpg"
    Image.effect_noise((600, 600), 64).convert("RGB").save(path, "JPEG")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InvalidInput) as caught:
        inspect_artwork(path)
    assert caught.value.code == "unreadable_artwork"


@pytest.mark.parametrize("side", [40, 100])
def test_decompression_bomb_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: int
) -> None:
    """Over Pillow's pixel limit (40x40 past it: a warning; 100x100, twice past: an error),
    the image is refused as `artwork_too_large` either way, never decoded."""
    path = _image(tmp_path / "cover.png", "RGB", (side, side), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InvalidInput) as caught:
        inspect_artwork(path)
    assert caught.value.code == "artwork_too_large"
    assert "1,000 pixels" in caught.value.detail
