"""SoundCloud's protocol rules, free of I/O: limits, track fields, reconcile match, errors.

The client in ``soundcloud.py`` drives the HTTP exchanges; everything here is a pure function
of its arguments so it can be read against PLATFORM_PROTOCOLS.md §6 on its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from crosspost.domain.enums import ErrorKind, MediaKind
from crosspost.domain.limits import MediaLimits
from crosspost.platforms.base import MediaFile, PublishRequest
from crosspost.platforms.errors import PlatformError
from crosspost.platforms.http import parse_retry_after
from crosspost.platforms.oauth import json_body

TITLE_MAX_CHARS = 100  # SoundCloud's upload form limit; the API reference names none
MAX_BYTES = 4 * 1024**3  # "up to 4 GB per file"
MAX_DURATION_SECONDS = 24 * 3600.0  # "24 h of audio per track"
MACHINE_TAG_NAMESPACE = "crosspost"
ACCEPT = "application/json; charset=utf-8"
SHARING = frozenset({"public", "private"})
EMBEDDABLE_BY = frozenset({"all", "me", "none"})
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
_BOOL_OPTIONS = ("downloadable", "streamable", "commentable")
_TEXT_OPTIONS = ("genre", "permalink", "isrc", "label_name", "purchase_url", "release_date")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOKEN = re.compile(r"[a-z][a-z0-9_]*")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def title_for(request: PublishRequest, media: MediaFile) -> str:
    """The track title: the `title` option, else the text's first line, else the file name."""
    wanted = request.options.get("title")
    candidates = [str(wanted)] if wanted else [*request.text.splitlines(), media.filename]
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
    tags = request.options.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for tag in [*(str(t).strip().lstrip("#") for t in tags), machine_tag(request.target_id)]:
        if tag:
            out.append(f'"{tag}"' if " " in tag else tag)
    return " ".join(out)


def has_machine_tag(tags: str, target_id: str) -> bool:
    """Whether a track's `tag_list` carries the machine tag of `target_id`."""
    wanted = machine_tag(target_id)
    return any(part.strip('"') == wanted for part in re.findall(r'"[^"]*"|\S+', tags))


def _refuse(code: str, message: str) -> PlatformError:
    return PlatformError(ErrorKind.PERMANENT, code, message)


def track_fields(request: PublishRequest, media: MediaFile) -> dict[str, str]:
    """The `track[...]` form fields of `POST /tracks` (the audio part is added by the caller)."""
    options = request.options
    sharing = str(options.get("sharing") or options.get("privacy") or "public")
    if sharing not in SHARING:
        raise _refuse("invalid_sharing", f"sharing must be public or private, not {sharing!r}")
    fields = {
        "track[title]": title_for(request, media),
        "track[sharing]": sharing,
        "track[tag_list]": tag_list(request),
    }
    if request.text.strip():
        fields["track[description]"] = request.text
    for name in _TEXT_OPTIONS:
        if options.get(name):
            fields[f"track[{name}]"] = str(options[name])
    if "track[release_date]" in fields and not _DATE.fullmatch(fields["track[release_date]"]):
        raise _refuse("invalid_release_date", "release_date must be formatted yyyy-mm-dd")
    license_ = options.get("license")
    if license_:
        if str(license_) not in LICENSES:
            raise _refuse("invalid_license", f"unknown license {license_!r}")
        fields["track[license]"] = str(license_)
    embeddable = options.get("embeddable_by")
    if embeddable:
        if str(embeddable) not in EMBEDDABLE_BY:
            raise _refuse("invalid_embeddable_by", "embeddable_by must be all, me or none")
        fields["track[embeddable_by]"] = str(embeddable)
    for name in _BOOL_OPTIONS:
        if options.get(name) is not None:
            fields[f"track[{name}]"] = "true" if options[name] else "false"
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
