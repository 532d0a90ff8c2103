"""Brand kits as the API takes and shows them: a name, a logo and its placement, brand
colours, the caption look, intro and outro clips, and the aspect renders default to.

Every setting but `name` has a default, so a kit is always complete once stored. The
renderer's own types (`studio.render_spec`) accept every value these bounds let through.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from crosspost.domain.bounds import Range

# The renderer's aspects, corners and caption positions (studio.render_spec checks they
# stay the same).
Aspect = Literal["9:16", "1:1", "16:9", "4:5"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
CaptionPosition = Literal["bottom", "middle", "top"]

MAX_NAME = 200
MAX_MEDIA_ID = 40  # the media table's id column

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def normalise_hex(value: str) -> str:
    """`#rgb` or `#rrggbb` (any case) as lower-case `#rrggbb`; anything else refused."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise PydanticCustomError(
            "hex_color",
            "give a colour as #rrggbb or #rgb, e.g. #ff6600 or #f60; {value} is not one",
            {"value": repr(value)[:40]},
        )
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


HexColor = Annotated[
    str,
    AfterValidator(normalise_hex),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
            "description": "#rrggbb or #rgb; stored and shown as lower-case #rrggbb.",
            "examples": ["#ff6600"],
        }
    ),
]
# Fractions of the frame, and of the font size; all finite, all bounded.
LogoScale = Annotated[float, Field(ge=0.05, le=0.5, allow_inf_nan=False)]
LogoOpacity = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
LogoMargin = Annotated[float, Field(ge=0, le=0.2, allow_inf_nan=False)]
FontSize = Annotated[float, Field(ge=0.01, le=0.25, allow_inf_nan=False)]
OutlineWidth = Annotated[float, Field(ge=0, le=0.5, allow_inf_nan=False)]
CharsPerLine = Annotated[int, Range(8, 60)]
MaxLines = Annotated[int, Range(1, 3)]
KitName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
MediaId = Annotated[str, Field(min_length=1, max_length=MAX_MEDIA_ID)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogoSettings(_Strict):
    """Where and how the logo is laid over a clip."""

    position: Corner = Field(default="top-right", description="The corner it sits in.")
    scale: LogoScale = Field(default=0.18, description="Its width, a fraction of the frame's.")
    opacity: LogoOpacity = Field(default=0.85, description="Above 0 (invisible) to 1 (opaque).")
    margin: LogoMargin = Field(
        default=0.04, description="Its distance from the edges, a fraction of the shorter side."
    )


class BrandColors(_Strict):
    """The brand's colours; `background` fills the bars around a fitted picture."""

    background: HexColor = "#000000"
    primary: HexColor = "#ffffff"
    accent: HexColor = "#ffd400"


class CaptionStyleSettings(_Strict):
    """How burned-in captions look (the renderer's CaptionStyle)."""

    font_size: FontSize = Field(
        default=0.065, description="A fraction of the output's shorter side."
    )
    color: HexColor = "#ffffff"
    outline_color: HexColor = "#000000"
    outline_width: OutlineWidth = Field(default=0.1, description="A fraction of the font size.")
    position: CaptionPosition = "bottom"
    max_chars_per_line: CharsPerLine = 24
    max_lines: MaxLines = 2
    highlight_color: HexColor | None = Field(
        default="#ffd400",
        description="Paints the word being said (when the transcript has word timings); "
        "null: never.",
    )


class BrandKitCreate(_Strict):
    """A new brand kit: only `name` is required."""

    name: KitName
    logo_media_id: MediaId | None = Field(
        default=None, description="A ready image (PNG, JPEG, WebP…) of 32x32 to 4096x4096 px."
    )
    intro_media_id: MediaId | None = Field(
        default=None, description="A ready video of at most 10 s shown before each clip."
    )
    outro_media_id: MediaId | None = Field(
        default=None, description="A ready video of at most 10 s shown after each clip."
    )
    logo: LogoSettings = Field(default_factory=LogoSettings)
    colors: BrandColors = Field(default_factory=BrandColors)
    caption_style: CaptionStyleSettings = Field(default_factory=CaptionStyleSettings)
    default_aspect: Aspect = Field(default="9:16", description="The aspect renders default to.")


class LogoPatch(_Strict):
    """Logo settings to change; null puts a setting back to its default."""

    position: Corner | None = None
    scale: LogoScale | None = None
    opacity: LogoOpacity | None = None
    margin: LogoMargin | None = None


class ColorsPatch(_Strict):
    """Colours to change; null puts a colour back to its default."""

    background: HexColor | None = None
    primary: HexColor | None = None
    accent: HexColor | None = None


class CaptionStylePatch(_Strict):
    """Caption settings to change; null puts a setting back to its default, except
    `highlight_color`, whose null means no highlighting."""

    font_size: FontSize | None = None
    color: HexColor | None = None
    outline_color: HexColor | None = None
    outline_width: OutlineWidth | None = None
    position: CaptionPosition | None = None
    max_chars_per_line: CharsPerLine | None = None
    max_lines: MaxLines | None = None
    highlight_color: HexColor | None = None


class BrandKitPatch(_Strict):
    """A JSON Merge Patch (RFC 7396) of a brand kit: only the fields given change; objects
    merge key by key; null removes (a media id) or puts the default back (a setting)."""

    name: KitName | None = Field(default=None, description="Cannot be null.")
    logo_media_id: MediaId | None = None
    intro_media_id: MediaId | None = None
    outro_media_id: MediaId | None = None
    logo: LogoPatch | None = None
    colors: ColorsPatch | None = None
    caption_style: CaptionStylePatch | None = None
    default_aspect: Aspect | None = None

    def changes(self) -> dict[str, Any]:
        """The patch as given: only the fields sent, nulls kept."""
        return self.model_dump(exclude_unset=True)


class BrandKitPublic(BaseModel):
    """A brand kit with every setting, defaults filled in."""

    id: str
    name: str
    logo_media_id: str | None
    intro_media_id: str | None
    outro_media_id: str | None
    logo: LogoSettings
    colors: BrandColors
    caption_style: CaptionStyleSettings
    default_aspect: Aspect
    created_at: datetime
    updated_at: datetime
