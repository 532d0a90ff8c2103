"""YouTube Data API v3: resumable chunked upload of a video, then processing polls.

Phases of the persisted session: ``start`` (open a resumable session) → ``upload`` (send a
non-final chunk) → ``upload_final`` (send the last chunk: the video comes into existence, so
this is the commit phase) → ``processing`` (poll ``videos.list``) → ``done``. The protocol's
pure rules (metadata, URLs, error mapping) live in ``youtube_rules.py`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

import httpx

from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits, Rate
from crosspost.platforms.base import (
    AppCredentials,
    CommentRequest,
    Credentials,
    MediaFile,
    PlatformClient,
    PublishRequest,
    StepResult,
    counts_from,
    poll_step,
    upload_step,
)
from crosspost.platforms.errors import OutcomeUnknown, PlatformError, PostGone
from crosspost.platforms.oauth import json_body, refresh_grant, revoke_grant, send
from crosspost.platforms.youtube_rules import (
    CHUNK_UNIT,
    DESCRIPTION_MAX_BYTES,
    MAX_BYTES,
    PACIFIC,
    POST_TYPES,
    SHORTS_MAX_SECONDS,
    TAGS_MAX_CHARS,
    TITLE_MAX_CHARS,
    UPLOAD_CAP_SECONDS,
    YouTubeOptions,
    classify,
    confirmed_offset,
    derive_title,
    seconds_until_pacific_midnight,
    truncate_utf8,
    video_resource,
    video_url,
)

__all__ = [
    "CHUNK_UNIT",
    "DESCRIPTION_MAX_BYTES",
    "MAX_BYTES",
    "PACIFIC",
    "SHORTS_MAX_SECONDS",
    "TAGS_MAX_CHARS",
    "TITLE_MAX_CHARS",
    "UPLOAD_CAP_SECONDS",
    "UPLOAD_PATH",
    "VIDEOS_PATH",
    "YouTubeClient",
    "classify",
    "confirmed_offset",
    "derive_title",
    "seconds_until_pacific_midnight",
    "truncate_utf8",
    "video_url",
]

UPLOAD_PATH = "/upload/youtube/v3/videos"
VIDEOS_PATH = "/youtube/v3/videos"


DAY = 86400.0
DAILY_UNITS = 10_000
INSERT_CALLS_PER_DAY = 100
INSERT_UNITS_LEGACY = 1600
THUMBNAIL_PATH = "/upload/youtube/v3/thumbnails/set"
THUMBNAIL_UNITS = 50
DELETE_UNITS = 50  # videos.delete's documented quota cost
COMMENT_THREADS_PATH = "/youtube/v3/commentThreads"
COMMENT_INSERT_UNITS = 50  # commentThreads.insert's documented quota cost
COMMENT_PAGES = 5  # of 100 threads: a just-posted comment is on the first


class YouTubeClient(PlatformClient):
    """Client of YouTube's resumable upload protocol and `videos.list` status polling."""

    platform = Platform.YOUTUBE
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = YouTubeOptions
    carousel = CarouselLimits(
        refusal="YouTube takes one video per upload: post each video separately"
    )
    commit_phases: ClassVar[frozenset[str]] = frozenset({"upload_final"})
    oauth_scopes = (
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube",
        # commentThreads.insert (the first comment) takes this scope and no other.
        "https://www.googleapis.com/auth/youtube.force-ssl",
    )
    # offline + consent: Google sends a refresh token only then.
    authorize_extra: ClassVar[dict[str, str]] = {"access_type": "offline", "prompt": "consent"}

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        quota_model: str = "buckets",
        daily_units: int = DAILY_UNITS,
        insert_calls_per_day: int = INSERT_CALLS_PER_DAY,
        **kwargs: Any,
    ) -> None:
        super().__init__(http, base_url, **kwargs)
        if quota_model not in {"buckets", "legacy"}:
            raise ValueError(f"quota_model must be 'buckets' or 'legacy', not {quota_model!r}")
        units = Rate("units", daily_units, DAY, per_account=False)
        if quota_model == "legacy":
            # Older model: an upload costs 1600 units of the shared daily pool.
            self._insert_budget: tuple[Rate, ...] = (replace(units, cost=INSERT_UNITS_LEGACY),)
        else:
            # Current model: uploads have a bucket of their own, counted in calls.
            self._insert_budget = (
                Rate("videos.insert", insert_calls_per_day, DAY, per_account=False),
            )
        self._list_budget = (units,)  # videos.list costs 1 unit

    def declared_budgets(self) -> tuple[Rate, ...]:
        """The project's daily units and, in the current model, its upload bucket."""
        return tuple(dict.fromkeys((*self._list_budget, *self._insert_budget)))

    def budgets(self, request: PublishRequest, session: dict[str, Any]) -> tuple[Rate, ...]:
        """The project's daily quota (per app, across every account): `videos.insert` when a
        session starts, one unit per status poll or reconcile look-up; chunk PUTs are free."""
        phase = session.get("phase", "start")
        if phase == "processing" and request.thumbnail and not session.get("thumbnail_done"):
            return (replace(self._list_budget[0], cost=THUMBNAIL_UNITS),)
        if session.get("commit_attempted") or phase in {"processing", "done"}:
            return self._list_budget
        return self._insert_budget if phase == "start" else ()

    @property
    def chunk_size(self) -> int:
        """The configured chunk size rounded down to a multiple of 256 KiB (at least one unit)."""
        return max(CHUNK_UNIT, self.chunk_bytes // CHUNK_UNIT * CHUNK_UNIT)

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the upload for `session`'s phase."""
        media = self._media(request)
        phase = session.get("phase", "start")
        if phase == "start":
            return self._start(request, media, creds)
        if phase in {"upload", "upload_final"}:
            return self._upload(session, media, creds)
        if phase == "processing":
            if request.thumbnail is not None and not session.get("thumbnail_done"):
                return self._thumbnail(request.thumbnail, session, creds)
            return self._poll(session, media, creds)
        if phase == "done":
            return self._published(session, media)
        raise ValueError(f"unknown YouTube session phase {phase!r}")

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Ask the session URI what it holds: a finished video, a byte offset, or nothing."""
        media = self._media(request)
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        if session.get("phase") in {"processing", "done"}:
            return StepResult(cleared, TargetStatus.PROCESSING, external_id=session.get("video_id"))
        uri = session.get("session_uri")
        if not uri:
            return self._restart("no upload session was opened")
        response = send(
            self.http,
            "PUT",
            uri,
            headers={
                **self._auth(creds),
                "Content-Length": "0",
                "Content-Range": f"bytes */{media.size}",
            },
        )
        if response.status_code in {200, 201}:
            return self._uploaded(cleared, response, media)
        if response.status_code == 308:
            return self._positioned(cleared, confirmed_offset(response), media)
        if response.status_code == 404:
            return self._restart("the upload session expired before the video was created")
        raise classify(response, now=self.clock.now())

    def delete_post(self, external_id: str, creds: Credentials) -> bool:
        """`videos.delete` (204); its 404 `videoNotFound` means the video is already gone.
        Needs the `youtube` (or `youtube.force-ssl`) scope, which consent asks for."""
        response = send(
            self.http,
            "DELETE",
            f"{self.base_url}{VIDEOS_PATH}",
            params={"id": external_id},
            headers=self._auth(creds),
        )
        if response.status_code in {200, 204}:
            return True
        if response.status_code == 404:
            return False
        raise classify(response, now=self.clock.now())

    def delete_budgets(self) -> tuple[Rate, ...]:
        """50 units of the project's shared daily pool."""
        return (replace(self._list_budget[0], cost=DELETE_UNITS),)

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """`videos.list?part=statistics` (1 unit): views, likes, comments and favorites.
        YouTube reports no shares, and dislikes are private."""
        response = send(
            self.http,
            "GET",
            f"{self.base_url}{VIDEOS_PATH}",
            params={"part": "statistics", "id": external_id},
            headers=self._auth(creds),
        )
        if response.status_code != 200:
            raise classify(response, now=self.clock.now())
        body = json_body(response)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise PostGone(f"YouTube has no video {external_id} visible to this channel", raw=body)
        names = {"views": "viewCount", "likes": "likeCount", "comments": "commentCount",
                 "favorites": "favoriteCount"}  # fmt: skip
        return counts_from(items[0].get("statistics"), names)

    def metrics_budgets(self) -> tuple[Rate, ...]:
        """One unit of the project's shared daily pool."""
        return self._list_budget

    def post_comment(self, request: CommentRequest, creds: Credentials) -> str:
        """`commentThreads.insert?part=snippet` (50 units): a top-level comment on the video."""
        snippet = {
            "channelId": request.account_external_id,
            "videoId": request.post_external_id,
            "topLevelComment": {"snippet": {"textOriginal": request.text}},
        }
        response = send(
            self.http,
            "POST",
            f"{self.base_url}{COMMENT_THREADS_PATH}",
            params={"part": "snippet"},
            json={"snippet": snippet},
            headers=self._auth(creds),
        )
        if response.status_code != 200:
            raise classify(response, now=self.clock.now())
        body = json_body(response)
        thread_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(thread_id, str) or not thread_id:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_comment_id", "the comment has no id", raw=body
            )
        return thread_id

    def find_comment(
        self, request: CommentRequest, creds: Credentials, *, since: datetime
    ) -> str | None:
        """Our channel's comment with this text among the video's threads (newest first:
        ours is recent, so the first pages hold it)."""
        params: dict[str, Any] = {
            "part": "snippet",
            "videoId": request.post_external_id,
            "maxResults": 100,
            "textFormat": "plainText",
        }
        for _ in range(COMMENT_PAGES):
            response = send(
                self.http,
                "GET",
                f"{self.base_url}{COMMENT_THREADS_PATH}",
                params=params,
                headers=self._auth(creds),
            )
            if response.status_code != 200:
                raise classify(response, now=self.clock.now())
            body = json_body(response)
            for item in body.get("items", []) if isinstance(body, dict) else []:
                top = (item.get("snippet") or {}).get("topLevelComment") or {}
                snippet = top.get("snippet") or {}
                author = (snippet.get("authorChannelId") or {}).get("value")
                if author == request.account_external_id and (
                    snippet.get("textOriginal") == request.text
                ):
                    return str(item["id"])
            token = body.get("nextPageToken") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                return None
            params["pageToken"] = token
        return None

    def comment_budgets(self) -> tuple[Rate, ...]:
        """50 units of the project's shared daily pool (a look-up costs less)."""
        return (replace(self._list_budget[0], cost=COMMENT_INSERT_UNITS),)

    def revoke(self, creds: Credentials, app: AppCredentials) -> bool:
        """Google's revocation: the refresh token (or the access token) ends the grant."""
        token = creds.refresh_token or creds.access_token
        return revoke_grant(self.http, app, {"token": token}, now=self.clock.now())

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """Google's refresh grant; the response normally has no new refresh token."""
        if not creds.refresh_token:
            raise PlatformError(ErrorKind.AUTH, "invalid_grant", "no refresh token is stored")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": app.client_id or "",
            "client_secret": app.client_secret or "",
        }
        return refresh_grant(self.http, app.token_url, form, previous=creds, now=self.clock.now())

    # -- phases -----------------------------------------------------------------------------

    def _media(self, request: PublishRequest) -> MediaFile:
        self.refuse_unsupported(request.media)
        assert request.media is not None  # refused above: YouTube posts are videos
        if request.media.size <= 0:
            raise PlatformError(ErrorKind.PERMANENT, "empty_file", "the video file is empty")
        return request.media

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The token's channel: `channels.list?mine=true` (1 quota unit)."""
        response = send(
            self.http,
            "GET",
            f"{self.base_url}/youtube/v3/channels",
            params={"part": "snippet", "mine": "true"},
            headers=self._auth(creds),
        )
        body = json_body(response)
        items = body.get("items") if isinstance(body, dict) else None
        if response.status_code != 200 or not items:
            raise classify(response, now=self.clock.now())
        channel = items[0]
        snippet = channel.get("snippet") or {}
        handle = str(snippet.get("customUrl") or snippet.get("title") or channel["id"])
        return str(channel["id"]), handle.removeprefix("@")

    def _auth(self, creds: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {creds.access_token}"}

    def _start(self, request: PublishRequest, media: MediaFile, creds: Credentials) -> StepResult:
        params = {"uploadType": "resumable", "part": "snippet,status"}
        if not YouTubeOptions.read(request.options).notify_subscribers:
            params["notifySubscribers"] = "false"
        response = send(
            self.http,
            "POST",
            f"{self.base_url}{UPLOAD_PATH}",
            params=params,
            json=video_resource(request, media),
            headers={
                **self._auth(creds),
                "X-Upload-Content-Length": str(media.size),
                "X-Upload-Content-Type": media.content_type or "application/octet-stream",
            },
        )
        location = response.headers.get("Location")
        if response.status_code != 200 or not location:
            raise classify(response, now=self.clock.now())
        session: dict[str, Any] = {
            "phase": "upload",
            "session_uri": str(response.request.url.join(location)),
            "offset": 0,
            "total": media.size,
            "chunk": self.chunk_size,
            "progress_decile": 0,
        }
        result = self._positioned(session, 0, media)
        result.event = "upload_started"
        result.event_data = {"bytes_total": media.size, "chunk_bytes": session["chunk"]}
        return result

    def _upload(self, session: dict[str, Any], media: MediaFile, creds: Credentials) -> StepResult:
        offset = int(session["offset"])
        length = min(int(session["chunk"]), media.size - offset)
        response = send(
            self.http,
            "PUT",
            session["session_uri"],
            content=media.iter_range(offset, length),
            headers={
                **self._auth(creds),
                "Content-Type": media.content_type or "application/octet-stream",
                "Content-Length": str(length),
                "Content-Range": f"bytes {offset}-{offset + length - 1}/{media.size}",
            },
        )
        if response.status_code in {200, 201}:
            return self._uploaded(session, response, media)
        if response.status_code == 308:
            return self._positioned(session, confirmed_offset(response), media)
        if response.status_code == 404:
            return self._restart("the upload session expired")
        raise classify(response, now=self.clock.now())

    def _positioned(self, session: dict[str, Any], offset: int, media: MediaFile) -> StepResult:
        """Continue from the byte the server confirmed; the last chunk is the commit."""
        chunk = int(session.get("chunk", self.chunk_size))
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        new["offset"] = offset
        new["phase"] = "upload_final" if media.size - offset <= chunk else "upload"
        return upload_step(new, session, offset, media.size)

    def _uploaded(
        self, session: dict[str, Any], response: httpx.Response, media: MediaFile
    ) -> StepResult:
        body = json_body(response)
        video_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise OutcomeUnknown("YouTube finished the upload but returned no video id", raw=body)
        new = {
            "phase": "processing",
            "session_uri": session.get("session_uri"),
            "total": media.size,
            "video_id": video_id,
            "polls": 0,
        }
        return StepResult(
            new,
            TargetStatus.PROCESSING,
            external_id=video_id,
            bytes_sent=media.size,
            bytes_total=media.size,
            event="upload_complete",
            event_data={"video_id": video_id},
        )

    def _thumbnail(
        self, image: MediaFile, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Set the custom thumbnail once the video exists. The video is already posted, so a
        refusal (invalid image, channel not allowed) is recorded, not fatal."""
        response = send(
            self.http,
            "POST",
            f"{self.base_url}{THUMBNAIL_PATH}",
            params={"videoId": str(session["video_id"])},
            content=image.iter_range(0, image.size),
            headers={
                **self._auth(creds),
                "Content-Type": image.content_type or "application/octet-stream",
                "Content-Length": str(image.size),
            },
        )
        done = {**session, "thumbnail_done": True}
        if response.status_code == 200:
            return StepResult(done, TargetStatus.PROCESSING, event="thumbnail_set")
        error = classify(response, now=self.clock.now())
        if error.kind is not ErrorKind.PERMANENT:
            raise error
        return StepResult(
            {**done, "thumbnail_error": error.code},
            TargetStatus.PROCESSING,
            event="thumbnail_failed",
            event_data={"code": error.code, "message": error.message},
        )

    def _restart(self, why: str) -> StepResult:
        return StepResult(
            {"phase": "start"},
            TargetStatus.UPLOADING,
            event="upload_restarted",
            event_data={"reason": why},
        )

    def _poll(self, session: dict[str, Any], media: MediaFile, creds: Credentials) -> StepResult:
        video_id = str(session["video_id"])
        response = send(
            self.http,
            "GET",
            f"{self.base_url}{VIDEOS_PATH}",
            params={"part": "status,processingDetails", "id": video_id},
            headers=self._auth(creds),
        )
        if response.status_code != 200:
            raise classify(response, now=self.clock.now())
        body = json_body(response)
        items = body.get("items") if isinstance(body, dict) else None
        if not items or not isinstance(items[0], dict):
            raise PlatformError(
                ErrorKind.PERMANENT,
                "video_not_found",
                f"video {video_id} no longer exists on the channel",
                raw=body,
            )
        video = items[0]
        status = video.get("status") or {}
        details = video.get("processingDetails") or {}
        upload_status = status.get("uploadStatus")
        processing = details.get("processingStatus")
        if upload_status in {"failed", "rejected", "deleted"}:
            reason = status.get("failureReason") or status.get("rejectionReason") or upload_status
            raise PlatformError(
                ErrorKind.PERMANENT,
                str(reason),
                f"YouTube {upload_status} video {video_id}: {reason}",
                raw=video,
            )
        if processing in {"failed", "terminated"}:
            reason = details.get("processingFailureReason") or processing
            raise PlatformError(
                ErrorKind.PERMANENT,
                str(reason),
                f"YouTube processing {processing} for video {video_id}: {reason}",
                raw=video,
            )
        if upload_status == "processed" or processing == "succeeded":
            return self._published({**session, "phase": "done"}, media)
        result = poll_step(
            session,
            self.poll_seconds,
            video_id=video_id,
            progress=details.get("processingProgress"),
        )
        result.external_id = video_id
        return result

    def _published(self, session: dict[str, Any], media: MediaFile) -> StepResult:
        video_id = str(session["video_id"])
        return StepResult(
            session,
            TargetStatus.PUBLISHED,
            external_id=video_id,
            external_url=video_url(video_id, media),
        )
