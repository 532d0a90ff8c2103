"""Fake X API v2: chunked media upload (v2 and ``command=`` forms), posts, timeline, OAuth 2.0.

Written from PLATFORM_PROTOCOLS.md §4, never from our client. Every answer carries the
``x-rate-limit-*`` headers of its (endpoint, user) 15-minute window; ``POST /2/tweets`` also
carries the ``x-user-limit-24hour-*`` headers of the daily posting cap. APPENDs are idempotent
per ``segment_index`` (a re-sent segment replaces the earlier one); segments spool to disk.
"""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.base import (
    AbortConnection,
    Account,
    FakeConfig,
    Grant,
    PlatformFake,
    drain,
    iso_time,
    unique_id,
)
from crosspost.fakes.tokens import OAuthRefusal, revoke_request
from crosspost.fakes.x_rules import (
    DUPLICATE,
    MAX_SEGMENT,
    MAX_SEGMENT_INDEX,
    MEDIA_TYPES,
    TEXT_MAX,
    TWEET_ID,
    FixedWindows,
    Tweet,
    Upload,
    check_initialize,
    int_field,
    invalid_request,
    new_spool,
    not_found,
    not_found_error,
    problem,
    text_weight,
    unauthorized,
)
from crosspost.fakes.x_timeline import PageTokens, page_of, parse_query

_SCOPES = "tweet.read tweet.write users.read media.write offline.access"
_FORM_SLACK = 64 * 1024  # multipart boundaries and the small fields around a segment
Headers = dict[str, str]


@dataclass(frozen=True)
class XLimits:
    """X's lifetimes and limits; defaults are the documented values ([U] where unconfirmed)."""

    access_ttl_seconds: int = 7200  # access tokens last 2 h
    media_expires_after_secs: int = 86400  # a media id is usable for a day after FINALIZE
    tweets_per_15min: int = 200  # POST /2/tweets per user (docs.x.com manage-posts)
    tweets_per_24h: int = 100  # per-user daily posting cap (Basic tier)
    media_upload_per_15min: int = 500  # [U] initialize/append/finalize, per endpoint and user
    media_status_per_15min: int = 1000  # [U]
    timeline_per_15min: int = 900  # GET /2/users/:id/tweets per user
    tweets_delete_per_15min: int = 50  # DELETE /2/tweets/:id per user (docs.x.com)
    tweet_lookup_per_15min: int = 900  # GET /2/tweets/:id per user
    public_client: bool = False  # confidential clients must send HTTP Basic auth


class XFake(PlatformFake):
    """The X fake; mount it under ``/x``."""

    access_prefix = "xat."
    authorize_path = "/i/oauth2/authorize"  # on x.com
    refresh_prefix = "xrt."
    scopes = tuple(_SCOPES.split())

    def __init__(
        self, config: FakeConfig | None = None, *, limits: XLimits | None = None, name: str = "x"
    ) -> None:
        super().__init__(config, name=name)
        if limits is None and not self.config.rate_limits:
            many = 1_000_000_000
            limits = XLimits(
                tweets_per_15min=many,
                tweets_per_24h=many,
                media_upload_per_15min=many,
                media_status_per_15min=many,
                timeline_per_15min=many,
                tweets_delete_per_15min=many,
                tweet_lookup_per_15min=many,
            )
        self.limits = limits or XLimits()
        self.windows = FixedWindows()
        self.uploads: dict[str, Upload] = {}
        self.tweets: list[Tweet] = []
        self.page_tokens = PageTokens()
        self._last_id = 1_900_000_000_000_000_000

    def api_routes(self) -> list[BaseRoute]:
        """Paths of api.x.com."""
        return [
            Route("/2/media/upload/initialize", self._initialize, methods=["POST"]),
            Route("/2/media/upload/{media_id}/append", self._append, methods=["POST"]),
            Route("/2/media/upload/{media_id}/finalize", self._finalize, methods=["POST"]),
            Route("/2/media/upload", self._status, methods=["GET"]),
            Route("/2/media/upload", self._command, methods=["POST"]),
            Route("/2/tweets", self._create_tweet, methods=["POST"]),
            Route("/2/tweets/{tweet_id}", self._lookup_tweet, methods=["GET"]),
            Route("/2/tweets/{tweet_id}", self._delete_tweet, methods=["DELETE"]),
            Route("/2/users/me", self._users_me, methods=["GET"]),
            Route("/2/users/{user_id}/tweets", self._timeline, methods=["GET"]),
            Route("/2/oauth2/token", self._token, methods=["POST"]),
            Route("/2/oauth2/revoke", self._revoke, methods=["POST"]),
        ]

    def default_access_ttl(self) -> float:
        """Access tokens last 2 hours."""
        return float(self.limits.access_ttl_seconds)

    def new_external_id(self) -> str:
        """A numeric user id."""
        return str(1_000_000_000_000_000_000 + int(unique_id(18, "0123456789")))

    def error_response(self, status: int, message: str) -> Response:
        """X's v2 problem JSON (``application/problem+json``)."""
        return problem(status, HTTPStatus(status).phrase, message)

    def server_error(self) -> Response:
        """X's 503."""
        return problem(503, "Service Unavailable", "Service Unavailable")

    def rate_limited(self) -> Response:
        """X's 429, with a reset ``retry_after_seconds`` from now."""
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update(
            {
                "x-rate-limit-limit": "1",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(math.ceil(self.now()) + self.faults.retry_after_seconds),
            }
        )
        return response

    def clear_state(self) -> None:
        """Forget uploads, posts and rate windows."""
        for upload in self.uploads.values():
            upload.close()
        self.uploads.clear()
        self.tweets.clear()
        self.windows.clear()

    def state(self) -> dict[str, Any]:
        """Posts, media uploads and call counts."""
        return {
            "platform": "x",
            "replies": [
                {
                    "id": t.tweet_id,
                    "in_reply_to": t.in_reply_to,
                    "text": t.text,
                    "account_external_id": t.account.external_id,
                }
                for t in self.tweets
                if t.in_reply_to is not None
            ],
            "posts": [
                {
                    "id": t.tweet_id,
                    "account_external_id": t.account.external_id,
                    "handle": t.account.handle,
                    "text": t.text,
                    "caption": t.text,
                    "media_ids": t.media_ids,
                    "size": t.size,
                    "sha256": t.sha256,
                    "status": "published",
                    "created_at": iso_time(t.created_at),
                }
                for t in self.tweets
                if t.in_reply_to is None
            ],
            "media": [
                {
                    "id": u.media_id,
                    "media_key": u.media_key,
                    "account_external_id": u.account.external_id,
                    "media_type": u.media_type,
                    "media_category": u.category,
                    "total_bytes": u.total_bytes,
                    "size": u.received(),
                    "segments": sorted(u.segments),
                    "sha256": u.sha256,
                    "state": self._processing(u)["state"] if u.finalized_at else "uploading",
                }
                for u in self.uploads.values()
            ],
            "calls": dict(self.calls),
        }

    # -- helpers -------------------------------------------------------------------------

    def _next_id(self) -> str:
        self._last_id += 1 + self.rng.randrange(1000)
        return str(self._last_id)

    async def _gate(
        self, request: Request, operation: str, limit: int
    ) -> tuple[Account, Headers] | Response:
        """Count the call, apply faults, authenticate, then apply the 15-minute window."""
        self.calls[operation] += 1
        refused = await self.injected_fault()
        if refused is None:
            result = self.tokens.authenticate(request.headers.get("authorization"))
            if not isinstance(result, Account):
                refused = unauthorized()
            else:
                key = f"{operation}:{result.external_id}"
                allowed, headers = self.windows.hit(key, limit, self.now())
                if allowed:
                    return result, headers
                refused = problem(429, "Too Many Requests", "Too Many Requests")
                refused.headers.update(headers)
        await drain(request)
        return refused

    @staticmethod
    def _with(response: Response, headers: Headers) -> Response:
        response.headers.update(headers)
        return response

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            await drain(request)
            return invalid_request("Content-Type must be application/json.")
        try:
            body = await request.json()
        except ValueError:
            return invalid_request("The request body is not valid JSON.")
        if not isinstance(body, dict):
            return invalid_request("The request body must be a JSON object.")
        return body

    async def _form(self, request: Request, *, may_cut: bool) -> FormData | Response:
        """Read a multipart or urlencoded body (streamed, so a reset can cut it mid-way)."""
        content_type = request.headers.get("content-type", "")
        multipart = content_type.startswith("multipart/form-data")
        if not multipart and not content_type.startswith("application/x-www-form-urlencoded"):
            await drain(request)
            return invalid_request("Content-Type must be multipart/form-data.")
        length = int_field(request.headers.get("content-length"))
        cut = None
        if (
            may_cut
            and multipart
            and length
            and length > 1
            and self.chance(self.faults.reset_mid_chunk_rate)
        ):
            cut = self.rng.randint(1, length - 1)
        pieces: list[bytes] = []
        read = 0
        try:
            async for piece in request.stream():
                if cut is not None and read + len(piece) >= cut:
                    return AbortConnection()
                read += len(piece)
                if read > MAX_SEGMENT + _FORM_SLACK:
                    await drain(request)
                    return invalid_request("media must not exceed 8 MB per segment.")
                pieces.append(piece)
        except ClientDisconnect:
            return invalid_request("The connection closed before the body arrived.")

        async def replay() -> AsyncGenerator[bytes, None]:
            for piece in pieces:
                yield piece
            yield b""

        try:
            if multipart:
                parser = MultiPartParser(
                    request.headers, replay(), max_part_size=MAX_SEGMENT + _FORM_SLACK
                )
                return await parser.parse()
            return await FormParser(request.headers, replay()).parse()
        except MultiPartException as exc:
            return invalid_request(f"The multipart body is malformed: {exc.message}")

    def _upload_of(self, account: Account, media_id: str) -> Upload | Response:
        upload = self.uploads.get(media_id)
        if upload is None or upload.account is not account:
            return invalid_request(f"media_id {media_id} is not a valid upload.")
        if self.now() >= upload.expires_at:
            return invalid_request(f"media_id {media_id} has expired.")
        return upload

    def _processing(self, upload: Upload) -> dict[str, Any]:
        """The processing_info X would report now (judged lazily from the fake's clock)."""
        assert upload.finalized_at is not None
        elapsed = self.now() - upload.finalized_at
        left = upload.processing_seconds - elapsed
        if left > 0:
            state = "pending" if elapsed <= 0 else "in_progress"
            percent = int(100 * elapsed / upload.processing_seconds)
            return {
                "state": state,
                "check_after_secs": max(1, math.ceil(left)),
                "progress_percent": percent,
            }
        if upload.fails:
            return {
                "state": "failed",
                "progress_percent": 100,
                "error": {
                    "code": 1,
                    "name": "InvalidMedia",
                    "message": "Invalid or Unsupported media, Reason: UnsupportedMedia.",
                },
            }
        return {"state": "succeeded", "progress_percent": 100}

    # -- media upload --------------------------------------------------------------------

    async def _initialize(self, request: Request) -> Response:
        gate = await self._gate(request, "media.initialize", self.limits.media_upload_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        body = await self._json(request)
        if isinstance(body, Response):
            return self._with(body, headers)
        return self._with(self._do_init(account, body), headers)

    def _do_init(self, account: Account, body: dict[str, Any]) -> Response:
        why = check_initialize(body)
        if why:
            return invalid_request(why)
        media_id = self._next_id()
        kind = str(body["media_type"])
        now = self.now()
        upload = Upload(
            media_id=media_id,
            media_key=f"{MEDIA_TYPES[kind]}_{media_id}",
            account=account,
            media_type=kind,
            category=str(body.get("media_category", "tweet_image")),
            total_bytes=int(body["total_bytes"]),
            created_at=now,
            expires_at=now + self.limits.media_expires_after_secs,
        )
        self.uploads[media_id] = upload
        expires = self.limits.media_expires_after_secs
        return JSONResponse(
            {"data": {"id": media_id, "media_key": upload.media_key, "expires_after_secs": expires}}
        )

    async def _append(self, request: Request) -> Response:
        gate = await self._gate(request, "media.append", self.limits.media_upload_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        form = await self._form(request, may_cut=True)
        if isinstance(form, Response):
            return form if isinstance(form, AbortConnection) else self._with(form, headers)
        try:
            response = await self._do_append(account, request.path_params["media_id"], form)
        finally:
            await form.close()
        return self._with(response, headers)

    async def _do_append(self, account: Account, media_id: str, form: FormData) -> Response:
        upload = self._upload_of(account, media_id)
        if isinstance(upload, Response):
            return upload
        index = int_field(form.get("segment_index"))
        media = form.get("media")
        if index is None or index > MAX_SEGMENT_INDEX:
            return invalid_request("segment_index must be an integer between 0 and 999.")
        if media is None:
            return invalid_request("media is required.")
        if upload.finalized_at is not None:
            return invalid_request("The upload was already finalized.")
        spool = new_spool()
        if isinstance(media, UploadFile):
            await media.seek(0)
            while piece := await media.read(1024 * 1024):
                spool.write(piece)
        else:
            spool.write(media.encode("latin-1"))
        size = spool.tell()
        if size == 0 or size > MAX_SEGMENT:
            spool.close()
            return invalid_request("media must hold 1 byte to 8 MB.")
        async with upload.lock:
            replaced = upload.segments.get(index, (0, None))[0]
            if upload.received() - replaced + size > upload.total_bytes:
                spool.close()
                return invalid_request("The segments exceed total_bytes.")
            upload.store(index, spool, size)
        return JSONResponse({"data": {"expires_at": int(upload.expires_at)}})

    async def _finalize(self, request: Request) -> Response:
        gate = await self._gate(request, "media.finalize", self.limits.media_upload_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        await drain(request)
        return self._with(self._do_finalize(account, request.path_params["media_id"]), headers)

    def _do_finalize(self, account: Account, media_id: str) -> Response:
        upload = self._upload_of(account, media_id)
        if isinstance(upload, Response):
            return upload
        if upload.finalized_at is None:
            why = upload.assemble()
            if why:
                return invalid_request(why)
            upload.finalized_at = self.now()
            upload.expires_at = upload.finalized_at + self.limits.media_expires_after_secs
            if upload.processed:
                upload.processing_seconds = self.faults.processing_seconds
                upload.fails = self.chance(self.faults.processing_fail_rate)
        data: dict[str, Any] = {
            "id": upload.media_id,
            "media_key": upload.media_key,
            "size": upload.total_bytes,
            "expires_after_secs": int(upload.expires_at - self.now()),
        }
        if upload.processed:
            data["processing_info"] = self._processing(upload)
        return JSONResponse({"data": data})

    async def _status(self, request: Request) -> Response:
        gate = await self._gate(request, "media.status", self.limits.media_status_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        if request.query_params.get("command") != "STATUS":
            return self._with(invalid_request("command must be STATUS."), headers)
        upload = self._upload_of(account, request.query_params.get("media_id", ""))
        if isinstance(upload, Response):
            return self._with(upload, headers)
        if upload.finalized_at is None or not upload.processed:
            return self._with(invalid_request("The media has no processing to report."), headers)
        data = {
            "id": upload.media_id,
            "media_key": upload.media_key,
            "processing_info": self._processing(upload),
        }
        return self._with(JSONResponse({"data": data}), headers)

    async def _command(self, request: Request) -> Response:
        """The older single-URL form: ``command=INIT|APPEND|FINALIZE`` form fields."""
        gate = await self._gate(request, "media.upload", self.limits.media_upload_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        form = await self._form(request, may_cut=True)
        if isinstance(form, Response):
            return form if isinstance(form, AbortConnection) else self._with(form, headers)
        try:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            merged = {**dict(request.query_params), **fields}
            command = merged.get("command")
            media_id = merged.get("media_id", "")
            if command == "INIT":
                body: dict[str, Any] = {k: merged[k] for k in ("media_type",) if k in merged}
                body["total_bytes"] = int_field(merged.get("total_bytes"))
                body["media_category"] = merged.get("media_category", "tweet_image")
                response = self._do_init(account, body)
            elif command == "APPEND":
                response = await self._do_append(account, media_id, form)
                if response.status_code == 200:
                    response = Response(status_code=204)  # "2xx with an empty body"
            elif command == "FINALIZE":
                response = self._do_finalize(account, media_id)
            else:
                response = invalid_request("command must be INIT, APPEND or FINALIZE.")
        finally:
            await form.close()
        return self._with(response, headers)

    # -- posts ---------------------------------------------------------------------------

    def _daily(self, account: Account) -> tuple[bool, Headers]:
        """The 24-hour posting cap: (cap reached, x-user-limit-24hour-* headers)."""
        now = self.now()
        recent = [
            t.created_at for t in self.tweets if t.account is account and t.created_at > now - 86400
        ]
        cap = self.limits.tweets_per_24h
        reached = self.faults.quota_exhausted or len(recent) >= cap
        reset = (min(recent) if recent else now) + 86400
        remaining = 0 if reached else cap - len(recent)
        return reached, {
            "x-user-limit-24hour-limit": str(cap),
            "x-user-limit-24hour-remaining": str(remaining),
            "x-user-limit-24hour-reset": str(math.ceil(reset)),
        }

    async def _create_tweet(self, request: Request) -> Response:
        gate = await self._gate(request, "tweets.create", self.limits.tweets_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        body = await self._json(request)
        if isinstance(body, Response):
            return self._with(body, headers)
        reached, daily = self._daily(account)
        headers = {**headers, **daily}
        if reached:
            return self._with(problem(429, "Too Many Requests", "Too Many Requests"), headers)
        checked = self._check_tweet(account, body)
        if isinstance(checked, Response):
            return self._with(checked, headers)
        text, uploads = checked
        parent = self._reply_target(body)
        if isinstance(parent, Response):
            return self._with(parent, headers)
        tweet_id = self._next_id()
        shown = text
        if uploads:
            # X appends the media's t.co link to the text it returns.
            shown = f"{text} https://t.co/{unique_id(10, 'abcdefghijkmnpqrstuvwxyzABCDEFGH')}"
        tweet = Tweet(
            tweet_id,
            account,
            shown.strip(),
            [u.media_id for u in uploads],
            [u.media_key for u in uploads],
            self.now(),
            size=uploads[0].total_bytes if uploads else None,
            sha256=uploads[0].sha256 if uploads else None,
            submitted=text,
            in_reply_to=parent,
        )
        self.tweets.append(tweet)
        headers.update(self._daily(account)[1])  # the post just made counts against the cap
        if self.take_drop_after_commit():
            return AbortConnection()
        payload = {
            "data": {"id": tweet_id, "text": tweet.text, "edit_history_tweet_ids": [tweet_id]}
        }
        return self._with(JSONResponse(payload, status_code=201), headers)

    def _check_tweet(
        self, account: Account, body: dict[str, Any]
    ) -> tuple[str, list[Upload]] | Response:
        text = body.get("text", "")
        media = body.get("media")
        if not isinstance(text, str):
            return invalid_request("text must be a string.")
        if media is not None and (
            not isinstance(media, dict) or not isinstance(media.get("media_ids"), list)
        ):
            return invalid_request("media.media_ids must be a list of media ids.")
        ids = media["media_ids"] if isinstance(media, dict) else []
        if not text and not ids:
            return invalid_request("One of text or media is required.")
        if text_weight(text) > TEXT_MAX:
            return problem(403, "Forbidden", "Your Tweet text is too long.")
        uploads: list[Upload] = []
        for media_id in ids:
            upload = self.uploads.get(str(media_id)) if isinstance(media_id, str) else None
            ready = (
                upload is not None
                and upload.account is account
                and upload.finalized_at is not None
                and self.now() < upload.expires_at
                and (not upload.processed or self._processing(upload)["state"] == "succeeded")
            )
            if not ready or upload is None:
                return invalid_request("Your media IDs are invalid.")
            uploads.append(upload)
        videos = sum(1 for u in uploads if u.media_type.startswith("video/"))
        if len(uploads) > 4 or (videos and len(uploads) > 1):
            return invalid_request("A post holds up to 4 images, or 1 GIF, or 1 video.")
        if text and any(t.account is account and t.submitted == text for t in self.tweets):
            return problem(403, "Forbidden", DUPLICATE)
        return text, uploads

    def _reply_target(self, body: dict[str, Any]) -> str | Response | None:
        """The post a `reply.in_reply_to_tweet_id` names (None: not a reply); X's 403 for one
        that is gone."""
        reply = body.get("reply")
        if reply is None:
            return None
        parent = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if not isinstance(parent, str) or not TWEET_ID.fullmatch(parent):
            return invalid_request("reply.in_reply_to_tweet_id must be a post id.")
        if not any(t.tweet_id == parent for t in self.tweets):
            return problem(
                403,
                "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
        return parent

    def _tweet_by_id(self, raw: str) -> Tweet | Response | None:
        """The post a path's `id` names; X's 400 for an id that is not one, None if absent."""
        if not TWEET_ID.fullmatch(raw):
            return invalid_request(
                f"The `id` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$",
                {"id": raw},
            )
        return next((t for t in self.tweets if t.tweet_id == raw), None)

    async def _delete_tweet(self, request: Request) -> Response:
        """DELETE /2/tweets/:id: only the author's token may delete; the post is gone for
        every read afterwards. [U] X's exact answers for an unknown id (404
        resource-not-found here) and another user's post (403)."""
        gate = await self._gate(request, "tweets.delete", self.limits.tweets_delete_per_15min)
        if isinstance(gate, Response):
            return gate
        account, headers = gate
        raw = request.path_params["tweet_id"]
        tweet = self._tweet_by_id(raw)
        if isinstance(tweet, Response):
            return self._with(tweet, headers)
        if tweet is None:
            return self._with(not_found(raw), headers)
        if tweet.account is not account:
            refused = problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
            return self._with(refused, headers)
        self.tweets.remove(tweet)
        return self._with(JSONResponse({"data": {"deleted": True}}), headers)

    async def _lookup_tweet(self, request: Request) -> Response:
        """GET /2/tweets/:id: a post by id (anyone's: posts are public); an unknown one is a
        200 whose `errors` say it was not found, as every v2 lookup answers."""
        gate = await self._gate(request, "tweets.lookup", self.limits.tweet_lookup_per_15min)
        if isinstance(gate, Response):
            return gate
        _, headers = gate
        raw = request.path_params["tweet_id"]
        tweet = self._tweet_by_id(raw)
        if isinstance(tweet, Response):
            return self._with(tweet, headers)
        if tweet is None:
            error = not_found_error(raw)
            return self._with(JSONResponse({"errors": [error]}), headers)
        fields = set(request.query_params.get("tweet.fields", "").split(","))
        return self._with(JSONResponse({"data": tweet.view(fields, self.now())}), headers)

    async def _timeline(self, request: Request) -> Response:
        """GET /2/users/:id/tweets: the user's recent posts, a page at a time."""
        gate = await self._gate(request, "users.tweets", self.limits.timeline_per_15min)
        if isinstance(gate, Response):
            return gate
        _, headers = gate
        user_id = request.path_params["user_id"]
        params = request.query_params
        query = parse_query(params, self.page_tokens, user_id)
        if isinstance(query, Response):
            return self._with(query, headers)
        if user_id not in self.tokens.accounts:
            detail = f"Could not find user with id: [{user_id}]."
            errors = [{"value": user_id, "detail": detail, "title": "Not Found Error"}]
            return self._with(JSONResponse({"errors": errors}), headers)
        fields = set(params.get("tweet.fields", "").split(","))
        expansions = set(params.get("expansions", "").split(","))
        if "attachments.media_keys" in expansions:
            fields.add("attachments")
        page = page_of([t for t in self.tweets if t.account.external_id == user_id], query)
        meta: dict[str, Any] = {"result_count": len(page.posts)}
        if page.posts:
            meta.update(newest_id=page.posts[0].tweet_id, oldest_id=page.posts[-1].tweet_id)
        if page.next is not None:
            meta["next_token"] = self.page_tokens.issue(user_id, page.next)
        if page.previous is not None:
            meta["previous_token"] = self.page_tokens.issue(user_id, page.previous)
        payload: dict[str, Any] = {"meta": meta}
        if page.posts:
            payload["data"] = [t.view(fields, self.now()) for t in page.posts]
        if "attachments.media_keys" in expansions:
            media = [
                {"media_key": k, "type": "video" if k.startswith("13_") else "photo"}
                for t in page.posts
                for k in t.media_keys
            ]
            if media:
                payload["includes"] = {"media": media}
        return self._with(JSONResponse(payload), headers)

    # -- api.x.com/2/oauth2/revoke -------------------------------------------------------

    async def _revoke(self, request: Request) -> Response:
        """X's revocation: `token` (and `token_type_hint`), the client by Basic (confidential)
        or `client_id` (public); `{"revoked": true}`."""
        self.calls["oauth2.revoke"] += 1

        def oauth(status: int, error: str, description: str) -> Response:
            return JSONResponse({"error": error, "error_description": description}, status)

        basic = _basic(request.headers.get("authorization"))
        if basic is not None and basic != (self.config.client_id, self.config.client_secret):
            return oauth(401, "invalid_client", "Invalid client credentials.")
        if basic is None and not self.limits.public_client:
            return oauth(401, "invalid_client", "Missing valid authorization header")
        result = await revoke_request(request, self.tokens, client=None)
        if isinstance(result, OAuthRefusal):
            return oauth(result.status, result.error, result.description)
        return JSONResponse({"revoked": True})

    # -- api.x.com/2/oauth2/token --------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.calls["oauth2.token"] += 1
        await self.injected_latency()

        def oauth(status: int, error: str, description: str) -> Response:
            return JSONResponse({"error": error, "error_description": description}, status)

        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            await drain(request)
            return oauth(400, "invalid_request", "Content-Type must be form-encoded.")
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        basic = _basic(request.headers.get("authorization"))
        if basic is not None:
            if basic != (self.config.client_id, self.config.client_secret):
                return oauth(401, "invalid_client", "Invalid client credentials.")
        elif not self.limits.public_client:
            return oauth(401, "invalid_client", "Missing valid authorization header")
        if values.get("client_id") not in {None, self.config.client_id}:
            return oauth(401, "invalid_client", "Invalid client_id.")
        if values.get("grant_type") == "authorization_code":
            # A public client proves itself by client_id alone, a confidential one by Basic.
            missing = [k for k in ("code", "redirect_uri", "code_verifier") if not values.get(k)]
            if missing:
                return oauth(400, "invalid_request", f"Missing required parameter [{missing[0]}].")
            grant = self.tokens.redeem_code(
                values["code"],
                client_id=self.config.client_id,
                redirect_uri=values["redirect_uri"],
                verifier=values["code_verifier"],
            )
            if grant is None:
                return oauth(
                    400, "invalid_request", "Value passed for the authorization code was invalid."
                )
            return self._token_body(grant)
        if values.get("grant_type") != "refresh_token":
            return oauth(400, "unsupported_grant_type", "grant_type must be refresh_token.")
        refresh_token = values.get("refresh_token")
        if not refresh_token:
            return oauth(400, "invalid_request", "Missing required parameter [refresh_token].")
        grant = self.tokens.refresh(refresh_token, rotate=True)
        if grant is None:
            return oauth(400, "invalid_request", "Value passed for the token was invalid.")
        return self._token_body(grant)

    @staticmethod
    def _token_body(grant: Grant) -> Response:
        return JSONResponse(
            {
                "token_type": "bearer",
                "expires_in": grant.expires_in,
                "access_token": grant.access_token,
                "scope": _SCOPES,
                "refresh_token": grant.refresh_token,
            }
        )

    async def _users_me(self, request: Request) -> Response:
        """GET /2/users/me: who the token belongs to."""
        self.calls["users.me"] += 1
        refused = await self.injected_fault()
        if refused is not None:
            return refused
        account = self.tokens.authenticate(request.headers.get("authorization"))
        if not isinstance(account, Account):
            return unauthorized()
        return JSONResponse(
            {
                "data": {
                    "id": account.external_id,
                    "name": account.handle,
                    "username": account.handle,
                }
            }
        )


def _basic(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic Authorization header, if one was sent."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return ("", "")
    return user, password


__all__ = ["XFake", "XLimits"]
