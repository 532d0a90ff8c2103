"""SoundCloud's protocol rules, free of I/O: limits, track fields, reconcile match, errors.

The client in ``soundcloud.py`` drives the HTTP exchanges; everything here is a pure function
of its arguments so it can be read against PLATFORM_PROTOCOLS.md §6 on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import AliasChoices, Field

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import MediaFile, PublishRequest
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body
from crosspost.platforms.options import Tags, ThumbnailOptions, TitledOptions

TITLE_MAX_CHARS = 100  # SoundCloud's upload form limit; the API reference names none
MAX_BYTES = 4 * 1024**3  # "up to 4 GB per file"
MAX_DURATION_SECONDS = 24 * 3600.0  # "24 h of audio per track"
MACHINE_TAG_NAMESPACE = "crosspost"
ACCEPT = "application/json; charset=utf-8"
License = Literal[
    "no-rights-reserved",
    "all-rights-reserved",
    "cc-by",
    "cc-by-nc",
    "cc-by-nd",
    "cc-by-sa",
    "cc-by-nc-nd",
    "cc-by-nc-sa",
]
# Accepted sources: AIFF, WAVE, FLAC, OGG, MP2, MP3, AAC, AMR, WMA (short container names as
# probing reports them; WMA lives in ASF, AAC mostly in m4a/mp4).
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "mp2": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "aac": "audio/aac",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aif": "audio/aiff",
    "aiff": "audio/aiff",
    "amr": "audio/amr",
    "wma": "audio/x-ms-wma",
}
LIMITS = MediaLimits(
    kinds=frozenset({MediaKind.AUDIO}),
    containers=frozenset(
        {"mp3", "mp2", "wav", "flac", "ogg", "aac", "m4a", "mp4", "aiff", "amr", "asf"}
    ),
    max_bytes=MAX_BYTES,
    max_duration_seconds=MAX_DURATION_SECONDS,
    title_max_chars=TITLE_MAX_CHARS,
)
POST_TYPES: Mapping[MediaKind | None, MediaLimits] = {
    MediaKind.AUDIO: LIMITS,
    None: MediaLimits.refused(
        "SoundCloud publishes audio tracks only, so a text-only post cannot go there: attach an "
        "audio file"
    ),
    MediaKind.VIDEO: MediaLimits.refused(
        "SoundCloud takes audio tracks, not video: extract the audio (e.g. as MP3 or M4A) and "
        "attach that"
    ),
    MediaKind.IMAGE: MediaLimits.refused(
        "SoundCloud takes audio tracks; an image can only be a track's artwork "
        "(overrides.soundcloud.thumbnail_media_id): attach an audio file"
    ),
}


class SoundCloudOptions(TitledOptions, ThumbnailOptions):
    """`overrides.soundcloud`: the `track[...]` fields of the upload."""

    platform: ClassVar[str] = "soundcloud"

    sharing: Literal["public", "private"] = Field(
        default="public",
        # `privacy` is the name this option had first; posts stored with it still work.
        validation_alias=AliasChoices("sharing", "privacy"),
        description="who may listen (`privacy` is an older name of this option)",
    )
    tags: Tags = Field(default_factory=list, description="tags (a multi-word tag is one tag)")
    genre: str | None = Field(default=None, description="the track's genre")
    permalink: str | None = Field(default=None, description="the last part of the track's URL")
    isrc: str | None = Field(default=None, description="the recording's ISRC")
    label_name: str | None = Field(default=None, description="the record label")
    purchase_url: str | None = Field(default=None, description="a link to buy the track")
    release_date: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="yyyy-mm-dd"
    )
    license: License | None = Field(
        default=None, description="e.g. all-rights-reserved, cc-by, cc-by-nc-sa"
    )
    embeddable_by: Literal["all", "me", "none"] | None = Field(
        default=None, description="who may embed the player"
    )
    downloadable: bool | None = Field(default=None, description="listeners may download it")
    streamable: bool | None = Field(default=None, description="listeners may stream it")
    commentable: bool | None = Field(default=None, description="listeners may comment")


_TOKEN = re.compile(r"[a-z][a-z0-9_]*")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def title_for(request: PublishRequest, media: MediaFile) -> str:
    """The track title: the `title` option, else the text's first line, else the file name."""
    wanted = SoundCloudOptions.read(request.options).title
    candidates = [wanted] if wanted else [*request.text.splitlines(), media.filename]
    for line in candidates:
        title = line.strip()
        if title:
            return title[:TITLE_MAX_CHARS].strip()
    return media.filename[:TITLE_MAX_CHARS]


def machine_tag(target_id: str) -> str:
    """Our hidden fingerprint: SoundCloud machine tags are not shown on track pages."""
    return f"{MACHINE_TAG_NAMESPACE}:target={target_id}"


def tag_list(request: PublishRequest) -> str:
    """Space-separated tags, multi-word ones in double quotes, plus our machine tag."""
    tags = SoundCloudOptions.read(request.options).tags
    out = []
    for tag in [*(t.strip().lstrip("#") for t in tags), machine_tag(request.target_id)]:
        if tag:
            out.append(f'"{tag}"' if " " in tag else tag)
    return " ".join(out)


def has_machine_tag(tags: str, target_id: str) -> bool:
    """Whether a track's `tag_list` carries the machine tag of `target_id`."""
    wanted = machine_tag(target_id)
    return any(part.strip('"') == wanted for part in re.findall(r'"[^"]*"|\S+', tags))


def track_fields(request: PublishRequest, media: MediaFile) -> dict[str, str]:
    """The `track[...]` form fields of `POST /tracks` (the audio part is added by the caller)."""
    options = SoundCloudOptions.read(request.options)
    fields = {
        "track[title]": title_for(request, media),
        "track[sharing]": options.sharing,
        "track[tag_list]": tag_list(request),
    }
    if request.text.strip():
        fields["track[description]"] = request.text
    text = {
        "genre": options.genre,
        "permalink": options.permalink,
        "isrc": options.isrc,
        "label_name": options.label_name,
        "purchase_url": options.purchase_url,
        "release_date": options.release_date,
        "license": options.license,
        "embeddable_by": options.embeddable_by,
    }
    flags = {
        "downloadable": options.downloadable,
        "streamable": options.streamable,
        "commentable": options.commentable,
    }
    fields.update({f"track[{name}]": value for name, value in text.items() if value})
    fields.update(
        {
            f"track[{name}]": "true" if on else "false"
            for name, on in flags.items()
            if on is not None
        }
    )
    return fields


def content_type(media: MediaFile) -> str:
    """The audio part's Content-Type: the file's own audio type, else one from its suffix."""
    if media.content_type.startswith("audio/"):
        return media.content_type
    suffix = media.filename.rsplit(".", 1)[-1].lower()
    return CONTENT_TYPES.get(suffix, "audio/mpeg")


def track_urn(track: dict[str, Any]) -> str:
    """The track's URN (`soundcloud:tracks:<id>`), from its `urn` or else its numeric id."""
    urn = track.get("urn")
    if isinstance(urn, str) and urn:
        return urn
    return f"soundcloud:tracks:{track['id']}"


def parse_time(value: Any) -> datetime | None:
    """SoundCloud's `2019/01/15 15:40:49 +0000` (or ISO 8601) timestamps."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def find_track(tracks: list[Any], request: PublishRequest, title: str) -> dict[str, Any] | None:
    """Our track among `tracks`: the same title and our machine tag (unique per target)."""
    for track in tracks:
        if (
            isinstance(track, dict)
            and track.get("title") == title
            and has_machine_tag(str(track.get("tag_list") or ""), request.target_id)
        ):
            return track
    return None


def older_than(track: Any, since: datetime) -> bool:
    """True for a track created before `since` (lists run newest first, so stop there)."""
    created = parse_time(track.get("created_at")) if isinstance(track, dict) else None
    return created is not None and created < since


def _iso_seconds(value: Any) -> float | None:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return float(((d * 24 + h) * 60 + m) * 60 + s)


def _rate_limit_meta(body: Any) -> dict[str, Any]:
    """The `errors[0].meta` of SoundCloud's 429 body (rate_limit, reset_time), if any."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    meta = first.get("meta") if isinstance(first, dict) else None
    return meta if isinstance(meta, dict) else {}


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error")
    if not message and isinstance(body.get("errors"), list):
        parts = [e.get("error_message") for e in body["errors"] if isinstance(e, dict)]
        message = "; ".join(str(p) for p in parts if p)
    return str(message or "")


def classify(response: httpx.Response, *, now: datetime | None = None) -> PlatformError:
    """Map a failed SoundCloud answer (`{"code","message","link",...}`) onto our error kinds.

    401 → auth (refresh, then re-consent); 429 → rate_limited, or quota when its window is a
    day or more (SoundCloud's limits are 24 h buckets with a `reset_time`); 5xx/408 →
    transient; everything else (400, 403, 404, 413, 415, 422) → permanent.
    """
    now = now or datetime.now(UTC)
    status = response.status_code
    body = json_body(response)
    message = _message(body)
    named = str(body.get("message") or body.get("error") or "") if isinstance(body, dict) else ""
    # Only the top-level message can be a code (e.g. "invalid_grant"); error lists are prose.
    code = named if _TOKEN.fullmatch(named) else f"http_{status}"
    text = message or f"SoundCloud answered HTTP {status}"

    def err(kind: ErrorKind, retry: float | None = None) -> PlatformError:
        return PlatformError(kind, code, text, retry_after=retry, raw=body, http_status=status)

    if status == 401:
        return err(ErrorKind.AUTH)
    if status == 429:
        meta = _rate_limit_meta(body)
        found = meta.get("rate_limit")
        limit: dict[str, Any] = found if isinstance(found, dict) else {}
        retry = parse_retry_after(response.headers.get("Retry-After"), now=now)
        reset = parse_time(meta.get("reset_time"))
        if retry is None and reset is not None:
            retry = max(0.0, (reset - now).total_seconds())
        window = _iso_seconds(limit.get("time_window"))
        if code.startswith("http_"):
            code = f"rate_limited:{limit.get('name')}" if limit.get("name") else "rate_limited"
        kind = ErrorKind.QUOTA if window is not None and window >= 3600 else ErrorKind.RATE_LIMITED
        fallback = 3600.0 if kind is ErrorKind.QUOTA else 60.0
        return err(kind, fallback if retry is None else retry)
    if status >= 500 or status == 408:
        return err(ErrorKind.TRANSIENT)
    return err(ErrorKind.PERMANENT)


def processing_error(track: dict[str, Any]) -> PlatformError:
    """The error a `failed` track state stands for: SoundCloud could not transcode the file."""
    return PlatformError(
        ErrorKind.PERMANENT,
        "processing_failed",
        f"SoundCloud could not process track {track.get('id')} (state {track.get('state')!r})",
        raw=track,
    )


def reconcile_since(started_at: Any, now: datetime) -> datetime:
    """Tracks older than this cannot be ours: the upload started then (minus clock skew)."""
    started = parse_time(started_at) or now - timedelta(days=2)
    return started - timedelta(minutes=10)
