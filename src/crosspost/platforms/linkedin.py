"""LinkedIn Videos API + Posts API: initialize, PUT the parts, finalize, poll, then post.

Phases of the persisted session: ``init`` → ``upload`` (one 4 MiB part per step, ETags kept in
order) → ``finalize`` → ``status`` (poll until AVAILABLE) → ``post`` (creates the post: commit)
→ ``done``. A text post starts right at ``post``. The pure rules (headers, URNs, commentary
escaping, error mapping) live in ``linkedin_rules.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from crosspost.domain.enums import ErrorKind, MediaKind, Platform, TargetStatus
from crosspost.domain.limits import CarouselLimits, MediaLimits
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
from crosspost.platforms.errors import (
    AlreadyExists,
    OutcomeUnknown,
    PlatformError,
    PostGone,
)
from crosspost.platforms.linkedin_rules import (
    LINKEDIN_VERSION,
    MIN_POLL_SECONDS,
    MIN_VIDEO_BYTES,
    POST_TYPES,
    LinkedInOptions,
    author_urn,
    check_instructions,
    classify,
    encode_urn,
    escape_commentary,
    find_post,
    post_body,
    post_url,
    rest_headers,
)
from crosspost.platforms.oauth import json_body, refresh_grant, revoke_grant, send

__all__ = [
    "CLOCK_SKEW_MS",
    "FINDER_COUNT",
    "LINKEDIN_VERSION",
    "POSTS_PATH",
    "URL_EXPIRY_MARGIN",
    "VIDEOS_PATH",
    "LinkedInClient",
]

VIDEOS_PATH = "/rest/videos"
POSTS_PATH = "/rest/posts"
COMMENTS_PATH = "/rest/socialActions/{urn}/comments"
IMAGES_PATH = "/rest/images"
COMMENT_PAGES = 5  # a just-made comment is among the newest
FINDER_COUNT = 50
FINDER_MAX_PAGES = 20  # 1,000 posts back: far more than anyone posts while a commit settles
URL_EXPIRY_MARGIN = timedelta(minutes=2)  # never start a part on a URL about to expire
CLOCK_SKEW_MS = 5 * 60 * 1000  # LinkedIn's createdAt may run behind our clock
_SESSION_KEEP = ("restarts",)
MEMBER_ANALYTICS_PATH = "/rest/memberCreatorPostAnalytics"
SHARE_STATISTICS_PATH = "/rest/organizationalEntityShareStatistics"
# Our name → memberCreatorPostAnalytics' queryType (one call each).
MEMBER_METRICS = {
    "views": "IMPRESSION",
    "reach": "MEMBERS_REACHED",
    "likes": "REACTION",
    "comments": "COMMENT",
    "shares": "RESHARE",
}
# Our name → organizationalEntityShareStatistics' totalShareStatistics field.
SHARE_STATISTICS = {
    "views": "impressionCount",
    "reach": "uniqueImpressionsCount",
    "likes": "likeCount",
    "comments": "commentCount",
    "shares": "shareCount",
    "clicks": "clickCount",
}


class LinkedInClient(PlatformClient):
    """Client of LinkedIn's multipart video upload and the Posts API (member or organization)."""

    oauth_scopes = ("openid", "profile", "w_member_social", "r_member_postAnalytics")

    platform = Platform.LINKEDIN
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = LinkedInOptions
    carousel = CarouselLimits(max_items=20, kinds=frozenset({MediaKind.IMAGE}))
    commit_phases: ClassVar[frozenset[str]] = frozenset({"post"})

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the post for `session`'s phase."""
        images = self._images(request)
        if images:
            phase = session.get("phase") or "image_init"
            if phase.startswith("image_"):
                return self._image_step(request, images, {**session, "phase": phase}, creds)
        media = None if images else self._media(request)
        phase = session.get("phase")
        if not phase:
            if media is None:
                # A text post starts at its commit, which the engine must see persisted first.
                return self._ready_to_post(session)
            phase = "init"
        if phase == "init":
            return self._init(request, self._need(media), session, creds)
        if phase == "upload":
            return self._upload(self._need(media), session)
        if phase == "finalize":
            return self._finalize(session, creds)
        if phase == "status":
            return self._status(session, creds)
        if phase == "post":
            return self._post(request, session, creds)
        if phase == "done":
            return self._finished(session)
        raise ValueError(f"unknown LinkedIn session phase {phase!r}")

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Look for the post among the author's latest ones; post again only if it is absent."""
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        if session.get("phase") != "post":
            return StepResult(cleared, TargetStatus.PUBLISHING)
        video = session.get("video")
        prepared = session.get("prepared_at_ms")
        found = self._search(
            request, creds, str(video) if video else None, int(prepared) if prepared else None
        )
        if found is None:
            # The post was never created: the next step may safely post (once).
            return StepResult(
                cleared,
                TargetStatus.PUBLISHING,
                event="reconcile_not_found",
                event_data={"video": video},
            )
        return self._finished({**cleared, "phase": "done", "post_urn": found["id"]})

    def find_existing(
        self,
        request: PublishRequest,
        session: dict[str, Any],
        creds: Credentials,
        *,
        refusal: AlreadyExists,
        since: datetime,
    ) -> StepResult | None:
        """LinkedIn refused a text post as a duplicate: its refusal names the existing post;
        when it does not, look for our commentary among the author's posts since `since`."""
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        urn = refusal.existing_id
        if urn is None:
            video = session.get("video")
            since_ms = int(since.timestamp() * 1000)
            try:
                found = self._search(request, creds, str(video) if video else None, since_ms)
            except OutcomeUnknown:
                return None
            if found is None:
                return None
            urn = str(found["id"])
        return self._finished({**cleared, "phase": "done", "post_urn": urn})

    def _search(
        self, request: PublishRequest, creds: Credentials, video: str | None, since_ms: int | None
    ) -> dict[str, Any] | None:
        """The author's post our commit (prepared at `since_ms`) made, or None when the
        search reached posts older than that without finding it.

        Newest first, page by page: a busy author may have posted many times since (other
        targets, other apps). A search that runs out of pages first proves nothing, so it
        raises OutcomeUnknown rather than let the caller post a second time.
        """
        not_before = since_ms - CLOCK_SKEW_MS if since_ms is not None else None
        for start in range(0, FINDER_COUNT * FINDER_MAX_PAGES, FINDER_COUNT):
            elements = self._author_posts(request, creds, start)
            found = find_post(
                elements,
                video_urn=video,
                commentary=escape_commentary(request.text),
                not_before_ms=not_before,
            )
            if found is not None:
                return found
            if len(elements) < FINDER_COUNT:
                return None
            oldest = elements[-1].get("createdAt") if isinstance(elements[-1], dict) else None
            if not_before is not None and isinstance(oldest, int) and oldest < not_before:
                return None
        raise OutcomeUnknown(
            f"the author made over {FINDER_COUNT * FINDER_MAX_PAGES} posts since the commit; "
            "its post was not among them"
        )

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The member behind the token: OpenID Connect `GET /v2/userinfo`."""
        response = send(
            self.http,
            "GET",
            f"{self.base_url}/v2/userinfo",
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("sub"):
            raise classify(response, now=self.clock.now())
        return str(body["sub"]), str(body.get("name") or body["sub"])

    def _author_posts(self, request: PublishRequest, creds: Credentials, start: int) -> list[Any]:
        """One page of the author's posts (Rest.li `q=author` finder), newest first."""
        author = author_urn(request.account_external_id)
        url = (
            f"{self.base_url}{POSTS_PATH}?author={encode_urn(author)}&q=author"
            f"&start={start}&count={FINDER_COUNT}"
        )
        headers = {**rest_headers(creds.access_token), "X-RestLi-Method": "FINDER"}
        response = send(self.http, "GET", url, headers=headers)
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise classify(response, now=self.clock.now())
        elements = body.get("elements")
        return elements if isinstance(elements, list) else []

    def delete_post(self, external_id: str, creds: Credentials) -> bool:
        """`DELETE /rest/posts/{encoded urn}` (204). LinkedIn's deletes are idempotent (a
        post already deleted answers 204 again); a 404 means it is gone too."""
        response = send(
            self.http,
            "DELETE",
            f"{self.base_url}{POSTS_PATH}/{encode_urn(external_id)}",
            headers={**rest_headers(creds.access_token), "X-RestLi-Method": "DELETE"},
        )
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        return True

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """A member's post: `memberCreatorPostAnalytics` (q=entity, one call per metric,
        lifetime totals; scope r_member_postAnalytics), the statistics LinkedIn gives a
        member of their own posts. An organization's post: `organizationalEntityShareStatistics`
        (one call; the member must administer the page). Impressions count as views, unique
        impressions as reach, reactions as likes, reshares as shares."""
        owner = author_urn(author) if author else ""
        if owner.startswith("urn:li:organization:"):
            return self._share_statistics(owner, external_id, creds)
        kind = "ugcPost" if ":ugcPost:" in external_id else "share"
        entity = f"({kind}:{encode_urn(external_id)})"
        counts: dict[str, int] = {}
        for ours, query_type in MEMBER_METRICS.items():
            url = (
                f"{self.base_url}{MEMBER_ANALYTICS_PATH}?q=entity&entity={entity}"
                f"&queryType={query_type}&aggregation=TOTAL"
            )
            body = self._analytics(url, creds, external_id)
            elements = body.get("elements")
            found = (
                [e.get("count") for e in elements if isinstance(e, dict)]
                if isinstance(elements, list)
                else []
            )
            counts[ours] = sum(c for c in found if isinstance(c, int))
        return counts

    def _share_statistics(self, org: str, external_id: str, creds: Credentials) -> dict[str, int]:
        kind = "ugcPosts" if ":ugcPost:" in external_id else "shares"
        url = (
            f"{self.base_url}{SHARE_STATISTICS_PATH}?q=organizationalEntity"
            f"&organizationalEntity={encode_urn(org)}&{kind}=List({encode_urn(external_id)})"
        )
        body = self._analytics(url, creds, external_id)
        for element in body.get("elements") or []:
            if isinstance(element, dict) and external_id in (
                element.get("share"),
                element.get("ugcPost"),
            ):
                return counts_from(element.get("totalShareStatistics"), SHARE_STATISTICS)
        raise PostGone(f"LinkedIn has no statistics of {external_id} for {org}", raw=body)

    def _analytics(self, url: str, creds: Credentials, external_id: str) -> dict[str, Any]:
        """One analytics finder call; a 404 means the post is gone."""
        headers = {**rest_headers(creds.access_token), "X-RestLi-Method": "FINDER"}
        response = send(self.http, "GET", url, headers=headers)
        body = json_body(response)
        if response.status_code == 404:
            raise PostGone(f"LinkedIn has no post {external_id}", raw=body)
        if response.status_code != 200 or not isinstance(body, dict):
            raise classify(response, now=self.clock.now())
        return body

    def post_comment(self, request: CommentRequest, creds: Credentials) -> str:
        """`POST /rest/socialActions/{post urn}/comments` (201): a comment by the post's
        author; its `urn:li:comment:(…)` URN."""
        author = author_urn(request.account_external_id)
        body = {
            "actor": author,
            "object": request.post_external_id,
            "message": {"text": request.text},
        }
        path = COMMENTS_PATH.format(urn=encode_urn(request.post_external_id))
        response = self._rest("POST", path, creds, body)
        payload = json_body(response)
        urn = response.headers.get("x-restli-id") or (
            payload.get("$URN") if isinstance(payload, dict) else None
        )
        if not isinstance(urn, str) or not urn:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_comment_id", "the comment has no URN", raw=payload
            )
        return urn

    def find_comment(
        self, request: CommentRequest, creds: Credentials, *, since: datetime
    ) -> str | None:
        """The author's comment with this text on the post, newest comments first. Reading
        comments on a member's post takes r_member_social, which LinkedIn grants few apps:
        without it the comment cannot be verified, and it is not posted again."""
        author = author_urn(request.account_external_id)
        path = COMMENTS_PATH.format(urn=encode_urn(request.post_external_id))
        for page in range(COMMENT_PAGES):
            url = f"{self.base_url}{path}?start={page * FINDER_COUNT}&count={FINDER_COUNT}"
            response = send(self.http, "GET", url, headers=rest_headers(creds.access_token))
            if response.status_code == 403:
                raise PlatformError(
                    ErrorKind.PERMANENT,
                    "comment_unverifiable",
                    "LinkedIn did not answer whether the comment was made and does not let "
                    "this app read the post's comments (r_member_social); look at the post "
                    "before commenting again",
                    http_status=403,
                )
            body = json_body(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise classify(response, now=self.clock.now())
            elements = body.get("elements")
            elements = elements if isinstance(elements, list) else []
            for element in elements:
                message = element.get("message") if isinstance(element, dict) else None
                if (
                    isinstance(message, dict)
                    and element.get("actor") == author
                    and message.get("text") == request.text
                ):
                    return str(element.get("$URN") or element.get("id"))
            if len(elements) < FINDER_COUNT:
                return None
        return None

    def revoke(self, creds: Credentials, app: AppCredentials) -> bool:
        """LinkedIn's revocation: the app's id and secret with the access token."""
        form = {
            "client_id": app.client_id or "",
            "client_secret": app.client_secret or "",
            "token": creds.access_token,
        }
        return revoke_grant(self.http, app, form, now=self.clock.now())

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """LinkedIn's programmatic refresh; the refresh token keeps its original expiry."""
        if not creds.refresh_token:
            raise PlatformError(ErrorKind.AUTH, "invalid_grant", "no refresh token is stored")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": app.client_id or "",
            "client_secret": app.client_secret or "",
        }
        return refresh_grant(self.http, app.token_url, form, previous=creds, now=self.clock.now())

    # -- helpers ----------------------------------------------------------------------------

    @classmethod
    def _media(cls, request: PublishRequest) -> MediaFile | None:
        cls.refuse_unsupported(request.media)
        media = request.media
        if media is None:
            return None
        if media.size < MIN_VIDEO_BYTES:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "video_too_small",
                f"LinkedIn needs a video of at least {MIN_VIDEO_BYTES} bytes; this one has "
                f"{media.size}",
            )
        return media

    @staticmethod
    def _images(request: PublishRequest) -> tuple[MediaFile, ...]:
        """The images of an image post (one, or several: a multi-image post)."""
        if request.items:
            return request.items
        if request.media is not None and request.media.kind is MediaKind.IMAGE:
            return (request.media,)
        return ()

    def _image_step(
        self,
        request: PublishRequest,
        images: tuple[MediaFile, ...],
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        """Images API, one image at a time: initializeUpload, PUT the bytes, wait until the
        image is AVAILABLE; then the post names every image."""
        done: list[str] = list(session.get("images", []))
        phase = session["phase"]
        if phase == "image_status":
            urn = str(session["image"])
            response = send(
                self.http,
                "GET",
                f"{self.base_url}{IMAGES_PATH}/{encode_urn(urn)}",
                headers=rest_headers(creds.access_token),
            )
            body = json_body(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise classify(response, now=self.clock.now())
            status = body.get("status")
            if status in ("PROCESSING", "WAITING_UPLOAD"):
                return poll_step(session, self.poll_seconds, image=urn)
            if status != "AVAILABLE":
                raise PlatformError(
                    ErrorKind.PERMANENT,
                    "image_failed",
                    f"LinkedIn could not process image {len(done) + 1} ({status})",
                    raw=body,
                )
            done.append(urn)
            session = {"images": done, "phase": "image_init"}
            if len(done) == len(images):
                return self._ready_to_post(session)
            phase = "image_init"
        image = images[len(done)]
        if phase == "image_init":
            owner = {"initializeUploadRequest": {"owner": author_urn(request.account_external_id)}}
            response = self._rest("POST", f"{IMAGES_PATH}?action=initializeUpload", creds, owner)
            payload = json_body(response)
            value = payload.get("value") if isinstance(payload, dict) else None
            if not isinstance(value, dict) or not isinstance(value.get("image"), str):
                raise PlatformError(
                    ErrorKind.TRANSIENT, "missing_image_urn", "initializeUpload returned no image"
                )
            new = {
                "images": done,
                "phase": "image_upload",
                "image": value["image"],
                "upload_url": value.get("uploadUrl"),
            }
            return StepResult(
                new,
                TargetStatus.UPLOADING,
                event="upload_started",
                event_data={"image": value["image"], "item": len(done) + 1},
            )
        with image.open() as fh:
            response = send(
                self.http,
                "PUT",
                str(session["upload_url"]),
                content=fh.read(),
                headers={
                    "Authorization": f"Bearer {creds.access_token}",
                    "Content-Type": "application/octet-stream",
                },
            )
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        return StepResult({**session, "phase": "image_status", "polls": 0}, TargetStatus.PROCESSING)

    @staticmethod
    def _need(media: MediaFile | None) -> MediaFile:
        if media is None:
            raise ValueError("a video phase was reached for a post without media")
        return media

    def _rest(
        self, method: str, path: str, creds: Credentials, body: dict[str, Any] | None = None
    ) -> Any:
        """One ``/rest/`` call; returns the response when it succeeded, else raises."""
        response = send(
            self.http,
            method,
            f"{self.base_url}{path}",
            json=body,
            headers=rest_headers(creds.access_token),
        )
        if not response.is_success:
            raise classify(response, now=self.clock.now())
        return response

    def _ready_to_post(self, session: dict[str, Any]) -> StepResult:
        """Position at the commit, remembering when, so reconcile ignores older posts."""
        now_ms = int(self.clock.now().timestamp() * 1000)
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        new.update(phase="post", prepared_at_ms=now_ms)
        return StepResult(new, TargetStatus.PUBLISHING)

    def _urls_expired(self, session: dict[str, Any]) -> bool:
        expires_ms = session.get("upload_urls_expire_at")
        if not isinstance(expires_ms, int):
            return True
        deadline = (self.clock.now() + URL_EXPIRY_MARGIN).timestamp() * 1000
        return deadline >= expires_ms

    def _restart(self, session: dict[str, Any], why: str) -> StepResult:
        keep = {k: session[k] for k in _SESSION_KEEP if k in session}
        keep["restarts"] = int(session.get("restarts", 0)) + 1
        return StepResult(
            {**keep, "phase": "init"},
            TargetStatus.UPLOADING,
            event="upload_restarted",
            event_data={"reason": why, "abandoned_video": session.get("video")},
        )

    # -- phases -----------------------------------------------------------------------------

    def _init(
        self,
        request: PublishRequest,
        media: MediaFile,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        body = {
            "initializeUploadRequest": {
                "owner": author_urn(request.account_external_id),
                "fileSizeBytes": media.size,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        }
        response = self._rest("POST", f"{VIDEOS_PATH}?action=initializeUpload", creds, body)
        payload = json_body(response)
        value = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("video"), str):
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_video_urn", "initializeUpload returned no video"
            )
        parts = check_instructions(value.get("uploadInstructions"), media.size)
        expires = value.get("uploadUrlsExpireAt")
        new = {
            **{k: session[k] for k in _SESSION_KEEP if k in session},
            "phase": "upload",
            "video": value["video"],
            # Single-part uploads may get "" here; whatever came is echoed back on finalize.
            "upload_token": str(value.get("uploadToken") or ""),
            "upload_urls_expire_at": int(expires) if isinstance(expires, int | float) else None,
            "parts": parts,
            "etags": [],
            "progress_decile": 0,
        }
        result = upload_step(new, session, 0, media.size)
        result.event = "upload_started"
        result.event_data = {"video": value["video"], "parts": len(parts)}
        return result

    def _upload(self, media: MediaFile, session: dict[str, Any]) -> StepResult:
        if self._urls_expired(session):
            return self._restart(session, "the upload URLs expired")
        parts: list[dict[str, Any]] = session["parts"]
        etags: list[str] = list(session["etags"])
        part = parts[len(etags)]
        first, last = int(part["firstByte"]), int(part["lastByte"])
        length = last - first + 1
        # Upload URLs are pre-signed; no Authorization header goes to them.
        response = send(
            self.http,
            "PUT",
            str(part["uploadUrl"]),
            content=media.iter_range(first, length),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
        )
        if not response.is_success:
            if response.status_code in {403, 404, 410} and self._urls_expired(session):
                return self._restart(session, "the upload URLs expired")
            raise classify(response, now=self.clock.now())
        etag = response.headers.get("ETag")
        if not etag:
            raise PlatformError(
                ErrorKind.TRANSIENT,
                "missing_etag",
                f"the upload of part {len(etags) + 1} returned no ETag",
                http_status=response.status_code,
            )
        etags.append(etag)
        new = {**session, "etags": etags}
        if len(etags) == len(parts):
            new["phase"] = "finalize"
        return upload_step(new, session, last + 1, media.size)

    def _finalize(self, session: dict[str, Any], creds: Credentials) -> StepResult:
        body = {
            "finalizeUploadRequest": {
                "video": session["video"],
                "uploadToken": session.get("upload_token", ""),
                "uploadedPartIds": list(session["etags"]),
            }
        }
        self._rest("POST", f"{VIDEOS_PATH}?action=finalizeUpload", creds, body)
        return StepResult(
            {**session, "phase": "status", "polls": 0},
            TargetStatus.PROCESSING,
            event="upload_complete",
            event_data={"video": session["video"]},
        )

    def _status(self, session: dict[str, Any], creds: Credentials) -> StepResult:
        video = str(session["video"])
        response = self._rest("GET", f"{VIDEOS_PATH}/{encode_urn(video)}", creds)
        payload = json_body(response)
        status = payload.get("status") if isinstance(payload, dict) else None
        if status == "AVAILABLE":
            return self._ready_to_post(session)
        if status == "PROCESSING_FAILED":
            reason = payload.get("processingFailureReason") if isinstance(payload, dict) else None
            raise PlatformError(
                ErrorKind.PERMANENT,
                "processing_failed",
                f"LinkedIn could not process the video ({reason or 'no reason given'})",
                raw=payload,
            )
        return poll_step(
            session, max(MIN_POLL_SECONDS, self.poll_seconds), video=video, status=status
        )

    def _post(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        video = session.get("video")
        body = post_body(request, str(video) if video else None, session.get("images"))
        response = self._rest("POST", POSTS_PATH, creds, body)
        urn = response.headers.get("x-restli-id")
        if not urn:
            # The post exists but we cannot name it: let reconcile find it, never re-post.
            raise PlatformError(
                ErrorKind.UNCONFIRMED,
                "missing_post_urn",
                "LinkedIn created the post without an x-restli-id header",
                http_status=response.status_code,
            )
        new = {k: v for k, v in session.items() if k != "commit_attempted"}
        new.update(phase="done", post_urn=urn)
        return self._finished(new)

    @staticmethod
    def _finished(session: dict[str, Any]) -> StepResult:
        urn = str(session["post_urn"])
        return StepResult(
            session, TargetStatus.PUBLISHED, external_id=urn, external_url=post_url(urn)
        )
