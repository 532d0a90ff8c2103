"""Lay RGBA pictures (captions, a logo) over yuv420p video frames, in place.

A picture is converted to Y, U and V planes once (by FFmpeg's own RGB to YUV conversion, so
its colours match the video's) and each frame gets only the rows it covers blended, by
Pillow's masked paste: a few hundred rows per frame, not a full RGB round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import av
from PIL import Image


@dataclass(frozen=True)
class Overlay:
    """A picture ready to blend at (x, y): its Y, U, V planes and alpha at both sizes."""

    x: int
    y: int
    luma: Image.Image
    chroma: tuple[Image.Image, Image.Image]
    alpha: Image.Image
    chroma_alpha: Image.Image


def prepare(picture: Image.Image, x: int, y: int) -> Overlay:
    """Convert an RGBA picture for blending with its top-left corner at (x, y).

    The corner is moved up/left to even coordinates and the picture padded to even sides,
    so it lines up with the half-size chroma planes.
    """
    x, y = x - x % 2, y - y % 2
    width = picture.width + picture.width % 2
    height = picture.height + picture.height % 2
    rgba = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    rgba.paste(picture.convert("RGBA"), (0, 0))
    # Transparent pixels are black here; where one shares a 2x2 chroma block with a visible
    # pixel it only greys that pixel's hue a little, which an outlined glyph edge hides.
    # PyAV ships no type for from_image: its result is typed here.
    rgb_frame = av.VideoFrame.from_image(rgba.convert("RGB"))  # type: ignore[no-untyped-call]
    frame = rgb_frame.reformat(format="yuv420p")
    planes = [_plane_image(frame.planes[i]) for i in range(3)]
    alpha = rgba.getchannel("A")
    chroma_alpha = alpha.resize((width // 2, height // 2), Image.Resampling.BOX)
    return Overlay(x, y, planes[0], (planes[1], planes[2]), alpha, chroma_alpha)


def _plane_image(plane: av.video.plane.VideoPlane) -> Image.Image:
    return Image.frombuffer(
        "L", (plane.width, plane.height), bytes(plane), "raw", "L", plane.line_size, 1
    ).copy()


def composite(frame: av.VideoFrame, overlays: Sequence[Overlay]) -> None:
    """Blend each overlay into the yuv420p `frame`, clipped to its edges."""
    if not overlays:
        return
    frame.make_writable()  # a frame the decoder still references must not be drawn on
    for overlay in overlays:
        _blend(frame.planes[0], overlay.luma, overlay.alpha, overlay.x, overlay.y)
        for index, picture in enumerate(overlay.chroma, start=1):
            _blend(
                frame.planes[index], picture, overlay.chroma_alpha, overlay.x // 2, overlay.y // 2
            )


def _blend(
    plane: av.video.plane.VideoPlane, picture: Image.Image, mask: Image.Image, x: int, y: int
) -> None:
    top, bottom = max(y, 0), min(y + picture.height, plane.height)
    if bottom <= top or x >= plane.width or x + picture.width <= 0:
        return
    stride = plane.line_size
    view = memoryview(plane)
    start, end = top * stride, bottom * stride
    # Whole rows make one contiguous slice: read it, paste into it, write it back at once.
    rows = Image.frombytes("L", (stride, bottom - top), view[start:end])
    offset = top - y
    if offset or bottom - top < picture.height:
        box = (0, offset, picture.width, offset + bottom - top)
        picture, mask = picture.crop(box), mask.crop(box)
    rows.paste(picture, (x, 0), mask)
    view[start:end] = rows.tobytes()
