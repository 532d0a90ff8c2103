"""X API v2 rules for the fake: error shapes, rate windows, upload checks, weighted text.

Written from PLATFORM_PROTOCOLS.md §4, never from our client (which has its own reading).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from starlette.responses import JSONResponse

from crosspost.fakes.base import Account, iso_time
from crosspost.fakes.engagement import engagement

MB = 1024 * 1024
MAX_SEGMENT = 8 * MB  # the server maximum of one APPEND (clients are told to keep <= 5 MB)
MAX_SEGMENT_INDEX = 999
TEXT_MAX = 280
MEDIA_TYPES = {
    "video/mp4": "13",
    "video/quicktime": "13",
    "image/jpeg": "3",
    "image/png": "3",
    "image/webp": "3",
    "image/gif": "16",
}
# Largest total_bytes per media_category (non-Premium user; DM video 512 MB).
CATEGORY_MAX_BYTES = {
    "tweet_image": 5 * MB,
    "dm_image": 5 * MB,
    "tweet_gif": 15 * MB,
    "dm_gif": 15 * MB,
    "tweet_video": 8 * 1024 * MB,
    "amplify_video": 8 * 1024 * MB,
    "dm_video": 512 * MB,
}
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
TWEET_ID = re.compile(r"[0-9]{1,19}")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> JSONResponse:
    """X's v2 problem JSON: ``{"title", "detail", "type", "status"}``."""
    body = {"title": title, "detail": detail, "type": type_, "status": status}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def invalid_request(message: str, parameters: dict[str, str] | None = None) -> JSONResponse:
    """X's 400 for a bad parameter: the problem shape plus an ``errors`` list, whose entry
    names the offending ``parameters`` (each with the values sent) when there are any."""
    error: dict[str, Any] = {"message": message}
    if parameters:
        error = {"parameters": {k: [v] for k, v in parameters.items()}, **error}
    body = {
        "errors": [error],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }
    return JSONResponse(body, status_code=400, media_type="application/problem+json")


def not_found_error(tweet_id: str) -> dict[str, Any]:
    """The entry X's v2 lookups put in `errors` for a post that does not exist (any more)."""
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with id: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": tweet_id,
        "type": NOT_FOUND,
    }


def not_found(tweet_id: str) -> JSONResponse:
    """A 404 problem naming the post that is not there."""
    body = {**not_found_error(tweet_id), "status": 404}
    return JSONResponse(body, status_code=404, media_type="application/problem+json")


def unauthorized() -> JSONResponse:
    """X's 401 for a missing, unknown or expired user token."""
    return problem(401, "Unauthorized", "Unauthorized")


def text_weight(text: str) -> int:
    """X's weighted length: a URL weighs 23, code points outside the light ranges weigh 2."""
    weight = 0
    for part in _URL.split(text):
        weight += sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _LIGHT) else 2 for ch in part)
    return weight + 23 * len(_URL.findall(text))


class FixedWindows:
    """X's rate limits: fixed 15-minute windows per (endpoint, user) with an epoch reset."""

    def __init__(self, window_seconds: float = 900.0) -> None:
        self.window = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int, now: float) -> tuple[bool, dict[str, str]]:
        """Count a request; (allowed, the x-rate-limit-* headers to send with the answer)."""
        start, count = self._windows.get(key, (now, 0))
        if now >= start + self.window:
            start, count = now, 0
        allowed = count < limit
        if allowed:
            count += 1
        self._windows[key] = (start, count)
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - count)),
            "x-rate-limit-reset": str(math.ceil(start + self.window)),
        }
        return allowed, headers

    def clear(self) -> None:
        """Forget every window."""
        self._windows.clear()


@dataclass
class Upload:
    """One media upload session: initialized, filled by APPENDs, finalized, processed."""

    media_id: str
    media_key: str
    account: Account
    media_type: str
    category: str
    total_bytes: int
    created_at: float
    expires_at: float
    segments: dict[int, tuple[int, IO[bytes]]] = field(default_factory=dict)
    sha256: str | None = None
    finalized_at: float | None = None
    processing_seconds: float = 0.0
    fails: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def processed(self) -> bool:
        """Whether X processes this media after FINALIZE (video and GIF do, images do not)."""
        return self.media_type.startswith("video/") or self.media_type == "image/gif"

    def received(self) -> int:
        """Bytes held across all segments."""
        return sum(size for size, _ in self.segments.values())

    def store(self, index: int, data: IO[bytes], size: int) -> None:
        """Keep a segment; re-sending a segment_index replaces the earlier copy."""
        old = self.segments.pop(index, None)
        if old is not None:
            old[1].close()
        self.segments[index] = (size, data)

    def assemble(self) -> str | None:
        """Why the segments do not make the file, or None (and the file's sha256 is set)."""
        indexes = sorted(self.segments)
        if indexes != list(range(len(indexes))):
            return "Segments must be numbered 0, 1, 2... without gaps."
        if self.received() != self.total_bytes:
            return "Segments do not add up to provided total file size."
        hasher = hashlib.sha256()
        for index in indexes:
            _, spool = self.segments[index]
            spool.seek(0)
            while piece := spool.read(MB):
                hasher.update(piece)
        self.sha256 = hasher.hexdigest()
        return None

    def close(self) -> None:
        """Drop the spooled segments."""
        for _, spool in self.segments.values():
            spool.close()
        self.segments.clear()


def new_spool() -> IO[bytes]:
    """Where one segment's bytes go: memory up to 1 MB, then a temporary file."""
    return tempfile.SpooledTemporaryFile(max_size=MB)


@dataclass
class Tweet:
    """A created post."""

    tweet_id: str
    account: Account
    text: str
    media_ids: list[str]
    media_keys: list[str]
    created_at: float
    size: int | None = None
    sha256: str | None = None
    submitted: str = ""  # the text as sent; X's duplicate rule compares this
    in_reply_to: str | None = None  # the post this one replies to

    def view(self, fields: set[str], now: float | None = None) -> dict[str, Any]:
        """The v2 Tweet object with the requested ``tweet.fields`` (`public_metrics` as they
        stand at `now`)."""
        out: dict[str, Any] = {
            "id": self.tweet_id,
            "text": self.text,
            "edit_history_tweet_ids": [self.tweet_id],
        }
        if "attachments" in fields and self.media_keys:
            out["attachments"] = {"media_keys": list(self.media_keys)}
        if "created_at" in fields:
            out["created_at"] = iso_time(self.created_at)[:-1] + ".000Z"
        if "author_id" in fields:
            out["author_id"] = self.account.external_id
        if "referenced_tweets" in fields and self.in_reply_to is not None:
            out["referenced_tweets"] = [{"type": "replied_to", "id": self.in_reply_to}]
        if "public_metrics" in fields:
            grown = engagement(self.tweet_id, (now or self.created_at) - self.created_at)
            out["public_metrics"] = {
                "retweet_count": grown.shares,
                "reply_count": grown.comments,
                "like_count": grown.likes,
                "quote_count": grown.quotes,
                "bookmark_count": grown.bookmarks,
                "impression_count": grown.views,
            }
        return out


def check_initialize(body: dict[str, Any]) -> str | None:
    """Why an initialize request is invalid, or None."""
    kind = body.get("media_type")
    total = body.get("total_bytes")
    category = body.get("media_category", "tweet_image")
    if not isinstance(kind, str) or kind not in MEDIA_TYPES:
        return f"media_type must be one of {', '.join(sorted(MEDIA_TYPES))}."
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        return "total_bytes must be a positive integer."
    if category not in CATEGORY_MAX_BYTES:
        return f"media_category must be one of {', '.join(sorted(CATEGORY_MAX_BYTES))}."
    is_video = kind.startswith("video/")
    if is_video != category.endswith("_video"):
        return f"media_type {kind} does not fit media_category {category}."
    if (kind == "image/gif") != category.endswith("_gif") and not is_video:
        return f"media_type {kind} does not fit media_category {category}."
    if total > CATEGORY_MAX_BYTES[category]:
        return f"total_bytes exceeds the {category} maximum of {CATEGORY_MAX_BYTES[category]}."
    return None


def int_field(value: Any) -> int | None:
    """A non-negative integer from a form or JSON field, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
