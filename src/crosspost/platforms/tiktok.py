"""TikTok Content Posting API: creator check, init, chunked upload, then status polls.

Phases of the persisted session: ``creator_info`` → ``init`` → ``upload`` → ``upload_final``
(the last chunk makes the post: commit) → ``status`` → ``done``. Inbox mode skips the creator
check; pull mode goes ``creator_info`` → ``init_pull`` (the init itself commits) → ``status``.
The protocol's pure rules (chunk plan, caption, privacy, error mapping) live in
``tiktok_rules.py`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits, Rate
from crosspost.platforms.base import (
    AppCredentials,
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
from crosspost.platforms.tiktok_rules import (
    CAPTION_MAX_UTF16,
    CONTENT_TYPES,
    MAX_CHUNK,
    MAX_CHUNKS,
    MB,
    MIN_CHUNK,
    MIN_POLL_SECONDS,
    POST_TYPES,
    UPLOAD_URL_TTL_SECONDS,
    TikTokOptions,
    caption,
    choose_privacy,
    classify,
    classify_fail_reason,
    content_type,
    creator_profile,
    init_phase,
    is_inbox,
    is_pull,
    photo_post_info,
    plan_chunks,
    post_info,
    post_url,
    seconds_until_utc_midnight,
)

__all__ = [
    "CAPTION_MAX_UTF16",
    "CONTENT_TYPES",
    "CREATOR_INFO_PATH",
    "DIRECT_INIT_PATH",
    "INBOX_INIT_PATH",
    "MAX_CHUNK",
    "MAX_CHUNKS",
    "MAX_RESTARTS",
    "MB",
    "MIN_CHUNK",
    "MIN_POLL_SECONDS",
    "STATUS_PATH",
    "UPLOAD_URL_TTL_SECONDS",
    "URL_EXPIRY_MARGIN",
    "TikTokClient",
    "caption",
    "choose_privacy",
    "classify",
    "classify_fail_reason",
    "plan_chunks",
    "seconds_until_utc_midnight",
]

CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
DIRECT_INIT_PATH = "/v2/post/publish/video/init/"
PHOTO_INIT_PATH = "/v2/post/publish/content/init/"
INBOX_INIT_PATH = "/v2/post/publish/inbox/video/init/"
STATUS_PATH = "/v2/post/publish/status/fetch/"
USER_INFO_PATH = "/v2/user/info/"
URL_EXPIRY_MARGIN = timedelta(minutes=2)  # never start a chunk on a URL about to expire
CREATOR_INFO_RATE = Rate("creator_info", 20, 60.0)
INIT_RATE = Rate("init", 6, 60.0)
STATUS_RATE = Rate("status", 30, 60.0)
VIDEO_QUERY_RATE = Rate("video_query", 600, 60.0)  # [U] the Display API's default
VIDEO_QUERY_PATH = "/v2/video/query/"
_METRIC_FIELDS = {"views": "view_count", "likes": "like_count", "comments": "comment_count",
                  "shares": "share_count"}  # fmt: skip
MAX_RESTARTS = 2  # fresh inits after TikTok's own `internal` failures before giving up


class TikTokClient(PlatformClient):
    """Client of TikTok's direct-post / inbox upload flow with FILE_UPLOAD or PULL_FROM_URL."""

    platform = Platform.TIKTOK
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = TikTokOptions
    carousel = CarouselLimits(max_items=35, kinds=frozenset({MediaKind.IMAGE}))
    commit_phases: ClassVar[frozenset[str]] = frozenset({"upload_final", "init_pull", "init_photo"})
    oauth_scopes = ("user.info.basic", "video.publish", "video.upload", "video.list")
    scope_separator = ","
    delete_refusal = (
        "TikTok's Content Posting API offers no way to delete a published video; delete it "
        "in the TikTok app"
    )
    client_id_param = "client_key"

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the post for `session`'s phase."""
        photos = self._photos(request)
        if photos:
            return self._photo_step(request, session, creds)
        media = self._media(request)
        phase = session.get("phase")
        if not phase:
            # Inbox posts need no creator check, so they may start right at a commit phase,
            # which the engine must see persisted before the irreversible call is made.
            phase = init_phase(request) if is_inbox(request) else "creator_info"
            if phase in self.commit_phases:
                return StepResult({"phase": phase}, TargetStatus.UPLOADING)
        if phase == "creator_info":
            return self._creator_info(request, media, session, creds)
        if phase in {"init", "init_pull"}:
            return self._init(request, media, session, creds)
        if phase in {"upload", "upload_final"}:
            return self._upload(request, media, session)
        if phase == "status":
            return self._status(request, session, creds)
        if phase == "done":
            return self._finished(request, session, session.get("post_id"))
        raise ValueError(f"unknown TikTok session phase {phase!r}")

    def declared_budgets(self) -> tuple[Rate, ...]:
        """Creator info, post init and status fetch, and the video query of metrics."""
        return (CREATOR_INFO_RATE, INIT_RATE, STATUS_RATE, VIDEO_QUERY_RATE)

    def budgets(self, request: PublishRequest, session: dict[str, Any]) -> tuple[Rate, ...]:
        """TikTok's per-token limits: creator info 20/min, init 6/min, status fetch 30/min
        (uploads to the returned URL are not rate limited)."""
        if session.get("commit_attempted") or session.get("phase") == "status":
            return (STATUS_RATE,)
        phase = session.get("phase") or ("init" if is_inbox(request) else "creator_info")
        if phase == "creator_info":
            return (CREATOR_INFO_RATE,)
        if phase in {"init", "init_pull", "init_photo"}:
            return (INIT_RATE,)
        return ()

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Ask `status/fetch` how far the publish_id got and resume from there, never re-post."""
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        publish_id = session.get("publish_id")
        if self._photos(request):
            if not publish_id:
                raise OutcomeUnknown("TikTok may have accepted the photo post; check the account")
            return StepResult({**cleared, "phase": "status"}, TargetStatus.PROCESSING)
        media = self._media(request)
        if not publish_id:
            if session.get("phase") == "init_pull":
                # The pull init's answer (and its publish_id) was lost: TikTok offers no way to
                # list an app's posts, so only a person can tell whether the post exists.
                raise OutcomeUnknown("TikTok may have accepted the pull request; check the account")
            return StepResult(cleared, TargetStatus.UPLOADING)
        data = self._fetch_status(str(publish_id), creds)
        state = data.get("status")
        total = int(session.get("total") or media.size)
        uploaded = int(data.get("uploaded_bytes") or 0)
        if state != "PROCESSING_UPLOAD" or uploaded >= total or session.get("source") == "pull":
            return StepResult({**cleared, "phase": "status"}, TargetStatus.PROCESSING)
        chunk = int(session["chunk_size"])
        count = int(session["chunk_count"])
        index = uploaded // chunk
        if uploaded % chunk == 0 and index < count and not self._url_expired(session):
            return self._at_chunk(cleared, index, media)
        return self._fresh_init(request, cleared, "the upload stopped mid-chunk or its URL expired")

    def revoke(self, creds: Credentials, app: AppCredentials) -> bool:
        """TikTok's revocation: client_key, client_secret and the access token."""
        form = {"client_key": app.client_id or "", "client_secret": app.client_secret or "",
                "token": creds.access_token}  # fmt: skip
        return revoke_grant(self.http, app, form, now=self.clock.now())

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """TikTok's refresh grant; TikTok rotates refresh tokens, so the new one is kept."""
        if not creds.refresh_token:
            raise PlatformError(ErrorKind.AUTH, "invalid_grant", "no refresh token is stored")
        form = {
            "client_key": app.client_id or "",
            "client_secret": app.client_secret or "",
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
        }
        return refresh_grant(self.http, app.token_url, form, previous=creds, now=self.clock.now())

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _photos(request: PublishRequest) -> tuple[MediaFile, ...]:
        """The images of a photo post (one, or several), else nothing."""
        if request.items:
            return request.items
        if request.media is not None and request.media.kind is MediaKind.IMAGE:
            return (request.media,)
        return ()

    def _photo_step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """A photo post: the creator's settings (direct posts), then one `content/init`
        with media_type PHOTO that TikTok fetches from the photos' URLs (the commit), then
        the status polls every post shares."""
        phase = session.get("phase")
        if not phase:
            if not is_inbox(request):
                return self._creator_info(request, None, session, creds, then="init_photo")
            # The init is the commit: the engine must see the phase persisted before it.
            return StepResult({"phase": "init_photo"}, TargetStatus.UPLOADING)
        if phase == "creator_info":
            return self._creator_info(request, None, session, creds, then="init_photo")
        if phase == "init_photo":
            return self._init_photo(request, session, creds)
        if phase == "status":
            return self._status(request, session, creds)
        if phase == "done":
            return self._finished(request, session, session.get("post_id"))
        raise ValueError(f"unknown TikTok session phase {phase!r}")

    def _init_photo(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        urls = request.item_urls or ((request.media_url,) if request.media_url else ())
        if len(urls) != len(self._photos(request)):
            raise PlatformError(
                ErrorKind.PERMANENT,
                "media_url_required",
                "TikTok fetches photos from public URLs (of a verified domain): set "
                "CROSSPOST_PUBLIC_URL to such an address",
            )
        inbox = is_inbox(request)
        body = {
            "post_info": photo_post_info(request, session),
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": list(urls),
            },
            "post_mode": "MEDIA_UPLOAD" if inbox else "DIRECT_POST",
            "media_type": "PHOTO",
        }
        data = self._api(PHOTO_INIT_PATH, creds, body)
        publish_id = data.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_publish_id", "init returned no publish_id", raw=data
            )
        base = {k: session[k] for k in ("creator", "privacy_level", "restarts") if k in session}
        return StepResult(
            {**base, "phase": "status", "source": "pull", "publish_id": publish_id},
            TargetStatus.PROCESSING,
            event="upload_started",
            event_data={"publish_id": publish_id, "source": "PULL_FROM_URL", "photos": len(urls)},
        )

    def _media(self, request: PublishRequest) -> MediaFile:
        self.refuse_unsupported(request.media)
        assert request.media is not None  # refused above: TikTok posts are videos
        if request.media.size <= 0:
            raise PlatformError(ErrorKind.PERMANENT, "empty_file", "the video file is empty")
        return request.media

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The token's user: `GET /v2/user/info/` (open_id, display_name)."""
        response = send(
            self.http,
            "GET",
            f"{self.base_url}{USER_INFO_PATH}",
            params={"fields": "open_id,display_name"},
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        body = json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        user = data.get("user") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(user, dict) or not user.get("open_id"):
            raise classify(response, now=self.clock.now())
        return str(user["open_id"]), str(user.get("display_name") or user["open_id"])

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """Display API `POST /v2/video/query/` (scope video.list): views, likes, comments,
        shares. A video TikTok does not list (deleted, or a private post's publish id) is
        gone as far as its counts go."""
        fields = ",".join(["id", *_METRIC_FIELDS.values()])
        data = self._api(f"{VIDEO_QUERY_PATH}?fields={fields}", creds,
                         {"filters": {"video_ids": [external_id]}})  # fmt: skip
        videos = data.get("videos")
        for video in videos if isinstance(videos, list) else []:
            if isinstance(video, dict) and str(video.get("id")) == external_id:
                return counts_from(video, _METRIC_FIELDS)
        raise PostGone(f"TikTok lists no video {external_id} of this user", raw=data)

    def metrics_budgets(self) -> tuple[Rate, ...]:
        """The video query's per-minute window."""
        return (VIDEO_QUERY_RATE,)

    def _api(self, path: str, creds: Credentials, body: dict[str, Any] | None) -> dict[str, Any]:
        """POST a JSON call; return `data` when TikTok's error code is "ok", else raise."""
        response = send(
            self.http,
            "POST",
            f"{self.base_url}{path}",
            json=body,
            headers={
                "Authorization": f"Bearer {creds.access_token}",
                "Content-Type": "application/json; charset=UTF-8",
            },
        )
        payload = json_body(response)
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if response.status_code != 200 or code != "ok":
            raise classify(response, now=self.clock.now())
        assert isinstance(payload, dict)
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def _url_expired(self, session: dict[str, Any]) -> bool:
        expires = session.get("upload_url_expires_at")
        if not expires:
            return True
        return self.clock.now() + URL_EXPIRY_MARGIN >= datetime.fromisoformat(str(expires))

    def _fresh_init(self, request: PublishRequest, session: dict[str, Any], why: str) -> StepResult:
        keep = {k: session[k] for k in ("creator", "privacy_level", "restarts") if k in session}
        return StepResult(
            {**keep, "phase": init_phase(request)},
            TargetStatus.UPLOADING,
            event="upload_restarted",
            event_data={"reason": why, "abandoned_publish_id": session.get("publish_id")},
        )

    def _fetch_status(self, publish_id: str, creds: Credentials) -> dict[str, Any]:
        return self._api(STATUS_PATH, creds, {"publish_id": publish_id})

    # -- phases -----------------------------------------------------------------------------

    def _creator_info(
        self,
        request: PublishRequest,
        media: MediaFile | None,
        session: dict[str, Any],
        creds: Credentials,
        *,
        then: str | None = None,
    ) -> StepResult:
        creator = creator_profile(self._api(CREATOR_INFO_PATH, creds, None), media)
        privacy = choose_privacy(
            TikTokOptions.read(request.options).privacy_level, creator["privacy_level_options"]
        )
        return StepResult(
            {
                **session,
                "phase": then or init_phase(request),
                "creator": creator,
                "privacy_level": privacy,
            },
            TargetStatus.UPLOADING,
        )

    def _init(
        self,
        request: PublishRequest,
        media: MediaFile,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        inbox = is_inbox(request)
        pull = is_pull(request)
        if pull:
            source: dict[str, Any] = {"source": "PULL_FROM_URL", "video_url": request.media_url}
        else:
            chunk_size, count = plan_chunks(media.size, self.chunk_bytes)
            source = {
                "source": "FILE_UPLOAD",
                "video_size": media.size,
                "chunk_size": chunk_size,
                "total_chunk_count": count,
            }
        body: dict[str, Any] = {"source_info": source}
        if not inbox:
            body["post_info"] = post_info(request, session)
        data = self._api(INBOX_INIT_PATH if inbox else DIRECT_INIT_PATH, creds, body)
        publish_id = data.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_publish_id", "init returned no publish_id", raw=data
            )
        base = {k: session[k] for k in ("creator", "privacy_level", "restarts") if k in session}
        if pull:
            return StepResult(
                {**base, "phase": "status", "source": "pull", "publish_id": publish_id},
                TargetStatus.PROCESSING,
                event="upload_started",
                event_data={"publish_id": publish_id, "source": "PULL_FROM_URL"},
            )
        upload_url = data.get("upload_url")
        if not isinstance(upload_url, str) or not upload_url:
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_upload_url", "init returned no upload_url", raw=data
            )
        new = {
            **base,
            "source": "file",
            "publish_id": publish_id,
            "upload_url": upload_url,
            "upload_url_expires_at": (
                self.clock.now() + timedelta(seconds=UPLOAD_URL_TTL_SECONDS)
            ).isoformat(),
            "total": media.size,
            "chunk_size": chunk_size,
            "chunk_count": count,
            "progress_decile": 0,
        }
        result = self._at_chunk(new, 0, media)
        result.event = "upload_started"
        result.event_data = {"publish_id": publish_id, "chunk_size": chunk_size, "chunks": count}
        return result

    def _at_chunk(self, session: dict[str, Any], index: int, media: MediaFile) -> StepResult:
        """Position the session before chunk `index`; the last chunk is the commit."""
        chunk = int(session["chunk_size"])
        count = int(session["chunk_count"])
        offset = index * chunk
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        new.update(chunk_index=index, offset=offset)
        new["phase"] = "upload_final" if index == count - 1 else "upload"
        return upload_step(new, session, offset, media.size)

    def _upload(
        self, request: PublishRequest, media: MediaFile, session: dict[str, Any]
    ) -> StepResult:
        if self._url_expired(session):
            return self._fresh_init(request, session, "the upload URL expired")
        index = int(session["chunk_index"])
        count = int(session["chunk_count"])
        start = index * int(session["chunk_size"])
        end = media.size if index == count - 1 else start + int(session["chunk_size"])
        # The upload URL carries its own token; TikTok's example sends no Authorization header.
        response = send(
            self.http,
            "PUT",
            str(session["upload_url"]),
            content=media.iter_range(start, end - start),
            headers={
                "Content-Type": content_type(media),
                "Content-Length": str(end - start),
                "Content-Range": f"bytes {start}-{end - 1}/{media.size}",
            },
        )
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        if index + 1 < count:
            return self._at_chunk(session, index + 1, media)
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        new.update(phase="status", offset=media.size, polls=0)
        return StepResult(
            new,
            TargetStatus.PROCESSING,
            bytes_sent=media.size,
            bytes_total=media.size,
            event="upload_complete",
            event_data={"publish_id": session["publish_id"]},
        )

    def _status(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        publish_id = str(session["publish_id"])
        data = self._fetch_status(publish_id, creds)
        state = data.get("status")
        if state == "PUBLISH_COMPLETE" or (state == "SEND_TO_USER_INBOX" and is_inbox(request)):
            post_ids = data.get("publicaly_available_post_id") or []
            post_id = str(post_ids[0]) if post_ids else None
            return self._finished(
                request, {**session, "phase": "done", "post_id": post_id}, post_id
            )
        if state == "FAILED":
            error = classify_fail_reason(data)
            restarts = int(session.get("restarts", 0))
            if error.kind is ErrorKind.TRANSIENT and restarts < MAX_RESTARTS:
                # The failed publish_id is dead; retrying means a fresh init and upload.
                retry = {**session, "restarts": restarts + 1}
                result = self._fresh_init(request, retry, error.message)
                result.wait_seconds = max(MIN_POLL_SECONDS, self.poll_seconds)
                return result
            if error.kind is ErrorKind.TRANSIENT:
                error = PlatformError(
                    ErrorKind.PERMANENT,
                    error.code,
                    f"{error.message} (after {restarts + 1} attempts)",
                    raw=error.raw,
                )
            raise error
        # TikTok allows 30 status calls a minute per token: never poll faster than 2 s.
        return poll_step(
            session,
            max(MIN_POLL_SECONDS, self.poll_seconds),
            publish_id=publish_id,
            status=state,
        )

    def _finished(
        self, request: PublishRequest, session: dict[str, Any], post_id: str | None
    ) -> StepResult:
        creator = session.get("creator") or {}
        return StepResult(
            session,
            TargetStatus.PUBLISHED,
            external_id=post_id or str(session["publish_id"]),
            external_url=post_url(creator.get("username") or request.account_handle, post_id),
        )
