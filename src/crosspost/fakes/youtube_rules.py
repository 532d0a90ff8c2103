"""YouTube's rules for the fake: metadata validation, quota, and Google's error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import iso_time

if TYPE_CHECKING:
    from crosspost.fakes.base import FakeConfig

UPLOAD_PATH = "/upload/youtube/v3/videos"
PRIVACY_STATUSES = ("public", "unlisted", "private")
_PACIFIC = ZoneInfo("America/Los_Angeles")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    411: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


def google_error(
    code: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    item_message: str | None = None,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Google's error body: ``{"error": {"code", "message", "errors": [...], "status"}}``."""
    item: dict[str, str] = {"message": item_message or message, "domain": domain, "reason": reason}
    if location:
        item |= {"location": location, "locationType": "header"}
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": _STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }
    return JSONResponse(body, status_code=code, headers=headers)


def unauthenticated(*, missing: bool) -> JSONResponse:
    """Google's 401: ``required`` without credentials, ``authError`` for bad or expired ones."""
    lead = (
        "Request is missing required authentication credential."
        if missing
        else "Request had invalid authentication credentials."
    )
    realm = 'Bearer realm="https://accounts.google.com/"'
    return google_error(
        401,
        "required" if missing else "authError",
        f"{lead} Expected OAuth 2 access token, login cookie or other valid authentication "
        "credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        item_message="Login Required." if missing else "Invalid Credentials",
        location="Authorization",
        headers={"WWW-Authenticate": realm if missing else realm + ', error="invalid_token"'},
    )


def quota_exceeded() -> JSONResponse:
    """Google's 403 quotaExceeded."""
    return google_error(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.',
        domain="youtube.quota",
    )


class Quota:
    """Per-project quota per Pacific-time day, in either of the two documented models.

    ``legacy``: videos.insert costs 1600 units of the 10,000-unit pool. ``buckets``: inserts
    have their own bucket of 100 calls a day; everything else shares the pool. Every request,
    even an invalid one, costs at least one unit.
    """

    def __init__(self, config: FakeConfig) -> None:
        self._config = config
        self.day = ""
        self.units = 0
        self.insert_calls = 0

    def _roll(self) -> None:
        day = datetime.fromtimestamp(self._config.clock(), _PACIFIC).date().isoformat()
        if day != self.day:
            self.day, self.units, self.insert_calls = day, 0, 0

    def _bucketed(self, insert: bool) -> bool:
        return insert and self._config.quota_model == "buckets"

    def can_afford(self, *, insert: bool, units: int = 1) -> bool:
        """Whether the day's quota still covers one more such call at full cost (`units` is
        the cost of a non-insert call: 1 for a list, 50 for thumbnails.set)."""
        self._roll()
        if self._bucketed(insert):
            return self.insert_calls < self._config.youtube_insert_calls_per_day
        cost = self._config.youtube_insert_units_legacy if insert else units
        return self.units + cost <= self._config.youtube_daily_units

    def spend(self, *, insert: bool, valid: bool = True, units: int = 1) -> None:
        """Charge one call; an invalid call costs one unit (or one bucket call)."""
        self._roll()
        if self._bucketed(insert):
            self.insert_calls += 1
        elif insert:
            self.units += self._config.youtube_insert_units_legacy if valid else 1
        else:
            self.units += units if valid else 1

    def view(self) -> dict[str, Any]:
        """JSON view for the state endpoint."""
        self._roll()
        return {
            "model": self._config.quota_model,
            "day": self.day,
            "units_used": self.units,
            "insert_calls": self.insert_calls,
        }


@dataclass
class VideoMeta:
    """What a videos.insert request asked for, already validated."""

    parts: tuple[str, ...]
    snippet: dict[str, Any]
    privacy: str
    publish_at: str | None
    publish_at_ts: float | None
    made_for_kids: bool | None


def parse_parts(request: Request, allowed: set[str]) -> tuple[str, ...] | Response:
    """The ``part`` query parameter, or Google's error for a missing or unknown part."""
    raw = request.query_params.get("part")
    if not raw:
        return google_error(400, "required", "Required parameter: part")
    parts = tuple(p.strip() for p in raw.split(",") if p.strip())
    unknown = [p for p in parts if p not in allowed]
    if unknown or not parts:
        return google_error(400, "unknownPart", f"'{','.join(unknown)}'", domain="youtube.part")
    return parts


def _invalid(reason: str, message: str) -> Response:
    return google_error(400, reason, message, domain="youtube.video")


def _tags_length(tags: list[str]) -> int:
    # YouTube counts the commas between tags and the quotes around a tag holding a space.
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


async def validate_metadata(request: Request, parts: tuple[str, ...]) -> VideoMeta | Response:
    """Check a videos.insert body against YouTube's documented metadata rules."""
    raw = await request.body()
    return check_metadata(raw, request.headers.get("content-type", ""), parts)


def check_metadata(raw: bytes, content_type: str, parts: tuple[str, ...]) -> VideoMeta | Response:
    """Check videos.insert metadata (a request body or a multipart's first part)."""
    if raw and not content_type.startswith("application/json"):
        return google_error(400, "badContent", f"Unsupported content with type: {content_type}")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return google_error(400, "parseError", "Parse Error")
    if not isinstance(body, dict):
        return google_error(400, "parseError", "Parse Error")
    snippet_in = body.get("snippet") if "snippet" in parts else None
    status_in = body.get("status") if "status" in parts else None
    snippet_in = snippet_in if isinstance(snippet_in, dict) else {}
    status_in = status_in if isinstance(status_in, dict) else {}

    title = snippet_in.get("title")
    if not isinstance(title, str) or not title.strip():
        return _invalid("invalidTitle", "The request metadata specifies an invalid or empty title.")
    if len(title) > 100 or "<" in title or ">" in title:
        return _invalid("invalidTitle", "The request metadata specifies an invalid video title.")
    description = snippet_in.get("description", "")
    if not isinstance(description, str) or (
        len(description.encode()) > 5000 or "<" in description or ">" in description
    ):
        return _invalid(
            "invalidDescription", "The request metadata specifies an invalid video description."
        )
    tags = snippet_in.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return _invalid("invalidTags", "The request metadata specifies invalid video keywords.")
    if _tags_length(tags) > 500:
        return _invalid("invalidTags", "The request metadata specifies invalid video keywords.")
    category = snippet_in.get("categoryId", "22")
    if not isinstance(category, str) or not category.isdigit():
        return _invalid("invalidCategoryId", "The snippet.categoryId property is invalid.")

    privacy = status_in.get("privacyStatus", "public")
    if privacy not in PRIVACY_STATUSES:
        return _invalid("invalidVideoMetadata", f"Invalid status.privacyStatus: {privacy!r}")
    made_for_kids = status_in.get("selfDeclaredMadeForKids")
    if made_for_kids is not None and not isinstance(made_for_kids, bool):
        return _invalid("invalidVideoMetadata", "status.selfDeclaredMadeForKids must be a bool")
    publish_at = status_in.get("publishAt")
    publish_ts: float | None = None
    if publish_at is not None:
        bad = _invalid(
            "invalidPublishAt",
            "The request metadata specifies an invalid scheduled publishing time.",
        )
        if not isinstance(publish_at, str) or privacy != "private":
            return bad
        try:
            when = datetime.fromisoformat(publish_at)
        except ValueError:
            return bad
        if when.tzinfo is None:
            return bad
        publish_ts = when.timestamp()
        publish_at = iso_time(publish_ts)
    snippet: dict[str, Any] = {"title": title, "description": description, "categoryId": category}
    if tags:
        snippet["tags"] = tags
    return VideoMeta(parts, snippet, privacy, publish_at, publish_ts, made_for_kids)
