"""The built-in cover art generator: JPEGs of each style, byte for byte the same for the same
request, titles laid out in lines, any script drawn, and bad requests refused."""

from __future__ import annotations

import colorsys
import io
from typing import Any

import pytest
from PIL import Image, ImageFont

from crosspost.errors import InvalidInput
from crosspost.providers.artwork import (
    CODE,
    STYLES,
    ArtworkGenerator,
    ArtworkRequest,
    GeneratedArtwork,
    ProceduralArtwork,
    default_seed,
    lay_out_text,
    palette,
)
from crosspost.studio.caption_art import FONT_PATH

SMALL = 800  # most tests: the picture is drawn the same way at any size, only faster


def _generate(**fields: Any) -> GeneratedArtwork:
    request = {"title": "Midnight Drive", "artist": "The Parallels", "size": SMALL, **fields}
    generator: ArtworkGenerator = ProceduralArtwork()
    return generator.generate(ArtworkRequest(**request))


def _opened(artwork: GeneratedArtwork) -> Image.Image:
    picture = Image.open(io.BytesIO(artwork.data))
    picture.load()
    return picture


@pytest.mark.parametrize("style", STYLES)
def test_each_style_is_an_rgb_jpeg(style: str) -> None:
    """Every style gives a square RGB JPEG of the size asked, and says what made it."""
    artwork = _generate(style=style, seed=42)
    picture = _opened(artwork)
    assert (picture.format, picture.mode, picture.size) == ("JPEG", "RGB", (SMALL, SMALL))
    assert "A" not in picture.getbands()
    assert (artwork.width, artwork.height, artwork.content_type) == (SMALL, SMALL, "image/jpeg")
    assert (artwork.style, artwork.seed, artwork.generator) == (style, 42, "procedural")
    assert "data" not in repr(artwork)  # megabytes of JPEG stay out of logs


def test_a_store_sized_cover() -> None:
    """3000x3000, the size stores ask for, is an RGB JPEG too."""
    picture = _opened(_generate(style="grain", size=3000))
    assert (picture.format, picture.mode, picture.size) == ("JPEG", "RGB", (3000, 3000))


def test_the_same_request_gives_the_same_bytes() -> None:
    """Generating twice (by two generators) gives identical bytes; another seed does not."""
    for style in STYLES:
        first = _generate(style=style, seed=7, prompt="sunset")
        assert ProceduralArtwork().generate(ArtworkRequest(
            title="Midnight Drive", artist="The Parallels", size=SMALL, style=style, seed=7,
            prompt="sunset",
        )).data == first.data  # fmt: skip
        assert _generate(style=style, seed=8, prompt="sunset").data != first.data


def test_each_input_changes_the_picture() -> None:
    """The title, the artist, the prompt's colour words and the size each change the bytes."""
    base = _generate(style="waves", seed=3).data
    assert _generate(style="waves", seed=3, title="Midnight Drives").data != base
    assert _generate(style="waves", seed=3, artist="The Parallel").data != base
    assert _generate(style="waves", seed=3, prompt="blue").data != base
    assert _generate(style="waves", seed=3, size=801).data != base


def test_the_default_seed_is_stable_for_a_release() -> None:
    """Without a seed, one comes from the title and artist: pinned, so the same release keeps
    its art across processes and versions, and blind to case and surrounding space."""
    assert default_seed("Midnight Drive", "The Parallels") == 1994530420
    assert default_seed("  midnight drive ", "THE PARALLELS") == 1994530420
    assert default_seed("Midnight Drive", "The Parallel") != 1994530420
    first = _generate()
    assert first.seed == 1994530420
    assert _generate().data == first.data


def test_without_a_style_the_seed_picks_one() -> None:
    """No style: the seed picks one, and the art is the same as asking for that style."""
    picked = {_generate(seed=seed).style for seed in range(12)}
    assert picked == set(STYLES)
    artwork = _generate(seed=5)
    assert _generate(seed=5, style=artwork.style).data == artwork.data


def _hue(colour: tuple[int, int, int]) -> float:
    return colorsys.rgb_to_hls(*(c / 255 for c in colour))[0] * 360


def test_colour_words_bias_the_palette() -> None:
    """ "blue" makes a blue palette, "mono" a grey one; other words change nothing."""
    for seed in range(5):
        assert all(200 <= _hue(c) <= 240 for c in palette(seed, "deep blue sound")[1:])
        assert all(max(c) - min(c) <= 25 for c in palette(seed, "a mono take"))
        assert palette(seed, "quiet songs") == palette(seed)
    dark, light = palette(1), palette(1, "pastel")
    assert sum(map(sum, light)) > sum(map(sum, dark))


def test_a_short_title_stays_on_one_large_line() -> None:
    """A short title is one line at the largest size."""
    layout = lay_out_text("Echoes", "Anna Lind", 3000)
    assert layout.title_lines == ("Echoes",)
    assert layout.artist_lines == ("Anna Lind",)
    assert layout.title_size == 360
    assert layout.artist_size < layout.title_size / 2


def test_a_long_title_wraps_within_the_margins() -> None:
    """A long title is broken at spaces onto lines that fit the width, and set smaller."""
    title = "Songs for the Long Way Home, Recorded Live at the Old Harbour Hall in Winter"
    layout = lay_out_text(title, "Anna Lind", 3000)
    assert len(layout.title_lines) >= 3
    assert " ".join(layout.title_lines) == title
    assert layout.title_size < 360
    font = ImageFont.truetype(str(FONT_PATH), layout.title_size)
    assert all(font.getlength(line) <= 3000 * 0.84 for line in layout.title_lines)
    assert len(layout.title_lines) * layout.title_size <= 3000 * 0.3  # the title's budget


def test_a_title_too_long_for_the_lines_ends_in_an_ellipsis() -> None:
    """200 wide letters do not fit on the lines allowed: the last one is cut with "…"."""
    layout = lay_out_text("W" * 200, "X" * 200, 3000)
    assert layout.title_lines[-1].endswith("…")
    assert layout.title_size == 120  # the smallest
    assert len(layout.artist_lines) == 2 and layout.artist_lines[-1].endswith("…")


def test_unspaced_cjk_wraps_between_characters() -> None:
    """Japanese has no spaces: a long title is broken between characters, none lost."""
    title = "夜明けのスキャット東京の空に響く歌" * 4
    layout = lay_out_text(title, "由紀さおり", 3000)
    assert len(layout.title_lines) > 1
    assert "".join(layout.title_lines) == title


def test_combining_marks_stay_with_their_letter() -> None:
    """A line is never broken between a letter and its accent."""
    layout = lay_out_text("e\u0301" * 190, "a", 800)
    assert all(not line.startswith("\u0301") for line in layout.title_lines)


@pytest.mark.parametrize(
    ("title", "artist"),
    [
        ("夜明けのスキャット", "由紀さおり"),
        ("Rock 🎸🔥 Anthem", "👩‍🎤 Ünïcødé — Ωmega"),
        ("🎵" * 200, "\u200d\ufe0f"),
    ],
)
def test_any_script_is_drawn_without_failing(title: str, artist: str) -> None:
    """CJK, emoji and joiners the shipped font lacks fall back without an error."""
    for style in ("gradient", "grain"):
        picture = _opened(_generate(title=title, artist=artist, style=style))
        assert picture.size == (SMALL, SMALL)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"title": ""}, "title", "title is empty"),
        ({"title": "   "}, "title", "title is empty"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"artist": ""}, "artist", "artist is empty"),
        ({"artist": "y" * 201}, "artist", "at most 200"),
        ({"style": "oil painting"}, "style", "gradient, geometric, waves, grain"),
        ({"size": 499}, "size", "500..4000"),
        ({"size": 4001}, "size", "500..4000"),
        ({"size": True}, "size", "500..4000"),
        ({"seed": -1}, "seed", "0..4294967295"),
        ({"seed": 2**32}, "seed", "0..4294967295"),
    ],
)
def test_bad_requests_are_refused(fields: dict[str, Any], field: str, says: str) -> None:
    """Out-of-range requests are refused with one code, the field, and what to change."""
    request = {"title": "Midnight Drive", "artist": "The Parallels", **fields}
    with pytest.raises(InvalidInput) as refused:
        ArtworkRequest(**request)
    assert refused.value.code == CODE == "invalid_artwork_request"
    assert refused.value.extra["field"] == field
    assert says in refused.value.detail


def test_the_limits_themselves_are_accepted() -> None:
    """200 characters, sizes 500 and 4000 and seeds 0 and 2**32-1 are all allowed."""
    ArtworkRequest(title="x" * 200, artist="y" * 200, size=4000, seed=2**32 - 1)
    picture = _opened(_generate(size=500, seed=0))
    assert picture.size == (500, 500)
