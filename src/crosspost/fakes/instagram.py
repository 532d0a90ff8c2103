"""Fake Instagram Graph API: Reels/image containers, rupload, status, quota, publish, refresh.

Written from PLATFORM_PROTOCOLS.md §2, never from our client. Routes (under the mount):
``/{ver}/{ig-user-id}/media`` (POST create, GET list), ``/{ver}/{ig-user-id}/media_publish``,
``/{ver}/{ig-user-id}/content_publishing_limit``, ``/{ver}/{node-id}`` (container, media or
the user; every Graph path with or without a trailing slash, as Meta's SDK sends them),
``/rupload/ig-api-upload/{ver}/{container-id}`` (the rupload host) and
``/refresh_access_token`` (Instagram Login's token refresh), and Business Login for
Instagram: the consent page ``/oauth/authorize`` (www.instagram.com), the code exchange
``POST /oauth/access_token`` (api.instagram.com, a one-hour token), ``/access_token``
(graph.instagram.com, ``ig_exchange_token`` → 60 days) and ``/{ver}/me``.

Bytes that reach the rupload host are kept even when the connection breaks mid-body, and the
container reports them as ``video_status.uploading_phase.bytes_transferred`` — the [U] resume
point a client reads; an upload POST must start exactly there (``offset`` header).
"""

from __future__ import annotations

import asyncio
import math
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
    drain,
    header_int,
    iso_time,
    mount_base,
    unique_id,
)
from crosspost.fakes.engagement import Engagement, engagement
from crosspost.fakes.instagram_comments import Comments
from crosspost.fakes.instagram_rules import (
    VERSION,
    Container,
    InstagramLimits,
    Media,
    buc_usage_header,
    check_caption,
    graph_error,
    graph_time,
    invalid_parameter,
    no_object,
    numeric_id,
    proof_matches,
    rupload_error,
)

_SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
)
# The media insights Instagram Login serves (developers.facebook.com, Instagram Media
# Insights), and those deprecated in April 2025, which it refuses.
_INSIGHTS = {
    "views": "Views",
    "reach": "Accounts reached",
    "likes": "Likes",
    "comments": "Comments",
    "shares": "Shares",
    "saved": "Saved",
    "total_interactions": "Interactions",
}
_RETIRED = (
    "impressions",
    "plays",
    "video_views",
    "clips_replays_count",
    "ig_reels_aggregated_all_plays_count",
)
SHORT_LIVED_SECONDS = 3600.0  # what the code exchange's token lives


class InstagramFake(PlatformFake):
    """The Instagram fake; mount it under ``/instagram``."""

    access_prefix = "IGAA"
    refresh_prefix = "unused-"
    scopes = _SCOPES
    authorize_path = "/oauth/authorize"

    def __init__(
        self,
        config: FakeConfig | None = None,
        *,
        limits: InstagramLimits | None = None,
        name: str = "instagram",
    ) -> None:
        super().__init__(config, name=name)
        if limits is None and not self.config.rate_limits:
            limits = InstagramLimits(quota_total=1_000_000_000)
        self.limits = limits or InstagramLimits()
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.comments = Comments()
        self._issued: dict[str, float] = {}  # access token → when this fake issued it
        self._short_lived: set[str] = set()  # code-exchange tokens not yet made long-lived
        self._tasks: set[asyncio.Task[None]] = set()

    def api_routes(self) -> list[BaseRoute]:
        """Paths of graph.instagram.com, rupload.facebook.com and api.instagram.com."""
        graph = [
            ("/{version}/me", self._me, ["GET"]),
            ("/{version}/{user_id}/media", self._media_edge, ["GET", "POST"]),
            ("/{version}/{user_id}/media_publish", self._media_publish, ["POST"]),
            # [U] Meta's own SDK (IGUserForIGOnlyAPI, generated from Meta's specs of
            # graph.instagram.com) names this edge `mediapublish`; the docs say media_publish.
            ("/{version}/{user_id}/mediapublish", self._media_publish, ["POST"]),
            ("/{version}/{user_id}/content_publishing_limit", self._publishing_limit, ["GET"]),
            ("/{version}/{media_id}/insights", self._insights, ["GET"]),
            ("/{version}/{media_id}/comments", self._comments, ["GET", "POST"]),
            ("/{version}/{node_id}", self._node, ["GET"]),
        ]
        return [
            Route("/oauth/access_token", self._code_exchange, methods=["POST"]),
            Route("/access_token", self._long_lived, methods=["GET"]),
            Route("/refresh_access_token", self._refresh, methods=["GET"]),
            Route(
                "/rupload/ig-api-upload/{version}/{container_id}", self._rupload, methods=["POST"]
            ),
            # Graph serves every path with or without a trailing slash; Meta's SDK reads
            # every node as `/{ver}/{id}/`.
            *(
                Route(path + slash, endpoint, methods=methods)
                for path, endpoint, methods in graph
                for slash in ("", "/")
            ),
        ]

    def default_access_ttl(self) -> float:
        """Long-lived tokens: 60 days."""
        return float(self.limits.access_ttl_seconds)

    def new_external_id(self) -> str:
        """An IG user id."""
        return numeric_id()

    def error_response(self, status: int, message: str) -> Response:
        """Graph's envelope. Graph answers an unknown path (code 2500) and a method a node
        does not support (100/33) with 400, and its own failure with code 1."""
        if status == 404:
            return graph_error(400, 2500, message)
        if status == 405:
            return graph_error(400, 100, message, subcode=33)
        if status >= 500:
            return graph_error(status, 1, message, transient=True)
        return invalid_parameter(message)

    def server_error(self) -> Response:
        """Graph's 500 with code 2 (service temporarily unavailable)."""
        return graph_error(
            500,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            transient=True,
        )

    def rate_limited(self) -> Response:
        """Graph's throttle (code 4) with the usage header Meta sends instead of Retry-After."""
        return self._throttled(None)

    def clear_state(self) -> None:
        """Forget containers, media and running fetches."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.containers.clear()
        self.media.clear()
        self.comments.comments.clear()
        self._issued.clear()
        self._short_lived.clear()

    def status_code(self, c: Container) -> str:
        """The container's status_code now (processing and expiry judged lazily)."""
        if c.media_id is not None:
            return "PUBLISHED"
        if self.now() >= c.created_at + self.limits.container_ttl_seconds:
            return "EXPIRED"
        if c.fetch_failed:
            return "ERROR"
        if c.completed_at is None or self.now() < c.completed_at + c.processing_seconds:
            return "IN_PROGRESS"
        return "ERROR" if c.fails else "FINISHED"

    def _status_text(self, c: Container, code: str) -> str:
        if code == "ERROR" and c.fetch_failed:
            return (
                "Error: Media download has failed. The media URI doesn't meet our "
                "requirements (2207052)."
            )
        if code == "ERROR":
            return "Error: We don't support this video format (2207026)."
        if code == "FINISHED":
            return "Finished: Media has been uploaded and it is ready to be published."
        return code.replace("_", " ").capitalize()

    def state(self) -> dict[str, Any]:
        """Posts (published media), every container, calls."""
        containers = []
        for c in self.containers.values():
            containers.append(
                {
                    "id": c.container_id,
                    "account_external_id": c.account.external_id,
                    "caption": c.caption,
                    "media_type": c.media_type,
                    "source": c.source,
                    "size": c.received,
                    "sha256": c.hasher.hexdigest() if c.completed_at is not None else None,
                    "status": self.status_code(c),
                    "media_id": c.media_id,
                    "created_at": iso_time(c.created_at),
                }
            )
        posts = [
            {
                "id": m.media_id,
                "container_id": m.container.container_id,
                "account_external_id": m.container.account.external_id,
                "caption": m.container.caption,
                "media_type": m.container.media_type,
                "children": m.container.children,
                "size": m.container.received,
                "sha256": m.container.hasher.hexdigest(),
                "status": "PUBLISHED",
                "permalink": self._permalink(m),
                "published_at": iso_time(m.published_at),
            }
            for m in self.media.values()
        ]
        return {
            "platform": "instagram",
            "posts": posts,
            "comments": self.comments.state(),
            "containers": containers,
            "calls": dict(self.calls),
        }

    # -- helpers -------------------------------------------------------------------------

    def _throttled(self, account: Account | None) -> Response:
        minutes = max(1, math.ceil(self.faults.retry_after_seconds / 60))
        owner = account or Account("app", "0", 0.0, 0.0)
        return graph_error(
            400,
            4,
            "(#4) Application request limit reached",
            transient=True,
            headers=buc_usage_header(owner, minutes),
        )

    def _token_of(self, request: Request, params: dict[str, str], schemes: set[str]) -> str | None:
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            return token.strip() if scheme.lower() in schemes and token.strip() else None
        return params.get("access_token") or None

    def _auth(self, token: str | None) -> Account | Response:
        if token is None:
            return graph_error(
                400, 2500, "An active access token must be used to query information."
            )
        result = self.tokens.authenticate(f"Bearer {token}")
        if isinstance(result, Account):
            return result
        if result.value == "expired":
            return graph_error(
                400,
                190,
                "Error validating access token: Session has expired.",
                subcode=463,
            )
        return graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")

    async def _gate(
        self, request: Request, operation: str
    ) -> tuple[Account, dict[str, str]] | Response:
        """Count, read parameters (query + form), authenticate, then apply injected faults."""
        self.calls[operation] += 1
        params = dict(request.query_params)
        if request.method == "POST":
            kind = request.headers.get("content-type", "")
            if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                form = await request.form()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                await drain(request)
        if not VERSION.fullmatch(request.path_params.get("version", "")):
            return graph_error(400, 2635, "Unknown or deprecated Graph API version.")
        token = self._token_of(request, params, {"bearer", "oauth"})
        account = self._auth(token)
        if isinstance(account, Response):
            return account
        proof = params.get("appsecret_proof")
        if proof is not None and not proof_matches(proof, token or "", self.config.client_secret):
            return graph_error(
                400,
                100,
                "Invalid appsecret_proof provided in the API argument",
                kind="GraphMethodException",
            )
        await self.injected_latency()
        if self.chance(self.faults.failure_rate):
            return self.server_error()
        if self.chance(self.faults.rate_limit_rate):
            return self._throttled(account)
        return account, params

    def _own_user(self, request: Request, account: Account) -> Response | None:
        user = request.path_params["user_id"]
        return None if user == account.external_id else no_object(user)

    def _permalink(self, m: Media) -> str:
        kind = "reel" if m.container.media_type == "REELS" else "p"
        return f"https://www.instagram.com/{kind}/{m.shortcode}/"

    def _published_in_window(self, account: Account) -> list[Media]:
        since = self.now() - self.limits.quota_duration
        return [
            m
            for m in self.media.values()
            if m.container.account is account and m.published_at > since
        ]

    def _complete(self, c: Container) -> None:
        c.completed_at = self.now()
        c.processing_seconds = self.faults.processing_seconds
        c.fails = self.chance(self.faults.processing_fail_rate)

    async def _fetch(self, c: Container) -> None:
        """Download a video_url / image_url the way Meta does: streamed, no redirects."""
        try:
            async with (
                httpx.AsyncClient(follow_redirects=False, timeout=60.0) as client,
                client.stream("GET", c.url) as response,
            ):
                if response.status_code != 200:
                    c.fetch_failed = True
                    return
                async for piece in response.aiter_bytes():
                    c.hasher.update(piece)
                    c.received += len(piece)
        except httpx.HTTPError:
            c.fetch_failed = True
            return
        self._complete(c)

    # -- /{ig-user-id}/media ---------------------------------------------------------------

    async def _media_edge(self, request: Request) -> Response:
        listing = request.method == "GET"
        gate = await self._gate(request, "media.list" if listing else "media.create")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        refused = self._own_user(request, account)
        if refused is not None:
            return refused
        if listing:
            return self._list_media(request, account, params)
        return self._create(request, account, params)

    def _create(self, request: Request, account: Account, params: dict[str, str]) -> Response:
        caption = params.get("caption", "")
        problem = check_caption(caption, self.limits)
        if problem:
            return invalid_parameter("Invalid parameter", user_msg=problem)
        media_type = params.get("media_type", "IMAGE")
        item = params.get("is_carousel_item") == "true"
        if media_type == "CAROUSEL":
            return self._create_carousel(account, caption, params.get("children", ""))
        if media_type == "VIDEO" and item and params.get("video_url"):
            c = Container(
                numeric_id(),
                account,
                "VIDEO",
                "",
                self.now(),
                "video_url",
                params["video_url"],
                carousel_item=True,
            )
            return self._fetch_later(c)
        if media_type == "IMAGE" or (media_type not in {"REELS"} and "image_url" in params):
            url = params.get("image_url")
            if not url:
                return invalid_parameter("The parameter image_url is required")
            source = "image_url"
            media_type = "IMAGE"
        elif media_type == "REELS":
            if params.get("upload_type") == "resumable":
                source, url = "resumable", ""
            elif params.get("video_url"):
                source, url = "video_url", params["video_url"]
            else:
                return invalid_parameter("The parameter video_url is required")
        else:
            return invalid_parameter(f"media_type {media_type} is not supported")
        if url and not url.isascii():
            return invalid_parameter("The media URL must be US-ASCII")
        c = Container(numeric_id(), account, media_type, caption, self.now(), source, url)
        if item and (source == "resumable" or media_type != "IMAGE"):
            return invalid_parameter("A carousel item is an image_url, or a VIDEO with video_url")
        c.carousel_item = item
        if source == "resumable":
            self.containers[c.container_id] = c
            uri = f"{mount_base(request)}/rupload/ig-api-upload/{request.path_params['version']}/"
            return JSONResponse({"id": c.container_id, "uri": uri + c.container_id})
        return self._fetch_later(c)

    def _fetch_later(self, c: Container) -> Response:
        """Keep the container and fetch its URL in the background, as Meta does."""
        self.containers[c.container_id] = c
        task = asyncio.get_running_loop().create_task(self._fetch(c))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse({"id": c.container_id})

    def _create_carousel(self, account: Account, caption: str, children: str) -> Response:
        """A CAROUSEL container of 2 to 10 of the account's finished carousel items."""
        ids = [c for c in children.split(",") if c]
        if not 2 <= len(ids) <= CAROUSEL_MAX:
            return invalid_parameter(
                f"The parameter children must name 2 to {CAROUSEL_MAX} carousel items"
            )
        for child_id in ids:
            child = self.containers.get(child_id)
            if child is None or child.account is not account or not child.carousel_item:
                return invalid_parameter(f"{child_id} is not a carousel item of this account")
            if self.status_code(child) != "FINISHED":
                return graph_error(
                    400,
                    9007,
                    "Media ID is not available",
                    subcode=2207027,
                    user_msg="A carousel item is not ready to be published.",
                )
        c = Container(numeric_id(), account, "CAROUSEL", caption, self.now(), "children")
        c.children = ids
        self.containers[c.container_id] = c
        self._complete(c)
        c.processing_seconds = 0.0
        return JSONResponse({"id": c.container_id})

    def _list_media(self, request: Request, account: Account, params: dict[str, str]) -> Response:
        mine = sorted(
            (m for m in self.media.values() if m.container.account is account),
            key=lambda m: m.published_at,
            reverse=True,
        )
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 25
        limit = max(1, min(limit, 100))
        start = int(params["after"]) if params.get("after", "").isdigit() else 0
        page = mine[start : start + limit]
        fields = set(params.get("fields", "id").split(","))
        data = [self._media_fields(m, fields) for m in page]
        body: dict[str, Any] = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(mine):
                body["paging"]["next"] = str(
                    request.url.include_query_params(after=str(start + len(page)))
                )
        return JSONResponse(body)

    def _media_fields(self, m: Media, fields: set[str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": m.media_id,
            "caption": m.container.caption,
            "timestamp": graph_time(m.published_at),
            "permalink": self._permalink(m),
            "media_type": _MEDIA_TYPES.get(m.container.media_type, "IMAGE"),
            "media_product_type": "REELS" if m.container.media_type == "REELS" else "FEED",
            "shortcode": m.shortcode,
            "like_count": self._grown(m).likes,
            "comments_count": self._grown(m).comments,
        }
        return {k: v for k, v in values.items() if k in fields or k == "id"}

    def _grown(self, m: Media) -> Engagement:
        return engagement(m.media_id, self.now() - m.published_at)

    async def _comments(self, request: Request) -> Response:
        """POST or GET /{ig-media-id}/comments: only on published media; the media's owner
        comments here (others' media is 100/33, as every node is)."""
        creating = request.method == "POST"
        gate = await self._gate(request, "comments.create" if creating else "comments.list")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        node = request.path_params["media_id"]
        m = self.media.get(node)
        if m is None or m.container.account is not account:
            return no_object(node)
        if creating:
            return self.comments.create(account, node, params.get("message"), self.now())
        return self.comments.page(node, params)

    async def _insights(self, request: Request) -> Response:
        """GET /{media-id}/insights?metric=…: lifetime values of the media's owner only
        (another's or an unknown id is 100/33); an unknown or retired metric is (#100)."""
        gate = await self._gate(request, "media.insights")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        node = request.path_params["media_id"]
        m = self.media.get(node)
        if m is None or m.container.account is not account:
            return no_object(node)
        wanted = [name for name in params.get("metric", "").split(",") if name]
        if not wanted:
            return invalid_parameter("The parameter metric is required")
        for i, name in enumerate(wanted):
            if name in _RETIRED:
                return invalid_parameter(
                    f"Starting from version v22.0 and above, the {name} metric is no longer "
                    "supported."
                )
            if name not in _INSIGHTS:
                return invalid_parameter(
                    f"metric[{i}] must be one of the following values: {', '.join(_INSIGHTS)}"
                )
        grown = self._grown(m)
        value = {
            "views": grown.views,
            "reach": grown.reach,
            "likes": grown.likes,
            "comments": grown.comments,
            "shares": grown.shares,
            "saved": grown.saves,
            "total_interactions": grown.likes + grown.comments + grown.shares + grown.saves,
        }
        data = [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value[name]}],
                "title": _INSIGHTS[name],
                "description": f"The number of {_INSIGHTS[name].lower()} of this media.",
                "id": f"{node}/insights/{name}/lifetime",
            }
            for name in wanted
        ]
        return JSONResponse({"data": data})

    # -- /{ig-user-id}/media_publish and content_publishing_limit ---------------------------

    async def _media_publish(self, request: Request) -> Response:
        gate = await self._gate(request, "media_publish")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        refused = self._own_user(request, account)
        if refused is not None:
            return refused
        creation_id = params.get("creation_id")
        if not creation_id:
            return invalid_parameter("The parameter creation_id is required")
        c = self.containers.get(creation_id)
        if c is None or c.account is not account:
            return no_object(creation_id)
        if self.faults.quota_exhausted or (
            len(self._published_in_window(account)) >= self.limits.quota_total
        ):
            return graph_error(
                400,
                9,
                "Application request limit reached",
                subcode=2207042,
                user_msg="You reached the maximum number of posts allowed in 24 hours.",
            )
        if c.carousel_item:
            return invalid_parameter(
                "A carousel item cannot be published alone; publish its CAROUSEL container"
            )
        status = self.status_code(c)
        if status == "PUBLISHED":
            return invalid_parameter("The media has already been published")
        if status == "EXPIRED":
            return graph_error(400, -2, "The container has expired.", subcode=2207020)
        if status != "FINISHED":
            return graph_error(
                400,
                9007,
                "Media ID is not available",
                subcode=2207027,
                user_msg="The media is not ready for publishing, please wait for a moment.",
            )
        m = Media(numeric_id(), c, unique_id(11), self.now())
        c.media_id = m.media_id
        self.media[m.media_id] = m
        if self.take_drop_after_commit():
            return AbortConnection()
        return JSONResponse({"id": m.media_id})

    async def _publishing_limit(self, request: Request) -> Response:
        gate = await self._gate(request, "content_publishing_limit")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        refused = self._own_user(request, account)
        if refused is not None:
            return refused
        used = len(self._published_in_window(account))
        if self.faults.quota_exhausted:
            used = max(used, self.limits.quota_total)
        fields = set(params.get("fields", "quota_usage").split(","))
        row: dict[str, Any] = {"quota_usage": used}
        if "config" in fields:
            row["config"] = {
                "quota_total": self.limits.quota_total,
                "quota_duration": self.limits.quota_duration,
            }
        return JSONResponse({"data": [row]})

    # -- /{node-id} ------------------------------------------------------------------------

    async def _node(self, request: Request) -> Response:
        gate = await self._gate(request, "node.get")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        node = request.path_params["node_id"]
        fields = set(params.get("fields", "id").split(","))
        if node == account.external_id:
            return self._user_fields(account, fields)
        c = self.containers.get(node)
        if c is not None and c.account is account:
            code = self.status_code(c)
            values: dict[str, Any] = {
                "id": c.container_id,
                "status_code": code,
                "status": self._status_text(c, code),
            }
            if c.source == "resumable":
                done = c.file_size is not None and c.received >= c.file_size
                values["video_status"] = {
                    "uploading_phase": {
                        "status": "complete"
                        if done
                        else "in_progress"
                        if c.received
                        else "not_started",
                        "bytes_transferred": c.received,
                    },
                    "processing_phase": {"status": code.lower()},
                }
            return JSONResponse({k: v for k, v in values.items() if k in fields or k == "id"})
        m = self.media.get(node)
        if m is not None and m.container.account is account:
            return JSONResponse(self._media_fields(m, fields))
        return no_object(node)

    # -- rupload ---------------------------------------------------------------------------

    async def _rupload(self, request: Request) -> Response:
        self.calls["rupload"] += 1
        c = self.containers.get(request.path_params["container_id"])
        token = self._token_of(request, {}, {"oauth"})
        account = self._auth(token) if token else None
        if not isinstance(account, Account):
            await drain(request)
            return rupload_error(
                401,
                "AuthError",
                "Authorization: OAuth <token> is required and must be valid.",
                retriable=False,
            )
        if c is None or c.account is not account or c.source != "resumable":
            await drain(request)
            return rupload_error(
                404, "NotFoundError", "No resumable container here.", retriable=False
            )
        fault = await self.injected_fault()
        if fault is not None:
            await drain(request)
            return fault
        async with c.lock:
            return await self._receive(c, request)

    async def _receive(self, c: Container, request: Request) -> Response:
        offset = header_int(request, "offset")
        file_size = header_int(request, "file_size")
        length = header_int(request, "content-length")
        problem = None
        if offset is None or file_size is None:
            problem = "The offset and file_size headers are required."
        elif file_size > self.limits.max_video_bytes or file_size <= 0:
            problem = f"file_size must be 1..{self.limits.max_video_bytes} bytes."
        elif c.file_size is not None and file_size != c.file_size:
            problem = "file_size differs from the one this upload started with."
        elif offset != c.received:
            problem = f"offset {offset} does not match the {c.received} bytes received."
        elif length is None or offset + length != file_size:
            problem = "The body must run from offset to the end of the file."
        if problem is not None or length is None or file_size is None:
            await drain(request)
            return rupload_error(400, "ProcessingFailedError", problem or "", retriable=False)
        if c.completed_at is not None:
            await drain(request)
            return JSONResponse({"success": True, "message": "Upload successful."})
        c.file_size = file_size
        cut = None
        if length > 1 and self.chance(self.faults.reset_mid_chunk_rate):
            cut = self.rng.randint(1, length - 1)
        read = 0
        try:
            async for piece in request.stream():
                kept = piece if cut is None else piece[: cut - read]
                # Bytes that arrived are kept: the container reports them as the resume point.
                c.hasher.update(kept)
                c.received += len(kept)
                read += len(kept)
                if cut is not None and read >= cut:
                    break
        except ClientDisconnect:
            return rupload_error(400, "ProcessingFailedError", "Connection closed.", retriable=True)
        if cut is not None:
            return AbortConnection()
        if c.received < file_size:
            return rupload_error(400, "ProcessingFailedError", "Body too short.", retriable=True)
        self._complete(c)
        return JSONResponse({"success": True, "message": "Upload successful."})

    # -- graph.instagram.com/refresh_access_token ------------------------------------------

    async def _refresh(self, request: Request) -> Response:
        self.calls["refresh_access_token"] += 1
        await self.injected_latency()
        params = dict(request.query_params)
        if params.get("grant_type") != "ig_refresh_token":
            return invalid_parameter("grant_type must be ig_refresh_token")
        token = params.get("access_token")
        account = self._auth(token)
        if isinstance(account, Response):
            return account
        assert token is not None
        issued = self._issued.get(token, account.created_at)
        if self.now() - issued < self.limits.refresh_min_age_seconds:
            # [U] Meta documents the 24 h rule, not the error it answers; (#10) is our guess.
            return graph_error(400, 10, "(#10) The access token is less than 24 hours old.")
        grant = self.tokens.consent(account.handle, account.external_id, account.access_ttl)
        self._issued[grant.access_token] = self.now()
        return JSONResponse(
            {
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": grant.expires_in,
            }
        )

    # -- Business Login for Instagram ------------------------------------------------------

    async def _code_exchange(self, request: Request) -> Response:
        """api.instagram.com/oauth/access_token: a consent's code → a one-hour user token."""
        self.calls["oauth.access_token"] += 1
        await self.injected_latency()
        if request.headers.get("content-type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            await drain(request)
            return _oauth_refusal("Content-Type must be application/x-www-form-urlencoded")
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        for name in ("client_id", "client_secret", "grant_type", "redirect_uri", "code"):
            if not values.get(name):
                return _oauth_refusal(f"Missing required field {name}")
        if (values["client_id"], values["client_secret"]) != (
            self.config.client_id,
            self.config.client_secret,
        ):
            return _oauth_refusal("Invalid platform app")
        if values["grant_type"] != "authorization_code":
            return _oauth_refusal("Unsupported grant_type")
        grant = self.tokens.redeem_code(
            values["code"],
            client_id=values["client_id"],
            redirect_uri=values["redirect_uri"],
            verifier=values.get("code_verifier", ""),
        )
        if grant is None:
            return _oauth_refusal("This authorization code has been used or has expired")
        self.tokens.limit_access(grant.access_token, SHORT_LIVED_SECONDS)
        self._short_lived.add(grant.access_token)
        return JSONResponse(
            {
                "data": [
                    {
                        "access_token": grant.access_token,
                        "user_id": grant.account.external_id,
                        "permissions": ",".join(self.scopes),
                    }
                ]
            }
        )

    async def _long_lived(self, request: Request) -> Response:
        """graph.instagram.com/access_token: a short-lived token → a 60-day one."""
        self.calls["access_token"] += 1
        await self.injected_latency()
        params = dict(request.query_params)
        if params.get("grant_type") != "ig_exchange_token":
            return invalid_parameter("grant_type must be ig_exchange_token")
        if params.get("client_secret") != self.config.client_secret:
            return graph_error(400, 101, "Error validating client secret.")
        token = params.get("access_token")
        account = self._auth(token)
        if isinstance(account, Response):
            return account
        if token not in self._short_lived:
            return invalid_parameter("access_token must be a short-lived token")
        self._short_lived.discard(token)
        grant = self.tokens.consent(account.handle, account.external_id, account.access_ttl)
        self._issued[grant.access_token] = self.now()
        return JSONResponse(
            {
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": grant.expires_in,
            }
        )

    async def _me(self, request: Request) -> Response:
        """``/{ver}/me``: the token's own professional account."""
        gate = await self._gate(request, "me")
        if isinstance(gate, Response):
            return gate
        account, params = gate
        return self._user_fields(account, set(params.get("fields", "id").split(",")))

    def _user_fields(self, account: Account, fields: set[str]) -> Response:
        """The IG user node (``/me`` or ``/{ig-user-id}``), with the fields asked for."""
        values = {
            "id": account.external_id,
            "user_id": account.external_id,
            "username": account.handle,
        }
        return JSONResponse({k: v for k, v in values.items() if k in fields or k == "id"})


CAROUSEL_MAX = 10
# The container's media_type, as the published media's `media_type` field names it.
_MEDIA_TYPES = {"REELS": "VIDEO", "IMAGE": "IMAGE", "CAROUSEL": "CAROUSEL_ALBUM"}


def _oauth_refusal(message: str) -> Response:
    """api.instagram.com's OAuth error shape (not the Graph one)."""
    return JSONResponse(
        {"error_type": "OAuthException", "code": 400, "error_message": message},
        status_code=400,
    )
