"""Fake OpenAI Chat Completions API: `POST /v1/chat/completions`, strict, deterministic, with a
script.

Written from OpenAI's API reference and reported error bodies (`llm_rules`), never from our
client. A request needs ``Authorization: Bearer <key>`` with a known key (by default the
transcription fake's published sandbox key, so one key serves both) and a JSON body that passes
`llm_rules.checked`: a known model, non-empty messages of known roles and text (or image) parts,
and in-range options. The fake does not stream, call tools or answer more than one choice; it
says so in a 400 rather than ignore the field.

What it says is deterministic: a digest of the model, messages, response_format and seed picks
every word and number, so the same request gets the same answer. Text answers quote the last
user message; ``json_object`` answers are a small object; ``json_schema`` answers are an object
valid against the schema (types, required properties, enums, consts, numeric and length bounds,
arrays, anyOf/oneOf/allOf, local $refs; not ``pattern``). Tokens are counted as
`llm_rules.tokens` says (4 characters a token): a completion budget (max_tokens or
max_completion_tokens) smaller than the answer cuts it to budget * 4 characters with
finish_reason "length", and a stop sequence cuts it where it first appears. Scripted replies are
sent exactly as queued: no budget or stop sequence touches them.

Control routes, under ``/_fake`` unless `routes` is given another prefix: ``reset``, ``state``,
``requests`` (the log, which never holds the key), ``faults`` (the next N requests answer 429,
500 or 503) and ``script`` (exact replies, first in first out). `routes` also lets this fake
share a mount with the transcription fake; see its docstring.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crosspost.fakes.llm_rules import (
    MODELS,
    ChatRequest,
    Model,
    Turn,
    checked,
    prompt_tokens,
    tokens,
)
from crosspost.fakes.transcription import SANDBOX_API_KEY as _SHARED_KEY
from crosspost.fakes.transcription_rules import (
    WORDS,
    ApiError,
    injected,
    missing_key,
    queued_faults,
    wrong_key,
)

SANDBOX_API_KEY = _SHARED_KEY  # the sandbox's published OpenAI key, for both OpenAI fakes
API_PATH = "/v1/chat/completions"
# Every method reaches the handler, which answers a wrong one in OpenAI's envelope itself:
# mounted inside another app, a router's 405 would use that app's error handler instead.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
FINISH_REASONS = ("stop", "length", "content_filter")
_ALNUM = string.ascii_letters + string.digits
_DEEP = 6  # past this schema depth, optional properties and array items are left out
_LIMIT = 32  # a schema recursing past this gets null: no finite instance was in reach


@dataclass(frozen=True)
class ChatFakeConfig:
    """The fake's knobs: the keys it accepts, the models it serves, its clock."""

    api_keys: tuple[str, ...] = (SANDBOX_API_KEY,)
    models: Mapping[str, Model] = field(default_factory=lambda: dict(MODELS))
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Reply:
    """What the assistant says (content, or a refusal instead) and why it stopped."""

    content: str | None
    refusal: str | None = None
    finish_reason: str = "stop"


def scripted(body: Any) -> Reply:
    """A reply from ``POST /_fake/script``; raises ValueError saying what is wrong."""
    shape = 'a script is {"content": "...", "refusal"?: "...", "finish_reason"?: "stop"}'
    if not isinstance(body, dict) or set(body) - {"content", "refusal", "finish_reason"}:
        raise ValueError(shape)
    content, refusal = body.get("content"), body.get("refusal")
    for name, value in (("content", content), ("refusal", refusal)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
    if (content is None) == (refusal is None):
        raise ValueError("a script has content or a refusal (the real API sends one of them)")
    finish = body.get("finish_reason", "stop")
    if finish not in FINISH_REASONS:
        raise ValueError(f"finish_reason must be one of {list(FINISH_REASONS)}")
    return Reply(content, refusal, finish)


class OpenAIChatFake:
    """The fake's state: its script queue, pending faults and request log."""

    def __init__(self, config: ChatFakeConfig | None = None) -> None:
        self.config = config or ChatFakeConfig()
        self.scripts: list[Reply] = []
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._answered = 0
        self._salt = secrets.token_bytes(8)  # ids stay unique across fakes and resets

    def reset(self) -> None:
        """Back to the state the fake started in."""
        self.scripts.clear()
        self.faults.clear()
        self.requests.clear()

    def state(self) -> dict[str, Any]:
        """The inspection view."""
        return {
            "scripts_queued": len(self.scripts),
            "faults": list(self.faults),
            "requests": list(self.requests),
        }

    def routes(self, control_prefix: str = "/_fake") -> list[BaseRoute]:
        """The API route and the control routes under `control_prefix`.

        To serve this fake beside the transcription fake under one prefix, give its controls
        their own prefix and let the transcription app take every other path (a Mount matches
        by prefix alone, so two Mounts at one path cannot share it)::

            Mount("/openai", routes=[*chat.routes("/_fake/chat"),
                                     Mount("", app=transcription.asgi())])
        """
        at = control_prefix.rstrip("/")
        return [
            Route(API_PATH, self._chat, methods=_METHODS),
            Route(f"{at}/reset", self._reset, methods=["POST"]),
            Route(f"{at}/state", self._state, methods=["GET"]),
            Route(f"{at}/requests", self._requests, methods=["GET"]),
            Route(f"{at}/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route(f"{at}/script", self._script, methods=["GET", "POST", "DELETE"]),
        ]

    def asgi(self) -> Starlette:
        """The ASGI app on its own: the API plus the ``/_fake`` controls."""
        app = Starlette(
            routes=self.routes(), exception_handlers={HTTPException: self._framework_error}
        )
        app.router.redirect_slashes = False
        return app

    # -- the API ------------------------------------------------------------------------------

    async def _chat(self, request: Request) -> Response:
        started = time.perf_counter()
        entry: dict[str, Any] = {"method": request.method, "path": API_PATH, "authorized": False}
        self.requests.append(entry)
        try:
            raw = await request.body()  # read first, so an early answer never resets the body
        except ClientDisconnect:
            raw = b""
        try:
            response = self._answer(request, raw, entry)
        except ApiError as exc:
            response = exc.response()
            entry["error"] = exc.body["error"]["message"]
        entry["status"] = response.status_code
        response.headers["x-request-id"] = f"req_{len(self.requests):032x}"
        response.headers["openai-version"] = "2020-10-01"
        elapsed = max(1, round((time.perf_counter() - started) * 1000))
        response.headers["openai-processing-ms"] = str(elapsed)
        return response

    def _answer(self, request: Request, raw: bytes, entry: dict[str, Any]) -> Response:
        if request.method != "POST":
            raise ApiError(405, f"Invalid method for URL ({request.method} {request.url.path})")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise missing_key()
        if key.strip() not in self.config.api_keys:
            raise wrong_key(key.strip())
        entry["authorized"] = True
        body = _parsed(raw)
        if isinstance(body, dict):
            entry["body"] = body
            entry["model"] = body.get("model")
        if self.faults:
            fault = self.faults.pop(0)
            model = entry.get("model")
            error = injected(
                fault["status"],
                fault["retry_after"],
                fault.get("code"),
                model if isinstance(model, str) else "gpt-4o-mini",
            )
            if "retry-after" in error.headers:  # the client library prefers the ms header
                error.headers["retry-after-ms"] = str(fault["retry_after"] * 1000)
            raise error
        chat = checked(body, self.config.models)
        if self.scripts:
            reply, entry["scripted"] = self.scripts.pop(0), True
        else:
            reply, entry["scripted"] = _limited(_composed(chat, body), chat), False
        entry["finish_reason"] = reply.finish_reason
        return JSONResponse(self._completion(chat, reply))

    def _completion(self, chat: ChatRequest, reply: Reply) -> dict[str, Any]:
        self._answered += 1
        seed = self._salt + self._answered.to_bytes(8, "big")
        prompt = prompt_tokens(chat.turns)
        completion = tokens(reply.content or reply.refusal or "")
        snapshot = chat.limits.snapshot
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": reply.refusal,
            "annotations": [],
        }
        return {
            "id": f"chatcmpl-{_token(seed, 29)}",
            "object": "chat.completion",
            "created": int(self.config.clock()),
            "model": snapshot,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": f"fp_{hashlib.sha256(snapshot.encode()).hexdigest()[:10]}",
        }

    # -- controls -----------------------------------------------------------------------------

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _faults(self, request: Request) -> Response:
        """POST ``{"status": 429|500|503, "count": N, "retry_after": s, "code"?}`` makes the next
        N authorized requests fail so (code "insufficient_quota" makes a 429 a spent quota)."""
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            queued = queued_faults(body)
            if isinstance(queued, str):
                return JSONResponse({"error": queued}, 400)
            self.faults += queued
        return JSONResponse({"faults": self.faults})

    async def _script(self, request: Request) -> Response:
        """POST queues one reply (``{"content"|"refusal", "finish_reason"?}``) or a list of
        them for the next completions; GET shows how many wait; DELETE drops them."""
        if request.method == "DELETE":
            self.scripts.clear()
        elif request.method == "POST":
            try:
                body = await request.json()
                replies = [scripted(item) for item in (body if isinstance(body, list) else [body])]
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            self.scripts += replies
        return JSONResponse({"scripts_queued": len(self.scripts)})

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        with contextlib.suppress(ClientDisconnect):
            await request.body()  # an unread body would turn the answer into a reset
        if exc.status_code == 405:
            return ApiError(405, f"Invalid method for URL ({where})").response()
        return ApiError(exc.status_code, f"Invalid URL ({where})").response()


def _parsed(raw: bytes) -> Any:
    """The JSON body, or None when it is not JSON (NaN and Infinity are not JSON either);
    `checked` refuses anything but an object, after any queued fault has had its turn."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return json.loads(raw, parse_constant=refuse)
    except ValueError:
        return None


def _token(seed: bytes, size: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    chars = []
    for _ in range(size):
        number, digit = divmod(number, len(_ALNUM))
        chars.append(_ALNUM[digit])
    return "".join(chars)


# -- answers ----------------------------------------------------------------------------------


def _composed(chat: ChatRequest, body: Mapping[str, Any]) -> str:
    """The whole answer before any budget: text, a JSON object, or an instance of the schema."""
    asked = {k: body.get(k) for k in ("model", "messages", "response_format", "seed")}
    digest = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).digest()
    kind = chat.response_format.type
    if kind == "json_schema":
        schema = chat.response_format.schema or {}
        return json.dumps(_Values(digest, schema).of(schema, "$", 0), ensure_ascii=False)
    sentence = _sentence(chat.turns, digest)
    if kind == "json_object":
        words = len(_asked(chat.turns).split())
        answer = {"answer": sentence, "words": words, "digest": digest.hex()[:12]}
        return json.dumps(answer, ensure_ascii=False)
    return sentence


def _asked(turns: tuple[Turn, ...]) -> str:
    users = [t.text for t in turns if t.role == "user" and t.text.strip()]
    return users[-1] if users else turns[-1].text


def _sentence(turns: tuple[Turn, ...], digest: bytes) -> str:
    words = _asked(turns).split()
    quoted = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    opener = ("Noted", "Understood", "Thanks", "Got it", "Right")[digest[0] % 5]
    return (
        f'{opener}: you wrote "{quoted}" ({len(words)} words). '
        "This is the fake model's deterministic reply."
    )


def _limited(content: str, chat: ChatRequest) -> Reply:
    """The answer cut at the first stop sequence, then to the completion budget."""
    cuts = [at for at in (content.find(stop) for stop in chat.stop if stop) if at >= 0]
    if cuts:
        content = content[: min(cuts)]
    if chat.max_tokens is not None and tokens(content) > chat.max_tokens:
        return Reply(content[: chat.max_tokens * 4], finish_reason="length")
    return Reply(content)


class _Values:
    """An instance of one schema, each value drawn from the request's digest and its place."""

    def __init__(self, digest: bytes, root: Mapping[str, Any]) -> None:
        self.digest = digest
        self.root = root

    def draw(self, where: str) -> int:
        """A number fixed by the request and the place in the answer."""
        return int.from_bytes(hashlib.sha256(self.digest + where.encode()).digest()[:8], "big")

    def of(self, schema: Any, where: str, depth: int) -> Any:
        """A value valid against `schema` (a pragmatic subset of JSON Schema)."""
        if not isinstance(schema, dict) or depth > _LIMIT:
            return None
        if isinstance(schema.get("$ref"), str):
            return self.of(self._resolved(schema["$ref"]), where, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][self.draw(where) % len(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.of(self._branch(schema[key], where, depth), where, depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    ref = part.get("$ref")
                    whole = self._resolved(ref) if isinstance(ref, str) else part
                    merged |= {k: v for k, v in whole.items() if k not in merged}
            return self.of(merged, where, depth + 1)
        kind = _kind(schema, deep=depth > _DEEP)
        if kind == "object":
            return self._object(schema, where, depth)
        if kind == "array":
            return self._array(schema, where, depth)
        if kind in ("integer", "number"):
            return _number(schema, self.draw(where), integer=kind == "integer")
        if kind == "boolean":
            return self.draw(where) % 2 == 0
        if kind == "string":
            return self._string(schema, where)
        return None

    def _resolved(self, ref: str) -> Any:
        """A local reference (``#``, ``#/$defs/Name``); anything else resolves to {}."""
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for token in filter(None, ref[1:].split("/")):
            name = token.replace("~1", "/").replace("~0", "~")
            node = node.get(name) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def _branch(self, options: list[Any], where: str, depth: int) -> Any:
        nulls = [o for o in options if isinstance(o, dict) and o.get("type") == "null"]
        others = [o for o in options if o not in nulls]
        if nulls and (depth > _DEEP or not others):
            return nulls[0]  # deep in a recursive schema, null ends the recursion
        return others[self.draw(where + "|branch") % len(others)]

    def _object(self, schema: Mapping[str, Any], where: str, depth: int) -> dict[str, Any]:
        properties: Any = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        listed: Any = schema.get("required")
        required = [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []
        keys = list(properties) if depth <= _DEEP else [k for k in properties if k in required]
        keys += [k for k in required if k not in properties]
        return {k: self.of(properties.get(k, {}), f"{where}.{k}", depth + 1) for k in keys}

    def _array(self, schema: Mapping[str, Any], where: str, depth: int) -> list[Any]:
        prefix: list[Any] = schema.get("prefixItems") or []
        prefix = prefix if isinstance(prefix, list) else []
        items: Any = schema.get("items")
        items = items if isinstance(items, dict) else {}
        least: Any = schema.get("minItems")
        least = int(least) if _numeric(least) else 0
        count = max(least, len(prefix), 2 if depth <= _DEEP else 0)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        return [
            self.of(prefix[i] if i < len(prefix) else items, f"{where}[{i}]", depth + 1)
            for i in range(count)
        ]

    def _string(self, schema: Mapping[str, Any], where: str) -> str:
        n = self.draw(where)
        word = WORDS[n % len(WORDS)]
        moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n % (366 * 86_400))
        formats = {
            "date-time": moment.isoformat().replace("+00:00", "Z"),
            "date": moment.date().isoformat(),
            "time": moment.time().isoformat() + "Z",
            "email": f"{word}{n % 1000}@example.com",
            "uri": f"https://example.com/{word}/{n % 10_000}",
            "uuid": str(uuid.UUID(int=n << 64 | self.draw(where + "|uuid"))),
            "hostname": f"{word}.example.com",
            "ipv4": f"10.{n % 256}.{n // 256 % 256}.{n // 65_536 % 256}",
            "duration": f"PT{n % 59 + 1}M",
        }
        text = formats.get(str(schema.get("format")))
        if text is None:
            text = " ".join(WORDS[(n >> (6 * i)) % len(WORDS)] for i in range(3))
        low, high = schema.get("minLength"), schema.get("maxLength")
        while isinstance(low, int) and len(text) < low:
            text += " " + WORDS[len(text) % len(WORDS)]
        return text[:high] if isinstance(high, int) else text


def _kind(schema: Mapping[str, Any], *, deep: bool) -> str:
    """The type to produce: the first non-null one listed (null first when deep), else what
    the keywords imply."""
    listed = schema.get("type")
    if isinstance(listed, list):
        concrete = [t for t in listed if t != "null"]
        return "null" if (deep and "null" in listed) or not concrete else str(concrete[0])
    if isinstance(listed, str):
        return listed
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema or "prefixItems" in schema else "string"


def _number(schema: Mapping[str, Any], n: int, *, integer: bool) -> int | float:
    """A number inside the schema's bounds (0 to 100 where it sets none)."""
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    if integer:  # whole numbers: make both bounds closed ones
        if low is not None:
            low = math.floor(low) + 1 if low_open else math.ceil(low)
        if high is not None:
            high = math.ceil(high) - 1 if high_open else math.floor(high)
        low_open = high_open = False
    if low is None:
        low = 0 if high is None or high >= 0 else high - 100
    if high is None:
        high = low + 100
    step: Any = schema.get("multipleOf")
    if _numeric(step) and step > 0:
        first, last = math.ceil(low / step), math.floor(high / step)
        first += 1 if low_open and first * step <= low else 0
        last -= 1 if high_open and last * step >= high else 0
        value = (first + n % max(1, last - first + 1)) * step
        return int(value) if integer else value
    if integer:
        return int(low) + n % (int(high) - int(low) + 1) if high >= low else int(low)
    exact = low + (high - low) * (n % 9_999 + 1) / 10_000  # strictly inside: open bounds hold
    rounded = round(exact, 2)
    return rounded if low < rounded < high else exact


def _bound(schema: Mapping[str, Any], closed: str, open_: str) -> tuple[float | None, bool]:
    """One side's bound and whether it is open (the exclusive keyword wins if both are set)."""
    if _numeric(schema.get(open_)):
        return float(schema[open_]), True
    if _numeric(schema.get(closed)):
        return float(schema[closed]), False
    return None, False


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def create_llm_app(config: ChatFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = OpenAIChatFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "API_PATH",
    "SANDBOX_API_KEY",
    "ChatFakeConfig",
    "OpenAIChatFake",
    "Reply",
    "create_llm_app",
    "scripted",
]
