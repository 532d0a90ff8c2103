"""Fake YouTube Data API v3: resumable and multipart uploads, videos.list, channels.list, OAuth.

Written from PLATFORM_PROTOCOLS.md §1, never from our client. Uploads are streamed and hashed
as they arrive, never held in memory.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import (
    AbortConnection,
    Account,
    AuthFailure,
    FakeConfig,
    PlatformFake,
    drain,
    header_int,
    iso_time,
    mount_base,
    unique_id,
)
from crosspost.fakes.tokens import OAuthRefusal, revoke_request, token_request
from crosspost.fakes.youtube_comments import INSERT_UNITS as COMMENT_INSERT_UNITS
from crosspost.fakes.youtube_comments import CommentThreads
from crosspost.fakes.youtube_multipart import RelatedBody, RelatedPart, read_related
from crosspost.fakes.youtube_rules import (
    UPLOAD_PATH,
    Quota,
    VideoMeta,
    check_metadata,
    google_error,
    parse_parts,
    quota_exceeded,
    unauthenticated,
    validate_metadata,
)
from crosspost.fakes.youtube_video import QUANTUM, UploadSession, Video, video_resource

MAX_FILE_BYTES = 274_877_906_944
THUMBNAIL_PATH = "/upload/youtube/v3/thumbnails/set"
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png", "application/octet-stream"})
THUMBNAIL_UNITS = 50
DELETE_UNITS = 50
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_QUERY = re.compile(r"bytes \*/(\d+)")
_SCOPE = (
    "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube "
    "https://www.googleapis.com/auth/youtube.force-ssl"
)


class YouTubeFake(PlatformFake):
    """The YouTube fake; mount it under ``/youtube``."""

    access_prefix = "ya29.fake-"
    authorize_path = "/o/oauth2/v2/auth"  # on accounts.google.com
    refresh_prefix = "1//fake-"
    scopes = tuple(_SCOPE.split())

    def __init__(self, config: FakeConfig | None = None, *, name: str = "youtube") -> None:
        super().__init__(config, name=name)
        self.quota = Quota(self.config)
        self.sessions: dict[str, UploadSession] = {}
        self.videos: dict[str, Video] = {}
        self.comments = CommentThreads(self.now)

    def api_routes(self) -> list[BaseRoute]:
        """Paths of www.googleapis.com and oauth2.googleapis.com."""
        return [
            Route(UPLOAD_PATH, self._insert, methods=["POST"]),
            Route(UPLOAD_PATH, self._upload, methods=["PUT"]),
            Route(THUMBNAIL_PATH, self._thumbnails_set, methods=["POST"]),
            Route("/youtube/v3/videos", self._videos_list, methods=["GET"]),
            Route("/youtube/v3/videos", self._videos_delete, methods=["DELETE"]),
            Route("/youtube/v3/channels", self._channels_list, methods=["GET"]),
            Route("/youtube/v3/commentThreads", self._comment_insert, methods=["POST"]),
            Route("/youtube/v3/commentThreads", self._comment_list, methods=["GET"]),
            Route("/token", self._token, methods=["POST"]),
            Route("/revoke", self._revoke, methods=["POST"]),
        ]

    def default_access_ttl(self) -> float:
        """Google's access tokens last about an hour."""
        return float(self.config.youtube_access_ttl_seconds)

    def new_external_id(self) -> str:
        """A channel id: ``UC`` plus 22 characters."""
        return "UC" + unique_id(22)

    def error_response(self, status: int, message: str) -> Response:
        """Google's envelope. Google routes on method and path together, so a method a path
        does not serve is a 404 (google.rpc has no 405)."""
        if status in (404, 405):
            return google_error(404, "notFound", message)
        if status >= 500:
            return google_error(status, "backendError", message)
        return google_error(status, "badRequest", message)

    def server_error(self) -> Response:
        """Google's 503 backendError."""
        return google_error(503, "backendError", "Backend Error")

    def rate_limited(self) -> Response:
        """Google's 429 with Retry-After."""
        return google_error(
            429,
            "rateLimitExceeded",
            "The request cannot be completed because you have exceeded your rate limit.",
            domain="youtube.quota",
            headers={"Retry-After": str(self.faults.retry_after_seconds)},
        )

    def clear_state(self) -> None:
        """Forget sessions, videos and the day's quota."""
        self.sessions.clear()
        self.videos.clear()
        self.comments.threads.clear()
        self.quota = Quota(self.config)

    def state(self) -> dict[str, Any]:
        """Posts (videos whose final chunk arrived), sessions, calls and quota."""
        now = self.now()
        posts = []
        for video in self.videos.values():
            status = video_resource(video, ("status",), now, self.config)["status"]
            posts.append(
                {
                    "id": video.id,
                    "account_external_id": video.account.external_id,
                    "handle": video.account.handle,
                    "title": video.meta.snippet.get("title"),
                    "description": video.meta.snippet.get("description", ""),
                    "size": video.size,
                    "sha256": video.sha256,
                    "status": status["uploadStatus"],
                    "privacy": status["privacyStatus"],
                    "publish_at": video.meta.publish_at,
                    "created_at": iso_time(video.created_at),
                    "upload_id": video.upload_id,
                    "thumbnail_sha256": video.thumbnail_sha256,
                }
            )
        sessions = [
            {
                "upload_id": s.upload_id,
                "account_external_id": s.account.external_id,
                "total": s.total,
                "received": s.received,
                "complete": s.video is not None,
            }
            for s in self.sessions.values()
        ]
        return {
            "platform": "youtube",
            "posts": posts,
            "comments": self.comments.state(),
            "sessions": sessions,
            "open_sessions": sum(1 for s in self.sessions.values() if s.video is None),
            "calls": dict(self.calls),
            "quota": self.quota.view(),
        }

    # -- helpers -------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Account | Response:
        result = self.tokens.authenticate(request.headers.get("authorization"))
        if isinstance(result, Account):
            return result
        return unauthenticated(missing=result is AuthFailure.MISSING)

    async def _gate(
        self, request: Request, operation: str, *, insert: bool, units: int = 1
    ) -> Account | Response:
        """Count the call, apply faults, authenticate and check quota."""
        self.calls[operation] += 1
        refused = await self.injected_fault()
        if refused is None:
            account = self._authenticate(request)
            if not isinstance(account, Account):
                refused = account
            elif self.faults.quota_exhausted or not self.quota.can_afford(
                insert=insert, units=units
            ):
                refused = quota_exceeded()
            else:
                return account
        await drain(request)
        return refused

    # -- thumbnails.set --------------------------------------------------------------------

    async def _thumbnails_set(self, request: Request) -> Response:
        account = await self._gate(request, "thumbnails.set", insert=False, units=THUMBNAIL_UNITS)
        if isinstance(account, Response):
            return account
        video = self.videos.get(request.query_params.get("videoId", ""))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        problem: Response | None = None
        if video is None or video.account.external_id != account.external_id:
            problem = google_error(
                404, "videoNotFound", "The video that you are trying to update cannot be found."
            )
        elif not self.config.youtube_custom_thumbnails:
            problem = google_error(
                403,
                "forbidden",
                "The authenticated user doesn't have permissions to upload "
                "and set custom video thumbnails.",
            )
        elif ctype not in THUMBNAIL_TYPES:
            problem = google_error(400, "invalidImage", "The provided image content is invalid.")
        if problem is not None or video is None:
            await drain(request)
            self.quota.spend(insert=False, valid=False)
            return problem or google_error(404, "videoNotFound", "No such video.")
        data = bytearray()
        size = 0
        async for piece in request.stream():
            size += len(piece)
            if size <= self.config.youtube_thumbnail_max_bytes:
                data += piece  # keep reading past the limit, so the refusal is not a reset
        if size > self.config.youtube_thumbnail_max_bytes:
            self.quota.spend(insert=False, valid=False)
            return google_error(400, "invalidImage", "The thumbnail image file is too large.")
        if not data:
            self.quota.spend(insert=False, valid=False)
            return google_error(400, "mediaBodyRequired", "The request does not include the image.")
        self.quota.spend(insert=False, units=THUMBNAIL_UNITS)
        video.thumbnail_sha256 = hashlib.sha256(bytes(data)).hexdigest()
        base = f"https://i.ytimg.com/vi/{video.id}"
        return JSONResponse(
            {
                "kind": "youtube#thumbnailSetResponse",
                "etag": video.thumbnail_sha256[:27],
                "items": [
                    {
                        "default": {"url": f"{base}/default.jpg", "width": 120, "height": 90},
                        "high": {"url": f"{base}/hqdefault.jpg", "width": 480, "height": 360},
                    }
                ],
            }
        )

    # -- videos.insert (resumable) ---------------------------------------------------------

    async def _insert(self, request: Request) -> Response:
        account = await self._gate(request, "videos.insert", insert=True)
        if isinstance(account, Response):
            return account
        upload_type = request.query_params.get("uploadType")
        if upload_type == "multipart":
            return await self._insert_multipart(request, account)
        total = header_int(request, "x-upload-content-length")
        problem: Response | None = None
        meta: VideoMeta | None = None
        media_type = request.headers.get("x-upload-content-type", "application/octet-stream")
        if upload_type != "resumable":
            problem = google_error(
                400,
                "invalidParameter",
                f"This fake serves uploadType=resumable or multipart, not {upload_type}",
            )
        elif total is None or total == 0:
            problem = google_error(
                400, "badRequest", "X-Upload-Content-Length must be the size of the file in bytes"
            )
        elif total > MAX_FILE_BYTES:
            problem = google_error(400, "badContent", f"Media larger than {MAX_FILE_BYTES} bytes")
        elif not _is_video_type(media_type):
            problem = _unsupported_media(media_type)
        else:
            parts = parse_parts(request, {"snippet", "status"})
            if isinstance(parts, Response):
                problem = parts
            else:
                checked = await validate_metadata(request, parts)
                problem, meta = (
                    (checked, None) if isinstance(checked, Response) else (None, checked)
                )
        if problem is not None or meta is None or total is None:
            await drain(request)
            self.quota.spend(insert=True, valid=False)
            return problem or google_error(400, "badRequest", "Bad Request")
        self.quota.spend(insert=True)
        upload_id = "ADPycd" + unique_id(60)
        self.sessions[upload_id] = UploadSession(upload_id, account, total, meta, self.now())
        query = request.url.query
        location = f"{mount_base(request)}{UPLOAD_PATH}?{query}&upload_id={upload_id}"
        return Response(
            status_code=200, headers={"Location": location, "X-GUploader-UploadID": upload_id}
        )

    async def _insert_multipart(self, request: Request, account: Account) -> Response:
        """The one-request upload: metadata and media in one ``multipart/related`` body."""
        parts = parse_parts(request, {"snippet", "status"})
        if isinstance(parts, Response):
            await drain(request)
            checked: tuple[VideoMeta, RelatedPart] | Response = parts
        else:
            checked = _check_related(parts, await read_related(request))
        if isinstance(checked, Response):
            self.quota.spend(insert=True, valid=False)
            return checked
        self.quota.spend(insert=True)
        meta, media = checked
        video = self._new_video(account, meta, media.size, media.hasher.hexdigest(), upload_id="")
        if self.take_drop_after_commit():
            return AbortConnection()
        return JSONResponse(
            video_resource(video, meta.parts, video.created_at, self.config, just_uploaded=True)
        )

    async def _upload(self, request: Request) -> Response:
        self.calls["videos.insert.upload"] += 1
        fault = await self.injected_fault()
        session = self.sessions.get(request.query_params.get("upload_id", ""))
        if session and session.created_at + self.config.youtube_session_ttl_seconds <= self.now():
            session = None
        if fault is not None or session is None:
            await drain(request)
            return fault or google_error(404, "notFound", "Upload session not found or expired.")
        async with session.lock:
            return await self._put(session, request)

    async def _put(self, session: UploadSession, request: Request) -> Response:
        length = header_int(request, "content-length")
        if length is None:
            if "transfer-encoding" in request.headers:
                # Chunked bodies cannot be checked against Content-Range before they arrive.
                await drain(request)
                return google_error(411, "lengthRequired", "Content-Length header is required.")
            length = 0  # no Content-Length and no Transfer-Encoding: HTTP/1.1 says no body
        if session.final_body is not None:
            await drain(request)
            return session.final()
        content_range = request.headers.get("content-range")
        if content_range is None:
            first, last, total = 0, length - 1, session.total
        elif match := _QUERY.fullmatch(content_range.strip()):
            await drain(request)
            if length != 0 or int(match[1]) != session.total:
                return google_error(400, "badRequest", "Invalid status query.")
            return session.incomplete()
        elif match := _RANGE.fullmatch(content_range.strip()):
            first, last, total = int(match[1]), int(match[2]), int(match[3])
        else:
            await drain(request)
            return google_error(400, "badRequest", f"Invalid Content-Range: {content_range}")
        if total != session.total or not 0 <= first <= last < total:
            await drain(request)
            return google_error(
                400, "badRequest", f"Content-Range does not fit an upload of {session.total} bytes."
            )
        if length != last - first + 1:
            await drain(request)
            return google_error(400, "badRequest", "Content-Length does not match Content-Range.")
        if first != session.received:
            # Bytes must arrive in order; a misaligned request stores nothing.
            await drain(request)
            return session.incomplete()
        final = last == total - 1
        if not final and length % QUANTUM:
            await drain(request)
            return google_error(
                400,
                "badRequest",
                f"Invalid request. The number of bytes uploaded is required to be a multiple of "
                f"{QUANTUM}, except for the final request. The request contained {length} bytes.",
            )
        cut = None
        if length > 1 and self.chance(self.faults.reset_mid_chunk_rate):
            cut = self.rng.randint(1, length - 1)
        read = 0
        try:
            async for piece in request.stream():
                if cut is not None and read + len(piece) >= cut:
                    session.absorb(piece[: cut - read])
                    break
                session.absorb(piece)
                read += len(piece)
        except ClientDisconnect:
            cut = read
        if cut is not None:
            session.tail.clear()  # only whole 256 KiB units of an interrupted request are kept
            return AbortConnection()
        if not final:
            return session.incomplete()
        session.finish()
        self._complete(session)
        if self.take_drop_after_commit():
            return AbortConnection()
        return session.final()

    def _new_video(
        self, account: Account, meta: VideoMeta, size: int, sha256: str, *, upload_id: str
    ) -> Video:
        video = Video(
            id=unique_id(11),
            account=account,
            meta=meta,
            size=size,
            sha256=sha256,
            created_at=self.now(),
            processing_seconds=self.faults.processing_seconds,
            fails=self.chance(self.faults.processing_fail_rate),
            upload_id=upload_id,
        )
        self.videos[video.id] = video
        return video

    def _complete(self, session: UploadSession) -> None:
        video = self._new_video(
            session.account,
            session.meta,
            session.received,
            session.hasher.hexdigest(),
            upload_id=session.upload_id,
        )
        session.video = video
        session.final_body = video_resource(
            video, session.meta.parts, video.created_at, self.config, just_uploaded=True
        )

    # -- reads -----------------------------------------------------------------------------

    async def _videos_list(self, request: Request) -> Response:
        account = await self._gate(request, "videos.list", insert=False)
        if isinstance(account, Response):
            return account
        self.quota.spend(insert=False)
        parts = parse_parts(request, {"id", "snippet", "status", "processingDetails", "statistics"})
        if isinstance(parts, Response):
            return parts
        ids = [i for i in request.query_params.get("id", "").split(",") if i]
        if not ids:
            return google_error(
                400, "missingRequiredParameter", "No filter selected. Expected one of: id"
            )
        now = self.now()
        items = []
        for video_id in ids:
            video = self.videos.get(video_id)
            if video is None:
                continue
            item = video_resource(video, parts, now, self.config)
            public = item.get("status", {}).get("privacyStatus") == "public"
            if video.account is account or public:
                items.append(item)
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "etag": unique_id(27),
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    async def _videos_delete(self, request: Request) -> Response:
        """videos.delete (50 units): 204 for the channel's own video, which every read then
        misses; 404 videoNotFound for an unknown id, 403 forbidden for another channel's."""
        account = await self._gate(request, "videos.delete", insert=False, units=DELETE_UNITS)
        if isinstance(account, Response):
            return account
        video_id = request.query_params.get("id", "")
        video = self.videos.get(video_id)
        problem: Response | None = None
        if not video_id:
            problem = google_error(400, "required", "Required parameter: id")
        elif video is None:
            problem = google_error(
                404,
                "videoNotFound",
                "The video that you are trying to delete cannot be found. Check the value of "
                "the id parameter in the request to ensure that it is correct.",
                domain="youtube.video",
            )
        elif video.account.external_id != account.external_id:
            problem = google_error(
                403,
                "forbidden",
                "The video that you are trying to delete cannot be deleted. The request might "
                "not be properly authorized.",
                domain="youtube.video",
            )
        if problem is not None:
            self.quota.spend(insert=False, valid=False)
            return problem
        self.quota.spend(insert=False, units=DELETE_UNITS)
        del self.videos[video_id]
        return Response(status_code=204)

    async def _comment_insert(self, request: Request) -> Response:
        """commentThreads.insert (50 units): a top-level comment on a video."""
        units = COMMENT_INSERT_UNITS
        account = await self._gate(request, "commentThreads.insert", insert=False, units=units)
        if isinstance(account, Response):
            return account
        parts = parse_parts(request, {"id", "snippet", "replies"})
        try:
            body = await request.json() if not isinstance(parts, Response) else None
        except ValueError:
            body = None
            parts = google_error(400, "parseError", "Parse Error")
        if isinstance(parts, Response):
            self.quota.spend(insert=False, valid=False)
            return parts
        answer = self.comments.insert(account, body, self.videos)
        self.quota.spend(insert=False, units=units, valid=answer.status_code == 200)
        return answer

    async def _comment_list(self, request: Request) -> Response:
        """commentThreads.list (1 unit): a video's comment threads, newest first."""
        account = await self._gate(request, "commentThreads.list", insert=False)
        if isinstance(account, Response):
            return account
        parts = parse_parts(request, {"id", "snippet", "replies"})
        answer = (
            parts
            if isinstance(parts, Response)
            else self.comments.list_threads(request, self.videos)
        )
        self.quota.spend(insert=False, valid=answer.status_code == 200)
        return answer

    async def _channels_list(self, request: Request) -> Response:
        account = await self._gate(request, "channels.list", insert=False)
        if isinstance(account, Response):
            return account
        self.quota.spend(insert=False)
        parts = parse_parts(request, {"id", "snippet", "contentDetails"})
        if isinstance(parts, Response):
            return parts
        if request.query_params.get("mine") == "true":
            owners = [account]
        elif ids := [i for i in request.query_params.get("id", "").split(",") if i]:
            owners = [a for a in (self.tokens.accounts.get(i) for i in ids) if a is not None]
        else:
            return google_error(
                400, "missingRequiredParameter", "No filter selected. Expected one of: mine, id"
            )
        items = []
        for owner in owners:
            item: dict[str, Any] = {"kind": "youtube#channel", "etag": unique_id(27)}
            item["id"] = owner.external_id
            if "snippet" in parts:
                item["snippet"] = {
                    "title": owner.handle,
                    "description": "",
                    "customUrl": "@" + owner.handle.lower(),
                    "publishedAt": iso_time(owner.created_at),
                    "thumbnails": {},
                    "localized": {"title": owner.handle, "description": ""},
                }
            if "contentDetails" in parts:
                uploads = "UU" + owner.external_id[2:]
                item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": uploads}}
            items.append(item)
        return JSONResponse(
            {
                "kind": "youtube#channelListResponse",
                "etag": unique_id(27),
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                "items": items,
            }
        )

    # -- oauth2.googleapis.com/revoke ------------------------------------------------------

    async def _revoke(self, request: Request) -> Response:
        """Google's revocation: a token (access or refresh) ends the user's whole grant; an
        unknown one answers 400 invalid_token."""
        self.calls["oauth.revoke"] += 1
        result = await revoke_request(request, self.tokens, client=None)
        if isinstance(result, OAuthRefusal):
            refusal = {"error": result.error, "error_description": result.description}
            return JSONResponse(refusal, status_code=result.status)
        if not result:
            refusal = {"error": "invalid_token", "error_description": "Token expired or revoked"}
            return JSONResponse(refusal, status_code=400)
        return JSONResponse({})

    # -- oauth2.googleapis.com/token -------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.calls["oauth.token"] += 1
        await self.injected_latency()
        result = await token_request(
            request,
            self.tokens,
            client=(self.config.client_id, self.config.client_secret),
            client_field="client_id",
            rotate=False,
            invalid_grant="Token has been expired or revoked.",
        )
        if isinstance(result, OAuthRefusal):
            refusal = {"error": result.error, "error_description": result.description}
            return JSONResponse(refusal, status_code=result.status)
        body: dict[str, Any] = {
            "access_token": result.access_token,
            "expires_in": result.expires_in,
            "scope": _SCOPE,
            "token_type": "Bearer",
        }
        if result.fresh:  # Google sends a refresh token for a code, never on refresh
            body["refresh_token"] = result.refresh_token
        return JSONResponse(body)


def _is_video_type(media_type: str) -> bool:
    """Whether videos.insert accepts media of this type (its discovery doc: video/*, octet)."""
    return media_type.startswith("video/") or media_type == "application/octet-stream"


def _unsupported_media(media_type: str) -> Response:
    return google_error(
        400,
        "badContent",
        f"Media type '{media_type}' is not supported. "
        "Valid media types: [video/*, application/octet-stream]",
    )


def _check_related(
    parts: tuple[str, ...], body: RelatedBody | str
) -> tuple[VideoMeta, RelatedPart] | Response:
    """The metadata and media of a multipart insert, or Google's refusal of them."""
    if isinstance(body, str):
        return google_error(400, "badContent", body)
    metadata, media = body.parts
    meta = check_metadata(bytes(metadata.kept), metadata.content_type, parts)
    if isinstance(meta, Response):
        return meta
    if not _is_video_type(media.content_type):
        return _unsupported_media(media.content_type)
    if media.size == 0:
        return google_error(400, "mediaBodyRequired", "The request does not include the video.")
    if media.size > MAX_FILE_BYTES:
        return google_error(400, "badContent", f"Media larger than {MAX_FILE_BYTES} bytes")
    return meta, media
