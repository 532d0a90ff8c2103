"""SoundCloud's rules for the fake: error bodies, `track[...]` field checks, the Track shape."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from crosspost.fakes.base import Account
from crosspost.fakes.engagement import engagement

ERROR_LINK = "https://developers.soundcloud.com/docs/api/explorer/open-api"
SHARING = frozenset({"public", "private"})
EMBEDDABLE_BY = frozenset({"all", "me", "none"})
BOOLEAN_FIELDS = ("streamable", "downloadable", "commentable")
LICENSES = frozenset(
    {
        "no-rights-reserved",
        "all-rights-reserved",
        "cc-by",
        "cc-by-nc",
        "cc-by-nd",
        "cc-by-sa",
        "cc-by-nc-nd",
        "cc-by-nc-sa",
    }
)
TEXT_FIELDS = (
    "description",
    "genre",
    "tag_list",
    "permalink",
    "purchase_url",
    "label_name",
    "release",
    "isrc",
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SLUG = re.compile(r"[^a-z0-9]+")


def sc_error(status: int, message: str, errors: list[str] | None = None) -> JSONResponse:
    """SoundCloud's error body: `code`, `message`, `link` plus the deprecated fields."""
    phrase = HTTPStatus(status).phrase
    body = {
        "code": status,
        "message": message,
        "link": ERROR_LINK,
        "status": f"{status} - {phrase}",
        "errors": [{"error_message": e} for e in (errors or [f"{status} - {phrase}"])],
        "error": None,
    }
    return JSONResponse(body, status_code=status)


def rate_limit_error(
    status: int, *, name: str, bucket: str, window: str, limit: int, reset_at: float
) -> dict[str, Any]:
    """The body of SoundCloud's 429: the exhausted bucket and when it resets."""
    return {
        "code": status,
        "message": "",
        "link": "https://developers.soundcloud.com/docs/api/rate-limits",
        "status": f"{status} - Too Many Requests",
        "errors": [
            {
                "meta": {
                    "rate_limit": {
                        "bucket": bucket,
                        "max_nr_of_requests": limit,
                        "time_window": window,
                        "name": name,
                    },
                    "remaining_requests": 0,
                    "reset_time": sc_time(reset_at),
                }
            }
        ],
        "error": None,
    }


def sc_time(timestamp: float) -> str:
    """SoundCloud's timestamp format, e.g. `2019/01/15 15:40:49 +0000`."""
    return time.strftime("%Y/%m/%d %H:%M:%S +0000", time.gmtime(timestamp))


def slug(title: str) -> str:
    """A permalink made from a title, as SoundCloud derives one."""
    return _SLUG.sub("-", title.lower()).strip("-") or "track"


def check_fields(values: dict[str, str], title_max: int) -> dict[str, str] | list[str]:
    """The accepted `track[...]` text fields (without the prefix), or the validation errors."""
    problems: list[str] = []
    title = values.get("title", "").strip()
    if not title:
        problems.append("Title can't be blank")
    elif len(title) > title_max:
        problems.append(f"Title is too long (maximum is {title_max} characters)")
    if values.get("sharing", "public") not in SHARING:
        problems.append("Sharing is not included in the list (public, private)")
    if "embeddable_by" in values and values["embeddable_by"] not in EMBEDDABLE_BY:
        problems.append("Embeddable by is not included in the list (all, me, none)")
    if "license" in values and values["license"] not in LICENSES:
        problems.append("License is not included in the list")
    for name in BOOLEAN_FIELDS:
        if name in values and values[name] not in {"true", "false", "1", "0"}:
            problems.append(f"{name.capitalize()} must be true or false")
    date = values.get("release_date")
    if date is not None:
        match = _DATE.fullmatch(date)
        if match is None or not (1 <= int(match[2]) <= 12 and 1 <= int(match[3]) <= 31):
            problems.append("Release date must be formatted yyyy-mm-dd")
    return problems or {**values, "title": title}


@dataclass
class Track:
    """One uploaded track; its processing state is judged lazily from the clock."""

    id: int
    account: Account
    fields: dict[str, str]
    permalink: str
    size: int
    sha256: str
    content_type: str  # as the part declared it (may be empty or application/octet-stream)
    audio_format: str  # as the bytes say (sniff.audio_format)
    filename: str
    created_at: float
    processing_seconds: float
    fails: bool
    artwork_size: int | None = None
    secret_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        """`soundcloud:tracks:<id>`."""
        return f"soundcloud:tracks:{self.id}"

    def state(self, now: float) -> str:
        """`processing` until transcoding is over, then `finished` or `failed`."""
        if now < self.created_at + self.processing_seconds:
            return "processing"
        return "failed" if self.fails else "finished"

    def as_json(self, api: str, now: float) -> dict[str, Any]:
        """The Track object SoundCloud answers with (fields of its Track schema)."""
        f = self.fields
        state = self.state(now)
        user = user_json(self.account, api)
        public = f.get("sharing", "public") == "public"
        handle = self.account.handle
        suffix = "" if public else f"/{self.secret_token}"
        return {
            "kind": "track",
            "id": self.id,
            "urn": self.urn,
            "uri": f"{api}/tracks/{self.id}",
            "title": f["title"],
            "description": f.get("description", ""),
            "created_at": sc_time(self.created_at),
            "last_modified": sc_time(self.created_at),
            "state": state,
            "sharing": f.get("sharing", "public"),
            "secret_uri": None if public else f"{api}/tracks/{self.id}?secret_token=s-x",
            "permalink": self.permalink,
            "permalink_url": f"https://soundcloud.com/{handle}/{self.permalink}{suffix}",
            "tag_list": f.get("tag_list", ""),
            "genre": f.get("genre"),
            "license": f.get("license", "all-rights-reserved"),
            "embeddable_by": f.get("embeddable_by", "all"),
            "streamable": f.get("streamable", "true") in {"true", "1"},
            "downloadable": f.get("downloadable", "false") in {"true", "1"},
            "commentable": f.get("commentable", "true") in {"true", "1"},
            "isrc": f.get("isrc"),
            "label_name": f.get("label_name"),
            "purchase_url": f.get("purchase_url"),
            "duration": 0 if state == "processing" else self.extra.get("duration_ms", 30_000),
            "original_content_size": self.size,
            "original_format": self.audio_format,
            "artwork_url": f"https://i1.sndcdn.com/artworks-{self.id}-large.jpg"
            if self.artwork_size
            else None,
            "stream_url": f"{api}/tracks/{self.id}/stream",
            "waveform_url": f"https://wave.sndcdn.com/{self.id}_m.png",
            # Counted from when the track finished processing (it cannot be played before).
            **self._counts(now),
            "user_id": int(self.account.external_id),
            "user": user,
        }

    def _counts(self, now: float) -> dict[str, int]:
        grown = engagement(str(self.id), now - self.created_at - self.processing_seconds)
        return {
            "playback_count": grown.views,
            "likes_count": grown.likes,
            "favoritings_count": grown.likes,  # the older name of likes_count
            "comment_count": grown.comments,
            "reposts_count": grown.shares,
            "download_count": grown.saves,
        }


def user_json(account: Account, api: str) -> dict[str, Any]:
    """The User object of an account (as in `GET /me` and a track's `user`)."""
    return {
        "kind": "user",
        "id": int(account.external_id),
        "urn": f"soundcloud:users:{account.external_id}",
        "uri": f"{api}/users/{account.external_id}",
        "username": account.handle,
        "permalink": account.handle,
        "permalink_url": f"https://soundcloud.com/{account.handle}",
        "avatar_url": f"https://i1.sndcdn.com/avatars-{account.external_id}-large.jpg",
    }
