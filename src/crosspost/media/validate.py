"""Check media and text against a platform's `MediaLimits` before any upload.

Each broken rule becomes a `Violation` with a stable code and a message that says what is
wrong, by how much, and what to change ("video is 75.0 s; the maximum on youtube shorts is
60 s: trim it by at least 15.0 s").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from crosspost.domain.enums import MediaKind
from crosspost.domain.limits import CarouselLimits, MediaLimits
from crosspost.errors import MediaRejected, a_or_an
from crosspost.media.probe import ProbeResult

# A hashtag is "#" then Unicode letters, digits or underscores, not glued to a preceding word
# (so "a#b" and URL fragments like "page#top" are not counted).
_HASHTAG = re.compile(r"(?<!\w)#\w+")
# When a platform takes several codecs, suggest the most widely supported one first.
_PREFERRED = ("h264", "aac", "mp4", "hevc", "mp3", "jpeg", "png", "vp9", "opus")


@dataclass(frozen=True)
class MediaInfo:
    """What validation needs to know about a media file (fields match the `media` table)."""

    kind: MediaKind
    size_bytes: int
    container: str | None = None
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    frame_rate: float | None = None

    @classmethod
    def from_probe(cls, probe: ProbeResult, size_bytes: int) -> MediaInfo:
        """Build from a probe of the stored file and its size."""
        return cls(
            kind=probe.kind,
            size_bytes=size_bytes,
            container=probe.container,
            duration_seconds=probe.duration_seconds,
            width=probe.width,
            height=probe.height,
            video_codec=probe.video_codec,
            audio_codec=probe.audio_codec,
            frame_rate=probe.frame_rate,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> MediaInfo:
        """Build from a `media` table row or a described file's fields (others are ignored)."""
        return cls(
            kind=MediaKind(row["kind"]),
            size_bytes=int(row["size_bytes"]),
            container=row.get("container"),
            duration_seconds=row.get("duration_seconds"),
            width=row.get("width"),
            height=row.get("height"),
            video_codec=row.get("video_codec"),
            audio_codec=row.get("audio_codec"),
            frame_rate=row.get("frame_rate"),
        )


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable `code`, a message saying what to change, and the field."""

    code: str
    message: str
    field: str


def _num(value: float) -> str:
    """60.0 -> "60", 2.5 -> "2.5", 0.5625 -> "0.56": limits read best without noise."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _seconds(value: float, limit: float) -> str:
    """One decimal, or more when one would make 60.04 s look like the 60 s limit."""
    for places in (1, 2, 3):
        text = f"{value:.{places}f}"
        if float(text) != limit:
            return text
    return text


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{_num(round(count / scale, 1))} {unit} ({count} bytes)"
    return f"{count} bytes"


def _range(low: float | None, high: float | None, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"{_num(low)}{unit} to {_num(high)}{unit}"
    if low is not None:
        return f"at least {_num(low)}{unit}"
    return f"at most {_num(high or 0)}{unit}"


def _suggest(accepted: Iterable[str]) -> str:
    names = set(accepted)
    return next((name for name in _PREFERRED if name in names), min(names))


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def validate(
    limits: MediaLimits,
    media: MediaInfo | None,
    text: str,
    *,
    title: str | None = None,
    destination: str = "this platform",
) -> list[Violation]:
    """Every way `media`, `text` and `title` break `limits`; empty when the post is fine.

    `destination` names the platform in messages (e.g. "youtube shorts").
    """
    if limits.refusal is not None:
        # The platform has no such post at all: its own reason says more than any limit.
        return [Violation("unsupported_post_type", limits.refusal, "media")]
    found: list[Violation] = []
    if media is None:
        if limits.kinds and not limits.text_only:
            kinds = " or ".join(sorted(limits.kinds))
            found.append(
                Violation(
                    "media_required",
                    f"a post on {destination} needs {a_or_an(kinds)} file: attach one",
                    "media",
                )
            )
    else:
        found.extend(_check_media(limits, media, destination))
    found.extend(_check_text(limits, text, title, destination))
    return found


def validate_carousel(
    rules: CarouselLimits,
    item_limits: Callable[[MediaKind], MediaLimits],
    items: Sequence[MediaInfo],
    text: str,
    *,
    title: str | None = None,
    destination: str = "this platform",
) -> list[Violation]:
    """Every way a post of several media breaks a platform's carousel rules, each item's own
    limits (`item_limits(kind)`) and the text's; empty when the post is fine."""
    if rules.refusal is not None:
        return [Violation("unsupported_post_type", rules.refusal, "media_ids")]
    found: list[Violation] = []
    if len(items) > rules.max_items:
        found.append(
            Violation(
                "too_many_media",
                f"a post on {destination} holds at most {rules.max_items} media; this one has "
                f"{len(items)}: remove {len(items) - rules.max_items}",
                "media_ids",
            )
        )
    takes = " and ".join(sorted(k.value + "s" for k in rules.kinds))
    for index, item in enumerate(items):
        where = f"{destination} (item {index + 1})"
        if item.kind not in rules.kinds:
            found.append(
                Violation(
                    "unsupported_carousel_item",
                    f"item {index + 1} is {a_or_an(item.kind.value)}; a post of several media "
                    f"on {destination} takes {takes} only",
                    f"media_ids[{index}]",
                )
            )
            continue
        found.extend(
            replace(v, field=f"media_ids[{index}]")
            for v in _check_media(item_limits(item.kind), item, where)
        )
    if items and items[0].kind in rules.kinds:
        found.extend(_check_text(item_limits(items[0].kind), text, title, destination))
    return found


def _check_media(limits: MediaLimits, media: MediaInfo, where: str) -> list[Violation]:
    kind = media.kind.value
    if limits.text_only or not limits.kinds:
        return [
            Violation(
                "media_not_allowed",
                f"a post on {where} takes text only: remove the {kind}",
                "media",
            )
        ]
    if media.kind not in limits.kinds:
        accepted = " or ".join(sorted(limits.kinds))
        return [
            Violation(
                "media_kind_not_allowed",
                f"{kind} files are not accepted on {where}: "
                f"upload {a_or_an(accepted)} file instead",
                "media",
            )
        ]
    found: list[Violation] = []

    def add(code: str, message: str) -> None:
        found.append(Violation(code, message, "media"))

    if limits.containers is not None and media.container not in limits.containers:
        add(
            "container_not_allowed",
            f"the file is {media.container or 'an unknown container'}; accepted on {where}: "
            f"{_listing(limits.containers)}: convert it to {_suggest(limits.containers)}",
        )
    if limits.max_bytes is not None and media.size_bytes > limits.max_bytes:
        add(
            "media_too_large",
            f"the file is {_size(media.size_bytes)}; the maximum on {where} is "
            f"{_size(limits.max_bytes)}: compress it or shorten it",
        )

    timed = media.kind in (MediaKind.VIDEO, MediaKind.AUDIO)
    duration = media.duration_seconds
    if timed and duration is not None:
        if limits.max_duration_seconds is not None and duration > limits.max_duration_seconds:
            limit = limits.max_duration_seconds
            over = math.ceil((duration - limit) * 10) / 10  # round up: trimming less fails
            add(
                "media_too_long",
                f"{kind} is {_seconds(duration, limit)} s; the maximum on {where} is "
                f"{_num(limit)} s: trim it by at least {over:.1f} s",
            )
        if limits.min_duration_seconds is not None and duration < limits.min_duration_seconds:
            add(
                "media_too_short",
                f"{kind} is {_seconds(duration, limits.min_duration_seconds)} s; the minimum on "
                f"{where} is "
                f"{_num(limits.min_duration_seconds)} s: use a clip at least that long",
            )

    if media.kind in (MediaKind.VIDEO, MediaKind.IMAGE) and media.width and media.height:
        found.extend(_check_picture(limits, media, where))

    if media.kind is MediaKind.VIDEO:
        fps = media.frame_rate
        too_slow = limits.min_fps is not None and fps is not None and fps < limits.min_fps
        too_fast = limits.max_fps is not None and fps is not None and fps > limits.max_fps
        if fps is not None and (too_slow or too_fast):
            add(
                "frame_rate_not_allowed",
                f"video is {_num(fps)} fps; {where} accepts "
                f"{_range(limits.min_fps, limits.max_fps, ' fps')}: re-encode it at a frame rate "
                "in that range",
            )
        codecs = limits.video_codecs
        if codecs is not None and media.video_codec not in codecs:
            add(
                "codec_not_allowed",
                f"the video codec is {media.video_codec or 'unknown'}; accepted on {where}: "
                f"{_listing(codecs)}: re-encode the video as {_suggest(codecs)}",
            )
    if timed and limits.audio_codecs is not None and media.audio_codec is not None:
        codecs = limits.audio_codecs
        if media.audio_codec not in codecs:
            add(
                "codec_not_allowed",
                f"the audio codec is {media.audio_codec}; accepted on {where}: "
                f"{_listing(codecs)}: re-encode the audio as {_suggest(codecs)}",
            )
    return found


def _check_picture(limits: MediaLimits, media: MediaInfo, where: str) -> list[Violation]:
    width, height = media.width or 0, media.height or 0
    kind = media.kind.value
    found: list[Violation] = []
    aspect = width / height
    low, high = limits.min_aspect, limits.max_aspect
    if (low is not None and aspect < low) or (high is not None and aspect > high):
        fix = (
            "crop its top and bottom or pad its sides"
            if low is not None and aspect < low
            else "crop its sides or pad its top and bottom"
        )
        found.append(
            Violation(
                "aspect_ratio_not_allowed",
                f"{kind} is {width}x{height}, aspect ratio {aspect:.2f} (width / height); "
                f"{where} accepts {_range(low, high)}: {fix}",
                "media",
            )
        )
    shorter, longer = min(width, height), max(width, height)
    problems: list[str] = []
    if limits.min_side is not None and shorter < limits.min_side:
        problems.append(
            f"its shorter side must be at least {limits.min_side} px: use a larger source"
        )
    if limits.max_side is not None and longer > limits.max_side:
        problems.append(f"its longer side must be at most {limits.max_side} px: scale it down")
    if limits.max_width is not None and width > limits.max_width:
        problems.append(f"its width must be at most {limits.max_width} px: scale it down")
    if problems:
        found.append(
            Violation(
                "resolution_not_allowed",
                f"{kind} is {width}x{height}; on {where} " + "; ".join(problems),
                "media",
            )
        )
    return found


def _check_text(limits: MediaLimits, text: str, title: str | None, where: str) -> list[Violation]:
    found: list[Violation] = []
    chars = len(text)  # str length is the code point count
    if limits.caption_max_chars is not None and chars > limits.caption_max_chars:
        found.append(
            Violation(
                "caption_too_long",
                f"the caption is {chars} characters; the maximum on {where} is "
                f"{limits.caption_max_chars}: shorten it by {chars - limits.caption_max_chars} "
                "characters",
                "text",
            )
        )
    size = len(text.encode("utf-8"))
    if limits.caption_max_bytes is not None and size > limits.caption_max_bytes:
        found.append(
            Violation(
                "caption_too_long",
                f"the caption is {size} bytes in UTF-8 (accented letters and emoji take 2 to "
                f"4 bytes each); the maximum on {where} is {limits.caption_max_bytes} bytes: "
                f"shorten it by {size - limits.caption_max_bytes} bytes",
                "text",
            )
        )
    hashtags = len(_HASHTAG.findall(text))
    if limits.max_hashtags is not None and hashtags > limits.max_hashtags:
        found.append(
            Violation(
                "too_many_hashtags",
                f"the caption has {hashtags} hashtags; the maximum on {where} is "
                f"{limits.max_hashtags}: remove {hashtags - limits.max_hashtags}",
                "text",
            )
        )
    title_max = limits.title_max_chars
    if title is not None and title_max is not None and len(title) > title_max:
        found.append(
            Violation(
                "title_too_long",
                f"the title is {len(title)} characters; the maximum on {where} is {title_max}: "
                f"shorten it by {len(title) - title_max} characters",
                "title",
            )
        )
    for name, value in (("caption", text), ("title", title)):
        if value is None or not limits.forbidden_chars:
            continue
        bad = sorted({char for char in value if char in limits.forbidden_chars})
        if bad:
            shown = ", ".join(repr(char) for char in bad)
            found.append(
                Violation(
                    "forbidden_characters",
                    f"the {name} contains {shown}, not allowed on {where}: remove "
                    f"{'it' if len(bad) == 1 else 'them'}",
                    "text" if name == "caption" else "title",
                )
            )
    return found


def raise_for(violations: list[Violation]) -> None:
    """Raise MediaRejected for the violations (code of the first); do nothing if none."""
    if not violations:
        return
    raise MediaRejected(
        "; ".join(violation.message for violation in violations),
        code=violations[0].code,
        violations=[asdict(violation) for violation in violations],
    )
