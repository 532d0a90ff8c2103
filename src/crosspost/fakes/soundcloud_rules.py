"""SoundCloud's rules for the fake: error bodies, paging, `track[...]` and playlist field
checks, and the Track shape."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

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
# A playlist's text fields (CreateUpdatePlaylistRequest), each a string when given.
PLAYLIST_TEXT_FIELDS = (
    "description",
    "ean",
    "genre",
    "label_name",
    "license",
    "permalink",
    "purchase_title",
    "purchase_url",
    "release",
    "release_date",
    "tag_list",
)
SET_TYPES = frozenset({"album", "playlist"})  # the request's `set_type` enum
# The older API's `playlist_type` vocabulary; every Playlist read back still carries the field.
PLAYLIST_TYPES = frozenset(
    {
        "ep single",
        "album",
        "compilation",
        "project files",
        "archive",
        "showcase",
        "demo",
        "sample pack",
        "other",
    }
)
RELEASE_TYPES = frozenset({"album", "ep single"})  # playlist types that are releases
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SLUG = re.compile(r"[^a-z0-9]+")
_TRACK_URN = re.compile(r"soundcloud:tracks:\d+")
_T = TypeVar("_T")


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
    if date is not None and not valid_date(date):
        problems.append("Release date must be formatted yyyy-mm-dd")
    return problems or {**values, "title": title}


def valid_date(value: str) -> bool:
    """Whether `value` is a yyyy-mm-dd date."""
    match = _DATE.fullmatch(value)
    return match is not None and 1 <= int(match[2]) <= 12 and 1 <= int(match[3]) <= 31


def list_page(
    params: Mapping[str, str],
    items: Sequence[_T],
    render: Callable[[_T], dict[str, Any]],
    *,
    url: str,
    default: int,
    maximum: int,
) -> JSONResponse:
    """One page of `items` as SoundCloud lists them: a bare array (deprecated), or with
    `linked_partitioning` a `collection` and a `next_href` that carries the cursor on."""
    raw_limit, raw_cursor = params.get("limit", ""), params.get("cursor", "0")
    if (raw_limit and not raw_limit.isdigit()) or not raw_cursor.isdigit():
        return sc_error(400, "Bad Request", ["limit and cursor must be integers"])
    limit = min(int(raw_limit or default), maximum) or 1
    start = int(raw_cursor)
    page = [render(item) for item in items[start : start + limit]]
    if params.get("linked_partitioning", "").lower() not in {"true", "1"}:
        return JSONResponse(page)
    next_href = None
    if start + limit < len(items):
        kept = {k: v for k, v in params.items() if k not in {"limit", "cursor"}}
        query = {"limit": limit, **kept, "linked_partitioning": "true", "cursor": start + limit}
        next_href = f"{url}?{urlencode(query)}"
    return JSONResponse({"collection": page, "next_href": next_href})


@dataclass
class PlaylistInput:
    """A checked playlist body: its text fields, and its track URNs when it names tracks."""

    fields: dict[str, str]
    track_urns: list[str] | None


def playlist_from_form(items: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The JSON shape of a multipart `playlist[...]` form: `playlist[tracks][][urn]` may repeat
    and may hold comma-separated URNs."""
    body: dict[str, Any] = {}
    tracks: list[dict[str, str]] = []
    for key, value in items:
        if key == "playlist[tracks][][urn]":
            tracks += [{"urn": urn.strip()} for urn in value.split(",") if urn.strip()]
        elif key.startswith("playlist[") and key.endswith("]") and "[" not in key[9:-1]:
            body[key[9:-1]] = value
    if tracks:
        body["tracks"] = tracks
    return {"playlist": body}


def check_playlist(
    body: Any, *, title_max: int, max_tracks: int, creating: bool
) -> PlaylistInput | JSONResponse:
    """Validate a `{"playlist": {...}}` body: 400 when it is not that shape, 422 with every
    problem found otherwise. Unknown fields are ignored, as SoundCloud ignores them."""
    playlist = body.get("playlist") if isinstance(body, dict) else None
    if not isinstance(playlist, dict):
        return sc_error(400, 'The body must be a JSON object {"playlist": {...}}')
    problems: list[str] = []
    title = playlist.get("title")
    if creating or "title" in playlist:
        if not isinstance(title, str) or not title.strip():
            problems.append("Title can't be blank")
        elif len(title.strip()) > title_max:
            problems.append(f"Title is too long (maximum is {title_max} characters)")
    fields = {"title": title.strip()} if isinstance(title, str) and title.strip() else {}
    for name in ("sharing", "set_type", "playlist_type", *PLAYLIST_TEXT_FIELDS):
        value = playlist.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{name.capitalize().replace('_', ' ')} must be a string")
        else:
            fields[name] = value
    if fields.get("sharing", "public") not in SHARING:
        problems.append("Sharing is not included in the list (public, private)")
    if fields.get("set_type", "playlist") not in SET_TYPES:
        problems.append("Set type is not included in the list (album, playlist)")
    if fields.get("playlist_type", "other") not in PLAYLIST_TYPES:
        problems.append("Playlist type is not included in the list")
    if "release_date" in fields and not valid_date(fields["release_date"]):
        problems.append("Release date must be formatted yyyy-mm-dd")
    urns = _track_urns(playlist.get("tracks"), max_tracks, problems)
    if problems:
        return sc_error(422, "; ".join(problems), problems)
    return PlaylistInput(fields, urns)


def is_release(fields: Mapping[str, str]) -> bool:
    """Whether a set is a release (album, EP, single), which holds only its owner's tracks;
    a plain playlist may collect anyone's public tracks."""
    return fields.get("set_type") == "album" or fields.get("playlist_type") in RELEASE_TYPES


def _track_urns(tracks: Any, max_tracks: int, problems: list[str]) -> list[str] | None:
    if tracks is None:
        return None
    # The current reference names tracks by URN only; the `{"id": ...}` of older docs is refused
    # so a client cannot lean on it.
    if not isinstance(tracks, list) or not all(
        isinstance(t, dict) and isinstance(t.get("urn"), str) and _TRACK_URN.fullmatch(t["urn"])
        for t in tracks
    ):
        problems.append('Tracks must be a list of {"urn": "soundcloud:tracks:<id>"}')
        return None
    if len(tracks) > max_tracks:
        problems.append(f"A playlist holds at most {max_tracks} tracks")
    return [t["urn"] for t in tracks]


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
