"""Instagram Graph API (Reels and images): container, upload, status polls, quota, publish.

Phases of the persisted session: ``create`` → ``upload`` (resumable only) → ``poll`` →
``quota`` → ``publish`` (``media_publish`` makes the post: commit) → ``permalink`` → done.
A video goes to Meta by the resumable rupload protocol, or by ``video_url`` (crosspost's
signed media URL) when the post asks for ``instagram_source: "url"``; an image always by
``image_url``, so images need crosspost reachable at a public URL.

[U] Resuming an interrupted rupload: no official text says how. This client reads the
container's ``video_status.uploading_phase.bytes_transferred`` before every upload POST and
re-sends from that offset (the ``offset`` header), so an interrupted POST resumes where the
upload host stopped instead of starting over. The pure rules live in ``instagram_rules.py``.

Accounts connect by Business Login for Instagram, so every call goes to graph.instagram.com
with an Instagram user token. [U] Meta documents the resumable upload for Facebook Login
only, and one project reports graph.instagram.com refusing it: a live deployment that meets
that sets ``instagram_source: "url"`` (with ``CROSSPOST_PUBLIC_URL``) so Meta fetches the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

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
from crosspost.platforms.errors import (
    AlreadyExists,
    OutcomeUnknown,
    PlatformError,
    PostGone,
)
from crosspost.platforms.instagram_rules import (
    API_VERSION,
    POST_TYPES,
    QUOTA_WINDOW_SECONDS,
    InstagramOptions,
    check_caption,
    classify,
    classify_container_error,
    classify_rupload,
    is_not_ready,
    parse_timestamp,
    quota_wait,
)
from crosspost.platforms.oauth import json_body, send

__all__ = ["API_VERSION", "MAX_RESTARTS", "RECONCILE_PAGES", "InstagramClient"]

MAX_RESTARTS = 2  # fresh containers after an expired or transiently failed one
RECONCILE_PAGES = 40  # at most 2,000 media back, searched for a lost publish's media
CLOCK_SLACK = timedelta(minutes=5)  # Meta's clock and ours may disagree a little
# Our name → the media insight (Instagram Login, since v22.0: `views` replaced `plays` and
# `impressions`). Needs instagram_business_manage_insights.
INSIGHT_METRICS = {
    "views": "views",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "reach": "reach",
    "saves": "saved",
    "interactions": "total_interactions",
}
GRAPH_HOURLY_RATE = Rate("graph_calls", 200, 3600.0)
COMMENT_PAGES = 5  # of 50 comments: a just-made one is among the newest


class InstagramClient(PlatformClient):
    """Client of Instagram content publishing with Business Login for Instagram
    (graph.instagram.com, Instagram user tokens)."""

    platform = Platform.INSTAGRAM
    post_types: ClassVar[Mapping[MediaKind | None, MediaLimits]] = POST_TYPES
    options_model = InstagramOptions
    carousel = CarouselLimits(max_items=10, kinds=frozenset({MediaKind.IMAGE, MediaKind.VIDEO}))
    commit_phases: ClassVar[frozenset[str]] = frozenset({"publish"})
    oauth_scopes = (
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_insights",  # a post's metrics (media insights)
        "instagram_business_manage_comments",  # the first comment
    )
    scope_separator = ","
    # Meta deletes media only for Facebook Login accounts granting instagram_manage_contents;
    # Business Login for Instagram (how accounts connect here) has no such permission.
    delete_refusal = (
        "Instagram's API offers no way to delete a published post for accounts connected "
        "with Instagram Login (as crosspost connects them); delete it in the Instagram app"
    )

    def step(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Perform the next interaction of the post for `session`'s phase."""
        phase = session.get("phase") or "create"
        if request.items and phase in {"create", "children"}:
            return self._carousel(request, session, creds)
        if phase == "create":
            return self._create(request, self._media(request), session, creds)
        if phase == "upload":
            return self._upload(self._media(request), session, creds)
        if phase == "poll":
            return self._poll(request, session, creds)
        if phase == "quota":
            return self._quota(request, session, creds)
        if phase == "publish":
            return self._publish(request, session, creds)
        if phase == "permalink":
            return self._permalink(session, creds)
        raise ValueError(f"unknown Instagram session phase {phase!r}")

    def reconcile(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """Ask the container whether it was published; find the media, never publish twice."""
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        container_id = session.get("container_id")
        if not container_id:
            return StepResult({**cleared, "phase": "create"}, TargetStatus.UPLOADING)
        data = self._graph("GET", str(container_id), creds, params={"fields": "status_code"})
        state = data.get("status_code")
        if state == "PUBLISHED":
            return self._found_published(request, cleared, creds)
        if state == "FINISHED":
            # Still publishable, so the lost media_publish did not happen: publish again.
            return StepResult({**cleared, "phase": "quota"}, TargetStatus.PUBLISHING)
        if state == "IN_PROGRESS":
            return StepResult({**cleared, "phase": "poll"}, TargetStatus.PROCESSING)
        return self._fresh_container(cleared, f"the container is {state} after a lost publish")

    def find_existing(
        self,
        request: PublishRequest,
        session: dict[str, Any],
        creds: Credentials,
        *,
        refusal: AlreadyExists,
        since: datetime,
    ) -> StepResult | None:
        """The container was refused as already published: find the media it became."""
        container_id = session.get("container_id")
        if not container_id:
            return None
        data = self._graph("GET", str(container_id), creds, params={"fields": "status_code"})
        if data.get("status_code") != "PUBLISHED":
            return None
        try:
            return self._found_published(request, session, creds)
        except OutcomeUnknown:
            return None

    def refresh(self, creds: Credentials, app: AppCredentials) -> Credentials:
        """Instagram Login's refresh: the long-lived access token itself is exchanged.

        There is no refresh token; `creds.refresh_token` is kept as is. A dead token (190)
        means the account must log in again.
        """
        response = send(
            self.http,
            "GET",
            app.token_url,
            params={"grant_type": "ig_refresh_token", "access_token": creds.access_token},
        )
        body = json_body(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            error = classify(response, now=self.clock.now())
            if error.kind is ErrorKind.AUTH:
                raise PlatformError(
                    ErrorKind.AUTH,
                    "invalid_grant",
                    f"Instagram refused to refresh the token ({error.message}); "
                    "the account must be reconnected",
                    raw=error.raw,
                    http_status=error.http_status,
                )
            raise error
        assert isinstance(body, dict)
        expires_in = body.get("expires_in")
        return Credentials(
            access_token=token,
            refresh_token=creds.refresh_token,
            expires_at=self.clock.now() + timedelta(seconds=float(expires_in))
            if isinstance(expires_in, int | float)
            else None,
            scopes=list(creds.scopes),
        )

    def exchange_code(
        self, app: AppCredentials, *, code: str, verifier: str, redirect_uri: str
    ) -> Credentials:
        """Business Login: the code buys a one-hour token, which buys a 60-day one at once
        (the short one would be dead before the first scheduled post)."""
        response = send(
            self.http,
            "POST",
            app.code_url or app.token_url,
            data={
                "client_id": app.client_id or "",
                "client_secret": app.client_secret or "",
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
                # Meta documents no PKCE here; the verifier costs nothing and binds the code
                # where it is honoured.
                "code_verifier": verifier,
            },
        )
        body = json_body(response)
        # The current API wraps the grant in a one-element `data` list; older hosts did not.
        rows = body.get("data") if isinstance(body, dict) else None
        grant = rows[0] if isinstance(rows, list) and rows else body
        short = grant.get("access_token") if isinstance(grant, dict) else None
        if response.status_code != 200 or not isinstance(short, str) or not short:
            kind = ErrorKind.TRANSIENT if response.status_code >= 500 else ErrorKind.PERMANENT
            message = body.get("error_message") if isinstance(body, dict) else None
            raise PlatformError(
                kind,
                "code_exchange_failed",
                str(message or f"the code exchange answered HTTP {response.status_code}"),
                raw=body,
                http_status=response.status_code,
            )
        assert isinstance(grant, dict)
        permissions = grant.get("permissions")
        if isinstance(permissions, str):
            scopes = [p for p in permissions.split(",") if p]
        else:
            scopes = [str(p) for p in permissions] if isinstance(permissions, list) else []
        # graph.instagram.com serves the exchange beside the refresh endpoint.
        exchange_url = app.token_url.removesuffix("refresh_access_token") + "access_token"
        response = send(
            self.http,
            "GET",
            exchange_url,
            params={
                "grant_type": "ig_exchange_token",
                "client_secret": app.client_secret or "",
                "access_token": short,
            },
        )
        body = json_body(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise classify(response, now=self.clock.now())
        assert isinstance(body, dict)
        expires_in = body.get("expires_in")
        return Credentials(
            access_token=token,
            expires_at=self.clock.now() + timedelta(seconds=float(expires_in))
            if isinstance(expires_in, int | float)
            else None,
            scopes=scopes,
        )

    def whoami(self, creds: Credentials) -> tuple[str, str]:
        """The professional account behind the token: ``GET /me?fields=user_id,username``."""
        body = self._graph("GET", "me", creds, params={"fields": "user_id,username"})
        user_id = body.get("user_id") or body.get("id")
        if not user_id:
            raise PlatformError(
                ErrorKind.PERMANENT, "missing_user_id", "/me named no user", raw=body
            )
        return str(user_id), str(body.get("username") or user_id)

    # -- helpers ----------------------------------------------------------------------------

    def _media(self, request: PublishRequest) -> MediaFile:
        self.refuse_unsupported(request.media)
        media = request.media
        assert media is not None  # refused above: Instagram posts carry media
        if media.kind is MediaKind.IMAGE and not request.media_url:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "media_url_required",
                "Instagram fetches images from a public URL: set CROSSPOST_PUBLIC_URL to an "
                "address Meta can reach",
            )
        if media.size <= 0:
            raise PlatformError(ErrorKind.PERMANENT, "empty_file", "the media file is empty")
        return media

    def fetch_metrics(
        self, external_id: str, creds: Credentials, *, author: str = ""
    ) -> dict[str, int]:
        """`GET /{media-id}/insights` (lifetime): views, likes, comments, shares, and reach,
        saves and total interactions besides. Insights Instagram cannot give yet come back
        empty, and are left out."""
        try:
            body = self._graph("GET", f"{external_id}/insights", creds,
                               params={"metric": ",".join(INSIGHT_METRICS.values())})  # fmt: skip
        except PlatformError as err:
            if err.code == "100/33":  # no such object, or not this token's
                raise PostGone(err.message, raw=err.raw, http_status=err.http_status) from err
            raise
        values: dict[str, object] = {}
        for item in body.get("data") or []:
            series = item.get("values") if isinstance(item, dict) else None
            if isinstance(series, list) and series and isinstance(series[0], dict):
                values[str(item.get("name"))] = series[0].get("value")
        return counts_from(values, INSIGHT_METRICS)

    def declared_budgets(self) -> tuple[Rate, ...]:
        """The hourly Graph budget metrics spend from (publishing reads its own quota)."""
        return (GRAPH_HOURLY_RATE,)

    def metrics_budgets(self) -> tuple[Rate, ...]:
        """Graph's per-user hourly call budget (Instagram Login: 200 calls an hour) [U]."""
        return (GRAPH_HOURLY_RATE,)

    def post_comment(self, request: CommentRequest, creds: Credentials) -> str:
        """`POST /{ig-media-id}/comments?message=…` (scope instagram_business_manage_comments):
        the comment's id."""
        body = self._graph(
            "POST", f"{request.post_external_id}/comments", creds, data={"message": request.text}
        )
        comment_id = body.get("id")
        if not isinstance(comment_id, str) or not comment_id:
            raise PlatformError(
                ErrorKind.UNCONFIRMED, "missing_comment_id", "the comment has no id", raw=body
            )
        return comment_id

    def find_comment(
        self, request: CommentRequest, creds: Credentials, *, since: datetime
    ) -> str | None:
        """The account's comment with this text on the media, newest first."""
        params = {"fields": "id,text,from,timestamp", "limit": "50"}
        for _ in range(COMMENT_PAGES):
            body = self._graph("GET", f"{request.post_external_id}/comments", creds, params=params)
            data = body.get("data")
            for item in data if isinstance(data, list) else []:
                author = item.get("from") if isinstance(item, dict) else None
                if (
                    isinstance(author, dict)
                    and author.get("id") == request.account_external_id
                    and item.get("text") == request.text
                ):
                    return str(item["id"])
            paging = body.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            if not isinstance(paging, dict) or "next" not in paging or not cursors:
                return None
            params = {**params, "after": str(cursors.get("after"))}
        return None

    def comment_budgets(self) -> tuple[Rate, ...]:
        """Graph's per-user hourly call budget [U]."""
        return (GRAPH_HOURLY_RATE,)

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{API_VERSION}/{path}"

    def _graph(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Graph API call; the JSON object on 200, else a classified PlatformError."""
        response = send(
            self.http,
            method,
            self._url(path),
            params=params,
            data=data,
            headers={"Authorization": f"Bearer {creds.access_token}"},
        )
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or "error" in body:
            raise classify(response, now=self.clock.now())
        return body

    def _fresh_container(self, session: dict[str, Any], why: str) -> StepResult:
        restarts = int(session.get("restarts", 0))
        if restarts >= MAX_RESTARTS:
            raise PlatformError(
                ErrorKind.PERMANENT, "container_failed", f"{why} (after {restarts + 1} containers)"
            )
        return StepResult(
            {"phase": "create", "restarts": restarts + 1},
            TargetStatus.UPLOADING,
            wait_seconds=self.poll_seconds,
            event="upload_restarted",
            event_data={"reason": why, "abandoned_container_id": session.get("container_id")},
        )

    # -- phases -----------------------------------------------------------------------------

    def _carousel(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """A carousel: one child container per item (`is_carousel_item`), each waited for
        until FINISHED, then the CAROUSEL container naming them; from there it is polled
        and published like any container. Meta fetches every item from its URL."""
        if len(request.item_urls) != len(request.items):
            raise PlatformError(
                ErrorKind.PERMANENT,
                "media_url_required",
                "Instagram fetches carousel items from public URLs: set CROSSPOST_PUBLIC_URL "
                "to an address Meta can reach",
            )
        check_caption(request.text)
        children = list(session.get("children", []))
        pending = session.get("child_pending")
        if pending:
            data = self._graph("GET", str(pending), creds, params={"fields": "status_code"})
            code = data.get("status_code")
            if code == "IN_PROGRESS":
                return poll_step({**session, "phase": "children"}, self.poll_seconds)
            if code != "FINISHED":
                return self._fresh_container(
                    session, f"carousel item {len(children) + 1} ended {code}"
                )
            children.append(str(pending))
            session = {**session, "children": children, "child_pending": None, "polls": 0}
        user = request.account_external_id
        if len(children) < len(request.items):
            index = len(children)
            item, url = request.items[index], request.item_urls[index]
            form = {"is_carousel_item": "true"}
            if item.kind is MediaKind.IMAGE:
                form["image_url"] = url
            else:
                form.update(media_type="VIDEO", video_url=url)
            data = self._graph("POST", f"{user}/media", creds, data=form)
            child = self._container_id(data)
            following = {
                **session,
                "phase": "children",
                "children": children,
                "child_pending": child,
            }
            return StepResult(following, TargetStatus.UPLOADING, event="upload_item_started",
                              event_data={"item": index + 1, "container_id": child})  # fmt: skip
        form = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": request.text}
        data = self._graph("POST", f"{user}/media", creds, data=form)
        container_id = self._container_id(data)
        new: dict[str, Any] = {
            "phase": "poll",
            "mode": "carousel",
            "container_id": container_id,
            "container_created_at": self.clock.now().isoformat(),
            "total": sum(i.size for i in request.items),
            "polls": 0,
            "children": children,
        }
        return StepResult(new, TargetStatus.PROCESSING, event="upload_started",
                          event_data={"container_id": container_id, "mode": "carousel",
                                      "children": children})  # fmt: skip

    @staticmethod
    def _container_id(data: dict[str, Any]) -> str:
        container_id = data.get("id")
        if not isinstance(container_id, str | int) or not str(container_id):
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_container_id", "no container id came back", raw=data
            )
        return str(container_id)

    def _create(
        self,
        request: PublishRequest,
        media: MediaFile,
        session: dict[str, Any],
        creds: Credentials,
    ) -> StepResult:
        check_caption(request.text)
        form: dict[str, str] = {"caption": request.text}
        if media.kind is MediaKind.IMAGE:
            mode = "image_url"
            form["image_url"] = str(request.media_url)
        else:
            options = InstagramOptions.read(request.options)
            form["media_type"] = "REELS"
            form["share_to_feed"] = "true" if options.share_to_feed else "false"
            if options.thumb_offset is not None:
                form["thumb_offset"] = str(options.thumb_offset)
            if request.media_url and options.instagram_source == "url":
                mode = "video_url"
                form["video_url"] = request.media_url
            else:
                mode = "resumable"
                form["upload_type"] = "resumable"
        data = self._graph("POST", f"{request.account_external_id}/media", creds, data=form)
        container_id = data.get("id")
        if not isinstance(container_id, str | int) or not str(container_id):
            raise PlatformError(
                ErrorKind.TRANSIENT, "missing_container_id", "no container id came back", raw=data
            )
        new: dict[str, Any] = {
            "phase": "poll",
            "mode": mode,
            "container_id": str(container_id),
            "container_created_at": self.clock.now().isoformat(),
            "total": media.size,
            "polls": 0,
        }
        if "restarts" in session:
            new["restarts"] = session["restarts"]
        event_data = {"container_id": str(container_id), "mode": mode}
        if mode == "resumable":
            uri = data.get("uri")
            if not isinstance(uri, str) or not uri:
                raise PlatformError(
                    ErrorKind.TRANSIENT, "missing_upload_uri", "no rupload uri came back", raw=data
                )
            new.update(phase="upload", upload_uri=uri, progress_decile=0)
            result = upload_step(new, session, 0, media.size)
            result.event, result.event_data = "upload_started", event_data
            return result
        return StepResult(
            new, TargetStatus.PROCESSING, event="upload_started", event_data=event_data
        )

    def _upload(self, media: MediaFile, session: dict[str, Any], creds: Credentials) -> StepResult:
        total = int(session.get("total") or media.size)
        # [U] the confirmed offset: what the upload host says it holds (see module docstring).
        status = self._graph(
            "GET", str(session["container_id"]), creds, params={"fields": "video_status"}
        )
        uploading = (status.get("video_status") or {}).get("uploading_phase") or {}
        offset = int(uploading.get("bytes_transferred") or 0)
        if offset < total:
            response = send(
                self.http,
                "POST",
                str(session["upload_uri"]),
                content=media.iter_range(offset, total - offset),
                headers={
                    "Authorization": f"OAuth {creds.access_token}",
                    "offset": str(offset),
                    "file_size": str(total),
                    "Content-Length": str(total - offset),
                    "Content-Type": "application/octet-stream",
                },
            )
            body = json_body(response)
            if response.status_code != 200 or not (
                isinstance(body, dict) and body.get("success") is True
            ):
                raise classify_rupload(response)
        new = {**session, "phase": "poll", "polls": 0}
        result = upload_step(new, session, total, total)
        result.status = TargetStatus.PROCESSING
        result.event = "upload_complete"
        result.event_data = {"container_id": session["container_id"], "resumed_at": offset}
        return result

    def _poll(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        container_id = str(session["container_id"])
        data = self._graph("GET", container_id, creds, params={"fields": "status_code,status"})
        state = data.get("status_code")
        if state == "FINISHED":
            return StepResult({**session, "phase": "quota"}, TargetStatus.PUBLISHING)
        if state == "PUBLISHED":
            return self._found_published(request, session, creds)
        if state == "EXPIRED":
            return self._fresh_container(session, "the container expired before publishing")
        if state == "ERROR":
            error = classify_container_error(str(data.get("status") or ""))
            error.raw = data
            if error.kind is ErrorKind.TRANSIENT:
                return self._fresh_container(session, error.message)
            raise error
        # Meta advises polling about once a minute; the engine's poll interval is the knob.
        return poll_step(
            session, self.poll_seconds, container_id=container_id, status=data.get("status")
        )

    def _quota(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        now = self.clock.now()
        since = int((now - timedelta(seconds=QUOTA_WINDOW_SECONDS)).timestamp())
        body = self._graph(
            "GET",
            f"{request.account_external_id}/content_publishing_limit",
            creds,
            params={"fields": "quota_usage,config", "since": str(since)},
        )
        rows = body.get("data") or [{}]
        row = rows[0] if isinstance(rows[0], dict) else {}
        usage = int(row.get("quota_usage") or 0)
        total = int((row.get("config") or {}).get("quota_total") or 0)
        if total and usage >= total:
            times = [t for _, _, t in self._recent_media(request, creds, pages=2)]
            raise PlatformError(
                ErrorKind.QUOTA,
                "publishing_quota_used",
                f"{usage} of {total} posts were published in the last 24 h",
                retry_after=quota_wait(times, total, now),
                raw=body,
            )
        return StepResult({**session, "phase": "publish"}, TargetStatus.PUBLISHING)

    def _publish(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        try:
            data = self._graph(
                "POST",
                f"{request.account_external_id}/media_publish",
                creds,
                data={"creation_id": str(session["container_id"])},
            )
        except PlatformError as exc:
            if is_not_ready(exc):
                # 9007/2207027 is a definite "not yet": nothing was published, poll again.
                return StepResult(
                    {**cleared, "phase": "poll"},
                    TargetStatus.PROCESSING,
                    wait_seconds=self.poll_seconds,
                )
            raise
        media_id = data.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise OutcomeUnknown("media_publish answered without a media id", raw=data)
        return StepResult(
            {**cleared, "phase": "permalink", "media_id": str(media_id)},
            TargetStatus.PUBLISHING,
            external_id=str(media_id),
            event="published",
            event_data={"media_id": str(media_id)},
        )

    def _permalink(self, session: dict[str, Any], creds: Credentials) -> StepResult:
        media_id = str(session["media_id"])
        data = self._graph("GET", media_id, creds, params={"fields": "permalink"})
        permalink = data.get("permalink")
        return StepResult(
            {**session, "phase": "done", "permalink": permalink},
            TargetStatus.PUBLISHED,
            external_id=media_id,
            external_url=str(permalink) if permalink else None,
        )

    # -- reconcile helpers ------------------------------------------------------------------

    def _recent_media(
        self,
        request: PublishRequest,
        creds: Credentials,
        *,
        pages: int,
        back_to: datetime | None = None,
    ) -> list[tuple[str, str, datetime]]:
        """(id, caption, timestamp) of the account's newest media, newest first; stops at the
        first page that reaches media older than `back_to`."""
        found: list[tuple[str, str, datetime]] = []
        params = {"fields": "id,caption,timestamp", "limit": "50"}
        for _ in range(pages):
            body = self._graph("GET", f"{request.account_external_id}/media", creds, params=params)
            for item in body.get("data") or []:
                when = parse_timestamp(item.get("timestamp"))
                if isinstance(item, dict) and item.get("id") and when is not None:
                    found.append((str(item["id"]), str(item.get("caption") or ""), when))
            if back_to is not None and found and found[-1][2] < back_to:
                break
            after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (body.get("paging") or {}).get("next"):
                break
            params = {**params, "after": str(after)}
        return found

    def _found_published(
        self, request: PublishRequest, session: dict[str, Any], creds: Credentials
    ) -> StepResult:
        """The container was published: find its media by caption and time, then its link."""
        created = datetime.fromisoformat(str(session["container_created_at"])) - CLOCK_SLACK
        # A busy account may have published many times since: page back to the container's
        # creation, or the media is missed and the target never leaves `unconfirmed`.
        recent = self._recent_media(request, creds, pages=RECONCILE_PAGES, back_to=created)
        matches = [
            (when, media_id)
            for media_id, text, when in recent
            if text.strip() == request.text.strip() and when >= created
        ]
        if not matches:
            # Published but not listed (yet): keep reconciling rather than risk a second post.
            raise OutcomeUnknown(
                f"container {session['container_id']} is PUBLISHED but its media is not listed"
            )
        media_id = min(matches)[1]  # the earliest match after the container was made
        cleared = {k: v for k, v in session.items() if k != "commit_attempted"}
        result = self._permalink({**cleared, "phase": "permalink", "media_id": media_id}, creds)
        result.event, result.event_data = "reconciled", {"media_id": media_id}
        return result
