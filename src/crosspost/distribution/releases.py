"""Releases: checked, stored, replaced, deleted and shown.

A release is checked in two parts. `prepare` does what needs no write: the formats
(ISRC, UPC/EAN check digit, territories, languages), the media items it names, and what is
read off each master and the artwork against distributors' rules; it reads whole files, so
it runs outside any transaction. `store` then writes in the caller's transaction after
checking what may have changed meanwhile: the media items still there and unchanged, and the
UPC and ISRCs not taken by another release (the unique constraints settle a race).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from crosspost.distribution import identifiers
from crosspost.domain.enums import MediaKind, Mode
from crosspost.domain.music import (
    ArtistCredit,
    MasterPublic,
    ReleaseFields,
    ReleasePublic,
    ReleaseType,
    TrackPublic,
)
from crosspost.engine.media_library import check_usable
from crosspost.engine.services import Services
from crosspost.errors import Conflict, InvalidInput, NotFound, Problems
from crosspost.ids import new_id
from crosspost.media import masters
from crosspost.store import distributions as distribution_rows
from crosspost.store import media
from crosspost.store import releases as rows
from crosspost.store.rows import Row

# Stores' rules for what a release is called (Spotify's and Apple's, as distributors apply
# them): a single is 1-3 tracks each under 10 minutes, 30 minutes in all; an EP 4-6 tracks
# (or 1-3 with one of 10 minutes or more) under 30 minutes; anything longer an album.
_LONG_TRACK = 10 * 60
_LONG_RELEASE = 30 * 60
_NAMED = {"single": "a single", "ep": "an EP", "album": "an album"}
_INSTRUMENTAL = "zxx"  # ISO 639-2: no linguistic content


@dataclass(frozen=True)
class Prepared:
    """A release checked and ready to store: its columns, its tracks' columns, and the
    media items it was checked against (id → sha256)."""

    values: dict[str, Any]
    tracks: list[dict[str, Any]]
    checked: dict[str, str | None]


def prepare(svc: Services, *, tenant_id: str, body: ReleaseFields) -> Prepared:
    """Check a release as given; 422 listing every problem with its field. Reads each
    master and the artwork whole: call it off the event loop, outside a transaction."""
    problems = Problems()
    values = _release_values(body, problems)
    tracks = _track_values(body, problems)
    named = {t.media_id for t in body.tracks}
    if body.artwork_media_id is not None:
        named.add(body.artwork_media_id)
    with svc.db.read() as conn:
        found = {media_id: media.get_media(conn, tenant_id, media_id) for media_id in named}
    for i, track in enumerate(body.tracks):
        with problems.at(f"tracks[{i}].media_id"):
            _usable(found.get(track.media_id), track.media_id, MediaKind.AUDIO)
    if body.artwork_media_id is not None:
        with problems.at("artwork_media_id"):
            _usable(found.get(body.artwork_media_id), body.artwork_media_id, MediaKind.IMAGE)
    problems.raise_found()  # before reading any file
    read: dict[str, masters.AudioMaster] = {}
    for i, track in enumerate(body.tracks):
        with problems.at(f"tracks[{i}].media_id"):
            if track.media_id not in read:
                read[track.media_id] = _read_master(svc, found[track.media_id])
            masters.check_audio_master(read[track.media_id])
    if body.artwork_media_id is not None:
        with problems.at("artwork_media_id"):
            art = _read_artwork(svc, found[body.artwork_media_id])
            masters.check_artwork(art)
    problems.raise_found()
    durations = [read[t.media_id].duration_seconds for t in body.tracks]
    with problems.at("type"):
        check_release_type(body.type, durations)
    for i, (track, seconds) in enumerate(zip(body.tracks, durations, strict=True)):
        tracks[i]["master"] = _master_json(read[track.media_id])
        if track.preview_start_seconds >= seconds:
            with problems.at(f"tracks[{i}].preview_start_seconds"):
                raise InvalidInput(
                    f"the preview starts at {track.preview_start_seconds:g} s but the track "
                    f"is {seconds:.1f} s long; start it inside the track",
                    code="preview_past_end",
                )
    problems.raise_found()
    checked = {media_id: row["sha256"] for media_id, row in found.items() if row is not None}
    return Prepared(values, tracks, checked)


def store(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    mode: Mode,
    prepared: Prepared,
    release_id: str | None = None,
    live_ok: bool = False,
) -> Row:
    """Write a prepared release in the caller's transaction: a new one, or the replacement
    of `release_id` (with `live_ok`, also of one live in stores: the caller then sends the
    update). 409 when its UPC or an ISRC is another release's, or while a distribution is
    under way; 422 when a media item it was checked against was deleted or replaced."""
    now = svc.clock.now()
    existing = None
    if release_id is not None:
        existing = get(conn, tenant_id, release_id, lock=True)
        not_distributed(conn, release_id, "changed", live_ok=live_ok)
    for media_id, sha256 in prepared.checked.items():
        row = media.get_media(conn, tenant_id, media_id, hold=True)
        if row is None or row["sha256"] != sha256:
            raise InvalidInput(
                f"media {media_id} was deleted or replaced while the release was being "
                "checked; send the release again",
                code="media_changed",
            )
    _check_unique(conn, tenant_id, prepared, besides=release_id)
    the_id = release_id or new_id("rel")
    values = {**prepared.values, "updated_at": now}
    tracks = [
        {**t, "release_id": the_id, "tenant_id": tenant_id, "position": n}
        for n, t in enumerate(prepared.tracks, start=1)
    ]
    try:
        if existing is None:
            values |= {"id": the_id, "tenant_id": tenant_id, "mode": mode.value, "created_at": now}
            rows.insert_release(conn, values, tracks)
        else:
            rows.replace_release(conn, the_id, values, tracks)
    except IntegrityError:
        # Another release took the UPC or an ISRC between the check and the insert.
        raise Conflict(
            "another release took this UPC or one of these ISRCs just now; look at your "
            "releases (GET /v1/releases) and send this one again with its own identifiers",
            code="identifier_in_use",
        ) from None
    return get(conn, tenant_id, the_id)


def get(conn: Connection, tenant_id: str, release_id: str, *, lock: bool = False) -> Row:
    """A tenant's release; 404 otherwise."""
    row = rows.get_release(conn, tenant_id, release_id, lock=lock)
    if row is None:
        raise NotFound(f"no release {release_id!r}", code="release_not_found")
    return row


def delete(conn: Connection, tenant_id: str, release_id: str) -> None:
    """Delete a release with its tracks and ended distributions (their media stay in the
    library); 409 while it is out in stores or going there."""
    get(conn, tenant_id, release_id, lock=True)
    not_distributed(conn, release_id, "deleted")
    distribution_rows.delete_of_release(conn, release_id)
    rows.delete_release(conn, release_id)


def not_distributed(conn: Connection, release_id: str, verb: str, *, live_ok: bool = False) -> None:
    """Refuse (409 `release_distributed`) to change a release stores hold or are taking
    (with `live_ok`, one live through DDEX may change: an update message follows)."""
    settled = ("failed", "taken_down")
    held = [
        d
        for d in distribution_rows.of_release(conn, release_id)
        if d["status"] not in settled
        and not (live_ok and d["channel"] == "ddex" and d["status"] == "live")
    ]
    if held:
        where = ", ".join(f"{d['channel']} ({d['status']}, {d['id']})" for d in held)
        raise Conflict(
            f"the release is out or going out on {where}; it can be {verb} once that "
            "settles: a release live through DDEX is updated in stores by changing it, one "
            "on SoundCloud once taken down (POST /v1/distributions/{id}/takedown)",
            code="release_distributed",
        )


def public(row: Row, tracks: Sequence[Row]) -> ReleasePublic:
    """The API's view of a release and its tracks."""
    release_artists = [ArtistCredit.model_validate(a) for a in row["artists"]]
    shown = [_track_public(t, release_artists, row["language"]) for t in tracks]
    return ReleasePublic(
        id=row["id"],
        mode=row["mode"],
        type=row["type"],
        title=row["title"],
        version_title=row["version_title"],
        artists=release_artists,
        label=row["label"],
        upc=row["upc"],
        genre=row["genre"],
        sub_genre=row["sub_genre"],
        language=row["language"],
        parental_warning="explicit" if any(t.explicit for t in shown) else "not_explicit",
        p_line=identifiers.p_line(row["p_line"]["year"], row["p_line"]["owner"]),
        c_line=identifiers.c_line(row["c_line"]["year"], row["c_line"]["owner"]),
        original_release_date=row["original_release_date"],
        digital_release_date=row["digital_release_date"],
        territories=list(row["territories"]),
        artwork_media_id=row["artwork_media_id"],
        duration_seconds=round(sum(t.master.duration_seconds for t in shown), 3),
        tracks=shown,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def check_release_type(kind: ReleaseType, durations: Sequence[float]) -> None:
    """Refuse (422 `release_type_mismatch`) a type the stores would call otherwise."""
    fits = release_type_of(durations)
    if fits == kind:
        return
    raise InvalidInput(
        f"stores call {len(durations)} track(s) of {_clock(sum(durations))} in all "
        f"{_NAMED[fits]}, not {_NAMED[kind]} (a single: 1-3 tracks under 10 minutes each; an "
        "EP: 4-6 tracks under 30 minutes; an album: 7 tracks or more, or 30 minutes or "
        f"more); set type {fits}",
        code="release_type_mismatch",
    )


def release_type_of(durations: Sequence[float]) -> ReleaseType:
    """What the stores call a release of tracks this long."""
    total, count = sum(durations), len(durations)
    if count >= 7 or total >= _LONG_RELEASE:
        return "album"
    if count <= 3 and all(d < _LONG_TRACK for d in durations):
        return "single"
    return "ep"


# -- the parts -------------------------------------------------------------------------------


def _release_values(body: ReleaseFields, problems: Problems) -> dict[str, Any]:
    values: dict[str, Any] = body.model_dump(
        exclude={"tracks", "upc", "language", "territories", "artists", "p_line", "c_line"}
    )
    values["artists"] = [a.model_dump() for a in body.artists]
    values["p_line"], values["c_line"] = body.p_line.model_dump(), body.c_line.model_dump()
    with problems.at("upc"):
        values["upc"] = identifiers.normalize_gtin(body.upc)
    with problems.at("language"):
        values["language"] = identifiers.normalize_language(body.language)
    with problems.at("territories"):
        values["territories"] = identifiers.normalize_territories(body.territories)
    if (
        body.original_release_date is not None
        and body.digital_release_date is not None
        and body.digital_release_date < body.original_release_date
    ):
        with problems.at("digital_release_date"):
            raise InvalidInput(
                "the digital release date is before the original release date; a re-release "
                "comes out after the original",
                code="invalid_release_dates",
            )
    return values


def _track_values(body: ReleaseFields, problems: Problems) -> list[dict[str, Any]]:
    tracks: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, track in enumerate(body.tracks):
        values = track.model_dump(exclude={"isrc", "language", "artists", "contributors"})
        values["artists"] = [a.model_dump() for a in track.artists] if track.artists else None
        values["contributors"] = [c.model_dump() for c in track.contributors]
        values["isrc"] = values["language"] = None
        with problems.at(f"tracks[{i}].isrc"):
            isrc = identifiers.normalize_isrc(track.isrc)
            if isrc in seen:
                raise InvalidInput(
                    f"ISRC {isrc} is also track {seen[isrc] + 1}'s: each recording has its "
                    "own ISRC (a different version of a song is a different recording)",
                    code="duplicate_isrc",
                )
            seen[isrc] = i
            values["isrc"] = isrc
        if track.language is not None:
            with problems.at(f"tracks[{i}].language"):
                values["language"] = (
                    _INSTRUMENTAL
                    if track.language.lower() == _INSTRUMENTAL
                    else identifiers.normalize_language(track.language)
                )
        tracks.append(values)
    return tracks


def _usable(row: Row | None, media_id: str, kind: MediaKind) -> None:
    if row is None:
        raise InvalidInput(
            f"no media {media_id!r} in your library; upload it with POST /v1/media and give its id",
            code="media_not_found",
        )
    check_usable(row)
    if row["kind"] != kind.value:
        wanted = "an audio master (WAV or FLAC)" if kind is MediaKind.AUDIO else "an image"
        raise InvalidInput(
            f"media {media_id} is {row['kind']}; give {wanted}", code="media_wrong_kind"
        )


def _read_master(svc: Services, row: Row | None) -> masters.AudioMaster:
    assert row is not None  # _usable refused a missing one
    with svc.storage.local_file(row["storage_key"]) as path:
        return masters.inspect_audio_master(path)


def _read_artwork(svc: Services, row: Row | None) -> masters.Artwork:
    assert row is not None  # _usable refused a missing one
    with svc.storage.local_file(row["storage_key"]) as path:
        return masters.inspect_artwork(path)


def _master_json(master: masters.AudioMaster) -> dict[str, Any]:
    values = asdict(master)
    if not math.isfinite(values["peak_dbfs"]):
        values["peak_dbfs"] = None  # digital silence: -inf, which JSON cannot hold
    return values


def _check_unique(
    conn: Connection, tenant_id: str, prepared: Prepared, *, besides: str | None
) -> None:
    upc = prepared.values["upc"]
    holder = rows.upc_holder(conn, tenant_id, upc, besides=besides)
    if holder is not None:
        raise Conflict(
            f"UPC {upc} is release {holder}'s: a UPC names one product; give this release its own",
            code="upc_in_use",
        )
    held = rows.isrcs_held(conn, tenant_id, [t["isrc"] for t in prepared.tracks], besides=besides)
    if held:
        shown = ", ".join(f"{isrc} (release {other})" for isrc, other in sorted(held.items()))
        raise Conflict(
            f"these ISRCs are already other releases' tracks: {shown}; an ISRC names one "
            "recording: use the release that has it, or give this recording its own ISRC",
            code="isrc_in_use",
        )


def _track_public(
    row: Mapping[str, Any], artists: list[ArtistCredit], language: str
) -> TrackPublic:
    master = row["master"]
    return TrackPublic(
        position=row["position"],
        media_id=row["media_id"],
        title=row["title"],
        version_title=row["version_title"],
        isrc=row["isrc"],
        artists=[ArtistCredit.model_validate(a) for a in row["artists"]]
        if row["artists"]
        else artists,
        contributors=row["contributors"],
        explicit=row["explicit"],
        language=row["language"] or language,
        preview_start_seconds=row["preview_start_seconds"],
        lyrics=row["lyrics"],
        master=MasterPublic.model_validate({k: master[k] for k in MasterPublic.model_fields}),
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"
