"""Instagram Graph API rules, free of I/O: limits, caption checks, timestamps, error mapping.

The client in ``instagram.py`` drives the HTTP exchanges; everything here is a pure function of
its arguments so it can be checked against PLATFORM_PROTOCOLS.md §2 on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.errors import AlreadyExists, PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import CommentOptions

API_VERSION = "v21.0"
CAPTION_MAX_CHARS = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
QUOTA_WINDOW_SECONDS = 86400.0  # the publishing quota is a rolling 24 h window
DEFAULT_QUOTA_WAIT = 3600.0  # when no post in the window can be dated, look again in an hour
DEFAULT_THROTTLE_WAIT = 60.0
MB = 1024 * 1024

# Reels: MP4/MOV, H.264/HEVC + AAC, 3 s-15 min, <=300 MB, width <=1920, aspect 0.01-10, 23-60 fps.
LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    containers=frozenset({"mp4", "mov"}),
    video_codecs=frozenset({"h264", "hevc"}),
    audio_codecs=frozenset({"aac"}),
    min_duration_seconds=3.0,
    max_duration_seconds=15 * 60.0,
    max_bytes=300 * MB,
    max_width=1920,
    min_aspect=0.01,
    max_aspect=10.0,
    min_fps=23.0,
    max_fps=60.0,
    caption_max_chars=CAPTION_MAX_CHARS,
    max_hashtags=MAX_HASHTAGS,
)

_AUTH_CODES = frozenset({190, 102})
_THROTTLE_CODES = frozenset({4, 17, 32, 613, 341})
_TRANSIENT_CODES = frozenset({1, 2})
_TRANSIENT_SUBCODES = frozenset({2207032, 2207053, 2207003})
_NOT_READY = (9007, 2207027)
_QUOTA = (9, 2207042)
_INVALID_PARAMETER = 100
_ALREADY_PUBLISHED = "already been published"
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@[\w.]+")


def check_caption(text: str) -> None:
    """Refuse a caption Instagram would refuse: >2200 characters, >30 hashtags, >20 mentions."""
    problems = []
    if len(text) > CAPTION_MAX_CHARS:
        problems.append(f"{len(text)} characters (max {CAPTION_MAX_CHARS})")
    if len(_HASHTAG.findall(text)) > MAX_HASHTAGS:
        problems.append(f"more than {MAX_HASHTAGS} hashtags")
    if len(_MENTION.findall(text)) > MAX_MENTIONS:
        problems.append(f"more than {MAX_MENTIONS} @-mentions")
    if problems:
        raise PlatformError(
            ErrorKind.PERMANENT, "caption_invalid", "the caption has " + ", ".join(problems)
        )


def parse_timestamp(value: Any) -> datetime | None:
    """A Graph API timestamp (``2026-03-10T20:00:00+0000``) as an aware datetime."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None


def quota_wait(published: list[datetime], total: int, now: datetime) -> float:
    """Seconds until the rolling 24 h window frees a slot, given the window's publish times."""
    in_window = sorted(t for t in published if (now - t).total_seconds() < QUOTA_WINDOW_SECONDS)
    if not in_window or len(in_window) < total:
        return DEFAULT_QUOTA_WAIT
    # The slot comes back when the oldest post that keeps the count at `total` leaves the window.
    oldest = in_window[len(in_window) - total]
    return max(1.0, QUOTA_WINDOW_SECONDS - (now - oldest).total_seconds())


def throttle_wait(headers: httpx.Headers, now: datetime) -> float:
    """Seconds to back off after a throttle: Retry-After, else the usage headers' estimate."""
    retry = parse_retry_after(headers.get("Retry-After"), now=now)
    if retry is not None:
        return retry
    minutes = 0.0
    for name in ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Ad-Account-Usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        # BUC usage is {business_id: [{..., "estimated_time_to_regain_access": minutes}]}.
        entries = [e for v in usage.values() if isinstance(v, list) for e in v] or [usage]
        for entry in entries:
            if isinstance(entry, dict):
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, int | float):
                    minutes = max(minutes, float(value))
    return minutes * 60.0 if minutes > 0 else DEFAULT_THROTTLE_WAIT


def graph_error(body: Any) -> tuple[int | None, int | None, str]:
    """(code, error_subcode, message) of a Graph error body, or Nones when it is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, ""
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(error.get("error_user_msg") or error.get("message") or "")
    return (
        code if isinstance(code, int) else None,
        subcode if isinstance(subcode, int) else None,
        message,
    )


def is_not_ready(error: PlatformError) -> bool:
    """True for 9007/2207027: the container is not ready to publish yet; poll and try again."""
    return error.code in {"9007", "9007/2207027"} or error.code.endswith("/2207027")


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed Graph API answer onto our error kinds (PLATFORM_PROTOCOLS.md §2 table)."""
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    code, subcode, message = graph_error(body)
    name = (f"{code}/{subcode}" if subcode else str(code)) if code is not None else f"http_{status}"
    message = message or f"Instagram answered HTTP {status} ({name})"

    def err(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, name, message, retry_after=retry, raw=body, http_status=status)

    if code in _AUTH_CODES or (code is None and status == 401):
        return err(ErrorKind.AUTH)
    if code == _QUOTA[0] or subcode == _QUOTA[1]:
        return err(ErrorKind.QUOTA, DEFAULT_QUOTA_WAIT)
    if code in _THROTTLE_CODES or status == 429:
        return err(ErrorKind.RATE_LIMITED, throttle_wait(response.headers, now))
    if code == _NOT_READY[0] or subcode == _NOT_READY[1]:
        return err(ErrorKind.TRANSIENT)
    if code in _TRANSIENT_CODES or subcode in _TRANSIENT_SUBCODES:
        return err(ErrorKind.TRANSIENT)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("is_transient") is True:
        return err(ErrorKind.TRANSIENT)
    if status >= 500 or status == 408:
        return err(ErrorKind.TRANSIENT)
    if code == _INVALID_PARAMETER and _ALREADY_PUBLISHED in message.lower():
        # [U] Graph's words for a media_publish of a published container: no code of its own.
        return AlreadyExists(name, message, raw=body, http_status=status)
    return err(ErrorKind.PERMANENT)


def classify_rupload(response: httpx.Response) -> PlatformError:
    """Map a failed rupload answer (``{"debug_info": {"retriable", "type", "message"}}``)."""
    status = response.status_code
    body = json_body(response)
    info = body.get("debug_info") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        # The upload host answers some failures in the Graph error shape.
        return classify(response)
    name = str(info.get("type") or f"http_{status}")
    message = str(info.get("message") or f"the upload host answered HTTP {status}")
    if status == 401 or name == "AuthError":
        kind = ErrorKind.AUTH
    elif status == 429:
        kind = ErrorKind.RATE_LIMITED
    elif info.get("retriable") is True or status >= 500:
        kind = ErrorKind.TRANSIENT
    else:
        kind = ErrorKind.PERMANENT
    retry = DEFAULT_THROTTLE_WAIT if kind is ErrorKind.RATE_LIMITED else None
    return PlatformError(kind, name, message, retry_after=retry, raw=body, http_status=status)


def classify_container_error(status: str) -> PlatformError:
    """The error an ERROR container stands for; a few subcodes are worth a fresh container."""
    found = re.search(r"\b(22\d{5})\b", status)
    subcode = int(found.group(1)) if found else None
    kind = ErrorKind.TRANSIENT if subcode in _TRANSIENT_SUBCODES else ErrorKind.PERMANENT
    code = f"container_error/{subcode}" if subcode else "container_error"
    return PlatformError(kind, code, status or "Instagram could not process the media")


# Feed images: JPEG only, <=8 MB, width 320-1440, aspect 4:5 to 1.91:1.
IMAGE_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.IMAGE}),
    containers=frozenset({"jpeg"}),
    max_bytes=8 * MB,
    max_width=1440,
    min_aspect=0.8,
    max_aspect=1.91,
    caption_max_chars=CAPTION_MAX_CHARS,
    max_hashtags=MAX_HASHTAGS,
)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    MediaKind.VIDEO: LIMITS,
    MediaKind.IMAGE: IMAGE_LIMITS,
    None: MediaLimits.refused(
        "Instagram has no text-only posts: a post to Instagram needs a video (Reel) or an image"
    ),
    MediaKind.AUDIO: MediaLimits.refused(
        "Instagram has no audio posts: a post to Instagram needs a video (Reel) or an image"
    ),
}


class InstagramOptions(CommentOptions):
    """`overrides.instagram`: how a Reel is shown and how Meta gets the video."""

    platform: ClassVar[str] = "instagram"
    # [U] Meta documents no comment length; a caption's 2,200 characters is what the app takes.
    first_comment_max_chars: ClassVar[int] = 2_200

    share_to_feed: bool = Field(
        default=True, description="false: show the Reel in the Reels tab only, not the feed"
    )
    thumb_offset: int | None = Field(
        default=None, ge=0, description="the Reel's cover frame, in ms from the start"
    )
    instagram_source: Literal["upload", "url"] = Field(
        default="upload",
        description="`url`: Meta fetches the video from a signed URL (needs "
        "CROSSPOST_PUBLIC_URL) instead of receiving an upload",
    )
