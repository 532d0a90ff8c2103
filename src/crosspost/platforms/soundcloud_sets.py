"""SoundCloud sets (playlists): a release's tracks as one album, EP or single, made once.

`POST /playlists` takes JSON ``{"playlist": {...}}`` whose ``tracks`` are
``[{"urn": "soundcloud:tracks:<id>"}]`` in play order; `PUT /playlists/{urn}` changes what it
names, and a ``tracks`` list there replaces the whole list (so it also fixes the order);
`GET /me/playlists` lists the user's sets a page at a time (``linked_partitioning``,
``next_href``). Calls carry ``Authorization: OAuth <token>``, as every SoundCloud call does.

Exactly once: each set carries the machine tag ``crosspost:set=<tag>`` in its ``tag_list``
(machine tags stay off the set's page), where ``tag`` is a stable id of what the set is for,
such as a release. `ensure_set` looks for that tag on every page of `/me/playlists` first and
creates only when no set has it, so a retry after a lost `POST /playlists` answer adopts the
set the lost call made instead of making a second. Two workers must never run it for one tag
at once; the job lease sees to that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import httpx

from crosspost.clock import Clock, SystemClock
from crosspost.domain.enums import ErrorKind
from crosspost.platforms.base import Credentials
from crosspost.platforms.errors import OutcomeUnknown, PlatformError
from crosspost.platforms.oauth import json_body, send
from crosspost.platforms.soundcloud import API_BASE_URL
from crosspost.platforms.soundcloud_rules import (
    ACCEPT,
    MACHINE_TAG_NAMESPACE,
    TITLE_MAX_CHARS,
    classify,
)

__all__ = [
    "ME_PLAYLISTS_PATH",
    "PLAYLISTS_PATH",
    "SetInfo",
    "SetKind",
    "create_set",
    "ensure_set",
    "find_set",
    "get_set",
    "playlist_body",
    "set_marker",
    "set_tracks",
]

SetKind = Literal["album", "ep", "single"]
Sharing = Literal["public", "private"]
PLAYLISTS_PATH = "/playlists"
ME_PLAYLISTS_PATH = "/me/playlists"
PAGE_LIMIT = 200  # the most one page may hold
MAX_PAGES = 250  # 50,000 sets, far past any account: a listing that long proves nothing
# The request's `set_type` knows only album and playlist, so every release is an album there;
# the older `playlist_type` (still on each Playlist read back) tells an EP or single apart.
SET_TYPES: dict[SetKind, tuple[str, str]] = {
    "album": ("album", "album"),
    "ep": ("album", "ep single"),
    "single": ("album", "ep single"),
}
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # no space, comma or quote: one whole tag
_TRACK = re.compile(r"(?:soundcloud:tracks:)?(\d+)")
_TAGS = re.compile(r'"[^"]*"|[^\s,]+')  # tracks separate tags by spaces, sets by commas
# Transport errors raised before the request left: SoundCloud cannot have made anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class SetInfo:
    """A set as SoundCloud holds it: its id and URN, its page, and its track ids in order."""

    id: str
    urn: str
    permalink_url: str | None
    track_ids: list[str]


def set_marker(tag: str) -> str:
    """The machine tag of the set made for `tag` (a stable id, e.g. of a release)."""
    if not _TAG.fullmatch(tag):
        raise ValueError(f"a set tag is letters, digits, '_', '.', '-': {tag!r}")
    return f"{MACHINE_TAG_NAMESPACE}:set={tag}"


def playlist_body(
    *,
    title: str,
    track_ids: list[str],
    kind: SetKind,
    sharing: Sharing = "public",
    release_date: date | None = None,
    label: str | None = None,
    genre: str | None = None,
    description: str | None = None,
    tag: str,
) -> dict[str, Any]:
    """The `{"playlist": {...}}` body of `POST /playlists`; refuses what SoundCloud would."""
    title = title.strip()
    # [U] The reference gives sets no title limit; the tracks' 100 characters is assumed.
    if not title or len(title) > TITLE_MAX_CHARS:
        raise PlatformError(
            ErrorKind.PERMANENT,
            "invalid_title",
            f"a set's title is 1 to {TITLE_MAX_CHARS} characters: {title!r}",
        )
    set_type, playlist_type = SET_TYPES[kind]
    playlist: dict[str, Any] = {
        "title": title,
        "sharing": sharing,
        "set_type": set_type,
        "playlist_type": playlist_type,
        "tracks": _tracks(track_ids),
        "tag_list": set_marker(tag),
    }
    optional = {
        "description": description,
        "release_date": release_date.isoformat() if release_date else None,
        "label_name": label,
        "genre": genre,
    }
    playlist.update({name: value for name, value in optional.items() if value})
    return {"playlist": playlist}


def create_set(
    http: httpx.Client,
    creds: Credentials,
    *,
    title: str,
    track_ids: list[str],
    kind: SetKind,
    sharing: Sharing = "public",
    release_date: date | None = None,
    label: str | None = None,
    genre: str | None = None,
    description: str | None = None,
    tag: str,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> SetInfo:
    """`POST /playlists`: a new set of `track_ids` in order. A lost answer raises
    OutcomeUnknown; `ensure_set`, which looks for an earlier attempt's set first, is the call
    to retry with."""
    body = playlist_body(
        title=title,
        track_ids=track_ids,
        kind=kind,
        sharing=sharing,
        release_date=release_date,
        label=label,
        genre=genre,
        description=description,
        tag=tag,
    )
    url = f"{base_url.rstrip('/')}{PLAYLISTS_PATH}"
    try:
        response = send(http, "POST", url, json=body, headers=_headers(creds))
    except PlatformError as exc:
        if isinstance(exc.__cause__, _NOT_SENT):
            raise
        raise OutcomeUnknown(
            f"POST /playlists got no answer ({exc.message}): the set may exist, so look for "
            f"tag {tag!r} before creating it again"
        ) from exc
    return _set_info(_answer(response, clock, ok=(200, 201)))


def find_set(
    http: httpx.Client,
    creds: Credentials,
    *,
    tag: str,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> SetInfo | None:
    """The user's set made for `tag`, read in full, or None when no page of `/me/playlists`
    has it."""
    marker = set_marker(tag)
    base = base_url.rstrip("/")
    url = f"{base}{ME_PLAYLISTS_PATH}"
    # Without tracks a page stays small; the one set found is read in full afterwards.
    params: dict[str, Any] | None = {
        "limit": PAGE_LIMIT,
        "linked_partitioning": "true",
        "show_tracks": "false",
    }
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = _answer(send(http, "GET", url, params=params, headers=_headers(creds)), clock)
        sets = page.get("collection") if isinstance(page, dict) else page
        for found in sets if isinstance(sets, list) else []:
            if isinstance(found, dict) and _has_tag(str(found.get("tag_list") or ""), marker):
                return get_set(http, creds, _set_info(found).urn, base_url=base, clock=clock)
        next_href = page.get("next_href") if isinstance(page, dict) else None
        if not next_href:
            return None
        if next_href in seen:
            # Not seeing the set on a listing that loops proves nothing: do not create.
            raise OutcomeUnknown(f"/me/playlists pages loop at {next_href}", raw=page)
        seen.add(str(next_href))
        url, params = str(next_href), None
    raise OutcomeUnknown(f"/me/playlists runs past {MAX_PAGES} pages without set {tag!r}")


def get_set(
    http: httpx.Client,
    creds: Credentials,
    set_id: str,
    *,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> SetInfo:
    """`GET /playlists/{urn}` with its tracks."""
    url = f"{base_url.rstrip('/')}{PLAYLISTS_PATH}/{_set_urn(set_id)}"
    return _set_info(_answer(send(http, "GET", url, headers=_headers(creds)), clock))


def set_tracks(
    http: httpx.Client,
    creds: Credentials,
    set_id: str,
    track_ids: list[str],
    *,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> SetInfo:
    """`PUT /playlists/{urn}`: the set holds exactly `track_ids`, in this order."""
    url = f"{base_url.rstrip('/')}{PLAYLISTS_PATH}/{_set_urn(set_id)}"
    body = {"playlist": {"tracks": _tracks(track_ids)}}
    response = send(http, "PUT", url, json=body, headers=_headers(creds))
    return _set_info(_answer(response, clock))


def delete_set(
    http: httpx.Client,
    creds: Credentials,
    set_id: str,
    *,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> bool:
    """`DELETE /playlists/{urn}`; False when SoundCloud no longer has it (gone already)."""
    url = f"{base_url.rstrip('/')}{PLAYLISTS_PATH}/{_set_urn(set_id)}"
    response = send(http, "DELETE", url, headers=_headers(creds))
    if response.status_code == 404:
        return False
    _answer(response, clock, ok=(200, 204))
    return True


def ensure_set(
    http: httpx.Client,
    creds: Credentials,
    *,
    title: str,
    track_ids: list[str],
    kind: SetKind,
    sharing: Sharing = "public",
    release_date: date | None = None,
    label: str | None = None,
    genre: str | None = None,
    description: str | None = None,
    tag: str,
    base_url: str = API_BASE_URL,
    clock: Clock | None = None,
) -> SetInfo:
    """The set for `tag` holding `track_ids` in order: the one an earlier attempt made (its
    tracks put right if they differ), else a new one. Safe to call again after any failure."""
    # Refuse bad input before any call, also when the set exists already.
    playlist_body(title=title, track_ids=track_ids, kind=kind, tag=tag)
    found = find_set(http, creds, tag=tag, base_url=base_url, clock=clock)
    if found is None:
        return create_set(
            http,
            creds,
            title=title,
            track_ids=track_ids,
            kind=kind,
            sharing=sharing,
            release_date=release_date,
            label=label,
            genre=genre,
            description=description,
            tag=tag,
            base_url=base_url,
            clock=clock,
        )
    if found.track_ids != [_track_id(t) for t in track_ids]:
        return set_tracks(http, creds, found.urn, track_ids, base_url=base_url, clock=clock)
    return found


# -- helpers ---------------------------------------------------------------------------------


def _headers(creds: Credentials) -> dict[str, str]:
    # SoundCloud's scheme is "OAuth"; it answers "Bearer" with 401.
    return {"Authorization": f"OAuth {creds.access_token}", "accept": ACCEPT}


def _answer(response: httpx.Response, clock: Clock | None, ok: tuple[int, ...] = (200,)) -> Any:
    """The JSON of a successful answer; any other is raised as SoundCloud's error, classified."""
    if response.status_code not in ok:
        raise classify(response, now=(clock or SystemClock()).now())
    return json_body(response)


def _track_id(ref: str) -> str:
    match = _TRACK.fullmatch(str(ref).strip())
    if match is None:
        raise PlatformError(
            ErrorKind.PERMANENT, "invalid_track_id", f"not a SoundCloud track id or URN: {ref!r}"
        )
    return match[1]


def _tracks(track_ids: list[str]) -> list[dict[str, str]]:
    if not track_ids:
        raise PlatformError(ErrorKind.PERMANENT, "empty_set", "a set needs at least one track")
    return [{"urn": f"soundcloud:tracks:{_track_id(t)}"} for t in track_ids]


def _set_urn(set_id: str) -> str:
    return set_id if ":" in set_id else f"soundcloud:playlists:{set_id}"


def _has_tag(tags: str, wanted: str) -> bool:
    return any(part.strip('"') == wanted for part in _TAGS.findall(tags))


def _set_info(playlist: Any) -> SetInfo:
    """A SetInfo from a Playlist object; one without an id or URN cannot be told apart."""
    found = playlist if isinstance(playlist, dict) else {}
    urn, number = found.get("urn"), found.get("id")
    if not urn and number is None:
        # A set may exist, but we cannot tell which: only a search by tag can find it.
        raise PlatformError(
            ErrorKind.UNCONFIRMED,
            "missing_set_id",
            "SoundCloud answered without the set's id or URN",
            raw=playlist,
        )
    urn = str(urn or f"soundcloud:playlists:{number}")
    tracks = found.get("tracks")
    return SetInfo(
        id=str(number) if number is not None else urn.rsplit(":", 1)[-1],
        urn=urn,
        permalink_url=found.get("permalink_url"),
        track_ids=[
            str(t.get("id") or str(t.get("urn", "")).rsplit(":", 1)[-1])
            for t in (tracks if isinstance(tracks, list) else [])
            if isinstance(t, dict)
        ],
    )
