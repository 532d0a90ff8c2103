"""render_brand() and media_ids(): a stored brand kit becomes the renderer's BrandKit and
CaptionStyle exactly, its defaults are the renderer's, every value the API accepts the
renderer accepts too, and a real render puts the logo where the kit says."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args

import av
import pytest
from PIL import Image, ImageChops, ImageStat
from pydantic import ValidationError

from crosspost.domain import brand_kits as domain
from crosspost.domain.brand_kits import BrandKitCreate
from crosspost.media.samples import make_video
from crosspost.studio import render_spec
from crosspost.studio.brand_kits import media_ids, render_brand
from crosspost.studio.render import render_clip
from crosspost.studio.render_spec import BrandKit, CaptionStyle, RenderSpec, Watermark


def _row(**body: Any) -> dict[str, Any]:
    """A kit as the store holds it: the validated body plus its id."""
    return {"id": "bk_test", **BrandKitCreate.model_validate({"name": "kit", **body}).model_dump()}


def _lowered(value: Any) -> dict[str, Any]:
    return {k: v.lower() if isinstance(v, str) else v for k, v in dataclasses.asdict(value).items()}


def test_every_field_maps_onto_the_renderer() -> None:
    """Logo placement, intro, outro, bars colour and every caption setting arrive as given."""
    row = _row(
        logo_media_id="med_logo", intro_media_id="med_in", outro_media_id="med_out",
        logo={"position": "bottom-left", "scale": 0.3, "opacity": 0.5, "margin": 0.1},
        colors={"background": "#102030", "primary": "#fff", "accent": "#f00"},
        caption_style={"font_size": 0.08, "color": "#abc", "outline_color": "#123456",
                       "outline_width": 0.2, "position": "middle", "max_chars_per_line": 30,
                       "max_lines": 3, "highlight_color": None},
    )  # fmt: skip
    paths = {"med_logo": Path("/m/logo.png"), "med_in": Path("/m/in.mp4"),
             "med_out": Path("/m/out.mp4")}  # fmt: skip
    brand, captions = render_brand(row, paths)
    assert brand == BrandKit(
        logo=Watermark(Path("/m/logo.png"), corner="bottom-left", scale=0.3, opacity=0.5,
                       margin=0.1),
        intro=Path("/m/in.mp4"),
        outro=Path("/m/out.mp4"),
        background_color="#102030",
    )  # fmt: skip
    assert captions == CaptionStyle(
        font_size=0.08, color="#aabbcc", outline_color="#123456", outline_width=0.2,
        position="middle", max_chars_per_line=30, max_lines=3, highlight_color=None,
    )  # fmt: skip


def test_a_kit_of_defaults_renders_like_the_renderers_defaults() -> None:
    """No media: no logo, intro or outro; the caption style and the logo placement are the
    renderer's own defaults (colours compared without case)."""
    brand, captions = render_brand(_row(), {})
    assert brand == BrandKit()
    assert _lowered(captions) == _lowered(CaptionStyle())
    logo_only, _ = render_brand(_row(logo_media_id="med_l"), {"med_l": Path("l.png")})
    assert logo_only.logo == Watermark(Path("l.png"))


def test_the_apis_choices_and_bounds_are_the_renderers() -> None:
    """The API's aspects, corners and caption positions are the renderer's; its lowest and
    highest values all build renderer types without a RenderError."""
    assert get_args(domain.Aspect) == get_args(render_spec.Aspect)
    assert get_args(domain.Corner) == get_args(render_spec.Corner)
    assert get_args(domain.CaptionPosition) == get_args(render_spec.CaptionPosition)
    paths = {"med_l": Path("l.png")}
    for end in ("ge", "le"):
        logo = {name: _bound(domain.LogoSettings, name, end) for name in
                ("scale", "opacity", "margin")}  # fmt: skip
        style = {name: _bound(domain.CaptionStyleSettings, name, end) for name in
                 ("font_size", "outline_width", "max_chars_per_line", "max_lines")}  # fmt: skip
        for aspect in get_args(domain.Aspect):
            brand, captions = render_brand(
                _row(logo_media_id="med_l", logo=logo, caption_style=style), paths
            )
            RenderSpec(0.0, 1.0, aspect=aspect, captions=captions, brand=brand)
    with pytest.raises(ValidationError, match="max_lines"):  # one past a bound: refused
        BrandKitCreate.model_validate({"name": "x", "caption_style": {"max_lines": 4}})


def _bound(model: Any, name: str, end: str) -> float:
    """The field's lowest (`ge`) or highest (`le`) accepted value; just above an
    exclusive lower bound (`gt`)."""
    for item in model.model_fields[name].metadata:
        for attr in (end,) if end == "le" else ("ge", "gt"):
            value = getattr(item, attr, None)
            if value is not None:
                return float(value) + (0.001 if attr == "gt" else 0.0)
        if end == "ge" and hasattr(item, "lo"):
            return float(item.lo)
        if end == "le" and hasattr(item, "hi"):
            return float(item.hi)
    raise AssertionError(f"{model.__name__}.{name} states no {end} bound")


def test_media_ids_lists_each_needed_item_once_and_missing_paths_are_named() -> None:
    """Logo, intro, outro in that order, a video used twice once; a path left out is a
    LookupError naming the media."""
    row = _row(logo_media_id="med_l", intro_media_id="med_v", outro_media_id="med_v")
    assert media_ids(row) == ["med_l", "med_v"]
    assert media_ids(_row()) == []
    with pytest.raises(LookupError, match="med_v"):
        render_brand(row, {"med_l": Path("l.png")})


def test_a_render_dressed_by_the_kit_shows_its_logo_in_its_corner(tmp_path: Path) -> None:
    """Against a bare render: the kit's bottom-left logo changes that corner's pixels and
    leaves the opposite corner alone."""
    source = make_video(tmp_path / "source.mp4", seconds=1.0, width=320, height=180)
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(logo)
    row = _row(logo_media_id="med_l", logo={"position": "bottom-left", "opacity": 1})
    brand, captions = render_brand(row, {"med_l": logo})
    plain, dressed = tmp_path / "plain.mp4", tmp_path / "dressed.mp4"
    render_clip(source, plain, RenderSpec(0.0, 1.0, captions=None))
    render_clip(source, dressed, RenderSpec(0.0, 1.0, captions=captions, brand=brand))
    difference = ImageChops.difference(_frame(plain), _frame(dressed))
    width, height = difference.size
    side = round(0.18 * width)
    margin = round(0.04 * min(width, height))
    corner = (margin + 4, height - margin - side + 4, margin + side - 4, height - margin - 4)

    def mean(box: tuple[int, int, int, int]) -> float:
        return sum(ImageStat.Stat(difference.crop(box)).mean) / 3

    assert mean(corner) > 40
    assert mean((width - margin - side, margin, width - margin, margin + side)) < 3


def _frame(path: Path) -> Image.Image:
    with av.open(str(path)) as video:
        frame = next(video.decode(video=0))
        picture: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
        return picture
