"""LinkedIn's protocol rules, free of I/O: version, headers, limits, URNs, commentary, errors.

The client in ``linkedin.py`` drives the HTTP exchanges (PLATFORM_PROTOCOLS.md §5); everything
here is a pure function of its arguments so it can be tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BeforeValidator, Field

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import PublishRequest
from crosspost.platforms.errors import AlreadyExists, PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import CommentOptions, TitledOptions

# LinkedIn serves each monthly version for about a year, then answers 426 NONEXISTENT_VERSION:
# bump this at least once a year (the integration tests against the fake pin the same value).
LINKEDIN_VERSION = "202610"
RESTLI_PROTOCOL_VERSION = "2.0.0"
PART_BYTES = 4 * 1024 * 1024  # LinkedIn splits multipart video uploads into 4 MiB parts
MIN_VIDEO_BYTES = 75 * 1024  # MediaLimits has no lower size bound, so the client checks it
MAX_VIDEO_BYTES = 500 * 1024 * 1024
COMMENTARY_MAX_CHARS = 3000
DEFAULT_RATE_LIMIT_WAIT = 60.0  # LinkedIn's 429 usually carries no Retry-After
MIN_POLL_SECONDS = 5.0
DUPLICATE_POST = "DUPLICATE_POST"  # 422: a text post identical to one the author made
_POST_URN = re.compile(r"urn:li:(?:share|ugcPost):[0-9]+")
# Characters reserved by the "little" text format of Posts API commentary.
LITTLE_RESERVED = frozenset("\\|{}@[]()<>#*_~")

VIDEO_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.VIDEO}),
    containers=frozenset({"mp4"}),
    min_duration_seconds=3.0,
    max_duration_seconds=30 * 60.0,
    max_bytes=MAX_VIDEO_BYTES,
    min_aspect=1 / 2.4,
    max_aspect=2.4,
    caption_max_chars=COMMENTARY_MAX_CHARS,
)
# Images API: JPG, GIF or PNG (up to 36,152,320 pixels, which LinkedIn checks itself).
IMAGE_LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.IMAGE}),
    containers=frozenset({"jpeg", "png", "gif"}),
    caption_max_chars=COMMENTARY_MAX_CHARS,
)
TEXT_LIMITS = MediaLimits(kinds=frozenset(), text_only=True, caption_max_chars=COMMENTARY_MAX_CHARS)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    None: TEXT_LIMITS,
    MediaKind.VIDEO: VIDEO_LIMITS,
    MediaKind.AUDIO: MediaLimits.refused(
        "LinkedIn has no audio posts: attach a video, or post text only"
    ),
    MediaKind.IMAGE: IMAGE_LIMITS,
}


def _upper(value: Any) -> Any:
    # LinkedIn's values are upper case; "public" plainly means PUBLIC.
    return value.upper() if isinstance(value, str) else value


class LinkedInOptions(TitledOptions, CommentOptions):
    """`overrides.linkedin`: who sees the post, and the video's title."""

    platform: ClassVar[str] = "linkedin"
    # LinkedIn caps a comment at 1,250 characters.
    first_comment_max_chars: ClassVar[int] = 1_250

    visibility: Annotated[
        Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"], BeforeValidator(_upper)
    ] = Field(
        default="PUBLIC",
        description="PUBLIC (anyone), CONNECTIONS (1st-degree connections) or LOGGED_IN "
        "(LinkedIn members)",
    )


def rest_headers(access_token: str) -> dict[str, str]:
    """The headers every ``/rest/`` call carries (JSON body or not)."""
    return {
        "Authorization": f"Bearer {access_token}",
        "LinkedIn-Version": LINKEDIN_VERSION,
        "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def author_urn(account_external_id: str) -> str:
    """The author/owner URN of an account: a full ``urn:li:`` id as is, a bare id as a person."""
    value = account_external_id.strip()
    if value.startswith("urn:li:"):
        return value
    return f"urn:li:person:{value}"


def encode_urn(urn: str) -> str:
    """A URN percent-encoded for a Rest.li 2.0 path segment or query value."""
    return quote(urn, safe="")


def escape_commentary(text: str) -> str:
    """Backslash-escape every "little" reserved character so LinkedIn shows the text verbatim.

    Unescaped, LinkedIn parses them as markup and silently cuts the post at the first one.
    """
    return "".join(f"\\{char}" if char in LITTLE_RESERVED else char for char in text)


def post_url(post_urn: str) -> str:
    """The public URL of a post (share or ugcPost URN)."""
    return f"https://www.linkedin.com/feed/update/{post_urn}/"


def visibility(request: PublishRequest) -> str:
    """The requested visibility (PUBLIC by default)."""
    return LinkedInOptions.read(request.options).visibility


def video_title(request: PublishRequest) -> str:
    """The media title: the `title` option, else the first line of the text (or the file name)."""
    title = (LinkedInOptions.read(request.options).title or "").strip()
    if not title:
        first = request.text.strip().splitlines()[0] if request.text.strip() else ""
        title = first or (request.media.filename if request.media else "")
    return title[:200]


def post_body(
    request: PublishRequest, video_urn: str | None, image_urns: Sequence[str] | None = None
) -> dict[str, Any]:
    """The ``POST /rest/posts`` body: a video post when `video_urn` is given, an image post
    (one image, or a multi-image post of several) for `image_urns`, else text only."""
    body: dict[str, Any] = {
        "author": author_urn(request.account_external_id),
        "commentary": escape_commentary(request.text),
        "visibility": visibility(request),
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    if video_urn:
        body["content"] = {"media": {"title": video_title(request), "id": video_urn}}
    elif image_urns and len(image_urns) == 1:
        body["content"] = {"media": {"id": image_urns[0], "altText": ""}}
    elif image_urns:
        body["content"] = {"multiImage": {"images": [{"id": u, "altText": ""} for u in image_urns]}}
    return body


def check_instructions(instructions: Any, size: int) -> list[dict[str, Any]]:
    """The upload instructions as plain dicts, checked to cover the file once, in order."""
    if not isinstance(instructions, list) or not instructions:
        raise PlatformError(
            ErrorKind.TRANSIENT, "missing_upload_instructions", "no uploadInstructions returned"
        )
    parts: list[dict[str, Any]] = []
    expected = 0
    for item in instructions:
        url = item.get("uploadUrl") if isinstance(item, dict) else None
        first = item.get("firstByte") if isinstance(item, dict) else None
        last = item.get("lastByte") if isinstance(item, dict) else None
        if (
            not isinstance(url, str)
            or first != expected
            or not isinstance(last, int)
            or last < first
        ):
            raise PlatformError(
                ErrorKind.TRANSIENT,
                "bad_upload_instructions",
                "uploadInstructions do not cover the file in order",
                raw=instructions,
            )
        parts.append({"uploadUrl": url, "firstByte": first, "lastByte": last})
        expected = last + 1
    if expected != size:
        raise PlatformError(
            ErrorKind.TRANSIENT,
            "bad_upload_instructions",
            f"uploadInstructions cover {expected} of {size} bytes",
            raw=instructions,
        )
    return parts


def seconds_until_utc_midnight(now: datetime) -> float:
    """Seconds until the next UTC day, when LinkedIn's daily quotas reset."""
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).date()
    return max(1.0, (datetime.combine(tomorrow, datetime.min.time(), UTC) - now).total_seconds())


def _is_daily_quota(message: str) -> bool:
    # LinkedIn's daily throttles read "Resource level throttle APPLICATION DAY limit ...".
    return " DAY limit" in message or "daily" in message.lower()


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed LinkedIn answer (``{"status","serviceErrorCode","code","message"}``)."""
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    info = body if isinstance(body, dict) else {}
    code = str(info.get("code") or "")
    service = info.get("serviceErrorCode")
    if not code and service is not None:
        code = f"service_error_{service}"
    code = code or f"http_{status}"
    message = str(info.get("message") or "") or f"LinkedIn answered HTTP {status} ({code})"

    def err(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, code, message, retry_after=retry, raw=body, http_status=status)

    if status == 401:
        return err(ErrorKind.AUTH)
    if status == 429:
        if _is_daily_quota(message):
            return err(ErrorKind.QUOTA, seconds_until_utc_midnight(now))
        retry = parse_retry_after(response.headers.get("Retry-After"), now=now)
        return err(ErrorKind.RATE_LIMITED, DEFAULT_RATE_LIMIT_WAIT if retry is None else retry)
    if status >= 500 or status == 408:
        return err(ErrorKind.TRANSIENT)
    if code == DUPLICATE_POST:
        # "Content is a duplicate of urn:li:share:…": the refusal names the existing post.
        named = _POST_URN.search(message)
        existing = named.group(0) if named else None
        return AlreadyExists(code, message, existing_id=existing, raw=body, http_status=status)
    # 403 (permission or role), 400/422 (validation), 426 (sunset LinkedIn-Version), 404...
    return err(ErrorKind.PERMANENT)


def find_post(
    elements: Any, *, video_urn: str | None, commentary: str, not_before_ms: int | None
) -> dict[str, Any] | None:
    """The post among finder `elements` that our lost commit created, if any.

    A video post is recognised by its video URN (unique to this upload); a text post by its
    exact commentary, created no earlier than the commit was first prepared.
    """
    if not isinstance(elements, list):
        return None
    for element in elements:
        if not isinstance(element, dict) or not isinstance(element.get("id"), str):
            continue
        content = element.get("content")
        media = content.get("media") if isinstance(content, dict) else None
        media_id = media.get("id") if isinstance(media, dict) else None
        if video_urn is not None:
            if media_id == video_urn:
                return element
            continue
        created = element.get("createdAt")
        recent = not_before_ms is None or (isinstance(created, int) and created >= not_before_ms)
        if media_id is None and element.get("commentary") == commentary and recent:
            return element
    return None
