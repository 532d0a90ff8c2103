"""Draw one caption (a page of lines, maybe one word highlighted) as an RGBA picture with
Pillow, in the bundled font, outlined, sized and placed for the output frame."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from crosspost.studio.captions import CaptionCue
from crosspost.studio.render_spec import CaptionStyle, rgb

# DejaVu Sans Bold (Bitstream Vera licence, see fonts/LICENSE): wide Unicode coverage and
# bold strokes that stay legible over any picture once outlined.
FONT_PATH = Path(__file__).parent / "fonts" / "DejaVuSans-Bold.ttf"
_MAX_WIDTH = 0.9  # of the frame: platform UIs and rounded phone corners eat the edges
_LINE_SPACING = 1.1
# The vertical centre of the caption block, as a fraction of the height. Bottom captions of
# a portrait frame sit above the quarter that TikTok, Reels and Shorts cover with their UI.
_CENTRES = {"top": 0.15, "middle": 0.5}
_BOTTOM_PORTRAIT = 0.72
_BOTTOM_LANDSCAPE = 0.85


class CaptionPainter:
    """Draws the captions of one render (one output size and style)."""

    def __init__(
        self, style: CaptionStyle, width: int, height: int, font_path: Path = FONT_PATH
    ) -> None:
        self.style = style
        self.width, self.height = width, height
        self._font_path = font_path
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._base_size = max(8, round(style.font_size * min(width, height)))

    def _font(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            self._fonts[size] = ImageFont.truetype(str(self._font_path), size)
        return self._fonts[size]

    def _fitting_font(self, lines: tuple[tuple[str, ...], ...]) -> ImageFont.FreeTypeFont:
        """The style's font, made smaller when a line would be wider than the frame allows."""
        size = self._base_size
        room = self.width * _MAX_WIDTH
        while size > 8:
            font = self._font(size)
            stroke = self._stroke(size)
            widest = max(font.getlength(" ".join(line)) for line in lines) + 2 * stroke
            if widest <= room:
                return font
            size = max(8, min(size - 1, int(size * room / widest)))
        return self._font(size)

    def _stroke(self, size: int) -> int:
        if self.style.outline_width <= 0:
            return 0
        return max(1, round(size * self.style.outline_width))

    def draw(self, cue: CaptionCue) -> tuple[Image.Image, int, int]:
        """The cue's picture and the (x, y) of its top-left corner in the frame."""
        lines = cue.page.lines
        font = self._fitting_font(lines)
        size = int(font.size)
        stroke = self._stroke(size)
        ascent, descent = font.getmetrics()
        line_height = round((ascent + descent) * _LINE_SPACING)
        space = font.getlength(" ")
        widths = [font.getlength(" ".join(line)) for line in lines]
        picture_w = int(max(widths)) + 2 * stroke + 2
        picture_h = line_height * (len(lines) - 1) + ascent + descent + 2 * stroke
        picture = Image.new("RGBA", (picture_w, picture_h), (0, 0, 0, 0))
        pen = ImageDraw.Draw(picture)
        color, outline = rgb(self.style.color), rgb(self.style.outline_color)
        lit = rgb(self.style.highlight_color) if self.style.highlight_color else color
        number = 0
        for row, (line, line_w) in enumerate(zip(lines, widths, strict=True)):
            x = (picture_w - line_w) / 2
            y = stroke + row * line_height
            for word in line:
                fill = lit if number == cue.highlight else color
                # Word by word, so a highlighted word is drawn where it sits in the line.
                pen.text(
                    (x, y), word, font=font, fill=fill, stroke_width=stroke, stroke_fill=outline
                )
                x += font.getlength(word) + space
                number += 1
        return picture, (self.width - picture_w) // 2, self._top(picture_h)

    def _top(self, picture_h: int) -> int:
        position = self.style.position
        if position == "bottom":
            portrait = self.height > self.width
            centre = _BOTTOM_PORTRAIT if portrait else _BOTTOM_LANDSCAPE
        else:
            centre = _CENTRES[position]
        top = round(self.height * centre - picture_h / 2)
        margin = round(self.height * 0.03)
        return max(margin, min(top, self.height - margin - picture_h))
