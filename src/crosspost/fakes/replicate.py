"""Fake Replicate HTTP API: predictions of official image models, strict, with their lifecycle.

Written from Replicate's HTTP API reference and OpenAPI schema, never from our client.
``POST /v1/models/{owner}/{name}/predictions`` (official models; there are two, FLUX schnell
and SD 3.5 large), ``GET /v1/predictions/{id}`` and ``POST /v1/predictions/{id}/cancel`` need
``Authorization: Bearer <token>`` with a known token. A create's JSON body may hold the
documented top-level properties only (``input`` required; anything else is 422 "Input
validation failed" with ``invalid_fields``). The input is checked against the model's schema:
``prompt`` required, enums and ranges enforced; keys the model does not declare are dropped, as
Cog drops them. Errors are problem details (``{"title", "detail", "status"}``), but a 503 is
an HTML page from the edge, as a proxy's would be.

A prediction is ``starting`` for `starting_seconds`, ``processing`` for `processing_seconds`,
then ``succeeded`` (or what a fault says). ``Prefer: wait[=n]`` (1-60 s) holds the request
until the files exist and answers them with status still ``processing``, as the service does
for file outputs; past the wait it answers the unfinished prediction. Outputs are PNG/JPEG/WebP
gradients drawn from the seed at the model's real size (1024x1024 for 1:1), served by the fake
under its own mount at ``/delivery/...`` (with the token, as the reference asks). Time is the
config's `clock` and `sleep`, so tests move it instead of waiting. Controls: ``/_fake/reset``,
``/_fake/state``, ``/_fake/requests``, ``/_fake/faults``, ``/_fake/timing``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

SANDBOX_REPLICATE_KEY = "r8_sandbox-replicate"  # the sandbox's published fake token
MAX_WAIT = 60
_PREFER = re.compile(r"^wait(?:=(\d{1,2}))?$")
# Request-body properties the API accepts at the top level (its schema forbids the rest).
BODY_FIELDS = frozenset({"input", "stream", "webhook", "webhook_completed",
                         "webhook_events_filter"})  # fmt: skip
RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
# Output size of each aspect ratio at one megapixel.
SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640), "3:2": (1216, 832),
    "2:3": (832, 1216), "4:5": (896, 1088), "5:4": (1088, 896), "3:4": (896, 1152),
    "4:3": (1152, 896), "9:16": (768, 1344), "9:21": (640, 1536),
}  # fmt: skip
_PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
_RUNNING = ("starting", "processing")
NSFW = "NSFW content detected. Try running it again, or try a different prompt."


@dataclass(frozen=True)
class Param:
    """One input of a model's schema: its JSON type, and an enum or a range."""

    kind: type
    enum: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Model:
    """An official model as the fake serves it."""

    version: str
    params: dict[str, Param]
    list_output: bool  # FLUX answers a list of files, SD 3.5 a single one
    default_format: str = "webp"


# What both models take; each adds its own.
_COMMON: dict[str, Param] = {
    "prompt": Param(str), "aspect_ratio": Param(str, RATIOS), "seed": Param(int),
    "output_format": Param(str, ("webp", "jpg", "png")), "output_quality": Param(int, (), 0, 100),
}  # fmt: skip
MODELS: dict[str, Model] = {
    "black-forest-labs/flux-schnell": Model("dp-4d0bcc010b3049749a251855f12800be", {
        **_COMMON, "num_outputs": Param(int, (), 1, 4), "num_inference_steps": Param(int, (), 1, 4),
        "megapixels": Param(str, ("1", "0.25")), "go_fast": Param(bool),
        "disable_safety_checker": Param(bool),
    }, list_output=True),
    "stability-ai/stable-diffusion-3.5-large": Model("dp-2fdd44a2f8a24ac1a3e7f3a0c3e1b8f2", {
        **_COMMON, "cfg": Param(float, (), 0, 20), "steps": Param(int, (), 1, 50),
        "negative_prompt": Param(str), "prompt_strength": Param(float, (), 0, 1),
        "image": Param(str),
    }, list_output=False),
}  # fmt: skip


class ProblemError(Exception):
    """An error answer as problem details (``application/problem+json``)."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"title": title, "detail": detail, "status": status, **extra}
        self.headers: dict[str, str] = {}

    def response(self) -> Response:
        """The error as the API sends it (a 503 as the edge's HTML page)."""
        if self.status == 503:
            page = "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"
            return HTMLResponse(page, status_code=503, headers=self.headers)
        return JSONResponse(
            self.body,
            status_code=self.status,
            headers=self.headers,
            media_type="application/problem+json",
        )


def invalid(*problems: tuple[str, str, str]) -> ProblemError:
    """422 for a body or input that breaks the schema: (type, field, description) each."""
    detail = "".join(f"- {where or 'body'}: {what}\n" for _, where, what in problems)
    fields = [{"type": kind, "field": where, "description": what} for kind, where, what in problems]
    return ProblemError(422, "Input validation failed", detail, invalid_fields=fields)


def unauthenticated() -> ProblemError:
    """401 for a missing or unknown token (the same answer for both)."""
    return ProblemError(401, "Unauthenticated", "You did not pass a valid authentication token")


# How the service words each status a test can inject that needs no context.
_FAULTS: dict[int, tuple[str, str]] = {
    402: ("Insufficient credit", "You have insufficient credit to run this model. Go to "
          "https://replicate.com/account/billing#billing to purchase credit. Once you purchase "
          "credit, please wait a few minutes before retrying."),
    404: ("Not found", "The requested resource could not be found."),
    500: ("Internal server error", "An internal error occurred."),
    502: ("Bad gateway", "The server received an invalid response from an upstream server."),
    503: ("Service unavailable", "The service is temporarily unavailable."),
}  # fmt: skip


def injected(status: int, retry_after: int) -> ProblemError:
    """The fault a test asked for, as the service words it."""
    if status == 401:
        return unauthenticated()
    if status == 422:
        return invalid(("required", "input", "prompt is required"))
    if status == 429:
        detail = f"Request was throttled. Expected available in {retry_after} second."
        error = ProblemError(429, "Request was throttled", detail)
        error.headers["retry-after"] = str(retry_after)
        return error
    return ProblemError(status, *_FAULTS[status])


@dataclass
class Prediction:
    """One prediction and the schedule it follows."""

    id: str
    model: str
    input: dict[str, Any]
    seed: int
    created: float
    starting_seconds: float
    processing_seconds: float
    outcome: str = "succeeded"  # or "failed" / "canceled", from a fault
    error: str | None = None
    canceled_at: float | None = None
    files: dict[str, bytes] = field(default_factory=dict)

    def status(self, now: float) -> str:
        """Where it stands at `now`."""
        if self.canceled_at is not None:
            return "canceled"
        elapsed = now - self.created
        if elapsed < self.starting_seconds:
            return "starting"
        if elapsed < self.starting_seconds + self.processing_seconds:
            return "processing"
        return self.outcome


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class ReplicateFakeConfig:
    """The fake's knobs; `clock` is epoch seconds, `sleep` waits on it (tests move both)."""

    api_tokens: tuple[str, ...] = (SANDBOX_REPLICATE_KEY,)
    starting_seconds: float = 0.1
    processing_seconds: float = 0.4
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = _asleep
    seed: int = 0  # picks prediction ids and the seeds of inputs without one


def painted(seed: int, width: int, height: int) -> Image.Image:
    """The fake's picture: a radial gradient between two colours from the seed."""
    rng = random.Random(seed)
    inner, outer = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    levels = Image.radial_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(
        Image.new("RGB", (width, height), outer),
        Image.new("RGB", (width, height), inner),
        levels,
    )


class ReplicateFake:
    """The fake's state: predictions, pending faults and the request log."""

    def __init__(self, config: ReplicateFakeConfig | None = None) -> None:
        self.config = config or ReplicateFakeConfig()
        self.reset()

    def reset(self) -> None:
        """Back to the state the fake started in (timing back to the config's)."""
        self.predictions: dict[str, Prediction] = {}
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.timing = (self.config.starting_seconds, self.config.processing_seconds)
        self._random = random.Random(self.config.seed)

    def asgi(self) -> Starlette:
        """The ASGI app: the API under ``/v1``, output files, and ``/_fake`` controls."""
        app = Starlette(
            routes=[
                Route("/v1/models/{owner}/{name}/predictions", self._create, methods=["POST"]),
                Route("/v1/predictions/{id}", self._get, methods=["GET"], name="prediction"),
                Route("/v1/predictions/{id}/cancel", self._cancel, methods=["POST"], name="cancel"),
                Route("/delivery/{id}/{file}", self._file, methods=["GET"], name="file"),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/_fake/state", self._state, methods=["GET"]),
                Route("/_fake/requests", self._requests, methods=["GET"]),
                Route("/_fake/faults", self._faults, methods=["GET", "POST", "DELETE"]),
                Route("/_fake/timing", self._timing, methods=["GET", "POST"]),
            ],
            exception_handlers={HTTPException: self._framework_error},
        )
        app.router.redirect_slashes = False
        return app

    # -- the API ------------------------------------------------------------------------------

    async def _served(
        self, request: Request, answer: Callable[[dict[str, Any]], Awaitable[Response]]
    ) -> Response:
        """Log the request, check its token, play a queued fault, then `answer` it."""
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "authorized": False,
        }
        self.requests.append(entry)
        try:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in self.config.api_tokens:
                raise unauthenticated()
            entry["authorized"] = True
            fault = next((f for f in self.faults if "status" in f), None)
            if fault is not None:
                self.faults.remove(fault)
                raise injected(fault["status"], fault["retry_after"])
            response = await answer(entry)
        except ProblemError as exc:
            response = exc.response()
            entry["error"] = exc.body["detail"]
        entry["status"] = response.status_code
        return response

    async def _create(self, request: Request) -> Response:
        async def answer(entry: dict[str, Any]) -> Response:
            wait = entry["prefer_wait"] = _prefer_wait(request.headers.get("prefer"))
            name = entry["model"] = f"{request.path_params['owner']}/{request.path_params['name']}"
            if name not in MODELS:
                raise injected(404, 0)
            try:
                body = await request.json()
            except ValueError:
                raise ProblemError(400, "Invalid JSON", "The body is not valid JSON.") from None
            prediction = self._start(name, _checked_input(body, MODELS[name]))
            entry["input"] = prediction.input
            until = self._now() + (wait or 0)
            while prediction.status(self._now()) in _RUNNING and self._now() < until:
                await self.config.sleep(min(0.05, until - self._now()))
            view = self._view(request, prediction, sync=bool(wait))
            headers = {"location": view["urls"]["get"]}
            if wait:
                headers["preference-applied"] = "wait"
            # 201 once the answer holds the outputs (or the end), 202 while it cannot.
            done = view["output"] is not None or view["status"] not in _RUNNING
            return JSONResponse(view, status_code=201 if done else 202, headers=headers)

        return await self._served(request, answer)

    async def _get(self, request: Request) -> Response:
        async def answer(entry: dict[str, Any]) -> Response:
            return JSONResponse(self._view(request, self._find(request)))

        return await self._served(request, answer)

    async def _cancel(self, request: Request) -> Response:
        async def answer(entry: dict[str, Any]) -> Response:
            prediction = self._find(request)
            if prediction.status(self._now()) in _RUNNING:
                prediction.canceled_at = self._now()
            return JSONResponse(self._view(request, prediction))

        return await self._served(request, answer)

    async def _file(self, request: Request) -> Response:
        async def answer(entry: dict[str, Any]) -> Response:
            prediction = self.predictions.get(request.path_params["id"])
            data = prediction.files.get(request.path_params["file"]) if prediction else None
            if data is None:
                raise injected(404, 0)
            extension = request.path_params["file"].rsplit(".", 1)[-1]
            kind = "jpeg" if extension == "jpg" else extension
            return Response(data, media_type=f"image/{kind}")

        return await self._served(request, answer)

    # -- predictions --------------------------------------------------------------------------

    def _now(self) -> float:
        return self.config.clock()

    def _start(self, name: str, given: dict[str, Any]) -> Prediction:
        number = len(self.predictions)
        digest = hashlib.sha256(f"{self.config.seed}:{number}".encode()).hexdigest()
        ident = "".join(c for c in digest if c.isalnum())[:26]
        seed = given.get("seed")
        prediction = Prediction(
            ident,
            name,
            given,
            seed if isinstance(seed, int) else self._random.randrange(2**31),
            self._now(),
            *self.timing,
        )
        outcome = next((f for f in self.faults if "outcome" in f), None)
        if outcome is not None:
            self.faults.remove(outcome)
            prediction.outcome, prediction.error = outcome["outcome"], outcome.get("error")
        self.predictions[ident] = prediction
        return prediction

    def _find(self, request: Request) -> Prediction:
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            raise injected(404, 0)
        return prediction

    def _view(
        self, request: Request, prediction: Prediction, *, sync: bool = False
    ) -> dict[str, Any]:
        """The prediction object as the API shows it now (a sync answer reports finished files
        as still processing: the files are sent the moment they exist)."""
        now = self._now()
        status = prediction.status(now)
        model = MODELS[prediction.model]
        get = str(request.url_for("prediction", id=prediction.id))
        view: dict[str, Any] = {
            "id": prediction.id,
            "model": prediction.model,
            "version": model.version,
            "input": prediction.input,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": status,
            "created_at": _stamp(prediction.created),
            "urls": {
                "get": get,
                "cancel": str(request.url_for("cancel", id=prediction.id)),
                "web": f"https://replicate.com/p/{prediction.id}",
            },
        }
        begun = prediction.created + prediction.starting_seconds
        if status != "starting" and (
            prediction.canceled_at is None or prediction.canceled_at >= begun
        ):
            view["started_at"] = _stamp(begun)
            view["logs"] = f"Using seed: {prediction.seed}\n"
        if status == "succeeded":
            urls = [
                str(request.url_for("file", id=prediction.id, file=name))
                for name in self._files(prediction)
            ]
            view["output"] = urls if model.list_output else urls[0]
            view["logs"] += f"Total safe images: {len(urls)} out of {len(urls)}\n"
            if sync:
                view["status"] = "processing"
                return view
        if status == "failed":
            view["error"] = prediction.error or NSFW
        if status in ("succeeded", "failed", "canceled"):
            end = prediction.canceled_at
            end = begun + prediction.processing_seconds if end is None else end
            view["completed_at"] = _stamp(end)
            view["metrics"] = {"predict_time": round(max(0.0, end - begun), 3)}
        return view

    def _files(self, prediction: Prediction) -> list[str]:
        """The output files' names, drawn on first need."""
        if not prediction.files:
            given = prediction.input
            width, height = SIZES[given.get("aspect_ratio", "1:1")]
            if given.get("megapixels") == "0.25":
                width, height = width // 2, height // 2
            fmt = given.get("output_format", MODELS[prediction.model].default_format)
            for index in range(given.get("num_outputs", 1)):
                out = io.BytesIO()
                picture = painted(prediction.seed + index, width, height)
                picture.save(out, _PIL_FORMATS[fmt], quality=given.get("output_quality", 80))
                prediction.files[f"out-{index}.{fmt}"] = out.getvalue()
        return list(prediction.files)

    # -- controls -----------------------------------------------------------------------------

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        now = self._now()
        predictions = {p.id: p.status(now) for p in self.predictions.values()}
        return JSONResponse(
            {"predictions": predictions, "faults": self.faults, "requests": self.requests}
        )

    async def _requests(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _faults(self, request: Request) -> Response:
        """POST queues ``{"status": 401|402|404|422|429|500|502|503, "count"?, "retry_after"?}``
        (the next N requests, downloads too) or ``{"outcome": "failed"|"canceled", "count"?,
        "error"?}`` (the next N predictions); GET lists what waits; DELETE drops it."""
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

    async def _timing(self, request: Request) -> Response:
        """POST ``{"starting_seconds"?, "processing_seconds"?}`` sets how long predictions
        created from now on take."""
        if request.method == "POST":
            body = await request.json()
            starting = body.get("starting_seconds", self.timing[0])
            processing = body.get("processing_seconds", self.timing[1])
            if not all(isinstance(v, int | float) and v >= 0 for v in (starting, processing)):
                return JSONResponse({"error": "seconds must be numbers >= 0"}, status_code=400)
            self.timing = (float(starting), float(processing))
        return JSONResponse(
            {"starting_seconds": self.timing[0], "processing_seconds": self.timing[1]}
        )

    async def _framework_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return ProblemError(405, "Method not allowed", "Method not allowed.").response()
        return injected(404, 0).response()


def _prefer_wait(header: str | None) -> int | None:
    """Seconds a ``Prefer: wait[=n]`` header asks to hold the request (None: not asked)."""
    if header is None:
        return None
    match = _PREFER.match(header.strip())
    if match is None or not 1 <= int(match.group(1) or MAX_WAIT) <= MAX_WAIT:
        raise invalid(("pattern", "Prefer", f"Prefer header must be wait or wait=1..{MAX_WAIT}"))
    return int(match.group(1) or MAX_WAIT)


def _checked_input(body: Any, model: Model) -> dict[str, Any]:
    """The body's input, checked against the model's schema (undeclared keys dropped)."""
    if not isinstance(body, dict):
        raise invalid(("type", "", "body must be a JSON object"))
    problems = [
        ("additional_property_not_allowed", "", f"Additional property {key} is not allowed")
        for key in body
        if key not in BODY_FIELDS
    ]
    given = body.get("input")
    if given is None:
        problems.insert(0, ("required", "", "input is required"))
    elif not isinstance(given, dict):
        problems.append(("invalid_type", "input", "input must be an object"))
    if problems or not isinstance(given, dict):
        raise invalid(*problems)
    kept = {key: value for key, value in given.items() if key in model.params}
    if not isinstance(kept.get("prompt"), str) or not kept["prompt"].strip():
        problems.append(("required", "input", "prompt is required"))
    for key, value in kept.items():
        problem = _param_problem(model.params[key], value)
        if problem:
            problems.append((problem[0], f"input.{key}", f"{key} {problem[1]}"))
    if problems:
        raise invalid(*problems)
    return kept


def _param_problem(param: Param, value: Any) -> tuple[str, str] | None:
    """What is wrong with one input value: (type, description), or None."""
    if param.kind is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        fits = isinstance(value, param.kind) and (param.kind is bool or not isinstance(value, bool))
    if not fits:
        return "invalid_type", f"must be of type {param.kind.__name__}"
    if param.enum and value not in param.enum:
        return "enum", f"must be one of the following: {', '.join(map(repr, param.enum))}"
    if param.low is not None and value < param.low:
        return "number_gte", f"must be greater than or equal to {param.low:g}"
    if param.high is not None and value > param.high:
        return "number_lte", f"must be less than or equal to {param.high:g}"
    return None


def _queued(body: Any) -> list[dict[str, Any]] | str:
    """The faults a ``POST /_fake/faults`` body queues, or what is wrong with it."""
    body = body if isinstance(body, dict) else {}
    count, retry_after = body.get("count", 1), body.get("retry_after", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return "count must be a positive integer"
    if "outcome" in body:
        if body["outcome"] not in ("failed", "canceled"):
            return "outcome must be 'failed' or 'canceled'"
        error = body.get("error", NSFW if body["outcome"] == "failed" else None)
        return [{"outcome": body["outcome"], "error": error} for _ in range(count)]
    if body.get("status") not in (401, 402, 404, 422, 429, 500, 502, 503):
        return "status must be 401, 402, 404, 422, 429, 500, 502 or 503 (or give an outcome)"
    if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
        return "retry_after must be an integer >= 0"
    return [{"status": body["status"], "retry_after": retry_after} for _ in range(count)]


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def create_replicate_app(config: ReplicateFakeConfig | None = None) -> Starlette:
    """A fresh fake's app; the fake itself is on ``app.state.fake``."""
    fake = ReplicateFake(config)
    app = fake.asgi()
    app.state.fake = fake
    return app


__all__ = [
    "MODELS",
    "SANDBOX_REPLICATE_KEY",
    "SIZES",
    "Model",
    "Param",
    "Prediction",
    "ProblemError",
    "ReplicateFake",
    "ReplicateFakeConfig",
    "create_replicate_app",
    "painted",
]
