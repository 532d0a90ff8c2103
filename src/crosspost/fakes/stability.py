"""Fake Stability AI REST API: the v2beta Stable Image generate endpoints, strict.

Written from Stability's API reference, never from our client. ``POST
/v2beta/stable-image/generate/{core,ultra,sd3}`` needs ``Authorization: Bearer <key>`` with a
known key, a multipart/form-data body of at most 10 MiB, an ``Accept`` of ``image/*`` (the
default) or ``application/json``, and each endpoint's documented fields only (``prompt`` of
1-10,000 characters, ``aspect_ratio``, ``negative_prompt``, ``seed`` 0-4294967294 with 0 for
random, ``style_preset``, ``output_format``; sd3 adds ``model``, ``mode`` and ``cfg_scale``).
Refusing an unknown field is stricter than the reference says the service is.

The image is a gradient drawn from the seed at the real output size of the aspect ratio
(about a megapixel: 1024x1024 for 1:1), answered as bytes with ``finish-reason`` and ``seed``
headers, or as ``{"image", "finish_reason", "seed"}``. Errors come in Stability's envelope
``{"id", "name", "errors": [...]}``. Controls: ``/_fake/reset``, ``/_fake/state``,
``/_fake/requests`` (the log, never a key), ``/_fake/faults`` (the next N requests answer a
status, or come back CONTENT_FILTERED).
"""

from __future__ import annotations

import base64
import io
import math
import random
import secrets
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SANDBOX_STABILITY_KEY = "sk-sandbox-stability"  # the sandbox's published fake key
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_PROMPT = 10_000
MAX_SEED = 4_294_967_294
# Output sizes by aspect ratio: about one megapixel, sides between 640 and 1536.
SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640), "2:3": (832, 1216),
    "3:2": (1216, 832), "4:5": (896, 1088), "5:4": (1088, 896), "9:16": (768, 1344),
    "9:21": (640, 1536),
}  # fmt: skip
STYLE_PRESETS = (
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture",
)  # fmt: skip
SD3_MODELS = (
    "sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash",
    "sd3-large", "sd3-large-turbo", "sd3-medium",
)  # fmt: skip
_COMMON = frozenset({"prompt", "aspect_ratio", "negative_prompt", "seed", "style_preset",
                     "output_format"})  # fmt: skip
FIELDS = {"core": _COMMON, "ultra": _COMMON,
          "sd3": _COMMON | {"model", "mode", "cfg_scale", "image", "strength"}}  # fmt: skip
FORMATS = {"core": ("jpeg", "png", "webp"), "ultra": ("jpeg", "png", "webp"),
           "sd3": ("jpeg", "png")}  # fmt: skip
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# What the service says for each status a test can inject: (name, message).
FAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "prompt: cannot be empty"),
    401: ("unauthorized", "authorization: the API key is invalid or has been revoked"),
    402: ("payment_required", "You lack sufficient credits to make this request. Please "
          "purchase more credits at https://platform.stability.ai/account/credits and try again."),
    403: ("content_moderation", "Your request was flagged by our content moderation system, as "
          "a result your request was denied and you were not charged."),
    413: ("payload_too_large", "body: payloads cannot be larger than 10MiB in size"),
    422: ("invalid_language", "English is the only supported language for this service."),
    429: ("rate_limit_exceeded", "You have exceeded the rate limit of 150 requests within a 10 "
          "second period, and have been timed out for 60 seconds."),
    500: ("internal_error", "An unexpected server error has occurred, please try again later."),
    503: ("service_unavailable", "The service is temporarily unavailable; please try again."),
}  # fmt: skip


class StabilityError(Exception):
    """An error answer in Stability's envelope."""

    def __init__(
        self, status: int, name: str, *errors: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{name}: {'; '.join(errors)}")
        self.status = status
        self.name = name
        self.errors = list(errors)
        self.headers = headers or {}

    def response(self) -> Response:
        """The error as the API sends it, with a request id of its own."""
        body = {"id": secrets.token_hex(16), "name": self.name, "errors": self.errors}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad(*errors: str) -> StabilityError:
    """400 bad_request for a field the request got wrong."""
    return StabilityError(400, "bad_request", *errors)


@dataclass(frozen=True)
class StabilityFakeConfig:
    """The fake's knobs; limits default to the real API's."""

    api_keys: tuple[str, ...] = (SANDBOX_STABILITY_KEY,)
    max_body_bytes: int = MAX_BODY_BYTES
    seed: int = 0  # picks the seeds of requests that ask for a random one


def painted(seed: int, width: int, height: int) -> Image.Image:
    """The fake's picture: a linear gradient between two colours, at an angle, from the seed."""
    rng = random.Random(seed)
    start, end = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    side = math.ceil(math.hypot(width, height))
    levels = Image.linear_gradient("L").resize((side, side), Image.Resampling.BILINEAR)
    levels = levels.rotate(rng.uniform(0, 360), Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    levels = levels.crop((left, top, left + width, top + height))
    return Image.composite(
        Image.new("RGB", levels.size, end),
        Image.new("RGB", levels.size, start),
        levels,
    )


class StabilityFake:
    """The fake's state: pending faults and the request log."""

    def __init__(self, config: StabilityFakeConfig | None = None) -> None:
        self.config = config or StabilityFakeConfig()
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._random = random.Random(self.config.seed)

    def reset(self) -> None:
        """Back to the state the fake started in."""
        self.faults.clear()
        self.requests.clear()
        self._random = random.Random(self.config.seed)

    def asgi(self) -> Starlette:
        """The ASGI app: the API under ``/v2beta/stable-image/generate`` plus ``/_fake``."""
        app = Starlette(
            routes=[
                Route("/v2beta/stable-image/generate/{endpoint}", self._generate, methods=["POST"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/_fake/state", self._state, methods=["GET"]),
                Route("/_fake/requests", self._requests, methods=["GET"]),
                Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            ],
            exception_handlers={HTTPException: self._framework_error},
        )
        app.router.redirect_slashes = False
        return app

    # -- the API ------------------------------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        entry: dict[str, Any] = {"method": "POST", "path": request.url.path, "authorized": False}
        self.requests.append(entry)
        try:
            response = await self._answer(request, endpoint, entry)
        except StabilityError as exc:
            response = exc.response()
            entry["error"] = exc.errors
        entry["status"] = response.status_code
        return response

    async def _answer(self, request: Request, endpoint: str, entry: dict[str, Any]) -> Response:
        if endpoint not in FIELDS:
            raise StabilityError(404, "not_found", f"endpoint {endpoint!r} does not exist")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise StabilityError(
                401,
                "unauthorized",
                "authorization: missing or malformed; "
                "send the header Authorization: Bearer <your API key>",
            )
        if key.strip() not in self.config.api_keys:
            raise StabilityError(401, "unauthorized", "authorization: invalid API key")
        entry["authorized"] = True
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and fault["status"] != 200:
            name, message = FAULTS[fault["status"]]
            headers = {"retry-after": str(fault["retry_after"])} if fault["status"] == 429 else {}
            raise StabilityError(fault["status"], name, message, headers=headers)
        accept = request.headers.get("accept", "image/*").split(";")[0].strip() or "image/*"
        if accept not in ("image/*", "application/json", "*/*"):
            raise bad(f"accept: must be image/* or application/json, not {accept!r}")
        entry["accept"] = accept
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise bad("content-type: must be multipart/form-data")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.config.max_body_bytes:
            raise StabilityError(413, *FAULTS[413])
        try:
            form = await request.form(max_files=2, max_fields=32)
        except MultiPartException as exc:
            raise bad(f"body: could not be parsed as multipart/form-data ({exc.message})") from None
        try:
            fields = _fields(form, endpoint)
        finally:
            await form.close()
        entry["fields"] = fields
        seed = int(fields.get("seed", "0")) or self._random.randint(1, MAX_SEED)
        width, height = SIZES[fields.get("aspect_ratio", "1:1")]
        fmt = fields.get("output_format", "png")
        out = io.BytesIO()
        painted(seed, width, height).save(out, _PIL_FORMATS[fmt])
        finish = "CONTENT_FILTERED" if fault is not None else "SUCCESS"
        if accept == "application/json":
            image = base64.b64encode(out.getvalue()).decode()
            return JSONResponse({"image": image, "finish_reason": finish, "seed": seed})
        return Response(
            out.getvalue(),
            media_type=f"image/{fmt}",
            headers={"finish-reason": finish, "seed": str(seed)},
        )

    # -- controls -----------------------------------------------------------------------------

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse({"faults": self.faults, "requests": self.requests})

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _faults(self, request: Request) -> Response:
        """POST queues ``{"status": 400|401|402|403|413|422|429|500|503, "count"?,
        "retry_after"?}`` or ``{"finish_reason": "CONTENT_FILTERED", "count"?}``; GET lists
        what waits; DELETE drops it."""
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            queued = _queued(body)
            if isinstance(queued, str):
                return JSONResponse({"error": queued}, status_code=400)
            self.faults += queued
        return JSONResponse({"faults": self.faults})

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        name = "not_found" if exc.status_code == 404 else "method_not_allowed"
        where = f"{request.method} {request.url.path}"
        return StabilityError(exc.status_code, name, f"{where} is not an endpoint").response()


def _fields(form: FormData, endpoint: str) -> dict[str, str]:
    """The form's fields checked as the endpoint documents them (files are refused but the
    sd3 ``image``, which this fake does not read)."""
    allowed = FIELDS[endpoint]
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if name not in allowed:
            raise bad(f"{name}: is not a parameter of this endpoint")
        if name in fields:
            raise bad(f"{name}: must be given once")
        if isinstance(value, UploadFile):
            if name != "image":
                raise bad(f"{name}: must be a form field, not a file")
            continue
        fields[name] = value
    prompt = fields.get("prompt")
    if prompt is None:
        raise bad("prompt: is required")
    if not prompt.strip():
        raise bad("prompt: cannot be empty")
    if len(prompt) > MAX_PROMPT:
        raise bad(f"prompt: must be at most {MAX_PROMPT} characters")
    if len(fields.get("negative_prompt", "")) > MAX_PROMPT:
        raise bad(f"negative_prompt: must be at most {MAX_PROMPT} characters")
    _one_of(fields, "aspect_ratio", tuple(SIZES))
    _one_of(fields, "style_preset", STYLE_PRESETS)
    _one_of(fields, "output_format", FORMATS[endpoint])
    seed = fields.get("seed")
    if seed is not None and not (seed.isdigit() and int(seed) <= MAX_SEED):
        raise bad(f"seed: must be a whole number between 0 and {MAX_SEED}")
    if endpoint == "sd3":
        _one_of(fields, "model", SD3_MODELS)
        _one_of(fields, "mode", ("text-to-image", "image-to-image"))
        if fields.get("mode") == "image-to-image" and "image" not in form:
            raise bad("image: is required when mode is image-to-image")
        if "cfg_scale" in fields and not _number_within(fields["cfg_scale"], 1, 10):
            raise bad("cfg_scale: must be a number between 1 and 10")
    return fields


def _one_of(fields: dict[str, str], name: str, allowed: tuple[str, ...]) -> None:
    if name in fields and fields[name] not in allowed:
        raise bad(f"{name}: must be one of {', '.join(allowed)}")


def _number_within(value: str, low: float, high: float) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return low <= number <= high


def _queued(body: Any) -> list[dict[str, Any]] | str:
    """The faults a ``POST /_fake/faults`` body queues, or what is wrong with it."""
    body = body if isinstance(body, dict) else {}
    count, retry_after = body.get("count", 1), body.get("retry_after", 1)
    if body.get("finish_reason") == "CONTENT_FILTERED":
        status = 200
    elif body.get("status") in FAULTS:
        status = body["status"]
    else:
        return f"status must be one of {sorted(FAULTS)}, or finish_reason CONTENT_FILTERED"
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return "count must be a positive integer"
    if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
        return "retry_after must be an integer >= 0"
    return [{"status": status, "retry_after": retry_after} for _ in range(count)]


def create_stability_app(config: StabilityFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = StabilityFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "FAULTS",
    "SANDBOX_STABILITY_KEY",
    "SIZES",
    "StabilityError",
    "StabilityFake",
    "StabilityFakeConfig",
    "create_stability_app",
    "painted",
]
