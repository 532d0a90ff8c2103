"""Release cover art (seed 003's generate-album-art): the `ArtworkGenerator` port, and
`ProceduralArtwork`, which draws it with Pillow alone, with no network.

The same request gives byte-identical JPEG (on one Pillow build): the seed alone picks the
composition, the style when none is asked for, and the palette, which colour words of the
prompt bias (see `_HUES` and `_MOODS`). The picture is drawn in unit coordinates, so a seed
gives the same art at any size. Backgrounds are drawn at 1/8 or 1/2 of the size, where
smoothness hides it, and upscaled; grain and text are drawn at full size so they stay sharp.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from random import Random
from typing import Protocol

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

from crosspost.errors import InvalidInput
from crosspost.studio.caption_art import FONT_PATH

STYLES = ("gradient", "geometric", "waves", "grain")
MIN_SIZE, MAX_SIZE = 500, 4000
MAX_SEED = 2**32 - 1
MAX_TEXT = 200  # characters of a title or an artist name
CODE = "invalid_artwork_request"
QUALITY = 90

RGB = tuple[int, int, int]
# Prompt words that bias the palette, matched whole and lower-cased: hues (degrees) the
# palette is built around, in the order the words come; at most four are used.
_HUES: dict[str, tuple[float, ...]] = {
    "red": (0,), "crimson": (350,), "orange": (28,), "amber": (40,), "gold": (48,),
    "yellow": (55,), "lime": (90,), "green": (130,), "mint": (155,), "teal": (175,),
    "cyan": (185,), "blue": (220,), "navy": (228,), "indigo": (250,), "purple": (275,),
    "violet": (280,), "magenta": (310,), "pink": (330,), "rose": (345,),
    "sunset": (18, 340, 275), "sunrise": (35, 10, 200), "fire": (5, 25, 45),
    "ocean": (195, 215, 175), "sea": (195, 180), "sky": (205, 195), "forest": (135, 95, 160),
    "autumn": (25, 40, 10), "ice": (195, 210), "winter": (205, 220), "neon": (310, 185),
}  # fmt: skip
# Mood words: (saturation, lightness centre) of the palette; the last one in the prompt wins.
_MOODS: dict[str, tuple[float, float]] = {
    "neon": (1.0, 0.5), "vivid": (0.95, 0.5), "electric": (1.0, 0.5),
    "pastel": (0.45, 0.72), "soft": (0.4, 0.65), "bright": (0.8, 0.62), "ice": (0.45, 0.7),
    "dark": (0.6, 0.28), "night": (0.55, 0.25), "midnight": (0.6, 0.22),
    "mono": (0.04, 0.45), "monochrome": (0.04, 0.45), "noir": (0.0, 0.3),
    "black": (0.0, 0.3), "white": (0.0, 0.7), "grey": (0.0, 0.5), "gray": (0.0, 0.5),
}  # fmt: skip
# Hue offsets of the schemes a palette without colour words is built on.
_SCHEMES = ((0, 30, 60), (0, 180, 25), (0, 120, 240), (0, 150, 210), (0, -35, 35))
_DEFAULT_FONT = "<pillow default>"


@dataclass(frozen=True)
class ArtworkRequest:
    """What to draw: refused on construction (`InvalidInput`, code `invalid_artwork_request`)
    when out of range; `style` None picks one from the seed, `seed` None derives it."""

    title: str
    artist: str
    prompt: str | None = None
    style: str | None = None
    seed: int | None = None
    size: int = 3000

    def __post_init__(self) -> None:
        _check_request(self)


@dataclass(frozen=True, kw_only=True)
class GeneratedArtwork:
    """A square RGB JPEG and what made it (the seed and style, to make it again)."""

    data: bytes = field(repr=False)
    width: int
    height: int
    content_type: str = "image/jpeg"
    seed: int
    style: str
    generator: str


class ArtworkGenerator(Protocol):
    """Makes cover art for a release."""

    def generate(self, request: ArtworkRequest) -> GeneratedArtwork:
        """The artwork for `request`. Raises InvalidInput or ProviderError."""
        ...


def default_seed(title: str, artist: str) -> int:
    """The seed of a release asked for without one: the same title and artist (compared
    without case or surrounding space) always get the same art."""
    key = "\x1f".join(unicodedata.normalize("NFC", s).strip().casefold() for s in (title, artist))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


class ProceduralArtwork:
    """The built-in generator: no network, 0.15-0.35 s a 3000x3000 image on one core."""

    generator = "procedural"

    def __init__(self, font_path: Path = FONT_PATH, quality: int = QUALITY) -> None:
        self.font_path = font_path
        self.quality = quality

    def generate(self, request: ArtworkRequest) -> GeneratedArtwork:
        """Draw the background of the request's style, its text over it, and encode."""
        seed = default_seed(request.title, request.artist) if request.seed is None else request.seed
        style = request.style or STYLES[_rng(seed, "style").randrange(len(STYLES))]
        size = request.size
        colours = palette(seed, request.prompt)
        layout = lay_out_text(request.title.strip(), request.artist.strip(), size, self.font_path)
        place = _placement(layout, size, _rng(seed, "place"))
        picture = _PAINTERS[style](_rng(seed, style), colours, size)
        ink = _legible(picture, layout, place, size, colours, self.font_path)
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.Resampling.BICUBIC)
        _draw_text(ImageDraw.Draw(picture), layout, place, size, ink, self.font_path)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=self.quality, optimize=True)
        return GeneratedArtwork(
            data=out.getvalue(), width=size, height=size, seed=seed, style=style,
            generator=self.generator,
        )  # fmt: skip


def _check_request(request: ArtworkRequest) -> None:
    for name in ("title", "artist"):
        value = getattr(request, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{name} is empty: give the release's {name}", code=CODE, field=name)
        if len(value.strip()) > MAX_TEXT:
            raise InvalidInput(
                f"{name} is {len(value.strip())} characters long: shorten it to at most "
                f"{MAX_TEXT}", code=CODE, field=name,
            )  # fmt: skip
    if request.style is not None and request.style not in STYLES:
        raise InvalidInput(
            f"style {request.style!r} is not a built-in style: use one of "
            f"{', '.join(STYLES)}, or leave it out to pick one from the seed",
            code=CODE, field="style",
        )  # fmt: skip
    if not _int_within(request.size, MIN_SIZE, MAX_SIZE):
        raise InvalidInput(
            f"size {request.size!r} is outside {MIN_SIZE}..{MAX_SIZE}: ask for a square side "
            f"in that range in pixels (stores want 3000)", code=CODE, field="size",
        )  # fmt: skip
    if request.seed is not None and not _int_within(request.seed, 0, MAX_SEED):
        raise InvalidInput(
            f"seed {request.seed!r} is outside 0..{MAX_SEED}: give a whole number in that "
            "range, or leave it out to derive one from the title and artist",
            code=CODE, field="seed",
        )  # fmt: skip


def _int_within(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _rng(seed: int, purpose: str) -> Random:
    # One stream per purpose, so a prompt's colour words change the colours and nothing else.
    return Random(f"{seed}:{purpose}")


# -- palette ---------------------------------------------------------------------------------


def palette(seed: int, prompt: str | None = None) -> list[RGB]:
    """Five colours, dark to light, from the seed; colour and mood words of `prompt`
    ("blue", "sunset", "neon", "pastel", "dark"...) set their hues and their strength."""
    rng = _rng(seed, "palette")
    base, scheme = rng.uniform(0, 360), rng.choice(_SCHEMES)
    saturation, centre = rng.uniform(0.45, 0.8), rng.uniform(0.38, 0.5)
    jitters = [(rng.uniform(-10, 10), rng.uniform(0.85, 1.1)) for _ in range(5)]
    words = re.findall(r"[a-z]+", (prompt or "").lower())
    hues = [hue for word in words for hue in _HUES.get(word, ())][:4]
    moods = [_MOODS[word] for word in words if word in _MOODS]
    if moods:
        saturation, centre = moods[-1]
    hues = hues or [base + offset for offset in scheme]
    colours = []
    for i, (turn, strength) in enumerate(jitters):
        lightness = min(0.92, max(0.08, centre - 0.3 + 0.15 * i))
        red, green, blue = colorsys.hls_to_rgb(
            ((hues[i % len(hues)] + turn) % 360) / 360, lightness, min(1.0, saturation * strength)
        )
        colours.append((round(red * 255), round(green * 255), round(blue * 255)))
    return colours


def _ramp(stops: list[RGB]) -> list[int]:
    """A 256-colour palette (flat, for `putpalette`) through `stops`, evenly spaced."""
    flat: list[int] = []
    for level in range(256):
        where = level / 255 * (len(stops) - 1)
        i = min(int(where), len(stops) - 2)
        part = where - i
        flat += (round(a + (b - a) * part) for a, b in zip(stops[i], stops[i + 1], strict=True))
    return flat


def _colourize(levels: Image.Image, stops: list[RGB]) -> Image.Image:
    """An L image's levels mapped through a gradient of `stops` (0 the first, 255 the last)."""
    mapped = levels.copy()
    mapped.putpalette(_ramp(stops))
    return mapped.convert("RGB")


# -- backgrounds -----------------------------------------------------------------------------


def _field(rng: Random, side: int) -> Image.Image:
    """A smooth L field: a linear gradient at an angle, blended with a radial one."""
    big = math.ceil(side * 1.5)  # its inscribed circle covers the crop at any angle
    linear = Image.linear_gradient("L").resize((big, big), Image.Resampling.BILINEAR)
    linear = linear.rotate(rng.uniform(0, 360), Image.Resampling.BICUBIC)
    at = (big - side) // 2
    linear = linear.crop((at, at, at + side, at + side))
    radial = Image.radial_gradient("L").resize((2 * side, 2 * side), Image.Resampling.BILINEAR)
    x, y = (round(side * (1 - rng.uniform(0.1, 0.9))) for _ in range(2))
    radial = radial.crop((x, y, x + side, y + side))
    return Image.blend(linear, radial, rng.uniform(0.3, 0.7))


def _low(size: int) -> int:
    return max(64, math.ceil(size / 8))


def _gradient(rng: Random, colours: list[RGB], size: int) -> Image.Image:
    side = _low(size)
    stops = [colours[i] for i in sorted(rng.sample(range(5), rng.choice((3, 4))))]
    picture = _colourize(_field(rng, side), stops)
    for _ in range(rng.randint(3, 5)):  # soft shapes: blurred discs of the palette
        mask = Image.new("L", (side, side), 0)
        x, y, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.12, 0.35)
        box = [side * v for v in (x - r, y - r, x + r, y + r)]
        ImageDraw.Draw(mask).ellipse(box, fill=round(255 * rng.uniform(0.35, 0.7)))
        picture.paste(rng.choice(colours), mask=mask.filter(ImageFilter.GaussianBlur(side / 14)))
    return picture


def _geometric(rng: Random, colours: list[RGB], size: int) -> Image.Image:
    side = size // 2  # edges drawn at half size come out of the upscale softened, not jagged
    backdrop = _colourize(_field(rng, _low(size)), [colours[0], colours[1]])
    picture = backdrop.resize((side, side), Image.Resampling.BICUBIC)
    pen = ImageDraw.Draw(picture, "RGBA")
    for _ in range(rng.randint(7, 12)):
        x, y, r = rng.uniform(-0.1, 1.1), rng.uniform(-0.1, 1.1), rng.uniform(0.1, 0.42)
        fill = (*rng.choice(colours[1:]), rng.randint(90, 170))
        corners = rng.choice((0, 3, 3, 4, 5, 6))
        if corners == 0:
            pen.ellipse([side * v for v in (x - r, y - r, x + r, y + r)], fill=fill)
            continue
        turn = rng.uniform(0, 2 * math.pi)
        points = []
        for k in range(corners):
            angle, reach = turn + 2 * math.pi * k / corners, r * rng.uniform(0.75, 1.0)
            points.append(
                (side * (x + reach * math.cos(angle)), side * (y + reach * math.sin(angle)))
            )
        pen.polygon(points, fill=fill)
    return _smoothed(picture)


def _waves(rng: Random, colours: list[RGB], size: int) -> Image.Image:
    side = size // 2
    sky = Image.linear_gradient("L").resize((_low(size),) * 2, Image.Resampling.BILINEAR)
    picture = _colourize(sky, [colours[4], colours[3]]).resize((side, side))
    pen = ImageDraw.Draw(picture, "RGBA")
    if rng.random() < 0.6:  # a sun low in the sky
        x, y, r = rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.35), rng.uniform(0.06, 0.14)
        pen.ellipse([side * v for v in (x - r, y - r, x + r, y + r)], fill=(*colours[2], 200))
    bands = rng.randint(5, 8)
    shades = _ramp([colours[3], colours[1], colours[0]])
    steps = 160
    for i in range(bands):
        base = 0.3 + 0.7 * i / bands + rng.uniform(-0.03, 0.03)
        waves = [(rng.uniform(0.01, 0.06), rng.uniform(0.5, 2.5), rng.uniform(0, 1)) for _ in "ab"]
        edge = []
        for k in range(steps + 1):
            u = k / steps
            rise = sum(a * math.sin(2 * math.pi * (f * u + p)) for a, f, p in waves)
            edge.append((side * u, side * (base + rise)))
        level = round(255 * i / max(1, bands - 1)) * 3
        pen.polygon([*edge, (side, side), (0, side)], fill=(*shades[level : level + 3], 235))
    return _smoothed(picture)


def _smoothed(picture: Image.Image) -> Image.Image:
    # ImageDraw does not antialias: a blur under a pixel wide takes the steps off the edges
    # that the upscale would otherwise double (it costs 35 ms at 1500x1500; supersampling, 4x).
    return picture.filter(ImageFilter.BoxBlur(0.7))


def _grain(rng: Random, colours: list[RGB], size: int) -> Image.Image:
    levels = ImageOps.autocontrast(_field(rng, _low(size)), cutoff=1)
    levels = levels.resize((size, size), Image.Resampling.BICUBIC)
    strength = rng.randint(18, 34)
    # Python's generator, not Image.effect_noise: that one draws on C's rand(), whose state is
    # shared by the whole process, so the same request would not give the same bytes.
    noise = Image.frombytes("L", (size, size), rng.randbytes(size * size))
    noise = noise.point([v * 2 * strength // 255 for v in range(256)])
    levels = ImageChops.add(levels, noise, 1.0, -strength)
    dark, light = colours[0], colours[rng.choice((3, 4))]
    return _colourize(levels, [dark, light])


_PAINTERS = {"gradient": _gradient, "geometric": _geometric, "waves": _waves, "grain": _grain}


# -- typography ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _font(source: str, size: int) -> ImageFont.FreeTypeFont:
    if source != _DEFAULT_FONT:
        return ImageFont.truetype(source, size)
    font = ImageFont.load_default(size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # a Pillow built without FreeType
        raise TypeError("Pillow's default font is a bitmap font")
    return font


@lru_cache(maxsize=8192)
def _covers(source: str, char: str) -> bool:
    """True when the font has a glyph for `char`: FreeType draws the .notdef glyph (a box,
    or nothing) for one it lacks, and Pillow offers no lookup of the character map."""
    font = _font(source, 32)
    mask = font.getmask(char)
    notdef = font.getmask("\U0010ffff")
    return (mask.size, bytes(mask)) != (notdef.size, bytes(notdef))


class _Face:
    """The fonts text is set in at one size: the shipped font, then Pillow's default for the
    glyphs it lacks; a character neither has is set in the shipped font (its box shows)."""

    def __init__(self, font_path: Path, size: int) -> None:
        self.size = size
        self.sources = (str(font_path), _DEFAULT_FONT)

    def runs(self, text: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        """`text` cut where the font it is set in changes."""
        runs: list[tuple[str, str]] = []
        for char in text:
            if char.isspace() or unicodedata.category(char) in ("Mn", "Me", "Cf"):
                # Spaces, combining marks and joiners stay with what they follow.
                source = runs[-1][1] if runs else self.sources[0]
            else:
                source = next((s for s in self.sources if _covers(s, char)), self.sources[0])
            if runs and runs[-1][1] == source:
                runs[-1] = (runs[-1][0] + char, source)
            else:
                runs.append((char, source))
        return [(run, _font(source, self.size)) for run, source in runs]

    def length(self, text: str) -> float:
        """The advance of `text` in pixels."""
        return sum(font.getlength(run) for run, font in self.runs(text))


def _breakable(text: str, at: int) -> bool:
    return unicodedata.category(text[at]) not in ("Mn", "Me", "Cf")


def _wrap(text: str, face: _Face, width: float) -> list[str]:
    """`text` in lines no wider than `width`, broken at spaces; a word wider than a line (or
    a run of CJK, which has no spaces) is broken between characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if face.length(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while face.length(line) > width and len(line) > 1:
            cut, over = 1, len(line)  # bisected: a 200-character run is measured ~8 times
            while over - cut > 1:
                middle = (cut + over) // 2
                cut, over = (middle, over) if face.length(line[:middle]) <= width else (cut, middle)
            while cut > 1 and not _breakable(line, cut):
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines


def _clip(lines: list[str], most: int, face: _Face, width: float) -> list[str]:
    """At most `most` lines, the last ending in an ellipsis when some were dropped."""
    if len(lines) <= most:
        return lines
    last = lines[most - 1]
    while last and face.length(last + "…") > width:
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip() + "…"]


@dataclass(frozen=True)
class TextLayout:
    """The title and artist in lines, and their font sizes in pixels."""

    size: int  # the picture's side
    title_lines: tuple[str, ...]
    title_size: int
    artist_lines: tuple[str, ...]
    artist_size: int

    def line_heights(self) -> tuple[int, int]:
        """The distance between baselines of the title's lines, and of the artist's."""
        return round(self.title_size * 1.12), round(self.artist_size * 1.2)

    def gap(self) -> int:
        """The space between the title and the artist."""
        return round(self.title_size * 0.35)

    def height(self) -> int:
        """From the first line's top to the last line's bottom, in pixels."""
        title_step, artist_step = self.line_heights()
        steps = len(self.title_lines) * title_step + len(self.artist_lines) * artist_step
        return steps + self.gap()


_MARGIN = 0.08  # of the side, so nothing comes near the edges stores crop and round
_TEXT_WIDTH = 1 - 2 * _MARGIN
_TITLE_HEIGHT = 0.3  # of the side, at most, for the title's lines


def lay_out_text(title: str, artist: str, size: int, font_path: Path = FONT_PATH) -> TextLayout:
    """The title as large as fits (12% of the side down to 4%, wrapped), then clipped; the
    artist at under half that, on at most two lines."""
    width = size * _TEXT_WIDTH
    font_size, least = round(size * 0.12), round(size * 0.04)
    while True:
        face = _Face(font_path, font_size)
        lines = _wrap(title, face, width)
        if len(lines) * font_size <= size * _TITLE_HEIGHT or font_size <= least:
            break
        font_size = max(least, int(font_size * 0.9))
    lines = _clip(lines, int(size * _TITLE_HEIGHT / font_size), face, width)
    artist_size = max(round(size * 0.03), min(round(size * 0.05), round(font_size * 0.45)))
    artist_face = _Face(font_path, artist_size)
    artist_lines = _clip(_wrap(artist, artist_face, width), 2, artist_face, width)
    return TextLayout(size, tuple(lines), font_size, tuple(artist_lines), artist_size)


@dataclass(frozen=True)
class _Place:
    top: int
    centred: bool


def _placement(layout: TextLayout, size: int, rng: Random) -> _Place:
    margin, height = round(size * _MARGIN), layout.height()
    where = rng.choices(("top", "middle", "bottom"), weights=(3, 2, 5))[0]
    top = {"top": margin, "middle": (size - height) // 2, "bottom": size - margin - height}
    return _Place(top[where], rng.random() < 0.5)


def _draw_text(
    pen: ImageDraw.ImageDraw,
    layout: TextLayout,
    place: _Place,
    side: int,
    fill: RGB | int,
    font_path: Path,
    offset: float = 0.0,
) -> None:
    """The layout's lines on a picture `side` pixels wide (a shadow is drawn small), moved
    by `offset` (of the full size); runs set in different fonts share a baseline."""
    scale = side / layout.size
    title_step, artist_step = layout.line_heights()
    y = (place.top + offset) * scale
    blocks = ((layout.title_lines, layout.title_size, title_step, 0),
              (layout.artist_lines, layout.artist_size, artist_step, layout.gap()))  # fmt: skip
    for lines, font_size, step, gap in blocks:
        face = _Face(font_path, max(1, round(font_size * scale)))
        y += gap * scale
        for line in lines:
            baseline = y + (step - font_size * 0.22) * scale  # the descent of DejaVu, about
            width = face.length(line)
            x = (side - width) / 2 if place.centred else side * _MARGIN
            x += offset * scale
            for run, font in face.runs(line):
                pen.text((x, baseline), run, font=font, fill=fill, anchor="ls")
                x += font.getlength(run)
            y += step * scale


def _legible(
    picture: Image.Image,
    layout: TextLayout,
    place: _Place,
    size: int,
    colours: list[RGB],
    font_path: Path,
) -> RGB:
    """Darken (or lighten) the picture behind the text with a soft scrim and shadow, and
    return the ink that contrasts with it: light on a dark picture, dark on a light one."""
    side = _low(size)
    scale = side / size
    top, bottom = place.top * scale, (place.top + layout.height()) * scale
    under = picture.resize((side, side)).crop(
        (0, max(0, int(top)), side, min(side, int(bottom) + 1))
    )
    light_ink = ImageStat.Stat(under.convert("L")).mean[0] < 150
    shade = (0, 0, 0) if light_ink else (255, 255, 255)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).rectangle((0, top - side * 0.05, side, bottom + side * 0.05), fill=90)
    mask = mask.filter(ImageFilter.GaussianBlur(side / 10))
    shadow = Image.new("L", (side, side), 0)
    _draw_text(ImageDraw.Draw(shadow), layout, place, side, 160, font_path, size * 0.006)
    mask = ImageChops.lighter(mask, shadow.filter(ImageFilter.GaussianBlur(max(1, side / 120))))
    picture.paste(shade, mask=mask.resize(picture.size, Image.Resampling.BILINEAR))
    # Near white or near black, tinted by the palette so it belongs to the picture.
    (red, green, blue), base = (colours[4], 250) if light_ink else (colours[0], 14)
    return (
        round(base * 0.85 + red * 0.15),
        round(base * 0.85 + green * 0.15),
        round(base * 0.85 + blue * 0.15),
    )


__all__ = [
    "CODE",
    "MAX_SEED",
    "MAX_SIZE",
    "MAX_TEXT",
    "MIN_SIZE",
    "STYLES",
    "ArtworkGenerator",
    "ArtworkRequest",
    "GeneratedArtwork",
    "ProceduralArtwork",
    "TextLayout",
    "default_seed",
    "lay_out_text",
    "palette",
]
