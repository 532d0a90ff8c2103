"""X API v2 protocol rules, free of I/O: limits, segment plan, weighted text, error mapping.

The client in ``x.py`` drives the HTTP exchanges; everything here is a pure function of its
arguments so it can be read and tested against PLATFORM_PROTOCOLS.md §4 on its own.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import MediaFile
from crosspost.platforms.errors import AlreadyExists, PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import CommentOptions

MB = 1024 * 1024
SEGMENT_BYTES = 5 * MB  # X's advice: keep segments at or below 5 MB
SERVER_MAX_SEGMENT = 8 * MB  # the server refuses larger segments
MAX_SEGMENTS = 1000  # segment_index runs 0..999
TEXT_MAX_WEIGHT = 280
URL_WEIGHT = 23  # every URL counts as a t.co link, whatever its length
RATE_WINDOW_SECONDS = 15 * 60.0  # fallback when a 429 carries no x-rate-limit-reset
MIN_POLL_SECONDS = 1.0
DUPLICATE_CONTENT = "duplicate_content"  # X's 403 for a post identical to a recent one

VIDEO_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime"}
IMAGE_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

# A post video (tweet_video) for a non-Premium user: 0.5 s - 20 min, <= 8 GB, aspect 1:3-3:1,
# <= 60 fps, AAC-LC audio (PLATFORM_PROTOCOLS.md §4 "Limits").
VIDEO_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    containers=frozenset({"mp4", "mov"}),
    video_codecs=frozenset({"h264"}),
    audio_codecs=frozenset({"aac"}),
    min_duration_seconds=0.5,
    max_duration_seconds=20 * 60.0,
    max_bytes=8 * 1024**3,
    min_aspect=1 / 3,
    max_aspect=3.0,
    max_fps=60.0,
    caption_max_chars=TEXT_MAX_WEIGHT,
)
IMAGE_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.IMAGE}),
    containers=frozenset({"jpeg", "png", "webp"}),
    max_bytes=5 * MB,
    caption_max_chars=TEXT_MAX_WEIGHT,
)
TEXT_LIMITS = MediaLimits(kinds=frozenset(), text_only=True, caption_max_chars=TEXT_MAX_WEIGHT)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    None: TEXT_LIMITS,
    MediaKind.VIDEO: VIDEO_LIMITS,
    MediaKind.IMAGE: IMAGE_LIMITS,
    MediaKind.AUDIO: MediaLimits.refused(
        "X has no audio posts (its media upload takes images, GIFs and videos): attach a video "
        "or an image, or post text only"
    ),
}


class XOptions(CommentOptions):
    """`overrides.x`: the common `text`, and a first comment (a reply to the post)."""

    platform: ClassVar[str] = "x"
    first_comment_max_chars: ClassVar[int] = TEXT_MAX_WEIGHT

    @classmethod
    def comment_length(cls, text: str) -> int:
        """A reply weighs what a post does: URLs 23, CJK and emoji 2."""
        return weighted_length(text)


_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# twitter-text v3: these code point ranges weigh 1, everything else (CJK, emoji...) weighs 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def char_weight(char: str) -> int:
    """A character's weight in X's 280 count: 1 for Latin and the like, 2 for CJK and emoji."""
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2


def weighted_length(text: str) -> int:
    """The length X counts a post's text in: URLs weigh 23, CJK and emoji 2, the rest 1."""
    total = 0
    last = 0
    for match in _URL.finditer(text):
        total += sum(char_weight(c) for c in text[last : match.start()]) + URL_WEIGHT
        last = match.end()
    return total + sum(char_weight(c) for c in text[last:])


def check_text(text: str) -> None:
    """Refuse a text over 280 weighted characters before anything is uploaded."""
    weight = weighted_length(text)
    if weight > TEXT_MAX_WEIGHT:
        raise PlatformError(
            ErrorKind.PERMANENT,
            "text_too_long",
            f"the text weighs {weight} of X's {TEXT_MAX_WEIGHT} (URLs count {URL_WEIGHT}, CJK "
            f"and emoji 2): shorten it by at least {weight - TEXT_MAX_WEIGHT} weighted characters",
        )


def comparable_text(text: str) -> str:
    """The text with URLs masked: X rewrites every link to t.co, so reconcile ignores them."""
    return _URL.sub("<url>", text).strip()


def same_text(shown: str, submitted: str, *, has_media: bool) -> bool:
    """True when a post X shows (`shown`) carries `submitted`: links compare masked, and a
    post with media may end with the media's own t.co link, which X appends."""
    ours, theirs = comparable_text(submitted), comparable_text(shown)
    if theirs == ours:
        return True
    return has_media and theirs.removesuffix("<url>").rstrip() == ours


def plan_segments(size: int, preferred: int) -> int:
    """The segment size for a file: `preferred` clamped to 5 MB, grown (up to the 8 MB server
    maximum) only when 5 MB segments would need more than 1000 appends."""
    if size <= 0:
        raise ValueError("cannot plan segments for an empty file")
    segment = min(max(preferred, 1), SEGMENT_BYTES)
    if math.ceil(size / segment) > MAX_SEGMENTS:
        segment = math.ceil(size / MAX_SEGMENTS)
        if segment > SERVER_MAX_SEGMENT:
            raise ValueError(f"{size} bytes need more than {MAX_SEGMENTS} segments of 8 MB")
    return segment


def media_type(media: MediaFile) -> str:
    """The MIME type sent at initialize: the file's own when X knows it, else by suffix."""
    known = IMAGE_TYPES if media.kind is MediaKind.IMAGE else VIDEO_TYPES
    if media.content_type in known.values():
        return media.content_type
    suffix = media.filename.rsplit(".", 1)[-1].lower()
    fallback = "image/jpeg" if media.kind is MediaKind.IMAGE else "video/mp4"
    return known.get(suffix, fallback)


def media_category(media: MediaFile) -> str:
    """The media_category of a post attachment."""
    return "tweet_image" if media.kind is MediaKind.IMAGE else "tweet_video"


def multipart_segment(
    media: MediaFile, start: int, length: int, segment_index: int
) -> tuple[str, int, Iterator[bytes]]:
    """A streamed multipart/form-data body with `segment_index` and the `media` bytes.

    Returns (Content-Type, Content-Length, body pieces); the segment is read from disk in
    pieces so memory stays bounded whatever the segment size.
    """
    boundary = "crosspost-" + secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="segment_index"\r\n\r\n'
        f"{segment_index}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="media"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def pieces() -> Iterator[bytes]:
        yield head
        yield from media.iter_range(start, length)
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + length + len(tail), pieces()


def post_url(handle: str | None, tweet_id: str) -> str:
    """The public URL of a post (X redirects /i/web/status/<id> when the handle is unknown)."""
    return (
        f"https://x.com/{handle}/status/{tweet_id}"
        if handle
        else (f"https://x.com/i/web/status/{tweet_id}")
    )


def _reset_in(response: httpx.Response, header: str, now: datetime) -> float | None:
    value = response.headers.get(header, "").strip()
    if not value.isdigit():
        return None
    return max(0.0, float(value) - now.timestamp())


def _problem(body: Any) -> tuple[str, str]:
    """(code, message) from X's v2 problem JSON or its legacy ``{"errors": [...]}`` shape."""
    if not isinstance(body, dict):
        return "", str(body or "")
    detail = str(body.get("detail") or "")
    title = str(body.get("title") or "")
    kind = str(body.get("type") or "")
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = detail or str(first.get("message") or first.get("detail") or title)
    if "duplicate content" in message.lower():
        return DUPLICATE_CONTENT, message
    if first.get("code") is not None:
        return str(first["code"]), message
    if kind and kind != "about:blank":
        return kind.rstrip("/").rsplit("/", 1)[-1], message
    return title.lower().replace(" ", "_"), message


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed X answer onto our error kinds, keeping the raw body and X's `detail`."""
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    code, message = _problem(body)
    code = code or f"http_{status}"
    message = message or f"X answered HTTP {status}"

    def err(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, code, message, retry_after=retry, raw=body, http_status=status)

    if status == 401:
        return err(ErrorKind.AUTH)
    if status == 429:
        # The 24-hour posting cap is a quota; the 15-minute endpoint window a rate limit.
        if response.headers.get("x-user-limit-24hour-remaining", "").strip() == "0":
            return err(ErrorKind.QUOTA, _reset_in(response, "x-user-limit-24hour-reset", now))
        retry = _reset_in(response, "x-rate-limit-reset", now)
        if retry is None:
            retry = parse_retry_after(response.headers.get("Retry-After"), now=now)
        return err(ErrorKind.RATE_LIMITED, RATE_WINDOW_SECONDS if retry is None else retry)
    if status >= 500 or status == 408:
        return err(ErrorKind.TRANSIENT)
    if code == DUPLICATE_CONTENT:
        # X names no id: the engine finds the existing post when the refusal is ours.
        return AlreadyExists(code, message, raw=body, http_status=status)
    return err(ErrorKind.PERMANENT)


def processing_error(info: dict[str, Any]) -> PlatformError:
    """The permanent error a `processing_info.state == "failed"` stands for."""
    error = info.get("error") if isinstance(info.get("error"), dict) else {}
    assert isinstance(error, dict)
    name = str(error.get("name") or error.get("code") or "processing_failed")
    message = str(error.get("message") or "X could not process the media")
    return PlatformError(ErrorKind.PERMANENT, name, message, raw=info)
