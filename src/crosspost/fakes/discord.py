"""Fake Discord webhooks: Execute, Get and Delete Webhook with its token, strict, rate-limited.

Written from Discord's developer documentation (the Webhook resource, the embed limits, Rate
Limits, the JSON error codes, the error-message format) and from error bodies Discord is
reported to send, never from our client. Strict about:

* the path, ``/api[/v6..v10]/webhooks/{id}/{token}``: an id that is no snowflake is 400 50035
  ``NUMBER_TYPE_COERCE``, an unknown or deleted webhook 404 ``Unknown Webhook`` (10015), a known
  id with another token 401 ``Invalid Webhook Token`` (50027), a discontinued version 50041;
* the body: JSON only (another Content-Type is 50035; JSON that does not parse 50109); the
  message fields and the embed limits (content 2000, username 1-80 without "discord" or
  "clyde", 10 embeds: title 256, description 4096, 25 fields of 256/1024, footer 2048, author
  256, 6000 characters across all embeds), every refusal at once in Discord's nested
  ``errors`` (400 ``Invalid Form Body``, 50035);
* a message with nothing to show (content, embeds, components with ``with_components``, a poll)
  is 400 ``Cannot send an empty message`` (50006); a forum channel needs ``thread_id`` or
  ``thread_name`` (220001, 220002), ``thread_name`` elsewhere is 220003, and an unknown
  ``thread_id`` is 404 ``Unknown Channel`` (10003);
* ``wait`` (``True``/``true``/``1``, ``False``/``false``/``0``): 200 with the message object,
  otherwise 204 No Content;
* rate limits: executions per webhook in a fixed window (default 5 per 2 s), counted whether
  they succeed or not; every answer about a webhook carries ``X-RateLimit-Limit``,
  ``-Remaining``, ``-Reset``, ``-Reset-After`` and ``-Bucket``, and a refusal is 429
  ``{"message", "retry_after", "global"}`` with ``Retry-After``.

The codes of type errors (a number where a string goes, and so on), of flag and mention misuse
and the 1-100 thread name are our reading, not documented. Not modelled: file uploads
(multipart), the contents of components and polls, message edits, the global limit.

A webhook is created on ``POST /_fake/webhooks`` (``{"name"?, "channel_id"?, "guild_id"?,
"forum"?, "threads"?}`` → ``{"id", "token", "url", ...}``, the URL on the fake as the caller
reached it). Other controls: ``GET /_fake/webhooks``, ``POST /_fake/reset``, ``GET
/_fake/state`` (webhooks and their messages in order, faults, the request log with tokens
masked), ``/_fake/faults`` (the next N executions answer 429, 500, 502 or 503).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from crosspost.fakes.base import mount_base, platform_path

DISCORD_EPOCH_MS = 1_420_070_400_000  # the first millisecond of 2015, snowflakes' zero
CONTENT_MAX = 2000
USERNAME_LENGTH = (1, 80)
THREAD_NAME_LENGTH = (1, 100)
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
TITLE_MAX, DESCRIPTION_MAX = 256, 4096
FIELD_NAME_MAX, FIELD_VALUE_MAX = 256, 1024
FOOTER_TEXT_MAX, AUTHOR_NAME_MAX = 2048, 256
MENTIONS_MAX = 100
COLOR_MAX = 0xFFFFFF
# Only these flags may be set on a webhook message.
SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2 = 1 << 2, 1 << 12, 1 << 15
WEBHOOK_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
RATE_LIMIT, RATE_WINDOW_SECONDS = 5, 2.0
API_VERSIONS = frozenset({6, 7, 8, 9, 10})  # 3-5 are discontinued: 400 50041
# The bucket names the route, not the webhook: it is "non-inclusive of top-level resources".
BUCKET = "3f9d2b7c41e05a8d6b1c0e7f2a94d835"
DEFAULT_NAME = "Captain Hook"  # the name Discord gives a new webhook
_TRUE, _FALSE = frozenset({"True", "true", "1"}), frozenset({"False", "false", "0"})
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
_SNOWFLAKE_MAX = 2**63 - 1
_FAULT_STATUSES = (429, 500, 502, 503)
_MENTION_KINDS = ("everyone", "roles", "users")
_NOT_LIST = ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
_NOT_DICT = ("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
# What a 502 and a 503 look like from Discord's edge: Cloudflare's page, Envoy's line.
_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
_UNAVAILABLE = "upstream connect error or disconnect/reset before headers. reset reason: overflow"


@dataclass(frozen=True)
class DiscordFakeConfig:
    """The fake's knobs; the rate limit defaults to Discord's for webhook executions."""

    rate_limit: int = RATE_LIMIT
    rate_window_seconds: float = RATE_WINDOW_SECONDS
    clock: Callable[[], float] = time.time


class DiscordError(Exception):
    """An answer in Discord's envelope: ``{"message", "code", "errors"?}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The JSON answer."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


class FormErrors:
    """Field refusals at their paths, rendered as Discord nests them (``embeds.0.title``)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        """Record one refusal of the value at `path` (``()`` is the body as a whole)."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_any(self) -> None:
        """400 Invalid Form Body with everything recorded, if anything was."""
        if self.tree:
            raise DiscordError(400, "Invalid Form Body", 50035, self.tree)


def invalid_form(path: tuple[str | int, ...], code: str, message: str) -> DiscordError:
    """A 50035 refusal of a single value."""
    form = FormErrors()
    form.add(path, code, message)
    return DiscordError(400, "Invalid Form Body", 50035, form.tree)


@dataclass
class Webhook:
    """One incoming webhook, its channel and what it has been sent."""

    id: str
    token: str
    name: str
    channel_id: str
    guild_id: str
    forum: bool = False
    threads: list[str] = field(default_factory=list)
    deleted: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    window_start: float | None = None
    used: int = 0

    def public(self) -> dict[str, Any]:
        """The webhook object Get Webhook with Token answers (no ``user``)."""
        return {
            "application_id": None,
            "avatar": None,
            "channel_id": self.channel_id,
            "guild_id": self.guild_id,
            "id": self.id,
            "name": self.name,
            "type": 1,  # Incoming
            "token": self.token,
        }


class DiscordWebhookFake:
    """The fake's state: webhooks with their messages and rate windows, faults, the log."""

    def __init__(self, config: DiscordFakeConfig | None = None) -> None:
        self.config = config or DiscordFakeConfig()
        self.webhooks: dict[str, Webhook] = {}
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._last_id = 0

    def reset(self) -> None:
        """Back to the state the fake started in."""
        self.webhooks.clear()
        self.faults.clear()
        self.requests.clear()

    def state(self) -> dict[str, Any]:
        """The inspection view: webhooks with their messages in order, faults, the log."""
        return {
            "webhooks": [
                {
                    **hook.public(),
                    "forum": hook.forum,
                    "threads": list(hook.threads),
                    "deleted": hook.deleted,
                    "messages": list(hook.messages),
                }
                for hook in self.webhooks.values()
            ],
            "faults": list(self.faults),
            "requests": list(self.requests),
        }

    def create_webhook(
        self,
        *,
        name: str = DEFAULT_NAME,
        channel_id: str | None = None,
        guild_id: str | None = None,
        forum: bool = False,
        threads: tuple[str, ...] = (),
    ) -> Webhook:
        """A new webhook with a fresh id and a 68-character token, as Discord issues."""
        hook = Webhook(
            id=self.snowflake(),
            token=secrets.token_urlsafe(51),
            name=name,
            channel_id=channel_id or self.snowflake(),
            guild_id=guild_id or self.snowflake(),
            forum=forum,
            threads=list(threads),
        )
        self.webhooks[hook.id] = hook
        return hook

    def snowflake(self) -> str:
        """A new id: milliseconds since Discord's epoch over 22 bits, always increasing."""
        stamp = max(0, int(self.config.clock() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(self._last_id + 1, stamp)
        return str(self._last_id)

    def asgi(self) -> Starlette:
        """The ASGI app: the API under ``/api`` (versioned or not) plus ``/_fake`` controls."""
        app = Starlette(
            routes=[
                Route(
                    "/api/webhooks/{webhook_id}/{token}",
                    self._webhook,
                    methods=["GET", "POST", "DELETE"],
                ),
                Route(
                    "/api/v{version:int}/webhooks/{webhook_id}/{token}",
                    self._webhook,
                    methods=["GET", "POST", "DELETE"],
                ),
                Route("/_fake/webhooks", self._webhooks, methods=["GET", "POST"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/_fake/state", self._state, methods=["GET"]),
                Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            ],
            exception_handlers={HTTPException: self._framework_error, Exception: self._crash},
        )
        app.router.redirect_slashes = False
        return app

    # -- the API ------------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        entry: dict[str, Any] = {
            "method": request.method,
            "path": platform_path(request).replace(token, "[token]"),
            "query": dict(request.query_params),
        }
        self.requests.append(entry)
        body = await request.body()  # read first: an early answer must not leave it unread
        try:
            response = self._answer(request, body, entry)
        except DiscordError as exc:
            response = exc.response()
            entry["error"] = exc.body
        entry["status"] = response.status_code
        return response

    def _answer(self, request: Request, body: bytes, entry: dict[str, Any]) -> Response:
        version = request.path_params.get("version")
        if version is not None and version not in API_VERSIONS:
            raise DiscordError(400, "Invalid API version", 50041)
        hook = self._find(str(request.path_params["webhook_id"]), request.path_params["token"])
        if request.method == "GET":
            return JSONResponse(hook.public())
        if request.method == "DELETE":
            hook.deleted = True
            return Response(status_code=204)
        now = self.config.clock()
        if self.faults:
            fault = self.faults.pop(0)
            entry["fault"] = fault
            return self._fault(fault, hook, now)
        headers = self._take(hook, now)
        try:
            return self._execute(hook, request, body, headers, now)
        except DiscordError as exc:
            exc.headers.update(headers)
            raise

    def _find(self, webhook_id: str, token: str) -> Webhook:
        _snowflake(webhook_id, ("webhook_id",))
        hook = self.webhooks.get(webhook_id)
        if hook is None or hook.deleted:
            raise DiscordError(404, "Unknown Webhook", 10015)
        if not secrets.compare_digest(hook.token.encode(), token.encode()):
            raise DiscordError(401, "Invalid Webhook Token", 50027)
        return hook

    def _execute(
        self, hook: Webhook, request: Request, body: bytes, headers: dict[str, str], now: float
    ) -> Response:
        query = request.query_params
        form = FormErrors()
        wait = _boolean(query.get("wait"), ("wait",), form)
        with_components = _boolean(query.get("with_components"), ("with_components",), form)
        thread_id = query.get("thread_id")
        if thread_id is not None and _snowflake_error(thread_id, ("thread_id",), form):
            thread_id = None
        form.raise_any()
        payload = _json_object(request.headers.get("content-type", ""), body)
        message = _checked_message(payload, with_components=with_components)
        thread_name = payload.get("thread_name")
        channel_id = self._channel(hook, thread_id, thread_name)
        message_id = self.snowflake()
        if thread_name is not None:  # a forum post: its thread takes the starter message's id
            channel_id = message_id
            hook.threads.append(channel_id)
        created = {
            "id": message_id,
            "type": 0,
            "content": message["content"],
            "channel_id": channel_id,
            "author": {
                "id": hook.id,
                "username": message["username"] or hook.name,
                "avatar": None,
                "discriminator": "0000",
                "bot": True,
            },
            "attachments": [],
            "embeds": message["embeds"],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": message["tts"],
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(timespec="microseconds"),
            "edited_timestamp": None,
            "flags": message["flags"],
            "components": [],
            "webhook_id": hook.id,
        }
        hook.messages.append(
            {**created, "received": {**message["received"], "wait": wait, "query": dict(query)}}
        )
        if wait:
            return JSONResponse(created, headers=headers)
        return Response(status_code=204, headers=headers)

    def _channel(self, hook: Webhook, thread_id: str | None, thread_name: Any) -> str:
        if thread_id is not None and thread_name is not None and hook.forum:
            raise DiscordError(
                400,
                "Webhooks posted to forum channels cannot have both a thread_name and thread_id",
                220002,
            )
        if thread_name is not None and not hook.forum:
            raise DiscordError(400, "Webhooks can only create threads in forum channels", 220003)
        if thread_id is not None:
            if thread_id not in hook.threads:
                raise DiscordError(404, "Unknown Channel", 10003)
            return thread_id
        if hook.forum and thread_name is None:
            raise DiscordError(
                400,
                "Webhooks posted to forum channels must have a thread_name or thread_id",
                220001,
            )
        return hook.channel_id

    # -- rate limits and faults ---------------------------------------------------------------

    def _take(self, hook: Webhook, now: float) -> dict[str, str]:
        """Count one execution in the webhook's window; 429 when the window is spent."""
        window = self.config.rate_window_seconds
        if hook.window_start is None or now >= hook.window_start + window:
            hook.window_start, hook.used = now, 0
        reset_at = hook.window_start + window
        if hook.used >= self.config.rate_limit:
            retry_after = round(reset_at - now, 3)
            headers = self._rate_headers(hook, now)
            headers["Retry-After"] = str(math.ceil(retry_after))
            headers["X-RateLimit-Scope"] = "user"
            raise _limited(retry_after, headers)
        hook.used += 1
        return self._rate_headers(hook, now)

    def _rate_headers(self, hook: Webhook, now: float) -> dict[str, str]:
        start = hook.window_start if hook.window_start is not None else now
        reset_at = start + self.config.rate_window_seconds
        return {
            "X-RateLimit-Limit": str(self.config.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.config.rate_limit - hook.used)),
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{max(0.0, reset_at - now):.3f}",
            "X-RateLimit-Bucket": BUCKET,
        }

    def _fault(self, fault: dict[str, Any], hook: Webhook, now: float) -> Response:
        status = fault["status"]
        if status == 429:
            retry_after = float(fault["retry_after"])
            if fault["global"]:
                headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
            else:
                headers = {**self._rate_headers(hook, now), "X-RateLimit-Scope": "user"}
            headers["Retry-After"] = str(math.ceil(retry_after))
            return _limited(retry_after, headers, is_global=fault["global"]).response()
        if status == 502:
            return Response(_BAD_GATEWAY, status_code=502, media_type="text/html")
        if status == 503:
            return PlainTextResponse(_UNAVAILABLE, status_code=503)
        return DiscordError(500, "500: Internal Server Error", 0).response()

    # -- controls -----------------------------------------------------------------------------

    async def _webhooks(self, request: Request) -> Response:
        """POST creates a webhook (``{"name"?, "channel_id"?, "guild_id"?, "forum"?,
        "threads"?}``) and answers its id, token and URL; GET lists them."""
        if request.method == "GET":
            return JSONResponse([hook.public() for hook in self.webhooks.values()])
        raw = await request.body()
        try:
            spec = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        problem = _webhook_spec_problem(spec)
        if problem:
            return JSONResponse({"error": problem}, status_code=400)
        hook = self.create_webhook(
            name=spec.get("name", DEFAULT_NAME),
            channel_id=spec.get("channel_id"),
            guild_id=spec.get("guild_id"),
            forum=spec.get("forum", False),
            threads=tuple(spec.get("threads", ())),
        )
        url = f"{mount_base(request)}/api/webhooks/{hook.id}/{hook.token}"
        return JSONResponse(
            {**hook.public(), "url": url, "forum": hook.forum, "threads": hook.threads},
            status_code=201,
        )

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())

    async def _faults(self, request: Request) -> Response:
        """POST ``{"status": 429|500|502|503, "count"?: N, "retry_after"?: s, "global"?: b}``
        makes the next N executions of a known webhook fail so; DELETE drops them."""
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                body = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            body = body if isinstance(body, dict) else {}
            status, count = body.get("status"), body.get("count", 1)
            retry_after, is_global = body.get("retry_after", 1.0), body.get("global", False)
            if status not in _FAULT_STATUSES:
                return JSONResponse({"error": "status must be 429, 500, 502 or 503"}, 400)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                return JSONResponse({"error": "count must be a positive integer"}, 400)
            if not _number(retry_after) or retry_after < 0:
                return JSONResponse({"error": "retry_after must be a number >= 0"}, 400)
            if not isinstance(is_global, bool):
                return JSONResponse({"error": "global must be true or false"}, 400)
            fault = {"status": status, "retry_after": float(retry_after), "global": is_global}
            self.faults += [dict(fault) for _ in range(count)]
        return JSONResponse({"faults": self.faults})

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = platform_path(request)
        if path.startswith("/_fake/"):
            return JSONResponse(
                {"error": f"{exc.detail} ({request.method} {path})"}, status_code=exc.status_code
            )
        if exc.status_code == 405:
            return DiscordError(405, "405: Method Not Allowed", 0).response()
        return DiscordError(404, "404: Not Found", 0).response()

    async def _crash(self, request: Request, exc: Exception) -> Response:
        return DiscordError(500, "500: Internal Server Error", 0).response()


def _limited(
    retry_after: float, headers: dict[str, str], *, is_global: bool = False
) -> DiscordError:
    error = DiscordError(429, "You are being rate limited.", 0, headers=headers)
    # The rate-limit body has no code: {"message", "retry_after", "global"}.
    error.body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    return error


# -- reading the request ----------------------------------------------------------------------


def _json_object(content_type: str, body: bytes) -> dict[str, Any]:
    """The body as a JSON object, refused as Discord refuses it."""
    if content_type.split(";", maxsplit=1)[0].strip().lower() != "application/json":
        # Discord answers an invalid Content-Type with 50035; this fake speaks JSON only, so
        # multipart uploads get the same refusal, with a message of ours.
        raise invalid_form(
            (),
            "CONTENT_TYPE_INVALID",
            "Expected Content-Type application/json (this fake does not take uploads)",
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise DiscordError(400, "The request body contains invalid JSON.", 50109) from None
    if not isinstance(payload, dict):
        raise invalid_form((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    return payload


def _checked_message(payload: dict[str, Any], *, with_components: bool) -> dict[str, Any]:
    """The message fields, every refusal collected first; then the emptiness rule."""
    form = FormErrors()
    content = _text(payload.get("content"), ("content",), form, limit=CONTENT_MAX)
    username = _text(payload.get("username"), ("username",), form)
    if username is not None:
        _username(username, form)
    _url(payload.get("avatar_url"), ("avatar_url",), form)
    tts = _flag(payload.get("tts"), ("tts",), form)
    flags = _flags(payload.get("flags"), form)
    embeds = _embeds(payload.get("embeds"), form)
    _mentions(payload.get("allowed_mentions"), form)
    thread_name = _text(payload.get("thread_name"), ("thread_name",), form)
    if thread_name is not None:
        _length(thread_name, ("thread_name",), form, *THREAD_NAME_LENGTH)
    components = payload.get("components")
    if components is not None and not isinstance(components, list):
        form.add(("components",), *_NOT_LIST)
    poll = payload.get("poll")
    if flags & IS_COMPONENTS_V2 and (content or embeds or poll is not None):
        form.add(
            (),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content', 'embeds', 'stickers' and 'poll' fields cannot be used when "
            "using MessageFlags.IS_COMPONENTS_V2",
        )
    form.raise_any()
    has_components = with_components and isinstance(components, list) and bool(components)
    if not ((content or "").strip() or any(map(_visible, embeds)) or has_components or poll):
        raise DiscordError(400, "Cannot send an empty message", 50006)
    return {
        "content": content or "",
        "username": username,
        "tts": tts,
        "flags": flags,
        "embeds": [{"type": "rich", **embed} for embed in embeds],
        "received": {
            key: payload[key]
            for key in (
                "username",
                "avatar_url",
                "allowed_mentions",
                "thread_name",
                "applied_tags",
                "components",
                "poll",
            )
            if key in payload
        },
    }


def _text(
    value: Any, path: tuple[str | int, ...], form: FormErrors, *, limit: int | None = None
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        form.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return None
    if limit is not None and len(value) > limit:
        form.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return value


def _length(value: str, path: tuple[str | int, ...], form: FormErrors, low: int, high: int) -> None:
    if not low <= len(value) <= high:
        form.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _username(value: str, form: FormErrors) -> None:
    _length(value, ("username",), form, *USERNAME_LENGTH)
    for word in ("discord", "clyde"):
        if word in value.lower():
            form.add(
                ("username",), "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"'
            )


def _url(
    value: Any, path: tuple[str | int, ...], form: FormErrors, *, attachments: bool = False
) -> None:
    if value is None:
        return
    schemes = ("http", "https", "attachment") if attachments else ("http", "https")
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.netloc:
        form.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def _flag(value: Any, path: tuple[str | int, ...], form: FormErrors) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        form.add(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
        return False
    return value


def _flags(value: Any, form: FormErrors) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        form.add(("flags",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        return 0
    if value & ~WEBHOOK_FLAGS or value < 0:
        form.add(
            ("flags",),
            "MESSAGE_FLAGS_INVALID",
            "Only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS and IS_COMPONENTS_V2 can be set",
        )
        return 0
    return value


def _mentions(value: Any, form: FormErrors) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        form.add(("allowed_mentions",), *_NOT_DICT)
        return
    parse = value.get("parse", [])
    if not isinstance(parse, list):
        form.add(("allowed_mentions", "parse"), *_NOT_LIST)
        parse = []
    for index, kind in enumerate(parse):
        if kind not in _MENTION_KINDS:
            form.add(
                ("allowed_mentions", "parse", index),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {set(_MENTION_KINDS)}.",
            )
    for kind in ("roles", "users"):
        ids = value.get(kind)
        if ids is None:
            continue
        if not isinstance(ids, list):
            form.add(("allowed_mentions", kind), *_NOT_LIST)
            continue
        if len(ids) > MENTIONS_MAX:
            form.add(
                ("allowed_mentions", kind),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MENTIONS_MAX} or fewer in length.",
            )
        for index, item in enumerate(ids):
            _snowflake_error(item, ("allowed_mentions", kind, index), form)
        if kind in parse and ids:
            form.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
    if "replied_user" in value:
        _flag(value["replied_user"], ("allowed_mentions", "replied_user"), form)


def _embeds(value: Any, form: FormErrors) -> list[dict[str, Any]]:
    """The embeds, each checked against its limits; the total across all of them after."""
    if value is None:
        return []
    if not isinstance(value, list):
        form.add(("embeds",), *_NOT_LIST)
        return []
    if len(value) > EMBEDS_MAX:
        form.add(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    embeds: list[dict[str, Any]] = []
    total = 0
    for index, embed in enumerate(value):
        path: tuple[str | int, ...] = ("embeds", index)
        if not isinstance(embed, dict):
            form.add(path, *_NOT_DICT)
            continue
        total += _embed(embed, path, form)
        # type, provider, video and image sizes cannot be set; Discord drops them.
        embeds.append({k: v for k, v in embed.items() if k not in ("type", "provider", "video")})
    if total > EMBED_TOTAL_MAX:
        form.add(
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    return embeds


def _embed(embed: dict[str, Any], path: tuple[str | int, ...], form: FormErrors) -> int:
    """Check one embed; its characters counted toward the message's 6000."""
    size = 0
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        text = _text(embed.get(key), (*path, key), form, limit=limit)
        size += len(text or "")
    _url(embed.get("url"), (*path, "url"), form)
    _timestamp(embed.get("timestamp"), (*path, "timestamp"), form)
    color = embed.get("color")
    if color is not None and (not _integer(color) or not 0 <= color <= COLOR_MAX):
        form.add(
            (*path, "color"),
            "NUMBER_TYPE_MAX",
            f"int value should be less than or equal to {COLOR_MAX}.",
        )
    size += _part(embed, "footer", path, form, "text", FOOTER_TEXT_MAX, ("icon_url",))
    size += _part(embed, "author", path, form, "name", AUTHOR_NAME_MAX, ("url", "icon_url"))
    for media in ("image", "thumbnail"):
        item = embed.get(media)
        if item is None:
            continue
        if not isinstance(item, dict) or "url" not in item:
            form.add((*path, media, "url"), "BASE_TYPE_REQUIRED", "This field is required")
            continue
        _url(item["url"], (*path, media, "url"), form, attachments=True)
    fields = embed.get("fields")
    if fields is None:
        return size
    if not isinstance(fields, list):
        form.add((*path, "fields"), *_NOT_LIST)
        return size
    if len(fields) > FIELDS_MAX:
        form.add(
            (*path, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS_MAX} or fewer in length."
        )
    for index, item in enumerate(fields):
        where = (*path, "fields", index)
        if not isinstance(item, dict):
            form.add(where, *_NOT_DICT)
            continue
        for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
            text = _required(item.get(key), (*where, key), form, limit)
            size += len(text or "")
        if "inline" in item:
            _flag(item["inline"], (*where, "inline"), form)
    return size


def _part(
    embed: dict[str, Any],
    key: str,
    path: tuple[str | int, ...],
    form: FormErrors,
    text_key: str,
    limit: int,
    urls: tuple[str, ...],
) -> int:
    """A footer or author: its required text (counted) and its URLs."""
    item = embed.get(key)
    if item is None:
        return 0
    if not isinstance(item, dict):
        form.add((*path, key), *_NOT_DICT)
        return 0
    for name in urls:
        _url(item.get(name), (*path, key, name), form, attachments=True)
    return len(_required(item.get(text_key), (*path, key, text_key), form, limit) or "")


def _required(value: Any, path: tuple[str | int, ...], form: FormErrors, limit: int) -> str | None:
    if value is None or value == "":
        form.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return None
    return _text(value, path, form, limit=limit)


def _timestamp(value: Any, path: tuple[str | int, ...], form: FormErrors) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        form.add(path, "DATE_TIME_TYPE_PARSE", f'Could not parse "{value}". Should be ISO8601.')


def _visible(embed: dict[str, Any]) -> bool:
    """True when an embed shows something; an embed of only a colour is as empty as none."""
    keys = ("title", "description", "url", "fields", "footer", "author", "image", "thumbnail")
    return any(embed.get(key) for key in keys)


def _boolean(value: str | None, path: tuple[str | int, ...], form: FormErrors) -> bool:
    """A boolean query parameter as Discord reads one."""
    if value is None or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    form.add(path, "BOOLEAN_TYPE_COERCE", f'Value "{value}" is not a valid boolean.')
    return False


def _snowflake(value: str, path: tuple[str | int, ...]) -> None:
    form = FormErrors()
    _snowflake_error(value, path, form)
    form.raise_any()


def _snowflake_error(value: Any, path: tuple[str | int, ...], form: FormErrors) -> bool:
    """Record a refusal unless `value` is a snowflake; True when it was refused."""
    text = str(value)
    if (
        not isinstance(value, str | int)
        or isinstance(value, bool)
        or not _SNOWFLAKE.fullmatch(text)
    ):
        form.add(path, "NUMBER_TYPE_COERCE", f'Value "{text}" is not snowflake.')
        return True
    if int(text) > _SNOWFLAKE_MAX:
        form.add(
            path,
            "NUMBER_TYPE_MAX",
            f"snowflake value should be less than or equal to {_SNOWFLAKE_MAX}.",
        )
        return True
    return False


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _webhook_spec_problem(spec: Any) -> str | None:
    """What is wrong with a control request creating a webhook, or None."""
    if not isinstance(spec, dict):
        return "body must be a JSON object"
    name = spec.get("name", DEFAULT_NAME)
    if not isinstance(name, str) or not 1 <= len(name) <= USERNAME_LENGTH[1]:
        return "name must be a string of 1-80 characters"
    if any(word in name.lower() for word in ("discord", "clyde")):
        return 'name may not contain "discord" or "clyde"'
    for key in ("channel_id", "guild_id"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value)):
            return f"{key} must be a snowflake (a string of digits)"
    if not isinstance(spec.get("forum", False), bool):
        return "forum must be true or false"
    threads = spec.get("threads", [])
    if not isinstance(threads, list) or not all(
        isinstance(t, str) and _SNOWFLAKE.fullmatch(t) for t in threads
    ):
        return "threads must be a list of snowflakes (strings of digits)"
    return None


def create_discord_app(config: DiscordFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = DiscordWebhookFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "BUCKET",
    "CONTENT_MAX",
    "EMBEDS_MAX",
    "EMBED_TOTAL_MAX",
    "RATE_LIMIT",
    "RATE_WINDOW_SECONDS",
    "DiscordError",
    "DiscordFakeConfig",
    "DiscordWebhookFake",
    "FormErrors",
    "Webhook",
    "create_discord_app",
]
