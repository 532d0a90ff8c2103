"""Fake LinkedIn Videos API + Posts API + OAuth refresh, with fault injection.

Written from PLATFORM_PROTOCOLS.md §5, never from our client. Upload parts are streamed to
files in a private temp folder (never held in memory) and hashed in order at finalize; a part
cut mid-transfer leaves nothing behind, so the client simply re-PUTs it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tempfile
import weakref
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import (
    AbortConnection,
    Account,
    FakeConfig,
    PlatformFake,
    drain,
    header_int,
    iso_time,
    mount_base,
    unique_id,
)
from crosspost.fakes.engagement import Engagement, engagement
from crosspost.fakes.linkedin_comments import Comments
from crosspost.fakes.linkedin_images import Images, content_images
from crosspost.fakes.linkedin_rules import (
    PART_BYTES,
    LinkedInLimits,
    Part,
    Post,
    Video,
    check_post_body,
    check_restli,
    check_version,
    li_error,
    may_act_as,
    oauth_error,
    person_urn,
    render_little,
)
from crosspost.fakes.tokens import AuthFailure, OAuthRefusal, revoke_request, token_request

_SCOPES = ("openid", "profile", "w_member_social", "r_member_postAnalytics")
MEMBER_METRICS = ("IMPRESSION", "MEMBERS_REACHED", "RESHARE", "REACTION", "COMMENT")
_METRIC_TYPE = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"
_ENTITY = re.compile(r"\((share|ugcPost):(urn%3Ali%3A(?:share|ugcPost)%3A\d+)\)")
_LIST = re.compile(r"List\(([^()]*)\)")
_DIGITS = "0123456789"
_AUTH_ERRORS = {
    AuthFailure.MISSING: (65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token"),
    AuthFailure.SCHEME: (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    AuthFailure.UNKNOWN: (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    AuthFailure.EXPIRED: (
        65602,
        "EXPIRED_ACCESS_TOKEN",
        "The token used in the request has expired",
    ),
}


class LinkedInFake(PlatformFake):
    """The LinkedIn fake; mount it under ``/linkedin``. Token path: ``/oauth/v2/accessToken``."""

    access_prefix = "AQV"
    authorize_path = "/oauth/v2/authorization"  # on www.linkedin.com
    # LinkedIn's web authorization-code flow has no PKCE (only native apps get it, on request);
    # the client secret authenticates the code exchange.
    pkce_required = False
    refresh_prefix = "AQX"
    scopes = _SCOPES

    def __init__(
        self,
        config: FakeConfig | None = None,
        *,
        limits: LinkedInLimits | None = None,
        name: str = "linkedin",
    ) -> None:
        self.limits = limits or LinkedInLimits()  # before super(): refresh_ttl() reads it
        super().__init__(config, name=name)
        self.videos: dict[str, Video] = {}
        self.posts: list[Post] = []
        # Deleted posts' URNs and authors: deleting one again is answered 204 (idempotent).
        self.deleted: dict[str, str] = {}
        self.comments = Comments(self._now_ms, self.limits)
        self.images = Images(self.now, self.limits)
        self._folder = Path(tempfile.mkdtemp(prefix="linkedin-fake-"))
        # Part files live on disk; remove them when the fake goes away.
        weakref.finalize(self, shutil.rmtree, self._folder, True)

    def api_routes(self) -> list[BaseRoute]:
        """Paths of api.linkedin.com, of the upload host and of www.linkedin.com/oauth."""
        return [
            Route("/rest/videos", self._videos_action, methods=["POST"]),
            Route("/rest/videos/{urn}", self._video_get, methods=["GET"]),
            Route("/rest/posts", self._posts, methods=["GET", "POST"]),
            Route("/rest/posts/{urn}", self._post_by_urn, methods=["GET", "DELETE"]),
            Route("/rest/socialActions/{urn}/comments", self._comments, methods=["GET", "POST"]),
            Route("/rest/images", self._images_action, methods=["POST"]),
            Route("/rest/images/{urn}", self._image_get, methods=["GET"]),
            Route("/dms-uploads/image/{image_id}", self._image_upload, methods=["PUT"]),
            Route("/rest/memberCreatorPostAnalytics", self._member_analytics, methods=["GET"]),
            Route(
                "/rest/organizationalEntityShareStatistics",
                self._share_statistics,
                methods=["GET"],
            ),
            Route("/dms-uploads/sp/{video_id}/{index:int}", self._upload, methods=["PUT"]),
            Route("/oauth/v2/accessToken", self._token, methods=["POST"]),
            Route("/oauth/v2/revoke", self._revoke, methods=["POST"]),
            Route("/v2/userinfo", self._userinfo, methods=["GET"]),
        ]

    def default_access_ttl(self) -> float:
        """60 days."""
        return float(self.limits.access_ttl_seconds)

    def refresh_ttl(self) -> float | None:
        """365 days from consent; a refresh does not extend it."""
        return float(self.limits.refresh_ttl_seconds)

    def new_external_id(self) -> str:
        """A member id such as ``yrZCpj2Z12``."""
        return unique_id(10)

    def error_response(self, status: int, message: str) -> Response:
        """LinkedIn's error JSON, its ``code`` the status name (e.g. ``NOT_FOUND``)."""
        return li_error(status, HTTPStatus(status).name, message)

    def server_error(self) -> Response:
        """LinkedIn's 500."""
        return li_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")

    def rate_limited(self) -> Response:
        """LinkedIn's 429 (it documents no Retry-After)."""
        return li_error(429, "TOO_MANY_REQUESTS", "Too many requests. Please retry later.", 101)

    def quota_exceeded(self) -> Response:
        """The 429 of a spent daily quota (resets at midnight UTC)."""
        return li_error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            101,
        )

    def clear_state(self) -> None:
        """Forget videos (and their part files) and posts."""
        self.videos.clear()
        self.posts.clear()
        self.deleted.clear()
        self.comments.comments.clear()
        self.images.images.clear()
        shutil.rmtree(self._folder, ignore_errors=True)
        self._folder.mkdir(parents=True, exist_ok=True)

    def video_status(self, video: Video) -> str:
        """WAITING_UPLOAD until finalized, then PROCESSING, then AVAILABLE or PROCESSING_FAILED."""
        if video.finalized_at is None:
            return "WAITING_UPLOAD"
        if self.now() < video.finalized_at + video.processing_seconds:
            return "PROCESSING"
        return "PROCESSING_FAILED" if video.fails else "AVAILABLE"

    def state(self) -> dict[str, Any]:
        """Posts (with their video's bytes), videos, calls."""
        return {
            "platform": "linkedin",
            "posts": [self._post_view(p) for p in self.posts],
            "comments": self.comments.state(),
            "images": self.images.state(),
            "videos": [
                {
                    "id": v.urn,
                    "owner": v.owner,
                    "size": v.size,
                    "received": v.received,
                    "parts": len(v.parts),
                    "status": self.video_status(v),
                    "sha256": v.sha256,
                }
                for v in self.videos.values()
            ],
            "calls": dict(self.calls),
        }

    def _post_view(self, post: Post) -> dict[str, Any]:
        video = post.video
        return {
            "id": post.urn,
            "account_external_id": post.account.external_id,
            "author": post.author,
            "caption": post.text,
            "text": post.text,
            "commentary": post.commentary,
            "truncated": post.truncated,
            "visibility": post.visibility,
            "video": video.urn if video else None,
            "images": list(post.images),
            "title": post.title,
            "size": video.size if video else 0,
            "sha256": video.sha256 if video else None,
            "status": "PUBLISHED",
            "created_at": iso_time(post.created_at),
        }

    # -- helpers -------------------------------------------------------------------------

    async def _userinfo(self, request: Request) -> Response:
        """GET /v2/userinfo (OpenID Connect): the member behind the token."""
        self.calls["userinfo"] += 1
        refused = await self.injected_fault()
        if refused is not None:
            return refused
        account = self.tokens.authenticate(request.headers.get("authorization"))
        if not isinstance(account, Account):
            return li_error(
                401,
                "REVOKED_ACCESS_TOKEN",
                "The token used in the request has been revoked by the user",
            )
        return JSONResponse(
            {"sub": account.external_id, "name": account.handle, "email_verified": False}
        )

    async def _gate(self, request: Request, operation: str) -> Account | Response:
        """Count the call, apply faults, then check auth, LinkedIn-Version and Rest.li 2.0."""
        self.calls[operation] += 1
        refused = await self.injected_fault()
        if refused is None:
            result = self.tokens.authenticate(request.headers.get("authorization"))
            if isinstance(result, AuthFailure):
                service, code, message = _AUTH_ERRORS[result]
                refused = li_error(401, code, message, service)
            else:
                refused = check_version(
                    request.headers.get("linkedin-version"), self.limits
                ) or check_restli(request)
                if refused is None:
                    return result
        await drain(request)
        return refused

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            await drain(request)
            return li_error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            return li_error(400, "BAD_REQUEST", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return li_error(400, "BAD_REQUEST", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _denied(what: str) -> Response:
        return li_error(403, "ACCESS_DENIED", f"Not enough permissions to access: {what}", 100)

    def _now_ms(self) -> int:
        return int(self.now() * 1000)

    # -- videos ----------------------------------------------------------------------------

    async def _videos_action(self, request: Request) -> Response:
        action = request.query_params.get("action")
        if action == "initializeUpload":
            return await self._initialize(request)
        if action == "finalizeUpload":
            return await self._finalize(request)
        self.calls["videos.unknown"] += 1
        await drain(request)
        return li_error(400, "ILLEGAL_ARGUMENT", f"Unknown action: {action}")

    async def _initialize(self, request: Request) -> Response:
        account = await self._gate(request, "videos.initializeUpload")
        if isinstance(account, Response):
            return account
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        init = body.get("initializeUploadRequest")
        if not isinstance(init, dict):
            return li_error(
                422, "UNPROCESSABLE_ENTITY", "ERROR :: /initializeUploadRequest :: required"
            )
        owner, size = init.get("owner"), init.get("fileSizeBytes")
        if not isinstance(owner, str) or not owner:
            return li_error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /owner :: required")
        if not isinstance(size, int) or isinstance(size, bool):
            return li_error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /fileSizeBytes :: required")
        for flag in ("uploadCaptions", "uploadThumbnail"):
            if flag in init and not isinstance(init[flag], bool):
                return li_error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /{flag} :: not a boolean")
        if not may_act_as(account, owner, self.limits):
            return self._denied(f"videos.initializeUpload as {owner}")
        if not self.limits.min_video_bytes <= size <= self.limits.max_video_bytes:
            return li_error(
                400,
                "BAD_REQUEST",
                f"fileSizeBytes must be between {self.limits.min_video_bytes} and "
                f"{self.limits.max_video_bytes}",
            )
        if self.faults.quota_exhausted:
            return self.quota_exceeded()
        video_id = "C5" + unique_id(14, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        parts = [
            Part(start, min(start + PART_BYTES, size) - 1, secrets.token_urlsafe(16))
            for start in range(0, size, PART_BYTES)
        ]
        folder = self._folder / video_id
        folder.mkdir(parents=True)
        video = Video(
            urn=f"urn:li:video:{video_id}",
            owner=owner,
            account=account,
            size=size,
            upload_token="" if len(parts) == 1 else secrets.token_urlsafe(24),
            created_at=self.now(),
            expires_at=self.now() + self.limits.upload_url_ttl_seconds,
            parts=parts,
            folder=folder,
        )
        self.videos[video_id] = video
        base = mount_base(request)
        return JSONResponse(
            {
                "value": {
                    "uploadUrlsExpireAt": int(video.expires_at * 1000),
                    "video": video.urn,
                    "uploadInstructions": [
                        {
                            "uploadUrl": f"{base}/dms-uploads/sp/{video_id}/{i}?sau={p.token}",
                            "firstByte": p.first,
                            "lastByte": p.last,
                        }
                        for i, p in enumerate(parts)
                    ],
                    "uploadToken": video.upload_token,
                }
            }
        )

    def _video_by_urn(self, urn: object, account: Account) -> Video | None:
        if not isinstance(urn, str) or not urn.startswith("urn:li:video:"):
            return None
        video = self.videos.get(urn.removeprefix("urn:li:video:"))
        return video if video and video.account is account else None

    async def _finalize(self, request: Request) -> Response:
        account = await self._gate(request, "videos.finalizeUpload")
        if isinstance(account, Response):
            return account
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        final = body.get("finalizeUploadRequest")
        if not isinstance(final, dict):
            return li_error(
                422, "UNPROCESSABLE_ENTITY", "ERROR :: /finalizeUploadRequest :: required"
            )
        video = self._video_by_urn(final.get("video"), account)
        if video is None:
            return li_error(404, "NOT_FOUND", f"Video {final.get('video')} does not exist")
        if final.get("uploadToken") != video.upload_token:
            return li_error(400, "BAD_REQUEST", "uploadToken does not match the upload")
        ids = final.get("uploadedPartIds")
        etags = [p.etag for p in video.parts]
        if not isinstance(ids, list) or len(ids) != len(etags):
            return li_error(
                400, "BAD_REQUEST", f"uploadedPartIds must list the {len(etags)} part ETags"
            )
        missing = [i + 1 for i, etag in enumerate(etags) if etag is None]
        if missing:
            return li_error(400, "BAD_REQUEST", f"Parts {missing} have not been uploaded")
        if ids != etags:
            wrong = "order" if sorted(map(str, ids)) == sorted(map(str, etags)) else "values"
            return li_error(400, "BAD_REQUEST", f"uploadedPartIds do not match the parts ({wrong})")
        if video.finalized_at is None:
            hasher = hashlib.sha256()
            for index in range(len(video.parts)):
                with (video.folder / f"part-{index}").open("rb") as fh:
                    while piece := fh.read(1024 * 1024):
                        hasher.update(piece)
            video.sha256 = hasher.hexdigest()
            video.finalized_at = self.now()
            video.processing_seconds = self.faults.processing_seconds
            video.fails = self.chance(self.faults.processing_fail_rate)
        return Response(status_code=200)

    async def _video_get(self, request: Request) -> Response:
        account = await self._gate(request, "videos.get")
        if isinstance(account, Response):
            return account
        urn = _urn_key(request)
        if isinstance(urn, Response):
            return urn
        video = self._video_by_urn(urn, account)
        if video is None:
            return li_error(404, "NOT_FOUND", f"Video {urn} does not exist")
        status = self.video_status(video)
        body: dict[str, Any] = {"id": video.urn, "owner": video.owner, "status": status}
        if status == "AVAILABLE":
            body["downloadUrl"] = f"https://dms.licdn.com/playlist/vid/{video.urn}"
        if status == "PROCESSING_FAILED":
            body["processingFailureReason"] = "Video processing failed"
        return JSONResponse(body)

    # -- upload host -----------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        self.calls["upload.part"] += 1
        fault = await self.injected_fault()
        video = self.videos.get(request.path_params["video_id"])
        index = int(request.path_params["index"])
        part = video.parts[index] if video and 0 <= index < len(video.parts) else None
        if part is not None and part.token != request.query_params.get("sau"):
            part = None
        if fault is not None or video is None or part is None:
            await drain(request)
            return fault or li_error(404, "NOT_FOUND", "The upload URL is not valid.")
        if self.now() >= video.expires_at:
            await drain(request)
            return li_error(403, "ACCESS_DENIED", "The upload URL has expired.")
        if video.finalized_at is not None:
            await drain(request)
            return li_error(400, "BAD_REQUEST", "The upload has already been finalized.")
        if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/octet-stream"
        ):
            await drain(request)
            return li_error(400, "BAD_REQUEST", "Content-Type must be application/octet-stream")
        expected = part.last - part.first + 1
        length = header_int(request, "content-length")
        if length != expected:
            await drain(request)
            return li_error(
                400, "BAD_REQUEST", f"This part must be bytes {part.first}-{part.last} ({expected})"
            )
        async with video.lock:
            return await self._store_part(request, video, index, part, expected)

    async def _store_part(
        self, request: Request, video: Video, index: int, part: Part, expected: int
    ) -> Response:
        cut = (
            self.rng.randint(1, expected - 1)
            if (expected > 1 and self.chance(self.faults.reset_mid_chunk_rate))
            else None
        )
        partial = video.folder / f"part-{index}.partial"
        read = 0
        try:
            with partial.open("wb") as fh:
                async for piece in request.stream():
                    if cut is not None and read + len(piece) >= cut:
                        break
                    fh.write(piece)
                    read += len(piece)
        except ClientDisconnect:
            partial.unlink(missing_ok=True)
            return li_error(400, "BAD_REQUEST", "The connection closed before the part arrived.")
        if cut is not None:
            partial.unlink(missing_ok=True)
            return AbortConnection()
        if read != expected:
            partial.unlink(missing_ok=True)
            return li_error(400, "BAD_REQUEST", f"Expected {expected} bytes, got {read}")
        partial.replace(video.folder / f"part-{index}")
        part.etag = f"/ambry-video/signedId/{unique_id(40)}"
        return Response(status_code=200, headers={"ETag": part.etag})

    # -- posts -----------------------------------------------------------------------------

    async def _posts(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._find_posts(request)
        account = await self._gate(request, "posts.create")
        if isinstance(account, Response):
            return account
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        problem = check_post_body(body, self.limits)
        if problem:
            return li_error(*problem)
        author = body["author"]
        if not may_act_as(account, author, self.limits):
            return self._denied(f"posts.CREATE as {author}")
        video, title, images = None, None, []
        content = body.get("content")
        named = content_images(content) if isinstance(content, dict) else None
        if isinstance(named, str):
            return li_error(422, "UNPROCESSABLE_ENTITY", named)
        if named is not None:
            refused = self.images.refusal(named, author)
            if refused is not None:
                return refused
            images = named
        elif content is not None:
            media = content.get("media") if isinstance(content, dict) else None
            if not isinstance(media, dict):
                return li_error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /content/media :: required")
            video = self._video_by_urn(media.get("id"), account)
            if video is None or video.owner != author:
                return li_error(
                    422, "UNPROCESSABLE_ENTITY", f"Media {media.get('id')} is not owned by {author}"
                )
            status = self.video_status(video)
            if status != "AVAILABLE":
                return li_error(400, "BAD_REQUEST", f"Video {video.urn} is in state {status}")
            title = str(media.get("title") or "")
        else:
            # LinkedIn refuses a text post identical to one the author already made.
            dup = next(
                (
                    p
                    for p in self.posts
                    if p.author == author and p.video is None and p.commentary == body["commentary"]
                ),
                None,
            )
            if dup is not None and content is None:
                return li_error(422, "DUPLICATE_POST", f"Content is a duplicate of {dup.urn}")
        if self.faults.quota_exhausted:
            return self.quota_exceeded()
        text, truncated = render_little(body["commentary"])
        kind = "ugcPost" if video else "share"
        post = Post(
            urn=f"urn:li:{kind}:7{unique_id(18, _DIGITS)}",
            author=author,
            account=account,
            commentary=body["commentary"],
            text=text,
            truncated=truncated,
            visibility=body["visibility"],
            video=video,
            title=title,
            created_at=self.now(),
            body=body,
            images=images,
        )
        self.posts.append(post)
        if self.take_drop_after_commit():
            return AbortConnection()
        return Response(status_code=201, headers={"x-restli-id": post.urn})

    async def _find_posts(self, request: Request) -> Response:
        account = await self._gate(request, "posts.findByAuthor")
        if isinstance(account, Response):
            return account
        params = request.query_params
        if params.get("q") != "author":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported finder; use q=author")
        author = params.get("author")
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        if author is None or "author=urn:" in raw_query:
            return li_error(400, "ILLEGAL_ARGUMENT", "author must be a URL-encoded URN")
        if not may_act_as(account, author, self.limits):
            return self._denied(f"posts.FINDER-author as {author}")
        count_text, start_text = params.get("count", "10"), params.get("start", "0")
        count = min(int(count_text), 100) if count_text.isdigit() else 10
        start = int(start_text) if start_text.isdigit() else 0
        mine = sorted((p for p in self.posts if p.author == author), key=lambda p: -p.created_at)
        return JSONResponse(
            {
                "paging": {"start": start, "count": count, "total": len(mine), "links": []},
                "elements": [self._post_element(p) for p in mine[start : start + count]],
            }
        )

    async def _post_by_urn(self, request: Request) -> Response:
        """GET or DELETE /rest/posts/{encoded urn}. A delete needs the author's token (or an
        administrator's of the author organization); it answers 204, again for a post
        already deleted (LinkedIn's deletes are idempotent), and the post is then gone
        from every read. A URN never seen is 404."""
        deleting = request.method == "DELETE"
        account = await self._gate(request, "posts.delete" if deleting else "posts.get")
        if isinstance(account, Response):
            return account
        urn = _urn_key(request)
        if isinstance(urn, Response):
            return urn
        post = next((p for p in self.posts if p.urn == urn), None)
        author = post.author if post is not None else self.deleted.get(urn)
        if author is None or (post is None and not deleting):
            return li_error(404, "NOT_FOUND", f"Post {urn} does not exist")
        if deleting and not may_act_as(account, author, self.limits):
            return self._denied(f"posts.DELETE of {urn}")
        if not deleting:
            assert post is not None
            return JSONResponse(self._post_element(post))
        if post is not None:
            self.posts.remove(post)
            self.deleted[urn] = author
        return Response(status_code=204)

    async def _images_action(self, request: Request) -> Response:
        """POST /rest/images?action=initializeUpload."""
        account = await self._gate(request, "images.initializeUpload")
        if isinstance(account, Response):
            return account
        if request.query_params.get("action") != "initializeUpload":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported action; use initializeUpload")
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        return self.images.initialize(request, account, body)

    async def _image_get(self, request: Request) -> Response:
        """GET /rest/images/{encoded urn}."""
        account = await self._gate(request, "images.get")
        if isinstance(account, Response):
            return account
        urn = _urn_key(request)
        return urn if isinstance(urn, Response) else self.images.get(account, urn)

    async def _image_upload(self, request: Request) -> Response:
        """PUT of an image's bytes to the upload URL, with the owner's bearer token."""
        self.calls["images.upload"] += 1
        fault = await self.injected_fault()
        result = self.tokens.authenticate(request.headers.get("authorization"))
        if fault is not None or isinstance(result, AuthFailure):
            await drain(request)
            return fault or li_error(401, "REVOKED_ACCESS_TOKEN", "Invalid access token", 65601)
        return await self.images.upload(request, result)

    async def _comments(self, request: Request) -> Response:
        """GET or POST /rest/socialActions/{encoded post urn}/comments."""
        creating = request.method == "POST"
        account = await self._gate(request, "comments.create" if creating else "comments.get")
        if isinstance(account, Response):
            return account
        urn = _urn_key(request)
        if isinstance(urn, Response):
            return urn
        if not creating:
            return self.comments.list_comments(request, urn, self.posts)
        try:
            body = await request.json()
        except ValueError:
            return li_error(400, "ILLEGAL_ARGUMENT", "The request body is not valid JSON")
        return self.comments.create(account, urn, body, self.posts)

    def _grown(self, post: Post) -> Engagement:
        return engagement(post.urn, self.now() - post.created_at)

    async def _member_analytics(self, request: Request) -> Response:
        """GET /rest/memberCreatorPostAnalytics?q=entity&entity=(share:{urn})&queryType=…
        &aggregation=TOTAL: one lifetime count of the member's own post; another's is 403,
        a URN never seen 404. [U] the exact element shape, from LinkedIn's samples."""
        account = await self._gate(request, "memberCreatorPostAnalytics.entity")
        if isinstance(account, Response):
            return account
        params = request.query_params
        raw = _raw_query(request)
        if params.get("q") != "entity":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported finder; use q=entity")
        matched = _ENTITY.search(raw.get("entity", ""))
        if matched is None:
            return li_error(
                400, "ILLEGAL_ARGUMENT", "entity must be (share:{urn}) or (ugcPost:{urn}), encoded"
            )
        query_type, aggregation = params.get("queryType"), params.get("aggregation")
        if query_type not in MEMBER_METRICS:
            return li_error(400, "ILLEGAL_ARGUMENT", f"queryType must be one of {MEMBER_METRICS}")
        if aggregation != "TOTAL":
            return li_error(400, "ILLEGAL_ARGUMENT", "aggregation DAILY needs a dateRange")
        urn = unquote(matched[2])
        post = next((p for p in self.posts if p.urn == urn), None)
        if post is None:
            return li_error(404, "NOT_FOUND", f"Post {urn} does not exist")
        if post.author != person_urn(account):
            return self._denied(f"memberCreatorPostAnalytics of {urn}")
        grown = self._grown(post)
        count = {"IMPRESSION": grown.views, "MEMBERS_REACHED": grown.reach,
                 "REACTION": grown.likes, "COMMENT": grown.comments,
                 "RESHARE": grown.shares}[query_type]  # fmt: skip
        element = {"count": count, "metricType": {_METRIC_TYPE: query_type}}
        return JSONResponse(
            {"paging": {"start": 0, "count": 10, "links": []}, "elements": [element]}
        )

    async def _share_statistics(self, request: Request) -> Response:
        """GET /rest/organizationalEntityShareStatistics?q=organizationalEntity
        &organizationalEntity={org}&shares=List(…)&ugcPosts=List(…): lifetime statistics of
        an organization's posts, for a member who administers it."""
        account = await self._gate(request, "organizationalEntityShareStatistics")
        if isinstance(account, Response):
            return account
        params = request.query_params
        raw = _raw_query(request)
        org = params.get("organizationalEntity")
        if params.get("q") != "organizationalEntity" or not org:
            return li_error(400, "ILLEGAL_ARGUMENT", "Use q=organizationalEntity with an org")
        if not may_act_as(account, org, self.limits):
            return self._denied(f"organizationalEntityShareStatistics of {org}")
        urns = [
            unquote(item)
            for name in ("shares", "ugcPosts")
            for found in [_LIST.fullmatch(raw.get(name, "List()"))]
            for item in (found[1].split(",") if found and found[1] else [])
        ]
        elements = []
        for urn in urns:
            post = next((p for p in self.posts if p.urn == urn and p.author == org), None)
            if post is None:
                continue
            grown = self._grown(post)
            key = "ugcPost" if ":ugcPost:" in urn else "share"
            elements.append({
                "organizationalEntity": org,
                key: urn,
                "totalShareStatistics": {
                    "impressionCount": grown.views, "uniqueImpressionsCount": grown.reach,
                    "likeCount": grown.likes, "commentCount": grown.comments,
                    "shareCount": grown.shares, "clickCount": grown.saves,
                    "engagement": (grown.likes + grown.comments + grown.shares)
                    / max(1, grown.views),
                },
            })  # fmt: skip
        return JSONResponse({"paging": {"start": 0, "count": 10, "links": []},
                             "elements": elements})  # fmt: skip

    @staticmethod
    def _post_element(post: Post) -> dict[str, Any]:
        created = int(post.created_at * 1000)
        element: dict[str, Any] = {
            "id": post.urn,
            "author": post.author,
            "commentary": post.commentary,
            "visibility": post.visibility,
            "lifecycleState": "PUBLISHED",
            "distribution": post.body.get("distribution"),
            "isReshareDisabledByAuthor": bool(post.body.get("isReshareDisabledByAuthor")),
            "createdAt": created,
            "lastModifiedAt": created,
            "publishedAt": created,
        }
        if post.video is not None:
            element["content"] = {"media": {"id": post.video.urn, "title": post.title}}
        elif len(post.images) == 1:
            element["content"] = {"media": {"id": post.images[0], "altText": ""}}
        elif post.images:
            element["content"] = {
                "multiImage": {"images": [{"id": i, "altText": ""} for i in post.images]}
            }
        return element

    # -- www.linkedin.com/oauth/v2/revoke ----------------------------------------------------

    async def _revoke(self, request: Request) -> Response:
        """LinkedIn's revocation: the app's id and secret and the token, form-encoded; 200
        with an empty body whether or not the token was live."""
        self.calls["oauth.revoke"] += 1
        client = (self.config.client_id, self.config.client_secret)
        result = await revoke_request(request, self.tokens, client=client)
        if isinstance(result, OAuthRefusal):
            return oauth_error(result.status, result.error, result.description)
        return Response(status_code=200)

    # -- www.linkedin.com/oauth/v2/accessToken ---------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.calls["oauth.accessToken"] += 1
        await self.injected_latency()
        result = await token_request(
            request,
            self.tokens,
            client=(self.config.client_id, self.config.client_secret),
            client_field="client_id",
            rotate=False,  # the same refresh token comes back, with its original expiry
            invalid_grant="The provided authorization grant or refresh token is invalid, "
            "expired or revoked.",
            pkce_required=self.pkce_required,
        )
        if isinstance(result, OAuthRefusal):
            return oauth_error(result.status, result.error, result.description)
        # Refresh tokens last a year from the first consent; a refresh does not extend them.
        remaining = self.limits.refresh_ttl_seconds - (self.now() - result.account.created_at)
        return JSONResponse(
            {
                "access_token": result.access_token,
                "expires_in": result.expires_in,
                "refresh_token": result.refresh_token,
                "refresh_token_expires_in": max(0, int(remaining)),
                "scope": ",".join(_SCOPES),
            }
        )


def _urn_key(request: Request) -> str | Response:
    """The URN a `/rest/…/{urn}` path names; Rest.li 2.0 wants it percent-encoded there."""
    raw = request.scope.get("raw_path", b"").decode("latin-1")
    urn: str = request.path_params["urn"]
    # The segment that holds the URN, wherever it sits in the path (…/{urn}/comments too).
    if urn.startswith("urn:li:") and any(
        ":" in segment for segment in raw.split("/") if unquote(segment) == urn
    ):
        return li_error(400, "ILLEGAL_ARGUMENT", "The URN key must be URL-encoded")
    return urn


def _raw_query(request: Request) -> dict[str, str]:
    """The query's values as sent (still percent-encoded): Rest.li 2.0 syntax such as
    `(share:urn%3Ali%3A…)` or `List(…)` is judged before decoding."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pairs = (item.partition("=") for item in raw.split("&") if item)
    return {name: value for name, _, value in pairs}
