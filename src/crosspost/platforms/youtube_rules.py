"""YouTube's protocol rules, free of I/O: limits, metadata, URLs, offsets and error mapping.

The client in ``youtube.py`` drives the resumable upload; everything here is a pure function
of its arguments so the rules can be read and tested against PLATFORM_PROTOCOLS.md on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import BeforeValidator, Field

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import MediaFile, PublishRequest
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import CommentOptions, Tags, ThumbnailOptions, TitledOptions

CHUNK_UNIT = 256 * 1024  # every non-final chunk must be a multiple of this
TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
MAX_BYTES = 256 * 1024**3
SHORTS_MAX_SECONDS = 180.0
PACIFIC = ZoneInfo("America/Los_Angeles")  # YouTube quotas reset at midnight Pacific time
UPLOAD_CAP_SECONDS = 24 * 3600.0
LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    max_bytes=MAX_BYTES,
    max_duration_seconds=12 * 3600.0,
    title_max_chars=TITLE_MAX_CHARS,
    caption_max_bytes=DESCRIPTION_MAX_BYTES,
    forbidden_chars="<>",
)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    MediaKind.VIDEO: LIMITS,
    None: MediaLimits.refused(
        "YouTube's API offers no community posts (text-only posts): a post to YouTube needs a video"
    ),
    MediaKind.IMAGE: MediaLimits.refused(
        "YouTube's API offers no image or community posts: a post to YouTube needs a video "
        "(an image can be its cover, overrides.youtube.thumbnail_media_id)"
    ),
    MediaKind.AUDIO: MediaLimits.refused(
        "YouTube's API uploads videos, not audio files: turn the audio into a video (e.g. over "
        "a still image) and attach that"
    ),
}


def _category_text(value: Any) -> Any:
    # YouTube names categories by numeric strings ("22"); a JSON number means the same.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


CategoryId = Annotated[str, BeforeValidator(_category_text), Field(pattern=r"^[0-9]{1,4}$")]


class YouTubeOptions(TitledOptions, ThumbnailOptions, CommentOptions):
    """`overrides.youtube`: the video's metadata (`videos.insert` snippet and status)."""

    platform: ClassVar[str] = "youtube"
    # commentThreads.insert: a comment's textOriginal holds up to 10,000 characters.
    first_comment_max_chars: ClassVar[int] = 10_000

    privacy_status: Literal["public", "unlisted", "private"] = Field(
        default="public", description="who may watch the video"
    )
    tags: Tags = Field(
        default_factory=list, description="keywords (YouTube keeps the first 500 characters)"
    )
    category_id: CategoryId = Field(
        default="22", description='a YouTube video category id, e.g. "22" (People & Blogs)'
    )
    made_for_kids: bool = Field(
        default=False, description="declare the video made for children (COPPA)"
    )
    notify_subscribers: bool = Field(
        default=True, description="false: publish without notifying the channel's subscribers"
    )
    youtube_schedule: bool = Field(
        default=False,
        description="with `publish_at`: upload at once as private and let YouTube publish it "
        "at that time",
    )


_AUTH_REASONS = frozenset({"authError", "insufficientPermissions", "unauthorized"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


def seconds_until_pacific_midnight(now: datetime) -> float:
    """Seconds from `now` until the next midnight in America/Los_Angeles (DST-aware)."""
    local = now.astimezone(PACIFIC)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return max(1.0, (next_midnight - now).total_seconds())


def _google_error(body: Any) -> tuple[str | None, str]:
    """(reason, message) from Google's `{"error":{"errors":[{"reason"}], "message"}}` shape."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None, ""
    error = body["error"]
    message = str(error.get("message") or "")
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        if reason:
            return str(reason), message or str(errors[0].get("message") or "")
    status = error.get("status")
    return (str(status) if status else None), message


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed YouTube response onto our error kinds (reference §1 error table)."""
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    reason, message = _google_error(body)
    code = reason or f"http_{status}"
    message = message or f"YouTube answered HTTP {status}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)

    def error(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, code, message, retry_after=retry, raw=body, http_status=status)

    if reason in _QUOTA_REASONS:
        return error(ErrorKind.QUOTA, seconds_until_pacific_midnight(now))
    if reason == "uploadLimitExceeded":
        return error(ErrorKind.QUOTA, UPLOAD_CAP_SECONDS)
    if status == 401 or reason in _AUTH_REASONS or reason == "UNAUTHENTICATED":
        return error(ErrorKind.AUTH)
    if status == 429 or reason in _RATE_REASONS:
        return error(ErrorKind.RATE_LIMITED, retry_after)
    if status >= 500 or status == 408:
        return error(ErrorKind.TRANSIENT, retry_after)
    return error(ErrorKind.PERMANENT)


def _strip_forbidden(text: str) -> str:
    return text.replace("<", "").replace(">", "")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut `text` to at most `max_bytes` of UTF-8 without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def derive_title(text: str, fallback: str) -> str:
    """A valid title from the post text: first non-empty line, `<>` removed, ≤ 100 chars."""
    for line in text.splitlines():
        title = _strip_forbidden(line).strip()
        if title:
            return title[:TITLE_MAX_CHARS].strip()
    return _strip_forbidden(fallback).strip()[:TITLE_MAX_CHARS] or "Video"


def _fit_tags(tags: list[str]) -> list[str]:
    """Keep leading tags while the total stays within YouTube's 500-character budget."""
    kept: list[str] = []
    used = 0
    for raw in tags:
        tag = _strip_forbidden(str(raw)).strip()
        # YouTube counts a separator per tag and quotes around tags that contain spaces.
        cost = len(tag) + (1 if kept else 0) + (2 if " " in tag else 0)
        if not tag or used + cost > TAGS_MAX_CHARS:
            continue
        kept.append(tag)
        used += cost
    return kept


def video_url(video_id: str, media: MediaFile | None) -> str:
    """The public URL: /shorts/ for a vertical or square clip of at most 3 minutes."""
    if (
        media is not None
        and media.width is not None
        and media.height is not None
        and media.duration_seconds is not None
        and media.width <= media.height
        and media.duration_seconds <= SHORTS_MAX_SECONDS
    ):
        return f"https://www.youtube.com/shorts/{video_id}"
    return f"https://www.youtube.com/watch?v={video_id}"


def confirmed_offset(response: httpx.Response) -> int:
    """Next byte to send after a 308: one past the end of `Range: bytes=0-N` (0 if absent)."""
    header = response.headers.get("Range", "")
    if "-" not in header:
        return 0
    return int(header.rsplit("-", 1)[1]) + 1


def video_resource(request: PublishRequest, media: MediaFile) -> dict[str, Any]:
    """The `snippet` and `status` parts sent when opening the upload: title, tags, privacy."""
    options = YouTubeOptions.read(request.options)
    title = options.title
    snippet: dict[str, Any] = {
        "title": derive_title(title, media.filename)
        if title
        else derive_title(request.text, media.filename.rsplit(".", 1)[0]),
        "description": truncate_utf8(_strip_forbidden(request.text), DESCRIPTION_MAX_BYTES),
        "categoryId": options.category_id,
    }
    tags = _fit_tags(options.tags)
    if tags:
        snippet["tags"] = tags
    status: dict[str, Any] = {
        "privacyStatus": options.privacy_status,
        "selfDeclaredMadeForKids": options.made_for_kids,
    }
    if request.publish_at is not None and options.youtube_schedule:
        # YouTube only schedules private videos; it flips them public at publishAt.
        status["privacyStatus"] = "private"
        status["publishAt"] = request.publish_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"snippet": snippet, "status": status}
