"""Instagram's rules for the fake: Graph error bodies, containers, captions and config."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

from crosspost.fakes.base import Account, unique_id

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@[\w.]+")
VERSION = re.compile(r"v\d+\.0")


@dataclass(frozen=True)
class InstagramLimits:
    """The fake's Instagram numbers, defaulting to the documented ones (§2)."""

    quota_total: int = 50  # content_publishing_limit reference; docs also say 25 and 100
    quota_duration: int = 86400
    container_ttl_seconds: float = 86400.0  # EXPIRED when not published within 24 h
    access_ttl_seconds: int = 60 * 86400  # long-lived tokens last 60 days
    refresh_min_age_seconds: float = 86400.0  # a token must be 24 h old to be refreshed
    caption_max_chars: int = 2200
    max_hashtags: int = 30
    max_mentions: int = 20
    max_video_bytes: int = 300 * 1024 * 1024


@dataclass
class Container:
    """One IG media container: created, filled (upload or fetch), processed, maybe published."""

    container_id: str
    account: Account
    media_type: str  # REELS, IMAGE, VIDEO (a carousel item) or CAROUSEL
    caption: str
    created_at: float
    source: str  # resumable, video_url or image_url
    url: str = ""
    file_size: int | None = None
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    completed_at: float | None = None
    processing_seconds: float = 0.0
    fails: bool = False
    fetch_failed: bool = False
    media_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    carousel_item: bool = False  # a child of a carousel: published only through its parent
    children: list[str] = field(default_factory=list)  # a CAROUSEL's child containers


@dataclass
class Media:
    """A published IG media object."""

    media_id: str
    container: Container
    shortcode: str
    published_at: float


def fbtrace_id() -> str:
    """A trace id shaped like Meta's."""
    return unique_id(11)


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    user_msg: str | None = None,
    transient: bool = False,
    headers: dict[str, str] | None = None,
    kind: str = "OAuthException",
) -> JSONResponse:
    """The Graph API error body: ``{"error": {message, type, code, error_subcode, fbtrace_id}}``."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    if user_msg:
        error["error_user_title"] = "Media publishing error"
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = fbtrace_id()
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def rupload_error(status: int, kind: str, message: str, *, retriable: bool) -> JSONResponse:
    """The upload host's error body: ``{"debug_info": {"retriable", "type", "message"}}``."""
    body = {"debug_info": {"retriable": retriable, "type": kind, "message": message}}
    return JSONResponse(body, status_code=status)


def proof_matches(proof: str, token: str, app_secret: str) -> bool:
    """Whether ``appsecret_proof`` is the HMAC-SHA256 of the token keyed by the app secret."""
    expected = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(proof.lower(), expected)


def no_object(node: str) -> JSONResponse:
    """Graph's answer for an id that does not exist or that the token may not see (100/33)."""
    return graph_error(
        400,
        100,
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
    )


def invalid_parameter(message: str, *, user_msg: str | None = None) -> JSONResponse:
    """Graph's (#100) invalid-parameter error."""
    return graph_error(400, 100, f"(#100) {message}", user_msg=user_msg)


def check_caption(caption: str, limits: InstagramLimits) -> str | None:
    """Why Instagram would refuse this caption, or None."""
    if len(caption) > limits.caption_max_chars:
        return f"The caption is longer than {limits.caption_max_chars} characters."
    if len(_HASHTAG.findall(caption)) > limits.max_hashtags:
        return f"The caption has more than {limits.max_hashtags} hashtags."
    if len(_MENTION.findall(caption)) > limits.max_mentions:
        return f"The caption has more than {limits.max_mentions} @-mentions."
    return None


def graph_time(timestamp: float) -> str:
    """A Graph API timestamp, e.g. ``2026-03-10T20:00:00+0000``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(timestamp))


def buc_usage_header(account: Account, minutes: int) -> dict[str, str]:
    """The ``X-Business-Use-Case-Usage`` header of a throttled Instagram call."""
    usage = {
        account.external_id: [
            {
                "type": "instagram",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


def numeric_id() -> str:
    """A 17-digit Graph object id."""
    return "178" + unique_id(14, "0123456789")
