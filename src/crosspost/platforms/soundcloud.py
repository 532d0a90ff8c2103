"""SoundCloud: one streamed multipart `POST /tracks`, then polls until the track is finished.

Phases of the persisted session: ``me`` (checks the token and notes who uploads, before any
byte moves) → ``upload`` (the `POST /tracks` that creates the track: commit) → ``status``
(polls `GET /tracks/{urn}`) → ``done``. Every call carries ``Authorization: OAuth <token>``
(SoundCloud refuses "Bearer") and ``accept: application/json; charset=utf-8``.

Reconcile after a lost `POST /tracks` answer lists `GET /me/tracks` (newest first) and looks
for a track with our title and our machine tag ``crosspost:target=<target id>`` in its
`tag_list`; machine tags are documented as hidden from track pages, and being unique per
target they identify our upload exactly, unlike a title and time window alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar

from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits
from crosspost.platforms.base import (
    AppCredentials,
    Credentials,
    MediaFile,
    PlatformClient,
    PublishRequest,
    StepResult,
    counts_from,
    poll_step,
)
from crosspost.platforms.errors import OutcomeUnknown, PlatformError, PostGone
from crosspost.platforms.oauth import json_body, refresh_grant, send
from crosspost.platforms.soundcloud_rules import (
    ACCEPT,
    LIMITS,
    POST_TYPES,
    TITLE_MAX_CHARS,
    SoundCloudOptions,
    classify,
    content_type,
    find_track,
    machine_tag,
    older_than,
    processing_error,
    reconcile_since,
    tag_list,
    title_for,
    track_fields,
    track_urn,
)

__all__ = [
    "API_BASE_URL",
    "LIMITS",
    "ME_PATH",
    "ME_TRACKS_PATH",
    "RECONCILE_PAGES",
    "TITLE_MAX_CHARS",
    "TOKEN_URL",
    "TRACKS_PATH",
    "SoundCloudClient",
    "classify",
    "machine_tag",
    "tag_list",
    "title_for",
    "track_fields",
]

API_BASE_URL = "https://api.soundcloud.com"
TOKEN_URL = "https://secure.soundcloud.com/oauth/token"  # noqa: S105 - a URL, not a secret
ME_PATH = "/me"
ME_TRACKS_PATH = "/me/tracks"
TRACKS_PATH = "/tracks"
RECONCILE_PAGES = 5  # of 200 tracks: a lost upload is among the newest, so this is plenty
MIN_POLL_SECONDS = 5.0  # transcoding takes seconds to minutes; faster polls only cost calls


class SoundCloudClient(PlatformClient):
    """Client of SoundCloud's track upload (`POST /tracks`, multipart, streamed from disk)."""

    platform = Platform.SOUNDCLOUD
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = SoundCloudOptions
    carousel = CarouselLimits(
        refusal="SoundCloud takes one track per upload: post each track separately"
    )
    commit_phases: ClassVar[frozenset[str]] = frozenset({"upload"})

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the upload for `session`'s phase."""
        media = self._media(request)
        phase = session.get("phase") or "me"
        if phase == "me":
            return self._me(request, media, session, creds)
        if phase == "upload":
            return self._upload(request, media, session, creds)
        if phase == "status":
            return self._status(session, creds)
        if phase == "done":
            return self._finished(session)
        raise ValueError(f"unknown SoundCloud session phase {phase!r}")

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Look for our track in `GET /me/tracks`; poll it if found, else allow one re-upload."""
        media = self._media(request)
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        if cleared.get("track_urn"):
            return StepResult({**cleared, "phase": "status"}, TargetStatus.PROCESSING)
        title = str(cleared.get("title") or title_for(request, media))
        since = reconcile_since(cleared.get("started_at"), self.clock.now())
        url: str | None = f"{self.base_url}{ME_TRACKS_PATH}"
        params: dict[str, Any] | None = {"limit": 200, "linked_partitioning": "true"}
        for _ in range(RECONCILE_PAGES):
            if url is None:
                break
            page = self._get(url, creds, params)
            tracks = page.get("collection") if isinstance(page, dict) else page
            tracks = tracks if isinstance(tracks, list) else []
            track = find_track(tracks, request, title)
            if track is not None:
                found = self._with_track(cleared, track)
                return StepResult(
                    found,
                    TargetStatus.PROCESSING,
                    event="reconciled",
                    event_data={"track_urn": found["track_urn"], "found": True},
                )
            if not tracks or any(older_than(t, since) for t in tracks):
                break
            next_href = page.get("next_href") if isinstance(page, dict) else None
            url, params = (str(next_href), None) if next_href else (None, None)
        else:
            if url is not None:
                # Every page read was newer than the upload: not seeing it proves nothing.
                raise OutcomeUnknown(
                    f"over {RECONCILE_PAGES * 200} tracks are newer than the lost upload; "
                    "ours was not among them"
                )
        # No track carries our machine tag: the upload never landed, so sending it again
        # cannot make a duplicate.
        return StepResult(
            {**cleared, "phase": "upload"},
            TargetStatus.UPLOADING,
            event="reconciled",
            event_data={"found": False},
        )

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """SoundCloud's refresh grant; refresh tokens are single-use, so the new one is kept."""
        if not creds.refresh_token:
            raise PlatformError(ErrorKind.AUTH, "invalid_grant", "no refresh token is stored")
        form = {
            "grant_type": "refresh_token",
            "client_id": app.client_id or "",
            "client_secret": app.client_secret or "",
            "refresh_token": creds.refresh_token,
        }
        try:
            return refresh_grant(
                self.http, app.token_url, form, previous=creds, now=self.clock.now()
            )
        except PlatformError as exc:
            # SoundCloud's own error shape names the OAuth error in `message`, not `error`.
            raw = exc.raw if isinstance(exc.raw, dict) else {}
            if exc.kind is ErrorKind.PERMANENT and raw.get("message") == "invalid_grant":
                raise PlatformError(
                    ErrorKind.AUTH,
                    "invalid_grant",
                    "the refresh token was refused; the account must be reconnected",
                    raw=exc.raw,
                    http_status=exc.http_status,
                ) from exc
            raise

    # -- helpers ----------------------------------------------------------------------------

    def _media(self, request: PublishRequest) -> MediaFile:
        self.refuse_unsupported(request.media)
        assert request.media is not None  # refused above: SoundCloud posts are tracks
        if request.media.size <= 0:
            raise PlatformError(ErrorKind.PERMANENT, "empty_file", "the audio file is empty")
        return request.media

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The token's user: `GET /me`."""
        response = send(self.http, "GET", f"{self.base_url}/me", headers=self._headers(creds))
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or body.get("id") is None:
            raise classify(response, now=self.clock.now())
        return str(body["id"]), str(body.get("username") or body["id"])

    def delete_post(self, external_id: str, creds: Credentials) -> bool:
        """`DELETE /tracks/{track_urn}` (200); a 404 means the track is already gone."""
        response = send(self.http, "DELETE", f"{self.base_url}{TRACKS_PATH}/{_urn(external_id)}",
                        headers=self._headers(creds))  # fmt: skip
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        return True

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """`GET /tracks/{urn}`: plays as views, likes, comments, reposts as shares, and
        downloads; a 404 means the track is gone."""
        response = send(self.http, "GET", f"{self.base_url}{TRACKS_PATH}/{_urn(external_id)}",
                        headers=self._headers(creds))  # fmt: skip
        if response.status_code == 404:
            raise PostGone(f"SoundCloud has no track {external_id}", raw=json_body(response))
        if response.status_code != 200:
            raise classify(response, now=self.clock.now())
        track = json_body(response)
        counts = counts_from(track, {"views": "playback_count", "likes": "likes_count",
                                     "comments": "comment_count", "shares": "reposts_count",
                                     "downloads": "download_count"})  # fmt: skip
        if "likes" not in counts:  # tracks read through older paths name likes favoritings
            counts.update(counts_from(track, {"likes": "favoritings_count"}))
        return counts

    def _headers(self, creds: Credentials) -> dict[str, str]:
        return {"Authorization": f"OAuth {creds.access_token}", "accept": ACCEPT}

    def _get(self, url: str, creds: Credentials, params: dict[str, Any] | None = None) -> Any:
        response = send(self.http, "GET", url, params=params, headers=self._headers(creds))
        if response.status_code != 200:
            raise classify(response, now=self.clock.now())
        return json_body(response)

    def _with_track(self, session: dict[str, Any], track: dict[str, Any]) -> dict[str, Any]:
        return {
            **session,
            "phase": "status",
            "track_id": track.get("id"),
            "track_urn": track_urn(track),
            "permalink_url": track.get("permalink_url"),
            "polls": 0,
        }

    # -- phases -----------------------------------------------------------------------------

    def _me(
        self,
        request: PublishRequest,
        media: MediaFile,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        me = self._get(f"{self.base_url}{ME_PATH}", creds)
        me = me if isinstance(me, dict) else {}
        track_fields(request, media)  # refuse bad options before the upload, not after
        return StepResult(
            {
                **session,
                "phase": "upload",
                "user_urn": me.get("urn") or (me.get("id") and f"soundcloud:users:{me['id']}"),
                "username": me.get("permalink") or me.get("username"),
                "title": title_for(request, media),
                "started_at": self.clock.now().isoformat(),
            },
            TargetStatus.UPLOADING,
            bytes_sent=0,
            bytes_total=media.size,
        )

    def _upload(
        self,
        request: PublishRequest,
        media: MediaFile,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        fields = track_fields(request, media)
        if "started_at" not in session:
            session = {**session, "started_at": self.clock.now().isoformat()}
        # httpx streams a file object part in 64 KiB reads and sizes the body from fstat, so
        # the request carries a Content-Length yet the audio is never held in memory.
        with contextlib.ExitStack() as files_open:
            audio = files_open.enter_context(media.open())
            files = {"track[asset_data]": (media.filename, audio, content_type(media))}
            if request.thumbnail is not None:
                cover = request.thumbnail
                art = files_open.enter_context(cover.open())
                files["track[artwork_data]"] = (cover.filename, art, cover.content_type)
            response = send(
                self.http,
                "POST",
                f"{self.base_url}{TRACKS_PATH}",
                data=fields,
                files=files,
                headers=self._headers(creds),
            )
        if response.status_code not in (200, 201):
            raise classify(response, now=self.clock.now())
        track = json_body(response)
        if not isinstance(track, dict) or track.get("id") is None:
            # The track exists but we cannot tell which: only a reconcile can find it.
            raise PlatformError(
                ErrorKind.UNCONFIRMED,
                "missing_track_id",
                "POST /tracks succeeded without a track id",
                raw=track,
            )
        new = self._with_track({k: v for k, v in session.items() if k != "commit_attempted"}, track)
        return StepResult(
            new,
            TargetStatus.PROCESSING,
            bytes_sent=media.size,
            bytes_total=media.size,
            event="upload_complete",
            event_data={"track_urn": new["track_urn"], "state": track.get("state")},
        )

    def _status(self, session: dict[str, Any], creds: Credentials) -> StepResult:
        track = self._get(f"{self.base_url}{TRACKS_PATH}/{session['track_urn']}", creds)
        track = track if isinstance(track, dict) else {}
        state = track.get("state")
        if state == "finished":
            done = {
                **session,
                "phase": "done",
                "permalink_url": track.get("permalink_url") or session.get("permalink_url"),
            }
            return self._finished(done)
        if state == "failed":
            raise processing_error(track)
        return poll_step(
            session,
            max(MIN_POLL_SECONDS, self.poll_seconds),
            track_urn=session["track_urn"],
            state=state,
        )

    def _finished(self, session: dict[str, Any]) -> StepResult:
        track_id = session.get("track_id")
        return StepResult(
            session,
            TargetStatus.PUBLISHED,
            external_id=str(track_id) if track_id is not None else str(session["track_urn"]),
            external_url=session.get("permalink_url"),
        )


def _urn(external_id: str) -> str:
    """The track URN SoundCloud's paths take, from what publishing stored (a numeric id)."""
    return external_id if ":" in external_id else f"soundcloud:tracks:{external_id}"
