"""TikTok's protocol rules, free of I/O: limits, chunk plan, caption, privacy, error mapping.

The client in ``tiktok.py`` drives the HTTP exchanges; everything here is a pure function of
its arguments so the rules can be read and tested against PLATFORM_PROTOCOLS.md on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, get_args

import httpx
from pydantic import Field

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import MediaFile, PublishRequest
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import PlatformOptions

UPLOAD_URL_TTL_SECONDS = 3600.0
MIN_POLL_SECONDS = 2.0  # status/fetch allows 30 calls a minute per token
MB = 1024 * 1024
MIN_CHUNK, MAX_CHUNK, MAX_CHUNKS = 5 * MB, 64 * MB, 1000
CAPTION_MAX_UTF16 = 2200
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}
LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    containers=frozenset({"mp4", "mov", "webm"}),
    video_codecs=frozenset({"h264", "hevc", "vp8", "vp9"}),
    min_fps=23.0,
    max_fps=60.0,
    min_side=360,
    max_side=4096,
    max_bytes=4 * 1024**3,
    max_duration_seconds=600.0,
    caption_max_chars=2200,
)
# Photo posts (Content Posting API, media_type PHOTO): JPEG or WebP, up to 20 MB each,
# fetched by TikTok from a verified URL prefix; a title of 90 characters and a description.
PHOTO_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.IMAGE}),
    containers=frozenset({"jpeg", "webp"}),
    max_bytes=20 * 1024 * 1024,
    caption_max_chars=PHOTO_DESCRIPTION_MAX,
)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    MediaKind.VIDEO: LIMITS,
    None: MediaLimits.refused("TikTok has no text-only posts: a post to TikTok needs a video"),
    MediaKind.AUDIO: MediaLimits.refused(
        "TikTok's Content Posting API takes videos, not audio files: a post to TikTok needs a video"
    ),
    MediaKind.IMAGE: PHOTO_LIMITS,
}
# Most public first: without a `privacy_level` option, the first the creator allows is used.
PrivacyLevel = Literal[
    "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
]


class TikTokOptions(PlatformOptions):
    """`overrides.tiktok`: the Content Posting API's `post_info` and how the video travels."""

    platform: ClassVar[str] = "tiktok"

    privacy_level: PrivacyLevel | None = Field(
        default=None,
        description="who may watch; must be one the creator allows (default: the most public "
        "one they allow)",
    )
    tiktok_mode: Literal["direct", "inbox"] = Field(
        default="direct",
        description="`inbox`: send the video to the creator's TikTok inbox as a draft to "
        "finish in the app, instead of posting it",
    )
    tiktok_source: Literal["upload", "pull"] = Field(
        default="upload",
        description="`pull`: TikTok fetches the video from a signed URL (needs "
        "CROSSPOST_PUBLIC_URL) instead of receiving an upload",
    )
    disable_comment: bool = Field(default=False, description="turn comments off")
    disable_duet: bool = Field(default=False, description="turn duets off")
    disable_stitch: bool = Field(default=False, description="turn stitches off")
    brand_content_toggle: bool = Field(
        default=False, description="the video is a paid partnership (branded content)"
    )
    brand_organic_toggle: bool = Field(
        default=False, description="the video promotes the creator's own business"
    )
    is_aigc: bool = Field(default=False, description="label the video as AI-generated")
    video_cover_timestamp_ms: int | None = Field(
        default=None, ge=0, description="the frame used as the cover, in ms from the start"
    )


_AUTH_CODES = frozenset(
    {
        "access_token_invalid",
        "scope_not_authorized",
        "scope_permission_missed",
        "token_not_authorized",
    }
)
_PRIVACY_PREFERENCE: tuple[str, ...] = get_args(PrivacyLevel)
_QUOTA_CODES = frozenset(
    {"spam_risk_too_many_posts", "spam_risk_too_many_pending_share", "reached_active_user_cap"}
)


def plan_chunks(size: int, preferred: int) -> tuple[int, int]:
    """TikTok's chunk plan for `size` bytes: (chunk_size, total_chunk_count).

    Chunks are 5-64 MB, the count is floor(size / chunk_size) so the last chunk absorbs the
    remainder (below 2 x chunk_size, hence within 128 MB), a file up to the chunk size goes
    whole, a file over 64 MB always takes several chunks, and there are at most 1000.
    """
    if size <= 0:
        raise ValueError("cannot plan chunks for an empty file")
    chunk = min(max(preferred, MIN_CHUNK), MAX_CHUNK)
    if size <= chunk:
        return size, 1
    if size > MAX_CHUNK:
        # "Over 64 MB must be chunked": with count = floor(size / chunk) a 64 MB chunk alone
        # would make one oversized chunk of a file below 128 MB, so take at most half.
        chunk = max(MIN_CHUNK, min(chunk, size // 2))
    if size // chunk > MAX_CHUNKS:
        chunk = -(-size // MAX_CHUNKS)  # ceil: the smallest chunk giving at most 1000 chunks
        if chunk > MAX_CHUNK:
            raise ValueError(f"{size} bytes need more than {MAX_CHUNKS} chunks of 64 MB")
    return chunk, size // chunk


def caption(text: str) -> str:
    """The post text cut to TikTok's 2200 UTF-16 code units, never splitting a character."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > CAPTION_MAX_UTF16:
            return text[:index]
    return text


def choose_privacy(wanted: str | None, allowed: list[str]) -> str:
    """The requested privacy level if the creator allows it; by default the most public one."""
    if wanted:
        if wanted not in allowed:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "privacy_level_option_mismatch",
                f"privacy_level {wanted!r} is not allowed for this creator (allowed: "
                f"{', '.join(allowed) or 'none'})",
            )
        return wanted
    for level in _PRIVACY_PREFERENCE:
        if level in allowed:
            return level
    raise PlatformError(
        ErrorKind.PERMANENT, "privacy_level_option_mismatch", "the creator offers no privacy level"
    )


def is_inbox(request: PublishRequest) -> bool:
    """Whether the post goes to the creator's inbox as a draft rather than straight out."""
    return TikTokOptions.read(request.options).tiktok_mode == "inbox"


def is_pull(request: PublishRequest) -> bool:
    """Whether TikTok fetches the video from `media_url` (PULL_FROM_URL) instead of an upload."""
    return TikTokOptions.read(request.options).tiktok_source == "pull" and bool(request.media_url)


def init_phase(request: PublishRequest) -> str:
    """The session phase of the init call: a pull init makes the post itself, so it commits."""
    return "init_pull" if is_pull(request) else "init"


def creator_profile(data: dict[str, Any], media: MediaFile | None) -> dict[str, Any]:
    """The creator facts kept in the session; refuses a video longer than the creator may post."""
    max_seconds = data.get("max_video_post_duration_sec")
    if (
        isinstance(max_seconds, int | float)
        and media is not None
        and media.duration_seconds is not None
        and media.duration_seconds > max_seconds
    ):
        raise PlatformError(
            ErrorKind.PERMANENT,
            "duration_check_failed",
            f"the video lasts {media.duration_seconds:.1f} s but this creator may post at "
            f"most {max_seconds} s",
            raw=data,
        )
    return {
        "username": data.get("creator_username"),
        "privacy_level_options": [str(o) for o in data.get("privacy_level_options") or []],
        "max_video_post_duration_sec": max_seconds,
        "comment_disabled": bool(data.get("comment_disabled")),
        "duet_disabled": bool(data.get("duet_disabled")),
        "stitch_disabled": bool(data.get("stitch_disabled")),
    }


def photo_post_info(request: PublishRequest, session: dict[str, Any]) -> dict[str, Any]:
    """The `post_info` of a photo post: the text's first line as its title (90 characters),
    the whole text as its description, and the direct post's privacy and switches."""
    options = TikTokOptions.read(request.options)
    creator = session.get("creator") or {}
    info: dict[str, Any] = {
        "title": request.text.split("\n", 1)[0][:PHOTO_TITLE_MAX],
        "description": request.text[:PHOTO_DESCRIPTION_MAX],
        "disable_comment": options.disable_comment or bool(creator.get("comment_disabled")),
        "auto_add_music": True,
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
    }
    if "privacy_level" in session:
        info["privacy_level"] = session["privacy_level"]
    return info


def post_info(request: PublishRequest, session: dict[str, Any]) -> dict[str, Any]:
    """The direct-post `post_info` for `request`, with the privacy and creator from `session`."""
    options = TikTokOptions.read(request.options)
    creator = session.get("creator") or {}
    info: dict[str, Any] = {
        "title": caption(request.text),
        "privacy_level": session["privacy_level"],
        # A creator's own "disabled" settings override whatever the post asks for.
        "disable_comment": options.disable_comment or bool(creator.get("comment_disabled")),
        "disable_duet": options.disable_duet or bool(creator.get("duet_disabled")),
        "disable_stitch": options.disable_stitch or bool(creator.get("stitch_disabled")),
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
        "is_aigc": options.is_aigc,
    }
    if options.video_cover_timestamp_ms is not None:
        info["video_cover_timestamp_ms"] = options.video_cover_timestamp_ms
    return info


def post_url(handle: str | None, post_id: str | None) -> str | None:
    """The public URL of a published post, when both the creator's handle and its id are known."""
    return f"https://www.tiktok.com/@{handle}/video/{post_id}" if post_id and handle else None


def content_type(media: MediaFile) -> str:
    """A Content-Type TikTok accepts for the upload: the file's own, else one from its suffix."""
    if media.content_type in CONTENT_TYPES.values():
        return media.content_type
    suffix = media.filename.rsplit(".", 1)[-1].lower()
    return CONTENT_TYPES.get(suffix, "video/mp4")


def seconds_until_utc_midnight(now: datetime) -> float:
    """Seconds until the next UTC day, when TikTok's daily posting caps have moved on."""
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).date()
    return max(1.0, (datetime.combine(tomorrow, datetime.min.time(), UTC) - now).total_seconds())


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed TikTok answer (HTTP status and `error.code`) onto our error kinds."""
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    code = code if code and code != "ok" else f"http_{status}"
    message = message or f"TikTok answered HTTP {status} ({code})"

    def err(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, code, message, retry_after=retry, raw=body, http_status=status)

    if code in _QUOTA_CODES:
        return err(ErrorKind.QUOTA, seconds_until_utc_midnight(now))
    if status == 401 or code in _AUTH_CODES:
        return err(ErrorKind.AUTH)
    if status == 429 or code == "rate_limit_exceeded":
        retry = parse_retry_after(response.headers.get("Retry-After"), now=now)
        reset = response.headers.get("X-RateLimit-Reset")
        if retry is None and reset and reset.isdigit():
            retry = max(0.0, float(reset) - now.timestamp())
        return err(ErrorKind.RATE_LIMITED, 60.0 if retry is None else retry)
    if status >= 500 or status == 408 or code == "internal_error":
        return err(ErrorKind.TRANSIENT)
    return err(ErrorKind.PERMANENT)


def classify_fail_reason(data: dict[str, Any]) -> PlatformError:
    """The error a FAILED status stands for: `internal` is retryable, the rest are not."""
    reason = str(data.get("fail_reason") or "unknown")
    kind = ErrorKind.TRANSIENT if reason == "internal" else ErrorKind.PERMANENT
    return PlatformError(kind, reason, f"TikTok could not publish the video: {reason}", raw=data)
