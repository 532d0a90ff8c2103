"""Fake TikTok Content Posting API: creator info, direct and inbox posts, uploads, status, OAuth.

Written from PLATFORM_PROTOCOLS.md §3, never from our client. Chunks are streamed into a copy
of the running sha256 and committed only when the whole chunk arrived, so an interrupted chunk
leaves nothing behind and the client re-sends it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import (
    AbortConnection,
    Account,
    FakeConfig,
    PlatformFake,
    RateWindow,
    drain,
    header_int,
    iso_time,
    mount_base,
    unique_id,
)
from crosspost.fakes.engagement import engagement
from crosspost.fakes.tiktok_photos import PhotoInit, check_photo_init
from crosspost.fakes.tiktok_rules import (
    Publish,
    check_chunk,
    check_file_upload,
    check_post_info,
    oauth_error,
    ok,
    tiktok_error,
)
from crosspost.fakes.tokens import OAuthRefusal, revoke_request, token_request

_SCOPES = "user.info.basic,video.publish,video.upload,video.list"
# The fields the Display API's video object has (developers.tiktok.com, Video Object).
_VIDEO_FIELDS = frozenset({
    "id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
    "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
    "share_count", "view_count",
})  # fmt: skip
_MAX_VIDEO_IDS = 20


class TikTokFake(PlatformFake):
    """The TikTok fake; mount it under ``/tiktok``."""

    access_prefix = "act.fake-"
    authorize_path = "/v2/auth/authorize/"  # on www.tiktok.com
    client_id_param = "client_key"
    refresh_prefix = "rft.fake-"
    scopes = tuple(_SCOPES.split(","))

    def __init__(self, config: FakeConfig | None = None, *, name: str = "tiktok") -> None:
        super().__init__(config, name=name)
        self.windows = RateWindow(self.config.clock)
        self.publishes: dict[str, Publish] = {}
        self._by_upload: dict[str, Publish] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def api_routes(self) -> list[BaseRoute]:
        """Paths of open.tiktokapis.com and of the upload host."""
        return [
            Route("/v2/post/publish/creator_info/query/", self._creator_info, methods=["POST"]),
            Route("/v2/post/publish/video/init/", self._direct_init, methods=["POST"]),
            Route("/v2/post/publish/inbox/video/init/", self._inbox_init, methods=["POST"]),
            Route("/v2/post/publish/content/init/", self._content_init, methods=["POST"]),
            Route("/v2/post/publish/status/fetch/", self._status_fetch, methods=["POST"]),
            Route("/v2/oauth/token/", self._token, methods=["POST"]),
            Route("/v2/oauth/revoke/", self._revoke, methods=["POST"]),
            Route("/v2/user/info/", self._user_info, methods=["GET"]),
            Route("/v2/video/query/", self._video_query, methods=["POST"]),
            Route("/video/", self._upload, methods=["PUT"]),
        ]

    def default_access_ttl(self) -> float:
        """Access-token lifetime from the config (24 h by default)."""
        return float(self.config.tiktok_access_ttl_seconds)

    def refresh_ttl(self) -> float | None:
        """Refresh tokens expire too."""
        return float(self.config.tiktok_refresh_ttl_seconds)

    def new_external_id(self) -> str:
        """An open_id."""
        return "-000" + unique_id(32, "0123456789abcdef")

    def error_response(self, status: int, message: str) -> Response:
        """TikTok's envelope: ``internal_error`` for a 5xx, ``invalid_params`` otherwise."""
        code = "internal_error" if status >= 500 else "invalid_params"
        return tiktok_error(status, code, message)

    def server_error(self) -> Response:
        """TikTok's 500 internal_error."""
        return tiktok_error(500, "internal_error", "Something went wrong. Please try again later.")

    def rate_limited(self) -> Response:
        """TikTok's 429 rate_limit_exceeded (TikTok documents no Retry-After)."""
        return tiktok_error(
            429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."
        )

    def clear_state(self) -> None:
        """Forget publishes, rate windows and running pulls."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.publishes.clear()
        self._by_upload.clear()
        self.windows.clear()

    def status_of(self, publish: Publish) -> str:
        """The status TikTok would report now (processing is judged lazily)."""
        if publish.pull_failed:
            return "FAILED"
        waiting = "PROCESSING_UPLOAD" if publish.source == "FILE_UPLOAD" else "PROCESSING_DOWNLOAD"
        if publish.completed_at is None:
            return waiting
        if self.now() < publish.completed_at + publish.processing_seconds:
            return waiting
        if publish.fails:
            return "FAILED"
        return "SEND_TO_USER_INBOX" if publish.inbox else "PUBLISH_COMPLETE"

    def _fail_reason(self, publish: Publish) -> str:
        return "video_pull_failed" if publish.pull_failed else self.config.tiktok_fail_reason

    def state(self) -> dict[str, Any]:
        """Posts (publishes whose bytes all arrived), every publish, calls, open uploads."""
        publishes = []
        for p in self.publishes.values():
            status = self.status_of(p)
            publishes.append(
                {
                    "id": p.publish_id,
                    "post_id": str(p.post_id) if p.post_id else None,
                    "account_external_id": p.account.external_id,
                    "handle": p.account.handle,
                    "caption": p.post_info.get("title", ""),
                    "title": p.post_info.get("title", ""),
                    "privacy": p.post_info.get("privacy_level"),
                    "mode": "inbox" if p.inbox else "direct",
                    "source": p.source,
                    "size": p.received,
                    "sha256": p.hasher.hexdigest() if p.completed_at is not None else None,
                    "status": status,
                    "fail_reason": self._fail_reason(p) if status == "FAILED" else None,
                    "created_at": iso_time(p.created_at),
                    "complete": p.completed_at is not None,
                    "photos": list(p.photo_sha256),
                    "description": p.post_info.get("description"),
                }
            )
        now = self.now()
        ttl = self.config.tiktok_upload_url_ttl_seconds
        open_sessions = sum(
            1
            for p in self.publishes.values()
            if p.source == "FILE_UPLOAD" and p.completed_at is None and now < p.created_at + ttl
        )
        return {
            "platform": "tiktok",
            "posts": [p for p in publishes if p["complete"]],
            "publishes": publishes,
            "open_sessions": open_sessions,
            "calls": dict(self.calls),
        }

    # -- helpers -------------------------------------------------------------------------

    async def _gate(self, request: Request, operation: str, per_minute: int) -> Account | Response:
        """Count the call, apply faults, authenticate and apply the per-token rate limit."""
        self.calls[operation] += 1
        refused = await self.injected_fault()
        if refused is None:
            result = self.tokens.authenticate(request.headers.get("authorization"))
            if not isinstance(result, Account):
                refused = tiktok_error(
                    401,
                    "access_token_invalid",
                    "The access token is invalid or not found in the request.",
                )
            else:
                token = request.headers["authorization"].partition(" ")[2].strip()
                if self.windows.allow(f"{operation}:{token}", per_minute):
                    return result
                refused = self.rate_limited()
        await drain(request)
        return refused

    @staticmethod
    async def _json_body(request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            await drain(request)
            return tiktok_error(400, "invalid_params", "Content-Type must be application/json.")
        try:
            body = await request.json()
        except ValueError:
            return tiktok_error(400, "invalid_params", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return tiktok_error(400, "invalid_params", "The request body must be a JSON object.")
        return body

    def _spam_cap(self) -> Response:
        return tiktok_error(
            403,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        )

    # -- creator info, init, status --------------------------------------------------------

    async def _creator_info(self, request: Request) -> Response:
        account = await self._gate(
            request, "creator_info.query", self.config.tiktok_creator_info_per_minute
        )
        if isinstance(account, Response):
            return account
        await drain(request)
        if self.faults.quota_exhausted:
            return self._spam_cap()
        handle = account.handle
        return ok(
            {
                "creator_avatar_url": f"https://p16-sign.tiktokcdn-us.com/{account.external_id}",
                "creator_username": handle,
                "creator_nickname": handle,
                "privacy_level_options": list(self.config.tiktok_privacy_level_options),
                "comment_disabled": self.config.tiktok_comment_disabled,
                "duet_disabled": self.config.tiktok_duet_disabled,
                "stitch_disabled": self.config.tiktok_stitch_disabled,
                "max_video_post_duration_sec": self.config.tiktok_max_video_post_duration_sec,
            }
        )

    async def _direct_init(self, request: Request) -> Response:
        return await self._init(request, inbox=False)

    async def _inbox_init(self, request: Request) -> Response:
        return await self._init(request, inbox=True)

    async def _init(self, request: Request, *, inbox: bool) -> Response:
        operation = "inbox.video.init" if inbox else "video.init"
        account = await self._gate(request, operation, self.config.tiktok_init_per_minute)
        if isinstance(account, Response):
            return account
        body = await self._json_body(request)
        if isinstance(body, Response):
            return body
        if self.faults.quota_exhausted:
            return self._spam_cap()
        post_info: dict[str, Any] = {}
        if not inbox:
            checked = check_post_info(body.get("post_info"), self.config)
            if isinstance(checked, tuple):
                return tiktok_error(*checked)
            post_info = checked
        source_info = body.get("source_info")
        if not isinstance(source_info, dict):
            return tiktok_error(400, "invalid_params", "source_info is required.")
        source = source_info.get("source")
        kind = "inbox" if inbox else "pub"
        if source == "FILE_UPLOAD":
            problem = check_file_upload(source_info)
            if problem:
                return tiktok_error(400, "invalid_params", problem)
            publish = self._new_publish(account, inbox, source, post_info, kind + "_file")
            publish.video_size = source_info["video_size"]
            publish.chunk_size = source_info["chunk_size"]
            publish.chunk_count = source_info["total_chunk_count"]
            publish.upload_id, publish.upload_token = unique_id(24), secrets.token_urlsafe(24)
            self._by_upload[publish.upload_id] = publish
            upload_url = (
                f"{mount_base(request)}/video/"
                f"?upload_id={publish.upload_id}&upload_token={publish.upload_token}"
            )
            return ok({"publish_id": publish.publish_id, "upload_url": upload_url})
        if source == "PULL_FROM_URL":
            url = source_info.get("video_url")
            if not isinstance(url, str) or not url:
                return tiktok_error(400, "invalid_params", "video_url is required.")
            if not any(url.startswith(p) for p in self.config.tiktok_verified_url_prefixes):
                return tiktok_error(
                    403,
                    "url_ownership_unverified",
                    "Please review our URL ownership verification rules.",
                )
            publish = self._new_publish(account, inbox, source, post_info, kind + "_url")
            publish.video_url = url
            task = asyncio.get_running_loop().create_task(self._pull(publish))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return ok({"publish_id": publish.publish_id})
        return tiktok_error(400, "invalid_params", "source must be FILE_UPLOAD or PULL_FROM_URL.")

    async def _content_init(self, request: Request) -> Response:
        """Photo posts (media_type PHOTO): TikTok fetches every photo from its URL."""
        account = await self._gate(request, "content.init", self.config.tiktok_init_per_minute)
        if isinstance(account, Response):
            return account
        body = await self._json_body(request)
        if isinstance(body, Response):
            return body
        if self.faults.quota_exhausted:
            return self._spam_cap()
        checked = check_photo_init(body, self.config)
        if not isinstance(checked, PhotoInit):
            return tiktok_error(*checked)
        kind = "inbox_photo" if checked.inbox else "pub_photo"
        publish = self._new_publish(account, checked.inbox, "PULL_FROM_URL", checked.post_info,
                                    kind)  # fmt: skip
        publish.photo_urls = checked.urls
        task = asyncio.get_running_loop().create_task(self._pull_photos(publish))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ok({"publish_id": publish.publish_id})

    async def _pull_photos(self, publish: Publish) -> None:
        """Fetch each photo in turn, as for a pulled video; one failure fails the post."""
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=60.0) as client:
                for url in publish.photo_urls:
                    response = await client.get(url)
                    if response.status_code != 200:
                        publish.pull_failed = True
                        return
                    publish.hasher.update(response.content)
                    publish.received += len(response.content)
                    publish.photo_sha256.append(hashlib.sha256(response.content).hexdigest())
        except httpx.HTTPError:
            publish.pull_failed = True
            return
        self._complete(publish)

    def _new_publish(
        self, account: Account, inbox: bool, source: str, post_info: dict[str, Any], kind: str
    ) -> Publish:
        publish_id = f"v_{kind}~v2-1.{unique_id(19, '0123456789')}"
        publish = Publish(publish_id, account, inbox, source, post_info, self.now())
        self.publishes[publish_id] = publish
        return publish

    async def _status_fetch(self, request: Request) -> Response:
        account = await self._gate(request, "status.fetch", self.config.tiktok_status_per_minute)
        if isinstance(account, Response):
            return account
        body = await self._json_body(request)
        if isinstance(body, Response):
            return body
        publish = self.publishes.get(str(body.get("publish_id", "")))
        if publish is None or publish.account is not account:
            return tiktok_error(400, "invalid_params", "publish_id does not exist.")
        status = self.status_of(publish)
        data: dict[str, Any] = {"status": status, "publicaly_available_post_id": []}
        if publish.source == "FILE_UPLOAD":
            data["uploaded_bytes"] = publish.received
        else:
            data["downloaded_bytes"] = publish.received
        if status == "FAILED":
            data["fail_reason"] = self._fail_reason(publish)
        elif status == "PUBLISH_COMPLETE":
            data["publicaly_available_post_id"] = [publish.post_id]
        return ok(data)

    async def _video_query(self, request: Request) -> Response:
        """POST /v2/video/query/?fields=…: the caller's own published videos among
        `filters.video_ids` (1 to 20); an id that is not one of them is simply absent."""
        account = await self._gate(
            request, "video.query", self.config.tiktok_video_query_per_minute
        )
        if isinstance(account, Response):
            return account
        body = await self._json_body(request)
        if isinstance(body, Response):
            return body
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        unknown = sorted(set(fields) - _VIDEO_FIELDS)
        if not fields or unknown:
            why = f"unknown fields: {', '.join(unknown)}" if unknown else "fields is required"
            return tiktok_error(400, "invalid_params", why)
        filters = body.get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= _MAX_VIDEO_IDS
            or not all(isinstance(i, str) for i in ids)
        ):
            return tiktok_error(
                400, "invalid_params", f"filters.video_ids must list 1 to {_MAX_VIDEO_IDS} ids"
            )
        videos = [
            self._video(p, fields)
            for p in self.publishes.values()
            if p.account is account
            and str(p.post_id) in ids
            and self.status_of(p) == "PUBLISH_COMPLETE"
        ]
        return ok({"videos": videos, "cursor": 0, "has_more": False})

    def _video(self, publish: Publish, fields: list[str]) -> dict[str, Any]:
        assert publish.completed_at is not None  # only complete publishes are videos
        live_at = publish.completed_at + publish.processing_seconds
        grown = engagement(str(publish.post_id), self.now() - live_at)
        title = str(publish.post_info.get("title", ""))
        handle = publish.account.handle
        values: dict[str, Any] = {
            "id": str(publish.post_id),
            "create_time": int(live_at),
            "cover_image_url": f"https://p16-sign.tiktokcdn.com/{publish.post_id}~cover.jpeg",
            "share_url": f"https://www.tiktok.com/@{handle}/video/{publish.post_id}",
            "video_description": title,
            "duration": 0,
            "height": 1920,
            "width": 1080,
            "title": title,
            "embed_html": f'<blockquote class="tiktok-embed" data-video-id="{publish.post_id}">',
            "embed_link": f"https://www.tiktok.com/embed/v2/{publish.post_id}",
            "like_count": grown.likes,
            "comment_count": grown.comments,
            "share_count": grown.shares,
            "view_count": grown.views,
        }
        return {name: values[name] for name in fields}

    def _complete(self, publish: Publish) -> None:
        publish.completed_at = self.now()
        publish.processing_seconds = self.faults.processing_seconds
        publish.fails = self.chance(self.faults.processing_fail_rate)
        publish.post_id = 7_000_000_000_000_000_000 + int(unique_id(18, "0123456789"))

    async def _pull(self, publish: Publish) -> None:
        """Download a PULL_FROM_URL video the way TikTok does: streamed, no redirects."""
        try:
            async with (
                httpx.AsyncClient(follow_redirects=False, timeout=60.0) as client,
                client.stream("GET", publish.video_url) as response,
            ):
                if response.status_code != 200:
                    publish.pull_failed = True
                    return
                async for piece in response.aiter_bytes():
                    publish.hasher.update(piece)
                    publish.received += len(piece)
        except httpx.HTTPError:
            publish.pull_failed = True
            return
        self._complete(publish)

    # -- upload host -----------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        self.calls["video.upload"] += 1
        fault = await self.injected_fault()
        publish = self._by_upload.get(request.query_params.get("upload_id", ""))
        if publish and publish.upload_token != request.query_params.get("upload_token"):
            publish = None
        if fault is not None or publish is None:
            await drain(request)
            return fault or tiktok_error(404, "invalid_params", "The upload URL is not valid.")
        async with publish.lock:
            return await self._put(publish, request)

    async def _put(self, publish: Publish, request: Request) -> Response:
        def reject(message: str, status: int = 400) -> Response:
            return tiktok_error(status, "invalid_file_upload", message)

        if publish.completed_at is not None:
            await drain(request)
            return Response(status_code=201)
        if self.now() >= publish.created_at + self.config.tiktok_upload_url_ttl_seconds:
            await drain(request)
            return reject("The upload URL has expired; initialize a new post.", 403)
        length = header_int(request, "content-length")
        first = check_chunk(
            publish,
            request.headers.get("content-type", ""),
            length,
            request.headers.get("content-range", ""),
        )
        if isinstance(first, str) or length is None:
            await drain(request)
            return reject(first if isinstance(first, str) else "Content-Length is required.")
        if first < publish.received:
            await drain(request)  # a re-sent chunk that already arrived
            return Response(status_code=206)
        cut = None
        if length > 1 and self.chance(self.faults.reset_mid_chunk_rate):
            cut = self.rng.randint(1, length - 1)
        hasher = publish.hasher.copy()
        read = 0
        try:
            async for piece in request.stream():
                if cut is not None and read + len(piece) >= cut:
                    break
                hasher.update(piece)
                read += len(piece)
        except ClientDisconnect:
            return reject("The connection closed before the chunk arrived.")
        if cut is not None:
            return AbortConnection()
        publish.hasher = hasher
        publish.received += read
        if publish.received < publish.video_size:
            return Response(status_code=206)
        self._complete(publish)
        if self.take_drop_after_commit():
            return AbortConnection()
        return Response(status_code=201)

    # -- open.tiktokapis.com/v2/oauth/token/ -----------------------------------------------

    async def _user_info(self, request: Request) -> Response:
        """GET /v2/user/info/: the token's user (``fields`` names what to return)."""
        account = await self._gate(request, "user.info", 600)
        if isinstance(account, Response):
            return account
        fields = set(request.query_params.get("fields", "").split(","))
        if not fields - {""}:
            return tiktok_error(400, "invalid_params", "fields is required")
        user = {"open_id": account.external_id, "display_name": account.handle}
        return JSONResponse(
            {
                "data": {"user": {k: v for k, v in user.items() if k in fields}},
                "error": {"code": "ok", "message": "", "log_id": unique_id(32)},
            }
        )

    async def _revoke(self, request: Request) -> Response:
        """TikTok's revocation: client_key, client_secret and the access token; the user's
        authorization of the app ends."""
        self.calls["oauth.revoke"] += 1
        client = (self.config.client_id, self.config.client_secret)
        result = await revoke_request(
            request, self.tokens, client=client, client_field="client_key"
        )
        if isinstance(result, OAuthRefusal):
            return oauth_error(result.status, result.error, result.description)
        return JSONResponse({})

    async def _token(self, request: Request) -> Response:
        self.calls["oauth.token"] += 1
        await self.injected_latency()
        result = await token_request(
            request,
            self.tokens,
            client=(self.config.client_id, self.config.client_secret),
            client_field="client_key",
            rotate=True,  # the old refresh token stops working
            invalid_grant="Refresh token is invalid or expired.",
        )
        if isinstance(result, OAuthRefusal):
            return oauth_error(result.status, result.error, result.description)
        return JSONResponse(
            {
                "access_token": result.access_token,
                "expires_in": result.expires_in,
                "open_id": result.account.external_id,
                "refresh_expires_in": self.config.tiktok_refresh_ttl_seconds,
                "refresh_token": result.refresh_token,
                "scope": _SCOPES,
                "token_type": "Bearer",
            }
        )
